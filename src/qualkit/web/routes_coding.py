"""JSON endpoints for coding by hand: codes (type-ahead), new codes, code a span, remove,
re-span, undo. Every POST is token- and CSRF-checked by the app."""

from __future__ import annotations

from flask import Blueprint

from ..errors import InputError
from ..workbench.codes import add_code, code_catalogue
from ..workbench.edits import add_coding, remove_coding, respan_coding, undo_last
from .app import coder, json_ok, optional_int, record, request_data, study

bp = Blueprint("coding", __name__)


@bp.get("/api/codes")
def codes() -> object:
    """Every code of the study's codebook: id, label, definition, parent (for the type-ahead)."""
    catalogue = code_catalogue(study())
    return json_ok(codes=[info.as_dict() for info in catalogue.values()])


@bp.post("/api/codes")
def new_code() -> object:
    data = request_data()
    info = add_code(study(), str(data.get("id", "")), str(data.get("label", "")), definition=str(data.get("definition", "")),
                    parent=str(data.get("parent") or "") or None)
    return json_ok(code=info.as_dict())


@bp.post("/api/codings")
def code_span() -> object:
    data = request_data()
    code_ids = data.get("codes") or []
    if isinstance(code_ids, str):
        code_ids = [part for part in code_ids.split(",") if part]
    # the turn's 0-based index as stored (pages show turn_idx + 1); "turn" is accepted as the same index
    turn = optional_int(data.get("turn_idx", data.get("turn")), "turn index", hint="reload the page")
    if turn is None:
        raise InputError("no turn given", hint="select text inside a turn")
    change = record(add_coding(
        study(), coder(), str(data.get("transcript", "")), turn, data.get("start"), data.get("end"), [str(c) for c in code_ids],
        transcript_pk=optional_int(data.get("transcript_pk"), "transcript version", hint="reload the page"),
    ))
    return json_ok(change=change.as_dict())


@bp.post("/api/codings/<int:coding_pk>/delete")
def delete(coding_pk: int) -> object:
    return json_ok(change=record(remove_coding(study(), coder(), coding_pk)).as_dict())


@bp.post("/api/codings/<int:coding_pk>/span")
def respan(coding_pk: int) -> object:
    data = request_data()
    change = record(respan_coding(study(), coder(), coding_pk, data.get("start"), data.get("end"),
                                  transcript_pk=optional_int(data.get("transcript_pk"), "transcript version", hint="reload the page")))
    return json_ok(change=change.as_dict())


@bp.post("/api/undo")
def undo() -> object:
    """Undo the coder's last change (kept in the store: a restart of the server does not lose it)."""
    return json_ok(message=undo_last(study(), coder()))
