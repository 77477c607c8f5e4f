"""Search: keyword in context (lemma-aware) and code combinations, filtered by participant attribute,
with counts per participant; every result can be coded in place (through ``/api/codings``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from ..analysis.code_query import code_query
from ..analysis.search import filter_options, kwic, participant_attributes
from ..errors import QualkitError
from .app import render, study

bp = Blueprint("search", __name__)

KWIC_LIMIT = 500
KWIC_WIDTH = 50  # characters of context each side
CODES_LIMIT = 300


def _where(options: dict[str, list[str]]) -> dict[str, list[str]]:
    """``?where_sector=finance`` -> ``{"sector": ["finance"]}`` for the attributes the page offers."""
    where = {}
    for key in options:
        value = (request.args.get(f"where_{key}") or "").strip()
        if value:
            where[key] = [value]
    return where


def pieces(text: str, spans: Any) -> list[tuple[str, list[str]]]:
    """Cut a turn's text at every span boundary: ``(text, codes covering it)`` pieces (for highlighting)."""
    cuts = sorted({0, len(text), *(s.start_char for s in spans), *(s.end_char for s in spans)})
    result = []
    for start, end in zip(cuts, cuts[1:]):
        covering = sorted({s.code_id for s in spans if s.start_char <= start and end <= s.end_char})
        result.append((text[start:end], covering))
    return result


@bp.get("/search")
def index() -> object:
    args = request.args
    mode = args.get("mode") if args.get("mode") in ("kwic", "codes") else "kwic"
    query = (args.get("q") or "").strip()
    options = filter_options(study())
    where = _where(options)
    result = None
    problem = None
    try:
        if query and mode == "kwic":
            result = kwic(study(), query, where=where, limit=KWIC_LIMIT, width=KWIC_WIDTH)
        elif query:
            result = code_query(study(), query, coder=args.get("coder") or None, where=where)
    except QualkitError as error:  # shown above the form, which keeps the query for correcting it
        problem = error
    from ..analysis.codings import coders

    return render(
        "search.html.j2", status=400 if problem else 200, problem=problem, mode=mode, q=query, result=result, options=options, where=where, coders=coders(study()),
        chosen_coder=args.get("coder") or "", pieces=pieces, people=participant_attributes(study()) if result else {}, kwic_limit=KWIC_LIMIT, codes_limit=CODES_LIMIT,
        title=f"{query} · search" if query else "Search",
    )
