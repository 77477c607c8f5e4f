"""``qualkit run`` (the pipeline), ``qualkit runs`` (provenance) and ``qualkit demo``."""

from __future__ import annotations

import json

import click

from ..errors import display_path
from ._common import echo_json, get_study, handle_errors, json_option


@click.command("run")
@click.option("--dry-run", is_flag=True, help="Print what would run and why; change nothing.")
@click.option("--force", "force", multiple=True, metavar="STEP", help="Redo STEP even if its inputs are unchanged (repeatable).")
@click.option("--no-wait", is_flag=True, help="Refuse at once when another `qualkit run` is updating the study (default: wait for it).")
@json_option
@click.pass_context
@handle_errors
def run_command(ctx: click.Context, dry_run: bool, force: tuple[str, ...], no_wait: bool, as_json: bool) -> None:
    """Bring every output of the study up to date, doing only the work whose inputs changed.

    One run at a time: a second `qualkit run` on the same study waits for the first (or, with
    --no-wait, refuses). A run that fails before any step finished records nothing."""
    from ..pipeline import run_pipeline

    study = get_study(ctx)

    def show(plan) -> None:
        if as_json:
            return
        if plan.action == "run" and not dry_run:
            click.echo(f"  ran   {plan.name:<8} {plan.seconds:6.2f} s  ({plan.reason})")
        elif plan.action == "run":
            click.echo(f"  would run {plan.name:<8} ({plan.reason})")
        else:
            click.echo(f"  {plan.action:<5} {plan.name:<8}           ({plan.reason})")

    if not as_json:
        click.echo(f"{'Plan for' if dry_run else 'Running'} {study.config.study.name!r}:")
    from ..execution.progress import stage_progress

    with stage_progress(enabled=not as_json and not dry_run) as on_progress:
        result = run_pipeline(
            study, dry_run=dry_run, force=force, on_step=show, wait=not no_wait, on_wait=lambda message: click.echo(message, err=True),
            on_progress=on_progress,
        )
    if as_json:
        echo_json(result.as_dict())
        return
    if not dry_run:
        if not result.ran:
            click.echo("Everything is up to date.")
        report = next((s for s in result.steps if s.name == "report" and s.outputs.get("files")), None)
        if report is not None:
            html = [f for f in report.outputs["files"] if f.endswith(".html")]
            if html:
                click.echo(f"Report: {display_path(study.path(html[0]))}")


@click.group("runs")
def runs() -> None:
    """Provenance: every run recorded in the store."""


@runs.command("list")
@click.option("--kind", help="Only runs of this kind (import, rules, topics, codings-import, pipeline).")
@json_option
@click.pass_context
@handle_errors
def runs_list(ctx: click.Context, kind: str | None, as_json: bool) -> None:
    """List runs, newest first."""
    from ..pipeline.provenance import list_runs

    rows = list_runs(get_study(ctx), kind=kind)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No runs yet.")
        return
    for row in rows:
        click.echo(f"{row['id']:>4}  {row['kind']:<15} {row['status']:<11} {row['started_at']}  {row['summary']}")


@runs.command("show")
@click.argument("run_id", type=int)
@click.pass_context
@handle_errors
def runs_show(ctx: click.Context, run_id: int) -> None:
    """Show one run: parameters, codebook, versions and manifest."""
    from ..pipeline.provenance import show_run

    echo_json(show_run(get_study(ctx), run_id))


@runs.command("diff")
@click.argument("run_a", type=int)
@click.argument("run_b", type=int)
@json_option
@click.pass_context
@handle_errors
def runs_diff(ctx: click.Context, run_a: int, run_b: int, as_json: bool) -> None:
    """Compare two runs: parameters, and for coding runs the applications gained and lost."""
    from ..pipeline.provenance import diff_runs

    result = diff_runs(get_study(ctx), run_a, run_b)
    if as_json:
        echo_json(result)
        return
    click.echo(f"Run {run_a} -> run {run_b}")
    for key, (old, new) in result["parameters"].items():
        click.echo(f"  parameter {key}: {json.dumps(old)} -> {json.dumps(new)}")
    if result.get("codebook"):
        click.echo(f"  codebook: {result['codebook'][0]} -> {result['codebook'][1]}")
    for row in result.get("codes", []):
        click.echo(
            f"  {row['code_id']:<32} segments {row['segments_a']:>4} -> {row['segments_b']:<4}"
            f" (+{row['gained']} / -{row['lost']})"
        )


@click.command("demo")
@click.argument("directory", default="demo-study", type=click.Path(file_okay=False))
@handle_errors
def demo_command(directory: str) -> None:
    """Copy the bundled sample study to DIRECTORY (once) and run the whole pipeline on it."""
    from ..demo import run_demo

    report = run_demo(directory, echo=click.echo)
    if report is not None:
        click.echo(f"\nThe report is at {display_path(report)}")
