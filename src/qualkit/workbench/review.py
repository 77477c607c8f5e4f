"""The review queue: a researcher decides on the automatic codings (suggestions) of a run.

A suggestion is one code application of a rules run on a current transcript. A decision is
stored as a human coding of the reviewing coder in ``human_codings`` with ``decision``
(``accepted``, ``adjusted`` (span moved to the sentence, the turn or a given span),
``replaced`` (another code), ``rejected``), ``suggestion_pk``, ``suggestion_run_id``,
``origin='workbench'`` and ``created_at``. The run's own applications are never touched.
A decision carries over to a later run: a suggestion of the same code on the same span of the
same transcript version, made by a re-run of the pipeline, shows the coder's earlier decision
(``carried_from_run``) instead of asking again, and a new decision on it replaces the earlier one.
A rejection is evidence (agreement, learning), never a coding of the text: analysis and
exports skip it; :func:`review_decisions` returns every decision for learning.

The queue's order is a swappable part: :data:`ORDERINGS` maps a name to a function
``(study, suggestions in document order) -> suggestions``; :func:`register_ordering` adds one (the learned pass
registers an uncertainty-sampling order).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from ..errors import ConflictError, InputError, NotFoundError
from ..store import Store, participant_sort_key, utcnow
from .codes import check_codes
from .edits import Change, check_coder, insert_coding, row_dict

SUGGESTING_KINDS = ("rules", "learned")
"""Kinds of runs whose code applications can be reviewed."""
DECISIONS = ("accepted", "adjusted", "replaced", "rejected")
ACTIONS = {"accept": "accepted", "reject": "rejected", "sentence": "adjusted", "turn": "adjusted", "span": "adjusted",
           "replace": "replaced"}


@dataclass
class Suggestion:
    """One code application of a run, with its turn."""

    pk: int
    run_id: int
    code_id: str
    start_char: int
    end_char: int
    matched_text: str
    rule: str
    score: float
    evidence: dict[str, Any] | None
    segment_pk: int
    segment_start: int
    segment_end: int
    turn_pk: int
    turn_idx: int
    speaker: str
    turn_text: str
    transcript_pk: int
    transcript_id: str
    participant_id: str | None
    decision: str | None = None  # the reviewing coder's decision, when there is one
    decided_code_id: str | None = None  # the code the decision kept (the replacement, for ``replaced``)
    decided_start: int | None = None  # the span the decision kept
    decided_end: int | None = None
    carried_from_run: int | None = None  # the decision was made on the same suggestion of this earlier run

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Ordering = Callable[[Any, list[Suggestion]], list[Suggestion]]


def _document_order(_study: Any, items: list[Suggestion]) -> list[Suggestion]:
    return sorted(items, key=lambda s: (participant_sort_key(s.transcript_id), s.turn_idx, s.start_char, s.code_id, s.pk))


def _score_order(study: Any, items: list[Suggestion]) -> list[Suggestion]:
    return sorted(_document_order(study, items), key=lambda s: s.score)


def _code_order(study: Any, items: list[Suggestion]) -> list[Suggestion]:
    return sorted(_document_order(study, items), key=lambda s: s.code_id)


def _uncertainty_order(study: Any, items: list[Suggestion]) -> list[Suggestion]:
    """Active learning: what teaches the learned pass most first (see :mod:`qualkit.coding.learned.active`)."""
    from ..coding.learned.active import uncertainty_order

    return uncertainty_order(study, _document_order(study, items))


ORDERINGS: dict[str, Ordering] = {
    "document": _document_order, "score": _score_order, "code": _code_order, "uncertainty": _uncertainty_order,
}
"""Orderings of the review queue by name: ``document`` (default), ``score`` (lowest first), ``code``,
``uncertainty`` (active learning: codes that need examples first, then the suggestions the learned
pass is least sure of, spread across codes and participants)."""


def register_ordering(name: str, ordering: Ordering) -> None:
    """Make ``ordering`` available as ``order=name`` (e.g. uncertainty sampling from a learned pass)."""
    ORDERINGS[name] = ordering


_SUGGESTION_SQL = """
SELECT ca.pk, ca.run_id, ca.code_id, ca.start_char, ca.end_char, ca.matched_text, ca.rule, ca.score, ca.evidence,
       s.pk AS segment_pk, s.start_char AS segment_start, s.end_char AS segment_end,
       tu.pk AS turn_pk, tu.idx AS turn_idx, tu.speaker, tu.text AS turn_text,
       t.pk AS transcript_pk, t.id AS transcript_id, t.participant_id
FROM code_applications ca
JOIN segments s ON s.pk = ca.segment_pk
JOIN turns tu ON tu.pk = s.turn_pk
JOIN transcripts t ON t.pk = s.transcript_pk
"""


def _suggestion(row: Any) -> Suggestion:
    data = dict(row)
    try:
        data["evidence"] = json.loads(data["evidence"]) if data.get("evidence") else None
    except json.JSONDecodeError:
        data["evidence"] = {"raw": data["evidence"]}
    return Suggestion(**data)


def review_run(study: Any, run_id: int | None = None) -> int:
    """The run to review: ``run_id`` (a successful rules or learned run), else the latest rules run
    of the study's declared codebook (:func:`qualkit.analysis.codings.latest_rules_run`, as reports use)."""
    from ..analysis.codings import latest_rules_run

    store = study.store
    if run_id is None:
        row = latest_rules_run(study)
        if row is None:
            raise NotFoundError("this study has no rules run to review", hint="run `qualkit code` (or `qualkit run`) first")
        return int(row["id"])
    row = store.run(int(run_id))
    if row["kind"] not in SUGGESTING_KINDS:
        raise NotFoundError(f"run {run_id} is a {row['kind']} run, not a rules or learned run: it made no suggestions",
                            hint="`qualkit runs list` shows the runs")
    if row["status"] != "ok":
        raise NotFoundError(f"run {run_id} did not finish (status {row['status']!r})", hint="review another run")
    return int(row["id"])


def reviewable_runs(study: Any) -> list[dict[str, Any]]:
    """The runs whose suggestions can be reviewed (finished rules and learned runs), oldest first,
    each with ``id``, ``kind``, ``started_at`` and ``n`` (its number of suggestions)."""
    rows = study.store.query(
        """SELECT r.id, r.kind, r.started_at, (SELECT COUNT(*) FROM code_applications ca WHERE ca.run_id = r.id) AS n
           FROM runs r WHERE r.kind IN ('rules', 'learned') AND r.status = 'ok' ORDER BY r.id"""
    )
    return [dict(row) for row in rows]


def _decisions(store: Store, coder: str, run_id: int) -> dict[int, Any]:
    rows = store.query(
        "SELECT suggestion_pk, decision, code_id, start_char, end_char FROM human_codings "
        "WHERE coder = ? AND suggestion_run_id = ? AND suggestion_pk IS NOT NULL ORDER BY pk",
        (coder, run_id),
    )
    return {row["suggestion_pk"]: row for row in rows}


_CARRIED_SQL = """
SELECT ca.pk AS pk, ca.code_id AS suggested_code_id, hc.pk AS coding_pk, hc.decision, hc.code_id, hc.start_char,
       hc.end_char, hc.suggestion_run_id AS from_run
FROM human_codings hc
JOIN code_applications old ON old.pk = hc.suggestion_pk
JOIN segments os ON os.pk = old.segment_pk
JOIN segments s ON s.turn_pk = os.turn_pk
JOIN code_applications ca ON ca.segment_pk = s.pk AND ca.run_id = ? AND ca.code_id = old.code_id
     AND ca.start_char = old.start_char AND ca.end_char = old.end_char
WHERE hc.coder = ? AND hc.suggestion_run_id != ? AND hc.decision IN ('accepted', 'adjusted', 'replaced', 'rejected')
"""


def carried_decisions(store: Store, coder: str, run_id: int) -> dict[int, Any]:
    """``coder``'s decisions on other runs' suggestions that run ``run_id`` made again (same code, same span
    of the same turn), by the pk of this run's suggestion; the newest decision wins."""
    return {row["pk"]: row for row in store.query(_CARRIED_SQL + " ORDER BY hc.pk", (int(run_id), coder, int(run_id)))}


def suggestions(study: Any, run_id: int | None, coder: str, *, order: str = "document") -> list[Suggestion]:
    """Every suggestion of the run on a current transcript, in ``order``, with ``coder``'s decisions."""
    if order not in ORDERINGS:
        raise InputError(f"unknown review order {order!r}", hint=f"choose one of: {', '.join(sorted(ORDERINGS))}")
    run_id = review_run(study, run_id)
    store = study.store
    rows = store.query(_SUGGESTION_SQL + " WHERE ca.run_id = ? AND t.is_current = 1", (run_id,))
    decided = _decisions(store, coder, run_id)
    carried = carried_decisions(store, coder, run_id)
    items = [_suggestion(row) for row in rows]
    for item in items:
        row = decided.get(item.pk)
        if row is None and item.pk in carried:
            row = carried[item.pk]
            item.carried_from_run = int(row["from_run"])
        if row is not None:
            item.decision, item.decided_code_id = row["decision"], row["code_id"]
            item.decided_start, item.decided_end = row["start_char"], row["end_char"]
    return ORDERINGS[order](study, _document_order(study, items))  # an ordering gets them in document order


def narrow_queue(items: list[Suggestion], *, code_id: str | None = None, transcript_id: str | None = None) -> list[Suggestion]:
    """The suggestions of one code and/or one transcript (review a run a code or an interview at a time)."""
    return [item for item in items
            if (not code_id or item.code_id == code_id) and (not transcript_id or item.transcript_id == transcript_id)]


@dataclass
class QueuePosition:
    """The suggestion to show, where it is in the queue, and what comes next."""

    run_id: int
    order: str
    current: Suggestion | None
    index: int  # 0-based position of ``current`` in the queue
    total: int
    decided: int
    next_pk: int | None  # the next undecided suggestion after ``current``
    previous_pk: int | None


def queue_position(study: Any, run_id: int | None, coder: str, *, order: str = "document", pk: int | None = None,
                   after: int | None = None, items: list[Suggestion] | None = None) -> QueuePosition:
    """The suggestion ``pk``, else the first undecided after ``after``, else the first undecided.

    ``items``: the queue from :func:`suggestions` when the caller has it already.
    """
    items = items if items is not None else suggestions(study, run_id, coder, order=order)
    run = items[0].run_id if items else review_run(study, run_id)
    index_of = {item.pk: i for i, item in enumerate(items)}
    index: int | None = None
    if pk is not None:
        if pk not in index_of:
            raise NotFoundError(f"suggestion {pk} is not in the queue of run {run}", hint="open the review queue again")
        index = index_of[pk]
    else:
        start = index_of.get(after, -1) + 1 if after is not None else 0
        order_ = list(range(start, len(items))) + list(range(0, start))
        index = next((i for i in order_ if items[i].decision is None), None)
    decided = sum(1 for item in items if item.decision is not None)
    if index is None:
        return QueuePosition(run, order, None, len(items), len(items), decided, None, items[-1].pk if items else None)
    after_current = list(range(index + 1, len(items))) + list(range(0, index))
    next_index = next((i for i in after_current if items[i].decision is None), None)
    return QueuePosition(
        run, order, items[index], index, len(items), decided,
        items[next_index].pk if next_index is not None else None,
        items[index - 1].pk if index > 0 else None,
    )


def _sentence_span(text: str, start: int, end: int) -> tuple[int, int]:
    from ..coding.segment import get_segmenter

    spans = next(iter(get_segmenter("sentence").segment([text])), [])
    covering = [span for span in spans if span[0] < end and start < span[1]]
    if not covering:
        return start, end
    return min(span[0] for span in covering), max(span[1] for span in covering)


def decide(
    study: Any, coder: str, suggestion_pk: int, action: str, *, code_id: str | None = None,
    span: tuple[int, int] | None = None,
) -> Change:
    """Store ``coder``'s decision on a suggestion as a human coding; returns the change (for undo).

    ``action``: ``accept``, ``reject``, ``sentence`` / ``turn`` (accept with the span moved to
    the sentence(s) or the whole turn around it), ``span`` (accept with the given ``span``) or
    ``replace`` (another ``code_id`` on the suggestion's span). A second decision on the same
    suggestion replaces the coder's first one.
    """
    coder = check_coder(coder)
    if action not in ACTIONS:
        raise InputError(f"unknown review action {action!r}", hint=f"choose one of: {', '.join(ACTIONS)}")
    store = study.store
    with store.transaction() as conn:
        row = conn.execute(_SUGGESTION_SQL + " WHERE ca.pk = ?", (int(suggestion_pk),)).fetchone()
        if row is None:
            raise ConflictError(f"suggestion {suggestion_pk} no longer exists (its run was deleted?); nothing was stored",
                                hint="reload the review queue")
        item = _suggestion(row)
        current = conn.execute("SELECT pk FROM transcripts WHERE id = ? AND is_current = 1", (item.transcript_id,)).fetchone()
        if current is None or current["pk"] != item.transcript_pk:
            raise ConflictError(
                f"transcript {item.transcript_id!r} changed after run {item.run_id} coded it; nothing was stored",
                hint="run `qualkit code` again and review the new run",
            )
        start, end, code = item.start_char, item.end_char, item.code_id
        if action == "sentence":
            start, end = _sentence_span(item.turn_text, item.start_char, item.end_char)
        elif action == "turn":
            start, end = 0, len(item.turn_text)
        elif action == "span":
            if span is None:
                raise InputError("adjusting to a span needs the span", hint="select the text in the turn")
            start, end = int(span[0]), int(span[1])
            if not (0 <= start < end <= len(item.turn_text)):
                raise InputError(f"span {start}..{end} is outside turn {item.turn_idx + 1} of {item.transcript_id} "
                                 f"(0..{len(item.turn_text)}); nothing was stored", hint="select text inside the turn")
        elif action == "replace":
            if not code_id:
                raise InputError("replacing a suggestion needs the new code", hint="pick a code")
            code = check_codes(study, [code_id])[0]
            if code == item.code_id:
                raise InputError(f"{code!r} is the suggested code itself", hint="accept the suggestion instead, or pick another code")
        earlier = conn.execute(
            "SELECT * FROM human_codings WHERE coder = ? AND suggestion_pk = ?", (coder, item.pk)
        ).fetchall()
        if not earlier:  # a decision carried over from an earlier run of the same suggestion is replaced too
            carried = conn.execute(_CARRIED_SQL + " AND ca.pk = ?", (item.run_id, coder, item.run_id, item.pk)).fetchall()
            earlier = [conn.execute("SELECT * FROM human_codings WHERE pk = ?", (row["coding_pk"],)).fetchone() for row in carried]
        for old in earlier:
            conn.execute("DELETE FROM human_codings WHERE pk = ?", (old["pk"],))
        decision = ACTIONS[action]
        pk = insert_coding(conn, {
            "coder": coder, "transcript_pk": item.transcript_pk, "turn_pk": item.turn_pk, "start_char": start,
            "end_char": end, "code_id": code, "text": item.turn_text[start:end], "source": f"review of run {item.run_id}",
            "created_at": utcnow(), "decision": decision, "suggestion_pk": item.pk, "suggestion_run_id": item.run_id,
            "origin": "workbench",
        })
    what = f"{decision} suggestion {item.pk} ({item.code_id}" + (f" -> {code}" if code != item.code_id else "") + ")"
    return Change("decide", coder, what, inserted=[pk], before=[row_dict(old) for old in earlier])


@dataclass
class ProgressRow:
    """Progress of one code or one transcript."""

    key: str
    total: int
    decided: int
    accepted: int = 0
    adjusted: int = 0
    replaced: int = 0
    rejected: int = 0

    @property
    def percent(self) -> int:
        return round(100 * self.decided / self.total) if self.total else 100


@dataclass
class ReviewProgress:
    """How far a coder is in reviewing a run: overall, per code, per transcript."""

    run_id: int
    coder: str
    total: int
    decided: int
    counts: dict[str, int]
    per_code: list[ProgressRow] = field(default_factory=list)
    per_transcript: list[ProgressRow] = field(default_factory=list)

    @property
    def percent(self) -> int:
        return round(100 * self.decided / self.total) if self.total else 100


def review_progress(study: Any, run_id: int | None, coder: str, *, items: list[Suggestion] | None = None) -> ReviewProgress:
    """Decided and total suggestions of the run for ``coder``, per code and per transcript."""
    items = items if items is not None else suggestions(study, run_id, coder)
    run = items[0].run_id if items else review_run(study, run_id)
    per_code: dict[str, ProgressRow] = {}
    per_transcript: dict[str, ProgressRow] = {}
    for item in items:
        for table, key in ((per_code, item.code_id), (per_transcript, item.transcript_id)):
            row = table.setdefault(key, ProgressRow(key, 0, 0))
            row.total += 1
            if item.decision is not None:
                row.decided += 1
                setattr(row, item.decision, getattr(row, item.decision) + 1)
    counts = Counter(item.decision for item in items if item.decision is not None)
    return ReviewProgress(
        run, coder, len(items), sum(counts.values()), {d: counts.get(d, 0) for d in DECISIONS},
        sorted(per_code.values(), key=lambda r: r.key),
        sorted(per_transcript.values(), key=lambda r: participant_sort_key(r.key)),
    )


def review_decisions(study_or_store: Any, coder: str | None = None, *, run_id: int | None = None) -> list[dict[str, Any]]:
    """Every review decision (rejections included): the evidence a learned pass trains on.

    One dict per decision: ``coder, decision, code_id`` (the code decided: the replacement for
    ``replaced``), ``suggested_code_id, suggestion_pk, suggestion_run_id, transcript_id, turn_idx,
    start_char, end_char`` (the decided span), ``suggested_start, suggested_end, text, created_at``.
    """
    store = study_or_store if isinstance(study_or_store, Store) else study_or_store.store
    where, params = ["hc.suggestion_pk IS NOT NULL"], []
    if coder is not None:
        where.append("hc.coder = ?")
        params.append(coder.removeprefix("human:"))
    if run_id is not None:
        where.append("hc.suggestion_run_id = ?")
        params.append(int(run_id))
    rows = store.query(
        f"""SELECT hc.coder, hc.decision, hc.code_id, ca.code_id AS suggested_code_id, hc.suggestion_pk,
                   hc.suggestion_run_id, t.id AS transcript_id, tu.idx AS turn_idx, hc.start_char, hc.end_char,
                   ca.start_char AS suggested_start, ca.end_char AS suggested_end, hc.text, hc.created_at
            FROM human_codings hc
            JOIN transcripts t ON t.pk = hc.transcript_pk
            LEFT JOIN turns tu ON tu.pk = hc.turn_pk
            LEFT JOIN code_applications ca ON ca.pk = hc.suggestion_pk
            WHERE {' AND '.join(where)} ORDER BY hc.pk""",
        params,
    )
    return [dict(row) for row in rows]


__all__ = [
    "ACTIONS", "DECISIONS", "ORDERINGS", "ProgressRow", "QueuePosition", "ReviewProgress", "Suggestion", "carried_decisions", "decide",
    "narrow_queue", "queue_position", "register_ordering", "review_decisions", "review_progress", "review_run", "reviewable_runs",
    "suggestions",
]
