"""Memos: list, search, write, edit and delete memos on codes, transcripts, turns, codings or the study.

Plain HTML forms (POST, CSRF-checked by the app, then a redirect back), and a small JSON API
(``/api/memos``) for other pages' scripts. The form's turn counts from 1, as the pages show turns; the
API's ``turn`` is the 0-based index as stored (as in ``/api/codings``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, request, url_for

from ..errors import QualkitError
from ..workbench.memos import TARGET_KINDS, add_memo, delete_memo, edit_memo, list_memos, search_memos
from .app import coder, error_status, json_ok, optional_int, render, request_data, study

bp = Blueprint("memos", __name__)

FILTERS = ("kind", "code", "transcript", "coder")


def _number(data: Any, name: str) -> int | None:
    return optional_int(data.get(name), name, hint=f"give the {name} as a number, or leave it empty")


def _text(data: Any, name: str) -> str | None:
    value = str(data.get(name) or "").strip()
    return value or None


def _filters() -> dict[str, Any]:
    return {name: request.args.get(name) or None for name in FILTERS}


PREFILL = ("code", "transcript", "turn", "coding", "title", "text")


@bp.get("/memos")
def index() -> object:
    return _page({name: request.args.get(f"new_{name}", "") for name in PREFILL})


def _safe_back(value: Any) -> str | None:
    """``value`` when it is a path on this server (where to return after saving a memo), else None."""
    text = str(value or "")
    if not text.startswith("/") or text.startswith("//") or any(c in text for c in "\\\r\n"):
        return None
    return text


def _page(prefill: dict[str, str], problem: QualkitError | None = None, status: int = 200) -> object:
    """The memos page; ``prefill`` fills the new-memo form (``problem``: why the last one was not saved)."""
    query = (request.args.get("q") or "").strip()
    filters = _filters()
    memos = search_memos(study(), query, **filters) if query else list_memos(study(), **filters)
    from ..workbench.codes import code_catalogue
    from ..workbench.transcript import list_transcripts

    return render(
        "memos.html.j2", status=status, memos=memos, q=query, filters=filters, kinds=TARGET_KINDS, prefill=prefill,
        problem=problem, back=_safe_back(request.values.get("back")), code_ids=sorted(code_catalogue(study())),
        transcript_ids=[row["id"] for row in list_transcripts(study())], title="Memos",
    )


def _add(data: Any, *, turn_from: int) -> Any:
    turn = _number(data, "turn")
    return add_memo(
        study(), coder=coder(), text=str(data.get("text") or ""), title=str(data.get("title") or ""),
        code=_text(data, "code"), transcript=_text(data, "transcript"), turn_idx=None if turn is None else turn - turn_from,
        coding=_number(data, "coding"),
    )


@bp.post("/memos")
def create() -> object:
    try:
        memo = _add(request.form, turn_from=1)
    except QualkitError as error:  # the form comes back as typed, with the problem: no memo is lost
        return _page({name: str(request.form.get(name) or "") for name in PREFILL}, problem=error, status=error_status(error))
    back = _safe_back(request.form.get("back"))  # the page the memo was written from (a transcript at its turn)
    return redirect(back or url_for("memos.index") + f"#memo-{memo.pk}", code=303)


@bp.post("/memos/<int:pk>/edit")
def update(pk: int) -> object:
    memo = edit_memo(study(), pk, text=request.form.get("text"), title=request.form.get("title"), coder=coder())
    return redirect(url_for("memos.index") + f"#memo-{memo.pk}", code=303)


@bp.post("/memos/<int:pk>/delete")
def remove(pk: int) -> object:
    delete_memo(study(), pk, coder=coder())
    return redirect(url_for("memos.index"), code=303)


@bp.get("/api/memos")
def api_list() -> object:
    """Memos as JSON, filtered like the page (``?transcript=P1&kind=turn``)."""
    return json_ok(memos=[memo.as_dict() for memo in list_memos(study(), **_filters())])


@bp.post("/api/memos")
def api_add() -> object:
    """Write a memo: JSON ``{text, title, code | transcript [, turn] | coding}``; turns from 0."""
    return json_ok(memo=_add(request_data(), turn_from=0).as_dict())
