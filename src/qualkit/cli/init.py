"""``qualkit init``: create a study folder."""

from __future__ import annotations

import click

from ..errors import display_path
from ..study import init_study
from ._common import handle_errors


@click.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option("--name", help="Name of the study (default: the folder's name).")
@handle_errors
def init_command(directory: str, name: str | None) -> None:
    """Create a study in DIRECTORY: qualkit.toml, transcripts/, codebook/, reports/ and the store."""
    study = init_study(directory, name=name)
    click.echo(f"Created study {study.config.study.name!r} in {display_path(study.root)}")
    click.echo("Next: put transcripts in transcripts/ and run `qualkit transcripts import transcripts/*`")
