"""Active learning for the review queue: which suggestions to decide first, and what each code needs.

:func:`rank_suggestions` orders a run's open suggestions (code applications the coder has not
decided yet) by how much a decision would teach the learned pass:

1. codes that cannot be learned yet (too few human examples) come first: any decision on them
   moves them towards :data:`~.model.MIN_POSITIVES`;
2. then uncertainty sampling: the suggestions whose calibrated score under a model trained on
   the coder's decisions so far is closest to that code's threshold;
3. spread: codes take turns (round robin, neediest first), and within a code the next pick
   prefers a participant picked least so far among the most uncertain few.

:func:`decisions_needed` says, per code, how many more human decisions it needs before the
learned pass will apply it. Both are deterministic for the same store content and seed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from ...errors import NotFoundError
from .model import MIN_NEGATIVES, MIN_POSITIVES, fit_learned, training_hash
from .training import TrainingSet, load_training

#: How many of a code's most uncertain suggestions compete on participant spread.
SPREAD_WINDOW = 5

_MODEL_CACHE: dict[str, Any] = {}


@dataclass(frozen=True)
class CodeNeed:
    """How far a code is from being learnable."""

    code_id: str
    positives: int
    negatives: int
    needed: int
    learnable: bool
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RankedSuggestion:
    """One open suggestion with why it sits where it does in the queue."""

    rank: int
    application_pk: int
    segment_pk: int
    code_id: str
    participant_id: str
    score: float | None
    margin: float | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _codebook_of_run(study: Any, run: Any) -> Any:
    """The codebook a run recorded (by hash), else the study's."""
    from ...codebook import load_codebook
    from ..browse import stored_codebook

    stored = stored_codebook(study, run["codebook_hash"]) if run["codebook_hash"] else None
    return stored if stored is not None else load_codebook(study.config.codebook.path, base_dir=study.root)


def _unit_of_run(study: Any, run: Any) -> str:
    try:
        unit = json.loads(run["parameters"] or "{}").get("unit")
    except json.JSONDecodeError:
        unit = None
    return str(unit or study.config.coding.unit)


def decisions_needed(study: Any, *, coder: str | None = None, unit: str | None = None, codebook: Any = None) -> dict[str, CodeNeed]:
    """Per code of the codebook: human positives and negatives so far, and how many more decisions it needs."""
    from .run import _codebook

    book = _codebook(study, codebook)
    unit = unit or study.config.coding.unit
    try:
        training = load_training(study.store, book, unit=unit, coder=coder)
    except NotFoundError:  # a coder with no decisions yet needs them all
        training = TrainingSet([], unit, [], [], [], {})
    return _needs(book, training)


def _needs(book: Any, training: Any) -> dict[str, CodeNeed]:
    needs = {}
    for code in book:
        positives, negatives = training.positives(code.id), training.negatives(code.id)
        more_pos = max(0, MIN_POSITIVES - positives)
        more_neg = max(0, MIN_NEGATIVES - negatives)
        needed = more_pos + more_neg
        if needed == 0:
            message = f"{code.id}: {positives} human examples, enough to learn"
        elif more_pos:
            message = f"{code.id}: {positives} human example{'s' if positives != 1 else ''}, needs {MIN_POSITIVES} ({more_pos} more)"
        else:
            message = f"{code.id}: {negatives} units decided against it, needs {MIN_NEGATIVES} ({more_neg} more)"
        needs[code.id] = CodeNeed(code.id, positives, negatives, needed, needed == 0, message)
    return needs


def rank_suggestions(study: Any, run_id: int, *, coder: str | None = None, seed: int = 0, limit: int | None = None) -> list[RankedSuggestion]:
    """A run's suggestions the coder has not decided yet, most useful decision first (see the module docs)."""
    store = study.store
    run = store.run(run_id)
    unit = _unit_of_run(study, run)
    book = _codebook_of_run(study, run)
    name = coder[len("human:"):] if coder and coder.startswith("human:") else coder
    try:
        training = load_training(store, book, unit=unit, coder=name)
    except NotFoundError:  # no human codings yet: every code needs decisions, order by spread alone
        training = None
    rows = store.query(
        """SELECT ca.pk, ca.segment_pk, ca.code_id, s.text, COALESCE(t.participant_id, t.id) AS participant
           FROM code_applications ca JOIN segments s ON s.pk = ca.segment_pk JOIN transcripts t ON t.pk = s.transcript_pk
           WHERE ca.run_id = ? AND t.is_current = 1 ORDER BY ca.pk""",
        (run_id,),
    )
    decided = _decided(store, name, unit)
    seen: set[tuple[int, str]] = set()
    open_rows = []
    for row in rows:
        key = (row["segment_pk"], row["code_id"])
        if row["pk"] in decided["pks"] or key in decided["pairs"] or key in seen:
            continue
        seen.add(key)
        open_rows.append(row)
    if not open_rows:
        return []
    needs = _needs(book, training) if training is not None else {}
    models = _models(training, seed) if training is not None and training.segment_pks else None
    by_code: dict[str, list[tuple[float, int, Any, float | None]]] = defaultdict(list)
    if models is not None and models.models:
        X = models.transform([row["text"] for row in open_rows])
    for i, row in enumerate(open_rows):
        code = row["code_id"]
        model = models.models.get(code) if models is not None else None
        if model is None:
            by_code[code].append((0.0, row["pk"], row, None))
        else:
            probability = float(model.scores(X[i])[0])
            by_code[code].append((abs(probability - model.threshold), row["pk"], row, probability))
    for items in by_code.values():
        items.sort(key=lambda item: (item[0], item[1]))

    def code_key(code: str) -> tuple[int, int, float, str]:
        need = needs.get(code)
        learnable = models is not None and code in models.models
        return (0 if not learnable else 1, -(need.needed if need else MIN_POSITIVES), by_code[code][0][0], code)

    order = sorted(by_code, key=code_key)
    used: dict[str, int] = defaultdict(int)
    ranked: list[RankedSuggestion] = []
    while any(by_code[code] for code in order):
        for code in order:
            queue = by_code[code]
            if not queue:
                continue
            window = queue[:SPREAD_WINDOW]
            pick = min(range(len(window)), key=lambda j: (used[window[j][2]["participant"]], j))
            margin, pk, row, probability = queue.pop(pick)
            used[row["participant"]] += 1
            need = needs.get(code)
            if probability is None:
                reason = need.message if need else f"{code}: no human decisions yet"
            else:
                reason = f"{code}: score {probability:.2f}, {margin:.2f} from the threshold"
            ranked.append(RankedSuggestion(len(ranked) + 1, pk, row["segment_pk"], code, str(row["participant"]),
                                           None if probability is None else round(probability, 4),
                                           None if probability is None else round(margin, 4), reason))
            if limit is not None and len(ranked) >= limit:
                return ranked
    return ranked


def order_suggestions(study: Any, run_id: int, *, coder: str | None = None, seed: int = 0, limit: int | None = None) -> list[int]:
    """The pks of ``run_id``'s open suggestions (code_applications) in active-learning order."""
    return [item.application_pk for item in rank_suggestions(study, run_id, coder=coder, seed=seed, limit=limit)]


def uncertainty_order(study: Any, items: list[Any]) -> list[Any]:
    """Reorder review-queue items (anything with ``pk`` and ``run_id``: the workbench's suggestions)
    into active-learning order; items already decided (by any coder) keep their order at the end.

    Shaped for ``qualkit.workbench.review.register_ordering("uncertainty", uncertainty_order)``.
    """
    rank: dict[int, int] = {}
    for run_id in sorted({item.run_id for item in items}):
        for ranked in rank_suggestions(study, run_id):
            rank.setdefault(ranked.application_pk, len(rank))
    head = sorted((item for item in items if item.pk in rank), key=lambda item: rank[item.pk])
    return head + [item for item in items if item.pk not in rank]


def _decided(store: Any, coder: str | None, unit: str) -> dict[str, set[Any]]:
    where, params = ("WHERE hc.coder = ?", (unit, coder)) if coder else ("", (unit,))
    rows = store.query(
        f"""SELECT hc.suggestion_pk, hc.code_id, s.pk AS segment_pk FROM human_codings hc
            LEFT JOIN turns tu ON tu.pk = hc.turn_pk
            LEFT JOIN segments s ON s.turn_pk = hc.turn_pk AND s.unit = ?
              AND s.start_char < COALESCE(hc.end_char, LENGTH(tu.text)) AND COALESCE(hc.start_char, 0) < s.end_char
            {where}""",
        params,
    )
    return {"pks": {row["suggestion_pk"] for row in rows if row["suggestion_pk"] is not None},
            "pairs": {(row["segment_pk"], row["code_id"]) for row in rows if row["segment_pk"] is not None}}


def _models(training: Any, seed: int) -> Any:
    """Models on the decisions so far, cached in this process by training-set hash."""
    key = training_hash(training.texts, training.labels, training.weak, {"seed": seed, "purpose": "active"})
    if key not in _MODEL_CACHE:
        if len(_MODEL_CACHE) > 8:
            _MODEL_CACHE.clear()
        _MODEL_CACHE[key] = fit_learned(training.texts, training.labels, weak=training.weak, seed=seed)
    return _MODEL_CACHE[key]


__all__ = ["CodeNeed", "RankedSuggestion", "SPREAD_WINDOW", "decisions_needed", "order_suggestions", "rank_suggestions",
           "uncertainty_order"]
