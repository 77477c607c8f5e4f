"""``qualkit memos``: write, list, search, edit, delete and export memos."""

from __future__ import annotations

from typing import Any

import click

from ._common import coder_name, echo_json, get_study, handle_errors, json_option

_KINDS = ["study", "code", "transcript", "turn", "coding"]


def _target_options(func: Any) -> Any:
    func = click.option("--coding", type=int, help="A human coding's number.")(func)
    func = click.option("--turn", type=click.IntRange(min=1), help="A turn of --transcript (1-based, as `transcripts show` numbers them).")(func)
    func = click.option("--transcript", help="A transcript id.")(func)
    func = click.option("--code", help="A code id or label.")(func)
    return func


def _turn_idx(turn: int | None) -> int | None:
    return None if turn is None else turn - 1


def _print(memos: list[Any]) -> None:
    if not memos:
        click.echo("No memos.")
        return
    for memo in memos:
        title = f" {click.style(memo.title, bold=True)}" if memo.title else ""
        click.echo(f"#{memo.pk} [{memo.target}] by {memo.coder}, {memo.updated_at}:{title}")
        for line in memo.text.splitlines() or [""]:
            click.echo(f"    {line}")


@click.group("memos")
def memos() -> None:
    """Memos on a code, a transcript, a turn, a human coding or the study: write, list, search, export."""


@memos.command("add")
@click.argument("text")
@click.option("--coder", help="Author of the memo (default: $QUALKIT_CODER or your user name, as `qualkit serve`).")
@click.option("--title", default="", help="A one-line title.")
@_target_options
@json_option
@click.pass_context
@handle_errors
def add(ctx, text, coder, title, code, transcript, turn, coding, as_json) -> None:
    """Write a memo with TEXT; without --code, --transcript or --coding it is a memo on the study."""
    from ..workbench.memos import add_memo

    memo = add_memo(get_study(ctx), coder=coder_name(coder), text=text, title=title, code=code, transcript=transcript,
                    turn_idx=_turn_idx(turn), coding=coding)
    if as_json:
        echo_json({"ok": True, "memo": memo.as_dict()})
        return
    click.echo(f"Memo #{memo.pk} on {memo.target} by {memo.coder}.")


@memos.command("list")
@click.option("--kind", type=click.Choice(_KINDS), help="Only memos on this kind of target.")
@click.option("--coder", help="Only memos by this author.")
@_target_options
@json_option
@click.pass_context
@handle_errors
def list_(ctx, kind, coder, code, transcript, turn, coding, as_json) -> None:
    """List memos (all, or those on one target), ordered by target."""
    from ..workbench.memos import list_memos

    found = list_memos(get_study(ctx), kind=kind, coder=coder, code=code, transcript=transcript,
                       turn_idx=_turn_idx(turn), coding=coding)
    if as_json:
        echo_json([memo.as_dict() for memo in found])
        return
    _print(found)


@memos.command("search")
@click.argument("query")
@click.option("--kind", type=click.Choice(_KINDS), help="Only memos on this kind of target.")
@click.option("--coder", help="Only memos by this author.")
@json_option
@click.pass_context
@handle_errors
def search(ctx, query, kind, coder, as_json) -> None:
    """Memos containing every word of QUERY (title, text, author or target; case-insensitive)."""
    from ..workbench.memos import search_memos

    found = search_memos(get_study(ctx), query, kind=kind, coder=coder)
    if as_json:
        echo_json([memo.as_dict() for memo in found])
        return
    _print(found)


@memos.command("edit")
@click.argument("memo_id", type=int)
@click.option("--text", help="New text.")
@click.option("--title", help="New title.")
@json_option
@click.pass_context
@handle_errors
def edit(ctx, memo_id, text, title, as_json) -> None:
    """Change the text or title of memo MEMO_ID."""
    from ..workbench.memos import edit_memo

    if text is None and title is None:
        raise click.UsageError("give --text and/or --title")
    memo = edit_memo(get_study(ctx), memo_id, text=text, title=title)
    if as_json:
        echo_json({"ok": True, "memo": memo.as_dict()})
        return
    click.echo(f"Memo #{memo.pk} on {memo.target} updated.")


@memos.command("delete")
@click.argument("memo_id", type=int)
@json_option
@click.pass_context
@handle_errors
def delete(ctx, memo_id, as_json) -> None:
    """Delete memo MEMO_ID."""
    from ..workbench.memos import delete_memo

    memo = delete_memo(get_study(ctx), memo_id)
    if as_json:
        echo_json({"ok": True, "deleted": memo.as_dict()})
        return
    click.echo(f"Deleted memo #{memo.pk} on {memo.target}.")


@memos.command("export")
@click.option("--out", type=click.Path(dir_okay=False), help="CSV file to write (default: stdout).")
@click.option("--kind", type=click.Choice(_KINDS), help="Only memos on this kind of target.")
@click.option("--coder", help="Only memos by this author.")
@click.pass_context
@handle_errors
def export(ctx, out, kind, coder) -> None:
    """Export memos as CSV (memo, coder, target, code, transcript, turn, coding, title, text, times)."""
    from ..workbench.memos import export_memos, list_memos, memos_csv

    study = get_study(ctx)
    if out is None:
        click.echo(memos_csv(list_memos(study, kind=kind, coder=coder)), nl=False)
        return
    path, count = export_memos(study, out, kind=kind, coder=coder)
    click.echo(f"Wrote {count} memo(s) to {path}.")
