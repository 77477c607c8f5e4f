"""Validity of the coding passes, measured against a human coder on the units that coder coded.

:func:`measure_validity` takes the units a human coder decided about (coded them, or rejected
a suggestion there: see :mod:`qualkit.coding.learned.training`) and, per code, compares the
coder's decisions with

- ``rules``: the codebook's rules applied to those units (nothing to train, no folds needed);
- ``learned``: the learned pass under k-fold cross-validation (each unit is predicted by models
  trained on the other folds only, so no unit grades its own training);
- ``union``: a code from either pass.

Per code and pass: precision, recall, F1, Cohen's kappa with a seeded bootstrap 95% confidence
interval over units, the number of human examples, and a verdict: ``trusted`` (kappa >= 0.6),
``review`` (0.4 to 0.6), ``do not use`` (below 0.4, undefined, or fewer than
:data:`~qualkit.coding.learned.model.MIN_POSITIVES` human examples). Only the units the coder
coded count: text the coder never looked at is neither agreement nor disagreement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..errors import InputError

PASSES = ("rules", "learned", "union")
TRUSTED_KAPPA = 0.6
REVIEW_KAPPA = 0.4
DEFAULT_FOLDS = 5
DEFAULT_BOOTSTRAP = 1000
COLUMNS = ["code_id", "label", "pass", "n_units", "n_examples", "predicted", "precision", "recall", "f1", "kappa",
           "kappa_low", "kappa_high", "verdict", "reason"]


def verdict(kappa: float | None, n_examples: int, min_examples: int) -> tuple[str, str]:
    """``trusted`` / ``review`` / ``do not use``, and why."""
    if n_examples < min_examples:
        return "do not use", f"{n_examples} human examples, needs {min_examples}"
    if kappa is None or math.isnan(kappa):
        return "do not use", "kappa undefined"
    if kappa >= TRUSTED_KAPPA:
        return "trusted", f"kappa >= {TRUSTED_KAPPA}"
    if kappa >= REVIEW_KAPPA:
        return "review", f"kappa {REVIEW_KAPPA}-{TRUSTED_KAPPA}"
    return "do not use", f"kappa < {REVIEW_KAPPA}"


def bootstrap_kappa(truth: np.ndarray, predicted: np.ndarray, *, n: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of kappa over ``n`` seeded resamples of the units."""
    from ..coding.learned.model import binary_metrics

    if len(truth) == 0 or n <= 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        rows = rng.integers(0, len(truth), len(truth))
        kappa = binary_metrics(truth[rows], predicted[rows])["kappa"]
        values.append(0.0 if math.isnan(kappa) else kappa)  # a resample with one class has no agreement beyond chance
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


@dataclass
class ValidityResult:
    """Per code and pass validity against a human coder (see the module docs)."""

    coders: list[str]
    unit: str
    n_units: int
    folds: int
    seed: int
    bootstrap: int
    rows: list[dict[str, Any]]
    unit_note: str
    messages: list[str] = field(default_factory=list)

    def trust(self, pass_name: str | None = None) -> dict[str, dict[str, Any]]:
        """Per code, the row of ``pass_name`` (default: the pass with the highest kappa)."""
        best: dict[str, dict[str, Any]] = {}
        for row in self.rows:
            if pass_name is not None and row["pass"] != pass_name:
                continue
            kept = best.get(row["code_id"])
            kappa = -2.0 if row["kappa"] is None or math.isnan(row["kappa"]) else row["kappa"]
            kept_kappa = -2.0 if kept is None or kept["kappa"] is None or math.isnan(kept["kappa"]) else kept["kappa"]
            if kept is None or kappa > kept_kappa:
                best[row["code_id"]] = row
        return best

    def as_dict(self) -> dict[str, Any]:
        return {
            "coders": self.coders, "unit": self.unit, "n_units": self.n_units, "folds": self.folds, "seed": self.seed,
            "bootstrap": self.bootstrap, "unit_note": self.unit_note, "messages": self.messages,
            "thresholds": {"trusted": TRUSTED_KAPPA, "review": REVIEW_KAPPA},
            "rows": [{key: _clean(value) for key, value in row.items()} for row in self.rows],
        }


def _clean(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _rules_predictions(book: Any, texts: Sequence[str], codes: Sequence[str]) -> dict[str, np.ndarray]:
    from ..coding.rules import RuleCoder

    coder = RuleCoder(book)
    found = [{match.code_id for match in matches} for matches in coder.code_texts(list(texts))]
    return {code: np.array([code in hits for hits in found], dtype=bool) for code in codes}


def _learned_predictions(training: Any, book: Any, codes: Sequence[str], folds: int, seed: int, rule_features: bool) -> tuple[dict[str, np.ndarray], int]:
    """Out-of-fold decisions of the learned pass for every unit of ``training``."""
    from sklearn.model_selection import KFold

    from ..coding.learned.features import build_features
    from ..coding.learned.model import fit_learned

    n = len(training.texts)
    predicted = {code: np.zeros(n, dtype=bool) for code in codes}
    k = max(2, min(folds, n))
    if n < 2:
        return predicted, 0
    for train, test in KFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(n)):
        part = training.subset(train)
        models = fit_learned(part.texts, part.labels, weak=part.weak, seed=seed,
                             features=build_features(codebook=book, rules=rule_features))
        if not models.models:
            continue
        test_texts = [training.texts[i] for i in test]
        decisions = models.decide(models.predict(test_texts))
        for code, values in decisions.items():
            if code in predicted:
                predicted[code][test] = values
    return predicted, k


def measure_validity(
    study: Any,
    *,
    coder: str | None = None,
    passes: Sequence[str] = PASSES,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    unit: str | None = None,
    codebook: Any = None,
    rule_features: bool = True,
) -> ValidityResult:
    """Measure each pass against ``coder`` (default: every human coder, pooled) on the units they coded."""
    from ..coding.learned.model import MIN_POSITIVES, binary_metrics
    from ..coding.learned.run import _codebook
    from ..coding.learned.training import load_training
    from ..coding.segment import ensure_segments, normalize_unit

    unknown = [name for name in passes if name not in PASSES]
    if unknown or not passes:
        raise InputError(f"unknown pass(es) {', '.join(unknown) or '(none)'}", hint=f"choose from {', '.join(PASSES)}")
    if folds < 2:
        raise InputError(f"folds must be 2 or more, not {folds}", hint="e.g. --folds 5")
    book = _codebook(study, codebook)
    unit = normalize_unit(unit if unit is not None else study.config.coding.unit)
    ensure_segments(study.store, unit)
    training = load_training(study.store, book, unit=unit, coder=coder)
    if not training.texts:  # a table of zero-unit rows would look like a measurement
        raise InputError(
            f"nothing to measure: none of the human codings of {', '.join(training.coders)} falls on a {unit!r} unit "
            "of a current transcript with a code of the codebook",
            hint="; ".join(training.messages) or "import codings for the current transcripts",
        )
    labels_codes = sorted(training.labels)
    need_rules = "rules" in passes or "union" in passes
    need_learned = "learned" in passes or "union" in passes
    rules = _rules_predictions(book, training.texts, [c.id for c in book]) if need_rules and training.texts else {}
    codes = sorted(set(labels_codes) | {code for code, values in rules.items() if values.any()})
    learned, used_folds = (_learned_predictions(training, book, codes, folds, seed, rule_features)
                           if need_learned and training.texts else ({}, 0))
    labels_of = {c.id: c.label for c in book}
    rows = []
    for code in codes:
        truth_full = training.labels.get(code)
        if truth_full is None:  # the coder never decided on this code: every unit they coded is a negative
            truth_full = np.zeros(len(training.texts), dtype=np.int8)
        mask = truth_full >= 0
        truth = truth_full[mask] == 1
        n_examples = int(truth.sum())
        by_pass = {
            "rules": rules.get(code, np.zeros(len(training.texts), dtype=bool)),
            "learned": learned.get(code, np.zeros(len(training.texts), dtype=bool)),
        }
        by_pass["union"] = by_pass["rules"] | by_pass["learned"]
        for name in passes:
            predicted = by_pass[name][mask]
            metrics = binary_metrics(truth, predicted)
            low, high = bootstrap_kappa(truth, predicted, n=bootstrap, seed=seed)
            word, reason = verdict(metrics["kappa"], n_examples, MIN_POSITIVES)
            if name == "rules" and n_examples < MIN_POSITIVES:
                word, reason = "do not use", f"{n_examples} human examples, needs {MIN_POSITIVES} to judge"
            rows.append({
                "code_id": code, "label": labels_of.get(code, code), "pass": name, "n_units": int(mask.sum()),
                "n_examples": n_examples, "predicted": int(predicted.sum()), "precision": metrics["precision"],
                "recall": metrics["recall"], "f1": metrics["f1"], "kappa": metrics["kappa"], "kappa_low": low,
                "kappa_high": high, "verdict": word, "reason": reason,
            })
    who = ", ".join(training.coders)
    note = (f"computed only on the {len(training.texts)} {unit} units that {who} coded (or decided on); "
            + (f"learned: {used_folds}-fold cross-validation, seed {seed}; " if used_folds else "")
            + f"kappa intervals: {bootstrap} bootstrap resamples")
    return ValidityResult(training.coders, unit, len(training.texts), used_folds, seed, bootstrap, rows, note, list(training.messages))


__all__ = ["COLUMNS", "PASSES", "REVIEW_KAPPA", "TRUSTED_KAPPA", "ValidityResult", "bootstrap_kappa", "measure_validity", "verdict"]
