"""The training set of the learned pass: human codings mapped onto units, with their decisions.

A unit (segment of the study's unit of analysis) is *decided* by a coder when the coder coded
it (``coded``, ``accepted``, ``adjusted``, ``replaced``) or rejected a suggestion on it. Per
code, a decided unit is

- a positive (1) when the coder coded it with the code;
- a negative (0) when the coder rejected that code there, or coded the unit with other codes only;
- no example (-1) when the coder only rejected *other* codes there (nothing was said about this one).

Rejections are evidence, never codings. Codings that cannot be used (on a transcript version
that is no longer current, not anchored to a turn, on no segment, of a code the codebook does
not have) are left out with one message each kind, naming how many and what to do.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import NotFoundError
from ..segment import ensure_segments

POSITIVE_DECISIONS = ("coded", "accepted", "adjusted", "replaced")


@dataclass
class TrainingSet:
    """Units a human decided about, with one label vector per code (1 / 0 / -1)."""

    coders: list[str]
    unit: str
    segment_pks: list[int]
    texts: list[str]
    participants: list[str]
    labels: dict[str, np.ndarray]
    weak: dict[str, list[str]] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def positives(self, code: str) -> int:
        vector = self.labels.get(code)
        return 0 if vector is None else int(np.sum(vector == 1))

    def negatives(self, code: str) -> int:
        vector = self.labels.get(code)
        return 0 if vector is None else int(np.sum(vector == 0))

    def subset(self, rows: np.ndarray) -> "TrainingSet":
        """The same codes over some of the units (for cross-validation)."""
        rows = np.asarray(rows)
        return TrainingSet(
            self.coders, self.unit, [self.segment_pks[i] for i in rows], [self.texts[i] for i in rows],
            [self.participants[i] for i in rows], {code: vector[rows] for code, vector in self.labels.items()},
            dict(self.weak), list(self.messages),
        )


_ROWS_SQL = """
SELECT hc.pk AS coding_pk, hc.coder AS coder, hc.code_id AS code_id, hc.decision AS decision,
       hc.turn_pk AS turn_pk, t.is_current AS is_current
FROM human_codings hc JOIN transcripts t ON t.pk = hc.transcript_pk
WHERE {where}
"""

_MAPPED_SQL = """
SELECT hc.pk AS coding_pk, s.pk AS segment_pk, s.text AS text, t.participant_id AS participant_id,
       t.id AS transcript_id, s.ordinal AS ordinal
FROM human_codings hc
JOIN turns tu ON tu.pk = hc.turn_pk
JOIN transcripts t ON t.pk = hc.transcript_pk
JOIN segments s ON s.turn_pk = hc.turn_pk AND s.unit = ?
WHERE {where} AND t.is_current = 1
  AND s.start_char < COALESCE(hc.end_char, LENGTH(tu.text))
  AND COALESCE(hc.start_char, 0) < s.end_char
"""


def human_coders(store: Any) -> list[str]:
    """Every human coder with at least one coding or decision."""
    return [row["coder"] for row in store.query("SELECT DISTINCT coder FROM human_codings ORDER BY coder")]


def load_training(store: Any, codebook: Any, *, unit: str, coder: str | None = None) -> TrainingSet:
    """Build the training set of ``coder`` (default: every human coder, pooled) on ``unit`` segments.

    Raises :class:`NotFoundError` when the coder (or the study) has no human codings at all.
    """
    known = human_coders(store)
    if coder is not None and coder.startswith("human:"):
        coder = coder[len("human:"):]
    if not known:
        raise NotFoundError(
            "this study has no human codings to learn from",
            hint="import some with `qualkit codings import FILE --coder NAME`, or code and review in the workbench",
        )
    if coder is not None and coder not in known:
        raise NotFoundError(f"no human coder {coder!r} in this study", hint=f"known coders: {', '.join(known)}")
    coders = [coder] if coder is not None else known
    ensure_segments(store, unit)
    marks = ",".join("?" for _ in coders)
    where = f"hc.coder IN ({marks})"
    rows = store.query(_ROWS_SQL.format(where=where), tuple(coders))
    messages: list[str] = []
    codebook_ids = {code.id for code in codebook}
    stale = [row for row in rows if not row["is_current"]]
    unanchored = [row for row in rows if row["is_current"] and row["turn_pk"] is None]
    if stale:
        messages.append(f"{len(stale)} coding(s) are on transcript versions that are no longer current: left out "
                        "(re-import the codings for the new versions)")
    if unanchored:
        messages.append(f"{len(unanchored)} coding(s) name no turn of their transcript (unknown segments): left out")
    unknown_codes: dict[str, int] = defaultdict(int)
    for row in rows:
        if row["code_id"] not in codebook_ids:
            unknown_codes[row["code_id"]] += 1
    for code, count in sorted(unknown_codes.items()):
        messages.append(f"{code}: {count} human coding(s) of a code the codebook does not have: left out "
                        "(add the code to the codebook, or map it when importing)")
    mapped = store.query(_MAPPED_SQL.format(where=where), (unit, *coders))
    on_segment = {row["coding_pk"] for row in mapped}
    lost = [row for row in rows if row["is_current"] and row["turn_pk"] is not None and row["coding_pk"] not in on_segment]
    if lost:
        messages.append(f"{len(lost)} coding(s) fall on no {unit!r} segment (unknown segments): left out")
    decision_of = {row["coding_pk"]: (row["code_id"], row["decision"]) for row in rows}
    units: dict[int, dict[str, Any]] = {}
    for row in mapped:
        code, decision = decision_of[row["coding_pk"]]
        if code not in codebook_ids:
            continue
        entry = units.setdefault(row["segment_pk"], {"text": row["text"], "participant": row["participant_id"] or row["transcript_id"],
                                                     "key": (row["transcript_id"], row["ordinal"]), "pos": set(), "neg": set()})
        (entry["neg"] if decision == "rejected" else entry["pos"]).add(code)
    order = sorted(units, key=lambda pk: (units[pk]["key"], pk))
    codes = sorted({code for entry in units.values() for code in entry["pos"] | entry["neg"]} | {c.id for c in codebook if c.examples})
    labels: dict[str, np.ndarray] = {}
    for code in codes:
        vector = np.full(len(order), -1, dtype=np.int8)
        for i, pk in enumerate(order):
            entry = units[pk]
            if code in entry["pos"]:
                vector[i] = 1
            elif code in entry["neg"] or entry["pos"]:
                vector[i] = 0
        labels[code] = vector
    weak = {code.id: list(code.examples) for code in codebook if code.examples}
    return TrainingSet(
        coders=coders, unit=unit, segment_pks=order, texts=[units[pk]["text"] for pk in order],
        participants=[str(units[pk]["participant"]) for pk in order], labels=labels, weak=weak, messages=messages,
    )


__all__ = ["POSITIVE_DECISIONS", "TrainingSet", "human_coders", "load_training"]
