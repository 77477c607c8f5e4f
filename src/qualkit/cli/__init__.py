"""The ``qualkit`` command line: noun, then verb. Each command group lives in its own module
and every command wraps one public library function."""

from __future__ import annotations

import importlib

import click

from .. import __version__
from ._common import StudyContext

# Command groups, one module each: (module, attribute).
COMMANDS: list[tuple[str, str]] = [
    ("init", "init_command"),
    ("transcripts", "transcripts"),
    ("codebook", "codebook"),
    ("code", "code"),
    ("codes", "codes"),
    ("report", "report"),
    ("export", "export_command"),
    ("topics", "topics"),
    ("codings", "codings"),
    ("agree", "agree_command"),
    ("validity", "validity_command"),
    ("memos", "memos"),
    ("search", "search"),
    ("serve", "serve_command"),
    ("run", "run_command"),
    ("run", "runs"),
    ("run", "demo_command"),
]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--study",
    "study_path",
    type=click.Path(file_okay=False),
    envvar="QUALKIT_STUDY",
    help="Study folder (default: $QUALKIT_STUDY, else the current folder or a parent).",
)
@click.version_option(__version__, prog_name="qualkit")
@click.pass_context
def main(ctx: click.Context, study_path: str | None) -> None:
    """qualkit: code interview transcripts, analyse the coding, and report themes."""
    from ..lean_imports import keep_torch_out_of_thinc

    keep_torch_out_of_thinc()  # spaCy's thinc would import torch, which no CPU pipeline of ours uses
    ctx.obj = StudyContext(study_path)
    ctx.call_on_close(ctx.obj.close)


def _register() -> None:
    for module_name, attribute in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{module_name.replace('-', '_')}")
        except ModuleNotFoundError as error:
            if error.name == f"{__name__}.{module_name}":
                continue  # a command group not built yet
            raise
        main.add_command(getattr(module, attribute))


_register()
