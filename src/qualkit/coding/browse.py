"""Browsing a rules run: explain one segment's matches, count codes, show one code.

These back ``qualkit code explain``, ``qualkit codes list`` and ``qualkit codes show``; each
returns data and prints nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ..codebook import Code, Codebook, load_codebook
from ..errors import NotFoundError


@dataclass(frozen=True)
class ExplainedMatch:
    """One application in a segment, offsets relative to the segment text."""

    code_id: str
    label: str
    start: int
    end: int
    text: str
    rule: str
    rule_source: Any
    score: float


@dataclass
class SegmentExplanation:
    """A segment, where it comes from, and what a run found in it."""

    segment_pk: int
    unit: str
    transcript_id: str
    participant_id: str | None
    turn_idx: int  # 0-based, as stored
    turn: int  # 1-based, as people count turns (transcripts show, the report, exports, codings CSV)
    speaker: str
    role: str
    text: str
    run_id: int | None
    codebook_name: str | None
    matches: list[ExplainedMatch] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def stored_codebook(study: Any, hash_: str) -> Codebook | None:
    """The resolved codebook stored under ``hash_``, or None when the store has none."""
    row = study.store.conn.execute("SELECT resolved FROM codebooks WHERE hash = ?", (hash_,)).fetchone()
    return Codebook.from_resolved_dict(json.loads(row["resolved"])) if row is not None else None


def run_codebook(study: Any, run_id: int) -> Codebook:
    """The resolved codebook a run used, from the store."""
    run = study.store.run(run_id)
    if run["codebook_hash"] is None:
        raise NotFoundError(f"run {run_id} used no codebook", hint="pass a rules run with --run")
    codebook = stored_codebook(study, run["codebook_hash"])
    if codebook is None:
        raise NotFoundError(f"run {run_id} names codebook {run['codebook_hash'][:12]} but the store does not hold it")
    return codebook


def _rules_run(study: Any, run_id: int | None, unit: str | None = None) -> Any:
    """The run asked for (must be a rules run), else the latest successful rules run (for ``unit``),
    of the study's declared codebook first (as reports and the workbench choose), then of any."""
    store = study.store
    if run_id is not None:
        run = store.run(run_id)
        if run["kind"] != "rules":
            raise NotFoundError(f"run {run_id} is a {run['kind']} run, not a rules run", hint="`qualkit runs list` shows the runs")
        return run
    rows = store.query("SELECT * FROM runs WHERE kind = 'rules' AND status = 'ok' ORDER BY id DESC")
    from ..analysis.codings import declared_codebook_hash  # lazy: pandas; the one rule reports and the workbench use

    declared = declared_codebook_hash(study)
    rows = sorted(rows, key=lambda row: row["codebook_hash"] != declared)  # stable: newest first within each
    for row in rows:
        if unit is None or json.loads(row["parameters"]).get("unit") == unit:
            return row
    return None


def explain_segment(study: Any, segment_pk: int, *, run_id: int | None = None) -> SegmentExplanation:
    """The segment's text and every application a rules run made in it, with the rule behind each.

    Without ``run_id``, the latest successful rules run with the segment's unit is used.
    """
    row = study.store.conn.execute(
        """SELECT s.pk, s.unit, s.start_char, s.text, t.id AS transcript_id, t.participant_id,
                  u.idx, u.speaker, u.role
           FROM segments s JOIN turns u ON u.pk = s.turn_pk JOIN transcripts t ON t.pk = s.transcript_pk
           WHERE s.pk = ?""",
        (segment_pk,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no segment {segment_pk} in this study", hint="segment ids are shown by `qualkit codes show CODE`")
    run = _rules_run(study, run_id, row["unit"])
    explanation = SegmentExplanation(
        segment_pk=row["pk"], unit=row["unit"], transcript_id=row["transcript_id"], participant_id=row["participant_id"],
        turn_idx=row["idx"], turn=row["idx"] + 1, speaker=row["speaker"], role=row["role"], text=row["text"],
        run_id=run["id"] if run is not None else None, codebook_name=None,
    )
    if run is None:
        return explanation
    codebook = run_codebook(study, run["id"])
    explanation.codebook_name = codebook.name
    offset = row["start_char"]
    for app in study.store.query(
        """SELECT code_id, start_char, end_char, matched_text, rule, score FROM code_applications
           WHERE run_id = ? AND segment_pk = ? ORDER BY start_char, end_char, code_id, rule""",
        (run["id"], segment_pk),
    ):
        code = codebook.codes.get(app["code_id"])
        explanation.matches.append(
            ExplainedMatch(
                code_id=app["code_id"],
                label=code.label if code else app["code_id"],
                start=app["start_char"] - offset,
                end=app["end_char"] - offset,
                text=app["matched_text"],
                rule=app["rule"],
                rule_source=code.rule_source(app["rule"]) if code else None,
                score=app["score"],
            )
        )
    return explanation


@dataclass(frozen=True)
class CodeCount:
    """One code of the tree with its counts; ``segments`` and ``participants`` include descendants."""

    id: str
    label: str
    parent: str | None
    depth: int
    applications: int
    segments: int
    participants: int


@dataclass
class CodeCounts:
    run_id: int | None
    codebook_name: str
    codebook_hash: str
    rows: list[CodeCount]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def code_counts(study: Any, *, run_id: int | None = None) -> CodeCounts:
    """The codebook tree of a rules run (default: the latest) with counts per code.

    ``applications`` counts the code's own applications; ``segments`` and ``participants``
    count distinct segments and participants coded with the code or any descendant (a parent
    is implied by its children). Without any run, the study's codebook with zero counts.
    """
    run = _rules_run(study, run_id)
    if run is None:
        codebook = load_codebook(study.config.codebook.path, base_dir=study.root)
        return CodeCounts(None, codebook.name, codebook.hash, [
            CodeCount(code.id, code.label, code.parent, depth, 0, 0, 0) for code, depth in codebook.walk()
        ])
    codebook = run_codebook(study, run["id"])
    own: dict[str, int] = {}
    segments: dict[str, set[int]] = {}
    people: dict[str, set[str]] = {}
    for app in study.store.query(
        """SELECT a.code_id, a.segment_pk, t.participant_id FROM code_applications a
           JOIN segments s ON s.pk = a.segment_pk JOIN transcripts t ON t.pk = s.transcript_pk
           WHERE a.run_id = ?""",
        (run["id"],),
    ):
        code_id = app["code_id"]
        own[code_id] = own.get(code_id, 0) + 1
        targets = [code_id, *(codebook.ancestors(code_id) if code_id in codebook.codes else [])]
        for target in targets:
            segments.setdefault(target, set()).add(app["segment_pk"])
            if app["participant_id"]:
                people.setdefault(target, set()).add(app["participant_id"])
    rows = [
        CodeCount(code.id, code.label, code.parent, depth, own.get(code.id, 0), len(segments.get(code.id, ())), len(people.get(code.id, ())))
        for code, depth in codebook.walk()
    ]
    return CodeCounts(run["id"], codebook.name, codebook.hash, rows)


@dataclass
class CodeDetail:
    code: Code
    ancestors: list[str]
    children: list[str]
    counts: CodeCount | None
    run_id: int | None
    examples: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["code"] = self.code.model_dump(mode="json")
        return data


def code_detail(study: Any, code_id: str, *, run_id: int | None = None, limit: int = 5) -> CodeDetail:
    """One code: definition, rules, counts in a run, and a few coded segments."""
    counts = code_counts(study, run_id=run_id)
    if counts.run_id is not None:
        codebook = run_codebook(study, counts.run_id)
    else:
        codebook = load_codebook(study.config.codebook.path, base_dir=study.root)
    code = codebook.get(code_id)
    row = next((r for r in counts.rows if r.id == code_id), None)
    examples: list[dict[str, Any]] = []
    if counts.run_id is not None:
        ids = [code_id, *codebook.descendants(code_id)]
        marks = ",".join("?" for _ in ids)
        for app in study.store.query(
            f"""SELECT a.segment_pk, a.code_id, a.matched_text, a.rule, t.id AS transcript_id, s.text
                FROM code_applications a JOIN segments s ON s.pk = a.segment_pk JOIN transcripts t ON t.pk = s.transcript_pk
                WHERE a.run_id = ? AND a.code_id IN ({marks}) ORDER BY a.segment_pk LIMIT ?""",
            (counts.run_id, *ids, limit),
        ):
            examples.append(dict(app))
    return CodeDetail(code, codebook.ancestors(code_id), codebook.children(code_id), row, counts.run_id, examples)


__all__ = [
    "CodeCount",
    "CodeCounts",
    "CodeDetail",
    "ExplainedMatch",
    "SegmentExplanation",
    "code_counts",
    "code_detail",
    "explain_segment",
    "run_codebook",
    "stored_codebook",
]
