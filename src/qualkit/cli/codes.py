"""``qualkit codes``: browse the codebook of a rules run with counts."""

from __future__ import annotations

import click

from ._common import echo_json, get_study, handle_errors, json_option


@click.group("codes")
def codes() -> None:
    """Browse codes with their counts in a rules run."""


@codes.command("list")
@click.option("--run", "run_id", type=int, help="Rules run (default: the latest).")
@json_option
@click.pass_context
@handle_errors
def list_command(ctx: click.Context, run_id: int | None, as_json: bool) -> None:
    """The code tree with applications, segments and participants per code."""
    from ..coding.browse import code_counts

    result = code_counts(get_study(ctx), run_id=run_id)
    if as_json:
        echo_json(result.as_dict())
        return
    from rich.console import Console
    from rich.table import Table

    title = f"{result.codebook_name} [{result.codebook_hash[:12]}], " + (f"run {result.run_id}" if result.run_id else "no rules run yet")
    table = Table(title=title, title_justify="left")
    table.add_column("code", no_wrap=True)
    table.add_column("id", style="cyan", no_wrap=True)
    for name in ("applications", "segments", "participants"):
        table.add_column(name, justify="right")
    for row in result.rows:
        table.add_row("  " * row.depth + row.label, row.id, str(row.applications), str(row.segments), str(row.participants))
    console = Console(highlight=False)
    if not console.is_terminal:  # piped or captured: do not wrap to 80 columns
        console = Console(highlight=False, width=200)
    console.print(table)
    click.echo("segments and participants include each code's descendants")


@codes.command("show")
@click.argument("code_id")
@click.option("--run", "run_id", type=int, help="Rules run (default: the latest).")
@json_option
@click.pass_context
@handle_errors
def show_command(ctx: click.Context, code_id: str, run_id: int | None, as_json: bool) -> None:
    """One code: definition, criteria, rules, counts and coded segments."""
    from ..coding.browse import code_detail
    from ..codebook.diff import rule_strings

    detail = code_detail(get_study(ctx), code_id, run_id=run_id)
    if as_json:
        echo_json(detail.as_dict())
        return
    code = detail.code
    click.secho(f"{code.label} ({code.id})", bold=True)
    if detail.ancestors:
        click.echo("under: " + " > ".join(reversed(detail.ancestors)))
    if detail.children:
        click.echo("children: " + ", ".join(detail.children))
    for name in ("definition", "inclusion", "exclusion"):
        value = getattr(code, name).strip()
        if value:
            click.echo(f"{name}: {value}")
    for example in code.examples:
        click.echo(f"example: \u201c{example}\u201d")
    for relation in code.relations:
        click.echo(f"{relation.type} {relation.code}" + (f": {relation.note}" if relation.note else ""))
    for rule in rule_strings(code):
        click.echo(f"rule {rule}")
    if detail.counts is not None and detail.run_id is not None:
        c = detail.counts
        click.echo(f"run {detail.run_id}: {c.applications} applications, {c.segments} segments, {c.participants} participants")
    for example in detail.examples:
        click.echo(f"  segment {example['segment_pk']} ({example['transcript_id']}, {example['code_id']}): {example['matched_text']!r} by {example['rule']}")
