"""``qualkit report``: build the theme report (HTML and Markdown) and show its template context."""

from __future__ import annotations

import dataclasses

import click

from ..errors import display_path
from ._common import echo_json, get_study, handle_errors, json_option


@click.group("report")
def report() -> None:
    """Theme reports: `qualkit report build`."""


@report.command("build")
@click.option("--run", "run_id", type=int, help="Rules run to report on (default: the latest successful run of the study's [codebook] path).")
@click.option("--coder", help="Coder instead of --run: run:ID, human:NAME, or a union a+b.")
@click.option("--format", "formats", multiple=True, type=click.Choice(["html", "md"]),
              help="Format(s) to write; repeat for both (default: [report] formats).")
@click.option("--out", type=click.Path(file_okay=False), help="Output folder (default: [report] out).")
@click.option("--agreement-with", help="Second coder for the agreement section (default: the first human coder).")
@click.option("--memos/--no-memos", default=None, help="Add the memos appendix (default: [report] memos).")
@json_option
@click.pass_context
@handle_errors
def build(ctx: click.Context, run_id: int | None, coder: str | None, formats: tuple[str, ...], out: str | None,
          agreement_with: str | None, memos: bool | None, as_json: bool) -> None:
    """Build the report: a self-contained index.html (inline CSS and SVG) and report.md."""
    from ..reports import build_report

    if run_id is not None and coder is not None:
        raise click.UsageError("give --run or --coder, not both")
    study = get_study(ctx)
    chosen = f"run:{run_id}" if run_id is not None else coder
    from ..execution.progress import stage_progress

    with stage_progress(enabled=not as_json) as on_progress:
        paths = build_report(study, coder=chosen, formats=formats or tuple(study.config.report.formats), out=out,
                             agreement_with=agreement_with, memos=memos, on_progress=on_progress)
    if as_json:
        echo_json({"ok": True, "written": [str(p) for p in paths]})
        return
    for path in paths:
        if path.name in ("index.html", "report.md"):
            click.echo(f"wrote {display_path(path)}")
    charts = [p for p in paths if p.suffix == ".svg"]
    if charts:
        click.echo(f"wrote {len(charts)} chart(s) in {display_path(charts[0].parent)}")


@report.command("context")
@json_option
@handle_errors
def context(as_json: bool) -> None:
    """List the fields a report template may use (override templates in reports/templates/)."""
    from ..reports import context as ctx_mod

    classes = [getattr(ctx_mod, name) for name in ctx_mod.__all__ if dataclasses.is_dataclass(getattr(ctx_mod, name))]
    data = {cls.__name__: ctx_mod.field_help(cls) for cls in classes}
    if as_json:
        echo_json(data)
        return
    for name in ["ReportContext"] + sorted(n for n in data if n != "ReportContext"):
        click.echo(name)
        for field, help_text in data[name].items():
            click.echo(f"  {field:<22} {help_text}")
