"""``qualkit code --pass learned``: learn each code from the human codings and code the study.

:func:`run_learned` loads the training set (:mod:`.training`), fits one calibrated classifier
per code (:mod:`.model`), scores every segment of the unit of analysis and stores the
applications (score, evidence: the top terms and the threshold) in a run of kind ``learned``
whose parameters record the training-set hash, the parameters and the seed. The same inputs
give the same codes. Codes that cannot be learned are listed with a reason; nothing at all is
stored when no code can be learned or anything fails (one transaction).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ...errors import InputError, NotFoundError
from ...store import canonical_json
from ..segment import ensure_segments, normalize_unit
from .features import build_features
from .model import fit_learned, training_hash
from .training import load_training

EVIDENCE_TERMS = 5


class NothingToLearnError(InputError):
    """No code has enough human examples: the learned pass stores nothing."""


@dataclass
class LearnedSummary:
    """What a learned run did."""

    run_id: int
    unit: str
    coders: list[str]
    training_units: int
    training_hash: str
    codes_learned: list[str]
    skipped: dict[str, str]
    messages: list[str]
    segments_scored: int
    applications: int
    code_counts: dict[str, int]
    thresholds: dict[str, float]
    seconds: float
    cv: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _codebook(study: Any, codebook: Any) -> Any:
    from ...codebook import Codebook, load_codebook

    if isinstance(codebook, Codebook):
        return codebook
    return load_codebook(codebook if codebook is not None else study.config.codebook.path, base_dir=study.root)


#: Share of the study's segments a coder must have decided about for the study to count as fully coded.
FULLY_CODED_SHARE = 0.95


def run_learned(
    study: Any,
    *,
    coder: str | None = None,
    codebook: Any = None,
    unit: str | None = None,
    include_interviewer: bool | None = None,
    seed: int = 0,
    embedding: str | None = None,
    rule_features: bool = True,
) -> LearnedSummary:
    """Learn every code the human codings allow and record a ``learned`` run (see the module docs).

    ``coder``: a human coder's name (default: every human coder, pooled). ``embedding``: a local
    sentence-transformers model (folder, ``minilm``, or installed package) to add to the
    TF-IDF features. Raises :class:`NothingToLearnError` (with one line per code) when no code
    can be learned.
    """
    started = time.perf_counter()
    book = _codebook(study, codebook)
    unit = normalize_unit(unit if unit is not None else study.config.coding.unit)
    include = study.config.coding.include_interviewer if include_interviewer is None else include_interviewer
    store = study.store
    if not store.query("SELECT 1 FROM transcripts WHERE is_current = 1 LIMIT 1"):
        raise NotFoundError("the study has no transcripts to code", hint="import some with `qualkit transcripts import`")
    ensure_segments(store, unit)
    training = load_training(store, book, unit=unit, coder=coder)
    if not training.segment_pks:
        raise NothingToLearnError(
            f"none of the human codings of {', '.join(training.coders)} falls on a {unit!r} segment of a current transcript",
            hint="; ".join(training.messages) or "import codings for the current transcripts",
        )
    roles = ("participant", "interviewer") if include else ("participant",)
    marks = ",".join("?" for _ in roles)
    segments = store.query(
        f"""SELECT s.pk, s.start_char, s.end_char, s.text FROM segments s JOIN turns u ON u.pk = s.turn_pk
            JOIN transcripts t ON t.pk = s.transcript_pk
            WHERE t.is_current = 1 AND s.unit = ? AND u.role IN ({marks}) ORDER BY s.transcript_pk, s.ordinal""",
        (unit, *roles),
    )
    # A fully coded study (the coder decided about nearly every segment, as in a coded survey) may
    # learn single-label codes as one group with no "none" class; otherwise "none" must be seen.
    decided = set(training.segment_pks) & {row["pk"] for row in segments}
    every_unit_coded = bool(segments) and len(decided) >= FULLY_CODED_SHARE * len(segments)
    features = build_features(codebook=book, rules=rule_features, embedding=embedding, store=store)
    models = fit_learned(training.texts, training.labels, weak=training.weak, seed=seed, features=features,
                         every_unit_coded=every_unit_coded)
    skipped = {item.code_id: item.reason for item in models.skipped}
    if not models.models:
        lines = [skipped[code] for code in sorted(skipped)] + training.messages
        raise NothingToLearnError(
            "no code has enough human examples to learn from: nothing was stored",
            hint="\n".join(lines) or "code more units",
        )
    train_hash = training_hash(training.texts, training.labels, training.weak, models.parameters)
    texts = [row["text"] for row in segments]
    X = models.transform(texts)
    names = models.features.feature_names()
    rows: list[tuple[Any, ...]] = []
    counts: dict[str, int] = {}
    for code in sorted(models.models):
        model = models.models[code]
        scores = model.scores(X)
        for i in np.flatnonzero(scores >= model.threshold):
            segment = segments[int(i)]
            evidence = {
                "top_terms": model.top_terms(X[int(i)], names, EVIDENCE_TERMS),
                "threshold": round(model.threshold, 4),
                "training_hash": train_hash[:16],
            }
            rows.append((segment["pk"], code, segment["start_char"], segment["end_char"], segment["text"][:200],
                         f"{code}#learned", round(float(scores[i]), 6), canonical_json(evidence)))
            counts[code] = counts.get(code, 0) + 1
    source = str(book.source_path) if book.source_path else None
    parameters = {
        "pass": "learned",
        "unit": unit,
        "include_interviewer": include,
        "coders": training.coders,
        "seed": seed,
        "training_hash": train_hash,
        "training_units": len(training.segment_pks),
        "model": models.parameters,
        "codes": {code: model.summary() for code, model in sorted(models.models.items())},
        "skipped": skipped,
        "notes": models.notes,
    }
    with store.transaction() as conn:  # the run, its applications and its finish: all or nothing
        store.store_codebook(book.hash, book.name, book.version, book.to_resolved_dict(), source)
        run_id = store.start_run("learned", parameters, codebook_hash=book.hash)
        conn.executemany(
            """INSERT INTO code_applications (run_id, segment_pk, code_id, start_char, end_char, matched_text, rule, score, evidence)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [(run_id, *row) for row in rows],
        )
        seconds = time.perf_counter() - started
        manifest = {
            "codebook": {"name": book.name, "version": book.version, "hash": book.hash, "source": source},
            "training_hash": train_hash,
            "segments_scored": len(segments),
            "applications": len(rows),
            "code_counts": dict(sorted(counts.items())),
            "messages": training.messages + models.notes,
            "timings": {"total_s": round(seconds, 4)},
        }
        store.finish_run(run_id, status="ok", manifest=manifest)
    return LearnedSummary(
        run_id=run_id, unit=unit, coders=training.coders, training_units=len(training.segment_pks), training_hash=train_hash,
        codes_learned=sorted(models.models), skipped=skipped, messages=training.messages + models.notes, segments_scored=len(segments),
        applications=len(rows), code_counts=dict(sorted(counts.items())),
        thresholds={code: round(m.threshold, 4) for code, m in sorted(models.models.items())}, seconds=seconds,
        cv={code: m.summary()["cv"] for code, m in sorted(models.models.items())},
    )


def learned_applications(store: Any, run_id: int) -> list[dict[str, Any]]:
    """The applications of a learned run with their evidence decoded (for browsing and review)."""
    rows = store.query(
        "SELECT pk, segment_pk, code_id, score, evidence FROM code_applications WHERE run_id = ? ORDER BY pk", (run_id,)
    )
    return [{"pk": r["pk"], "segment_pk": r["segment_pk"], "code_id": r["code_id"], "score": r["score"],
             "evidence": json.loads(r["evidence"]) if r["evidence"] else {}} for r in rows]


__all__ = ["LearnedSummary", "NothingToLearnError", "learned_applications", "run_learned"]
