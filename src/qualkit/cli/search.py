"""``qualkit search``: keyword in context (lemma-aware) and code queries over the study."""

from __future__ import annotations

from typing import Any

import click

from ._common import echo_json, get_study, handle_errors, json_option


def _where_option(func: Any) -> Any:
    return click.option(
        "--where", "where", multiple=True, metavar="ATTR=VALUE[,VALUE]",
        help="Only participants with this attribute (role, company_size, sector, ...); repeat to combine.",
    )(func)


def _counts(counts: list[Any]) -> None:
    shown = ", ".join(f"{c.participant_id} {c.hits} ({c.per_1000_words:.1f}/1k words)" for c in counts if c.hits)
    silent = [c.participant_id for c in counts if not c.hits]
    click.echo(f"Per participant: {shown or 'none'}" + (f"; none in {', '.join(silent)}" if silent else ""))


@click.group("search")
def search() -> None:
    """Search the study: keyword in context over participant speech, and turns by code combinations."""


@search.command("kwic")
@click.argument("term")
@_where_option
@click.option("--width", type=click.IntRange(min=10, max=400), default=60, show_default=True, help="Characters of context each side.")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many hits (counts cover all).")
@click.option("--include-interviewer", is_flag=True, help="Search interviewer turns too.")
@json_option
@click.pass_context
@handle_errors
def kwic_command(ctx, term, where, width, limit, include_interviewer, as_json) -> None:
    """Keyword in context: every occurrence of TERM by lemma ("versioned" finds "version"); word* matches a prefix."""
    from ..analysis.search import kwic, parse_where

    result = kwic(get_study(ctx), term, where=parse_where(where), width=width, limit=limit,
                  include_interviewer=include_interviewer)
    if as_json:
        echo_json(result.as_dict())
        return
    click.echo(f"{result.total} hit(s) of {' '.join(result.pattern)!r} in {result.turns_searched} turn(s).")
    for hit in result.hits:
        where_ = f"{hit.transcript_id}:{hit.turn_idx + 1}"
        click.echo(f"{where_:>9}  {hit.left[-width:]:>{width}} " + click.style(hit.matched, bold=True, fg="yellow")
                   + f" {hit.right}")
    if limit is not None and result.total > len(result.hits):
        click.echo(f"... {result.total - len(result.hits)} more (raise --limit)")
    _counts(result.counts)


@search.command("codes")
@click.argument("query")
@click.option("--coder", help="run:ID or human:NAME (default: the latest rules run).")
@_where_option
@click.option("--unit", help="Unit of analysis for human codings (default: the run's or the study's).")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many turns.")
@click.option("--include-interviewer", is_flag=True, help="Consider interviewer turns too.")
@json_option
@click.pass_context
@handle_errors
def codes_command(ctx, query, coder, where, unit, limit, include_interviewer, as_json) -> None:
    """Turns where QUERY holds: codes (id or label) with AND, OR, NOT and parentheses, e.g. "velocity NOT debugging".

    A code stands for itself and its descendants; AND means in the same turn.
    """
    from ..analysis.code_query import code_query
    from ..analysis.search import parse_where

    result = code_query(get_study(ctx), query, coder=coder, where=parse_where(where), unit=unit,
                        include_interviewer=include_interviewer)
    if as_json:
        echo_json(result.as_dict())
        return
    click.echo(f"{result.total} turn(s) of {result.turns_searched} where {result.query} ({result.coder}).")
    for hit in result.hits[: limit or None]:
        click.echo(click.style(f"\n{hit.transcript_id} turn {hit.turn_idx + 1} ({hit.speaker})", bold=True))
        for span in hit.spans:
            click.echo(f"  [{span.code_id}] " + click.style(span.text, fg="yellow"))
        if not hit.spans:
            text = hit.text if len(hit.text) <= 300 else hit.text[:300] + "…"
            click.echo(f"  {text}")
    if limit is not None and result.total > limit:
        click.echo(f"\n... {result.total - limit} more turn(s) (raise --limit)")
    _counts(result.counts)
