"""A transcript as the workbench shows it: turns, the participant, and every coding as a mark
on its exact span, automatic (by run) and human (by coder) told apart.

:func:`transcript_view` returns plain data; each turn's text is cut into :class:`Piece`\\ s at
every mark boundary, so a template can highlight overlapping codings without parsing anything.
Rejected review decisions are not codings of the text: they are not marks, they are shown on
the suggestion they answer (``Mark.reviews``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import NotFoundError
from ..store import participant_sort_key
from .codes import code_catalogue, study_codebook


@dataclass
class Mark:
    """One coding on a turn: ``key`` is ``a<pk>`` for an application, ``h<pk>`` for a human coding."""

    key: str
    kind: str  # auto | human
    pk: int
    code_id: str
    label: str
    definition: str
    start: int
    end: int
    text: str
    source: str  # "run 3" or "alice"
    run_id: int | None = None
    coder: str | None = None
    rule: str | None = None
    matched_text: str | None = None
    score: float | None = None
    evidence: dict[str, Any] | None = None
    decision: str | None = None
    suggestion_pk: int | None = None
    origin: str | None = None
    created_at: str | None = None
    reviews: dict[str, str] = field(default_factory=dict)  # coder -> decision on this suggestion

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Piece:
    """A stretch of a turn's text covered by the same marks."""

    text: str
    keys: list[str]
    kinds: list[str]


@dataclass
class Chip:
    """The marks of one code by one coder or run on a turn, summed up for a glance."""

    kind: str
    code_id: str
    label: str
    source: str
    keys: list[str]
    count: int
    note: str  # review decisions ("alice accepted"), or a human decision other than "coded"
    reviewed: bool


def chips_of(marks: list[Mark]) -> list[Chip]:
    """One chip per (kind, code, source), in the order of the marks' first appearance."""
    groups: dict[tuple[str, str, str], list[Mark]] = {}
    for mark in marks:
        groups.setdefault((mark.kind, mark.code_id, mark.source), []).append(mark)
    chips = []
    for (kind, code_id, source), group in groups.items():
        notes: list[str] = []
        for mark in group:
            notes.extend(f"{who} {decision}" for who, decision in mark.reviews.items())
            if mark.kind == "human" and mark.decision and mark.decision != "coded":
                notes.append(mark.decision)
        note = ", ".join(dict.fromkeys(notes))
        chips.append(Chip(kind, code_id, group[0].label, source, [m.key for m in group], len(group), note,
                          any(m.reviews for m in group)))
    return chips


@dataclass
class TurnView:
    idx: int
    pk: int
    speaker: str
    role: str
    text: str
    start_s: float | None
    end_s: float | None
    marks: list[Mark] = field(default_factory=list)
    pieces: list[Piece] = field(default_factory=list)
    chips: list[Chip] = field(default_factory=list)


@dataclass
class TranscriptView:
    """What the transcript page shows."""

    transcript_id: str
    transcript_pk: int
    version: int
    content_hash: str
    participant_id: str | None
    participant: dict[str, Any]
    metadata: dict[str, Any]
    turns: list[TurnView]
    runs: list[int]  # successful rules and learned runs that coded this transcript version
    coders: list[str]  # human coders with codings on it
    run_id: int | None  # the run shown (None: none)
    coder: str | None  # the human coder shown (None: all)
    code: str | None  # the code filter (with its descendants)
    codes_shown: list[tuple[str, str, int]]  # (code id, label, marks)
    previous_id: str | None = None
    next_id: str | None = None


def format_time(seconds: float | None) -> str:
    """``h:mm:ss`` (or ``m:ss``) for a turn's start or end time."""
    if seconds is None:
        return ""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def cut_pieces(text: str, marks: list[Mark]) -> list[Piece]:
    """Cut ``text`` at every mark boundary; each piece lists the marks covering it."""
    bounds = {0, len(text)}
    for mark in marks:
        bounds.update((max(0, min(mark.start, len(text))), max(0, min(mark.end, len(text)))))
    cuts = sorted(bounds)
    pieces = []
    for a, b in zip(cuts, cuts[1:]):
        if a == b:
            continue
        covering = [mark for mark in marks if mark.start <= a and b <= mark.end]
        pieces.append(Piece(text[a:b], [mark.key for mark in covering], sorted({mark.kind for mark in covering})))
    return pieces


def _default_run(study: Any) -> Any:
    """The latest ok rules run of the study's declared codebook (the run reports use), or None."""
    from ..analysis.codings import latest_rules_run  # lazy: pandas

    return latest_rules_run(study)


def list_transcripts(study: Any) -> list[dict[str, Any]]:
    """Current transcripts with participant, turns, words and the number of codings on each."""
    rows = study.store.query(
        """SELECT t.pk, t.id, t.version, t.participant_id, t.word_count,
                  (SELECT COUNT(*) FROM turns tu WHERE tu.transcript_pk = t.pk) AS turns,
                  (SELECT COUNT(*) FROM human_codings hc WHERE hc.transcript_pk = t.pk AND hc.decision != 'rejected') AS human
           FROM transcripts t WHERE t.is_current = 1"""
    )
    latest = _default_run(study)  # the study's declared codebook, as reports and the review queue
    auto: dict[int, int] = {}
    if latest is not None:
        for row in study.store.query(
            "SELECT s.transcript_pk, COUNT(*) AS n FROM code_applications ca JOIN segments s ON s.pk = ca.segment_pk "
            "WHERE ca.run_id = ? GROUP BY s.transcript_pk", (latest["id"],)
        ):
            auto[row["transcript_pk"]] = row["n"]
    result = [{**dict(row), "auto": auto.get(row["pk"], 0), "run_id": latest["id"] if latest is not None else None} for row in rows]
    return sorted(result, key=lambda r: participant_sort_key(r["id"]))


def transcript_view(
    study: Any, transcript_id: str, *, run: str | int | None = None, coder: str | None = None, code: str | None = None,
) -> TranscriptView:
    """The current version of ``transcript_id`` with its marks.

    ``run``: a run id, ``"none"`` (no automatic codings) or None (the latest rules run of the
    study's declared codebook when it coded this version, else the latest run that did). ``coder``: a human coder's name, ``"none"``, or None (every human coder).
    ``code``: show only this code and the codes below it in the tree.
    """
    store = study.store
    row = store.conn.execute("SELECT * FROM transcripts WHERE id = ? AND is_current = 1", (transcript_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no transcript {transcript_id!r} in this study", hint="the transcript list shows them")
    pk = row["pk"]
    turns = [
        TurnView(t["idx"], t["pk"], t["speaker"], t["role"], t["text"], t["start_s"], t["end_s"])
        for t in store.query("SELECT * FROM turns WHERE transcript_pk = ? ORDER BY idx", (pk,))
    ]
    by_pk = {turn.pk: turn for turn in turns}
    runs = [r["id"] for r in store.query(
        """SELECT DISTINCT ca.run_id AS id FROM code_applications ca JOIN segments s ON s.pk = ca.segment_pk
           JOIN runs r ON r.id = ca.run_id WHERE s.transcript_pk = ? AND r.kind IN ('rules', 'learned') AND r.status = 'ok'
           ORDER BY ca.run_id""", (pk,))]
    coders = [r["coder"] for r in store.query(
        "SELECT DISTINCT coder FROM human_codings WHERE transcript_pk = ? ORDER BY coder", (pk,))]
    run_id: int | None
    if run in (None, ""):
        declared = _default_run(study)  # the run reports use, when it coded this version
        run_id = int(declared["id"]) if declared is not None and declared["id"] in runs else (runs[-1] if runs else None)
    elif str(run) == "none":
        run_id = None
    else:
        try:
            run_id = int(run)
        except ValueError:
            raise NotFoundError(f"no run {run!r}", hint="choose a run from the list") from None
        store.run(run_id)
    shown_coder = None if coder in (None, "", "all") else coder
    catalogue = code_catalogue(study, tuple(runs))
    allowed: set[str] | None = None
    if code:
        codebook = study_codebook(study)
        if code in codebook:
            allowed = {code, *codebook.descendants(code)}
        elif code in catalogue:
            allowed = {code}
        else:
            raise NotFoundError(f"unknown code {code!r}", hint="choose a code from the list")

    def info(code_id: str) -> tuple[str, str]:
        known = catalogue.get(code_id)
        return (known.label, known.definition) if known else (code_id, "(not in the study's codebook)")

    reviews: dict[int, dict[str, str]] = {}
    if shown_coder != "none":
        query = "SELECT * FROM human_codings WHERE transcript_pk = ?" + (" AND coder = ?" if shown_coder else "") + " ORDER BY pk"
        params: tuple[Any, ...] = (pk, shown_coder) if shown_coder else (pk,)
        for h in store.query(query, params):
            if h["suggestion_pk"] is not None:
                reviews.setdefault(h["suggestion_pk"], {})[h["coder"]] = h["decision"]
            if h["decision"] == "rejected" or h["turn_pk"] not in by_pk:
                continue
            if allowed is not None and h["code_id"] not in allowed:
                continue
            turn = by_pk[h["turn_pk"]]
            start = h["start_char"] if h["start_char"] is not None else 0
            end = h["end_char"] if h["end_char"] is not None else len(turn.text)
            label, definition = info(h["code_id"])
            turn.marks.append(Mark(
                f"h{h['pk']}", "human", h["pk"], h["code_id"], label, definition, start, end, turn.text[start:end],
                h["coder"], coder=h["coder"], decision=h["decision"], suggestion_pk=h["suggestion_pk"],
                origin=h["origin"], created_at=h["created_at"],
            ))
    if run_id is not None:
        for a in store.query(
            """SELECT ca.*, s.turn_pk FROM code_applications ca JOIN segments s ON s.pk = ca.segment_pk
               WHERE ca.run_id = ? AND s.transcript_pk = ? ORDER BY ca.pk""", (run_id, pk)
        ):
            if allowed is not None and a["code_id"] not in allowed:
                continue
            turn = by_pk[a["turn_pk"]]
            label, definition = info(a["code_id"])
            try:
                evidence = json.loads(a["evidence"]) if a["evidence"] else None
            except json.JSONDecodeError:
                evidence = {"raw": a["evidence"]}
            turn.marks.append(Mark(
                f"a{a['pk']}", "auto", a["pk"], a["code_id"], label, definition, a["start_char"], a["end_char"],
                turn.text[a["start_char"]:a["end_char"]], f"run {run_id}", run_id=run_id, rule=a["rule"],
                matched_text=a["matched_text"], score=a["score"], evidence=evidence, reviews=reviews.get(a["pk"], {}),
            ))
    counts: dict[str, int] = {}
    for turn in turns:
        turn.marks.sort(key=lambda m: (m.start, -m.end, m.kind, m.code_id))
        turn.pieces = cut_pieces(turn.text, turn.marks)
        turn.chips = chips_of(turn.marks)
        for mark in turn.marks:
            counts[mark.code_id] = counts.get(mark.code_id, 0) + 1
    participant: dict[str, Any] = {}
    if row["participant_id"]:
        person = store.conn.execute("SELECT * FROM participants WHERE id = ?", (row["participant_id"],)).fetchone()
        if person is not None:
            participant = {key: person[key] for key in ("role", "company_size", "sector", "years_experience") if person[key] not in (None, "")}
            participant.update(json.loads(person["attributes"] or "{}"))
    ids = [r["id"] for r in store.query("SELECT id FROM transcripts WHERE is_current = 1")]
    ids.sort(key=participant_sort_key)
    position = ids.index(transcript_id)
    return TranscriptView(
        transcript_id, pk, row["version"], row["content_hash"], row["participant_id"], participant,
        json.loads(row["metadata"] or "{}"), turns, runs, coders, run_id, shown_coder, code,
        sorted(((cid, info(cid)[0], n) for cid, n in counts.items()), key=lambda t: t[1].lower()),
        ids[position - 1] if position > 0 else None, ids[position + 1] if position + 1 < len(ids) else None,
    )


__all__ = ["Chip", "Mark", "Piece", "TranscriptView", "TurnView", "chips_of", "cut_pieces", "format_time", "list_transcripts", "transcript_view"]
