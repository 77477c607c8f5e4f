"""The transcript view: turns, participant, every coding highlighted on its span."""

from __future__ import annotations

from flask import Blueprint, request

from ..workbench.memos import list_memos
from ..workbench.transcript import transcript_view
from .app import render, study

bp = Blueprint("transcripts", __name__)


@bp.get("/transcripts/<transcript_id>")
def view(transcript_id: str) -> object:
    args = request.args
    data = transcript_view(
        study(), transcript_id, run=args.get("run") or None, coder=args.get("coder") or None, code=args.get("code") or None,
    )
    # Each code's label and definition once, not once per mark (a long transcript has thousands of marks).
    codes: dict[str, dict[str, str | None]] = {}
    marks: dict[str, dict[str, object]] = {}
    for turn in data.turns:
        for mark in turn.marks:
            item = mark.as_dict()
            codes.setdefault(mark.code_id, {"label": item.pop("label"), "definition": item.pop("definition")})
            marks[mark.key] = {k: v for k, v in item.items() if k not in ("label", "definition", "text", "key") and v not in (None, {})}
    focus = args.get("turn", "")
    memos = list_memos(study(), transcript=data.transcript_id)  # on the transcript, its turns and codings
    return render(
        "transcript.html.j2", view=data, marks=marks, codes=codes, focus=int(focus) if focus.isdigit() else None, memos=memos,
        title=f"{data.transcript_id} · transcript",
    )
