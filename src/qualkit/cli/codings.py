"""``qualkit codings``: import human codings (CSV, REFI-QDA projects) and list the coders."""

from __future__ import annotations

import click

from ._common import coder_name, echo_json, get_study, handle_errors, json_option


@click.group("codings")
def codings() -> None:
    """Human codings: import them from CSV or QDPX (NVivo, ATLAS.ti, MAXQDA, QualCoder), list coders."""


@codings.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--coder", help="Coder name (stored as human:NAME). For QDPX, default: each coding's user in the project.")
@click.option("--map", "map_file", type=click.Path(dir_okay=False), help="Map unknown codes: CSV old,new or YAML old: new.")
@click.option("--add-unknown", is_flag=True, help="Add unknown codes to codebook/imported-codes.yaml (extends the study codebook).")
@click.option("--import-sources", is_flag=True, help="QDPX: create transcripts from text sources the study lacks (one turn per paragraph).")
@click.option("--allow-findings", is_flag=True, help="With --import-sources: store sources with anonymity findings (needs --reason).")
@click.option("--reason", help="Why the anonymity override is acceptable (recorded with the transcript).")
@click.option("--units", type=click.Choice(["auto", "codepoint", "utf16"]), default="auto", show_default=True,
              help="QDPX position units; auto = code points, UTF-16 units for NVivo (reported).")
@click.option("--ends", type=click.Choice(["exclusive", "inclusive"]), default="exclusive", show_default=True,
              help="QDPX selection ends (the standard: exclusive).")
@json_option
@click.pass_context
@handle_errors
def import_(ctx, file, coder, map_file, add_unknown, import_sources, allow_findings, reason, units, ends, as_json) -> None:
    """Import human codings from FILE (.csv or .qdpx) in one transaction; any problem stores nothing.

    CSV columns: transcript, turn (1-based) or start,end, code (id or label), coder, memo.
    An import replaces the earlier imported codings of the coders it brings in; their workbench
    codings and review decisions (`qualkit serve`) are kept.
    """
    from ..interop.codings import import_codings

    study = get_study(ctx)
    result = import_codings(
        study, file, coder=coder, map_file=map_file, add_unknown=add_unknown, import_sources=import_sources,
        allow_findings=allow_findings, reason=reason, units=units, ends=ends,
    )
    if as_json:
        echo_json({"ok": True, **result.as_dict()})
        return
    coders = ", ".join(f"human:{name} ({count})" for name, count in sorted(result.coders.items()))
    click.echo(f"Imported {result.codings} coding(s) from {result.file} as {coders} (run {result.run_id}).")
    for name, count in sorted(result.replaced.items()):
        click.echo(f"  replaced {count} earlier coding(s) of human:{name}")
    if result.memos:
        click.echo(f"  {result.memos} note(s) of the project became memos (`qualkit memos list`)")
    if result.transcripts_created:
        click.echo(f"  created {len(result.transcripts_created)} transcript(s): {', '.join(result.transcripts_created)}")
    for old, new in sorted(result.mapped.items()):
        click.echo(f"  mapped {old!r} -> {new}")
    if result.added_codes:
        click.echo(f"  added {len(result.added_codes)} code(s) to {result.extension_path}: {', '.join(result.added_codes[:20])}"
                   + (" ..." if len(result.added_codes) > 20 else ""))
    if result.unknown_unused:
        click.echo(f"  {len(result.unknown_unused)} unused code(s) of the file are not in the codebook (not imported): "
                   + ", ".join(result.unknown_unused[:10]) + (" ..." if len(result.unknown_unused) > 10 else ""))
    for warning in result.warnings:
        click.secho(f"  note: {warning}", fg="yellow")


@codings.command("list")
@json_option
@click.pass_context
@handle_errors
def list_(ctx, as_json) -> None:
    """List the human coders with their numbers of codings, codes and transcripts."""
    from ..interop.codings import list_codings

    rows = list_codings(get_study(ctx))
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No human codings yet: `qualkit codings import FILE --coder NAME` brings them in.")
        return
    for row in rows:
        origin = f"last import run {row['run_id']} from {row['source']}" if row["run_id"] is not None else "no import"
        extra = f", {row['workbench']} made in the workbench" if row.get("workbench") else ""
        extra += f"; {row['rejected']} review rejection(s), not counted as codings" if row.get("rejected") else ""
        click.echo(f"{row['coder']}: {row['codings']} coding(s), {row['codes']} code(s), "
                   f"{row['transcripts']} transcript(s); {origin}{extra}")


@codings.command("review-stats")
@click.option("--coder", help="The reviewing coder (default: $QUALKIT_CODER or your user name, as `qualkit serve`).")
@click.option("--run", "run_id", type=int, help="The reviewed rules run (default: the newest run the coder reviewed).")
@json_option
@click.pass_context
@handle_errors
def review_stats_(ctx, coder, run_id, as_json) -> None:
    """Agreement at a glance: per code, the run's suggestions the coder accepted, adjusted, replaced or rejected,
    and the run's precision as the coder judged it."""
    from ..workbench.review_stats import review_stats

    stats = review_stats(get_study(ctx), coder=coder_name(coder), run_id=run_id)
    if as_json:
        echo_json(stats.as_dict())
        return
    percent = lambda value: "-" if value is None else f"{value:.0%}"  # noqa: E731
    click.echo(f"Review of run {stats.run_id} by {stats.coder}:")
    header = f"{'code':<28} {'suggested':>9} {'accepted':>8} {'adjusted':>8} {'replaced':>8} {'rejected':>8} {'pending':>7} {'precision':>9}"
    click.echo(header)
    for row in [*stats.codes, stats.total]:
        click.echo(f"{row.code_id[:28]:<28} {row.suggestions:>9} {row.accepted:>8} {row.adjusted:>8} {row.replaced:>8} "
                   f"{row.rejected:>8} {row.pending:>7} {percent(row.precision):>9}")
        if row.replaced_by:
            click.echo(" " * 4 + "replaced by " + ", ".join(f"{code} ({n})" for code, n in sorted(row.replaced_by.items())))
    click.echo("precision = (accepted + adjusted) / reviewed; an adjusted span keeps the suggested code.")
    if stats.total.reviewed == 0:  # a newcomer, or a typo in --coder: say so rather than show a silent table of zeros
        click.secho(f"note: {stats.coder} has decided on none of run {stats.run_id}'s suggestions yet: review them in "
                    "`qualkit serve`, or check --coder against `qualkit codings list`", fg="yellow", err=True)
