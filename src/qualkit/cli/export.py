"""``qualkit export``: analysis tables as csv / xlsx / parquet, or the study as a REFI-QDA project."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import MissingDependencyError, display_path
from ._common import echo_json, get_study, handle_errors, json_option


@click.command("export")
@click.option("--format", "formats", multiple=True, type=click.Choice(["csv", "xlsx", "parquet", "qdpx"]),
              help="Format(s); repeat for several (default: [export] formats, else csv).")
@click.option("--out", type=click.Path(file_okay=False), help="Output folder (default: [export] out).")
@click.option("--coder", help="Coder to export: run:ID, human:NAME, or a union a+b (default: the latest rules run of the study's [codebook] path).")
@json_option
@click.pass_context
@handle_errors
def export_command(ctx: click.Context, formats: tuple[str, ...], out: str | None, coder: str | None, as_json: bool) -> None:
    """Export segments with codes, the participant x code matrix (0/1 and counts) and prevalence tables.

    csv and parquet write one file per table, xlsx one workbook with a sheet per table, and
    qdpx a REFI-QDA project (transcripts, codebook and codings) for other QDA software.
    """
    from ..reports.exports import export_tables

    study = get_study(ctx)
    chosen = list(formats or study.config.export.formats or ["csv"])
    folder = Path(out) if out is not None else study.path(study.config.export.out)
    written = []
    tables = [f for f in chosen if f != "qdpx"]
    if tables:
        written.extend(export_tables(study, tables, folder, coder=coder))
    if "qdpx" in chosen:
        try:
            from ..interop.qdpx import export_qdpx
        except ImportError as error:
            raise MissingDependencyError("the REFI-QDA exporter (qualkit.interop.qdpx)", "a qualkit release with interop") from error
        written.append(export_qdpx(study, folder / "study.qdpx", coders=[coder] if coder else None))
    if as_json:
        echo_json({"ok": True, "written": [str(p) for p in written]})
        return
    for path in written:
        click.echo(f"wrote {display_path(path)}")
