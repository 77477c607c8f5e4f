"""Per-code classifiers learned from human codings: calibrated, thresholded by cross-validation.

Pure computation on texts and labels (no store): :func:`fit_learned` is used by the learned
pass (:mod:`.run`), by validity's cross-validation and by the benchmark alike.

For each code: a logistic regression (liblinear, class-balanced, seeded) on the units a human
decided about (label 1 = coded with the code, 0 = decided against it), plus the codebook's
``examples`` as weak positives (sample weight ``weak_weight``, never used for evaluation).
Scores are calibrated by Platt scaling fitted on out-of-fold decision values of a stratified
k-fold cross-validation, and the decision threshold is the one with the best out-of-fold kappa.
A code with fewer than :data:`MIN_POSITIVES` human positives (or :data:`MIN_NEGATIVES`
negatives) is not learned, nor is one whose out-of-fold kappa is not above :data:`MIN_CV_KAPPA`
(its decisions would be no better than chance); its :class:`Skipped` entry says why.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy import sparse

from .features import FeatureSet, build_features
from .calibration import LARGE_TRAINING_SET, Skipped, _best_threshold, _platt, _round, _sigmoid, binary_metrics, top_terms
from .group import GROUP_C, MIN_GROUP_POSITIVES, exclusive_group, fit_group

MIN_POSITIVES = 8
MIN_NEGATIVES = 5
DEFAULT_FOLDS = 5
DEFAULT_C = 1.0
WEAK_WEIGHT = 0.3
MIN_CV_KAPPA = 0.0
"""A code whose out-of-fold decisions agree with the human no better than chance is not applied."""


@dataclass
class CodeModel:
    """One code's learned classifier: weights, Platt calibration, threshold, CV figures."""

    code_id: str
    coef: np.ndarray
    intercept: float
    platt_a: float
    platt_b: float
    threshold: float
    positives: int
    negatives: int
    weak: int
    cv: dict[str, float] = field(default_factory=dict)

    def decision(self, X: sparse.csr_matrix) -> np.ndarray:
        return np.asarray(X @ self.coef).ravel() + self.intercept

    def scores(self, X: sparse.csr_matrix) -> np.ndarray:
        """Calibrated probability that a human would code each row with this code."""
        return _sigmoid(self.platt_a * self.decision(X) + self.platt_b)

    def top_terms(self, row: sparse.csr_matrix, names: Sequence[str], k: int = 5) -> list[tuple[str, float]]:
        """The named features that pushed this row towards the code the most (weight x value)."""
        return top_terms(row, self.coef, names, k)

    def summary(self) -> dict[str, Any]:
        return {"threshold": round(self.threshold, 4), "positives": self.positives, "negatives": self.negatives,
                "weak_examples": self.weak, "platt": [round(self.platt_a, 4), round(self.platt_b, 4)],
                "cv": {key: _round(value) for key, value in self.cv.items()}}


@dataclass
class LearnedModels:
    """The fitted features and every code's model, plus the codes that were skipped."""

    features: FeatureSet
    models: dict[str, Any]  # CodeModel, or GroupCodeModel for a code of an exclusive group
    skipped: list[Skipped]
    parameters: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    """Codes applied with a caveat (few examples, learned only as part of an exclusive group)."""

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return self.features.transform(texts)

    def predict(self, texts: Sequence[str], X: sparse.csr_matrix | None = None) -> dict[str, np.ndarray]:
        """Calibrated scores per code for ``texts``."""
        X = self.transform(texts) if X is None else X
        return {code: model.scores(X) for code, model in self.models.items()}

    def decide(self, scores: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Boolean decisions per code at each code's threshold."""
        return {code: scores[code] >= self.models[code].threshold for code in scores}


def _logistic(C: float, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    # dual: far faster than the primal when features outnumber units, as with n-grams
    return LogisticRegression(C=C, class_weight="balanced", solver="liblinear", dual=True, tol=1e-3, random_state=seed, max_iter=500)


def _fit_linear(X: sparse.csr_matrix, y: np.ndarray, w: np.ndarray, C: float, seed: int) -> tuple[np.ndarray, float]:
    model = _logistic(C, seed)
    model.fit(X, y, sample_weight=w)
    return model.coef_.ravel().astype(np.float64), float(model.intercept_[0])


def fit_code(
    code_id: str,
    X: sparse.csr_matrix,
    y: np.ndarray,
    X_weak: sparse.csr_matrix | None = None,
    *,
    seed: int = 0,
    folds: int = DEFAULT_FOLDS,
    C: float = DEFAULT_C,
    weak_weight: float = WEAK_WEIGHT,
    min_positives: int = MIN_POSITIVES,
    min_negatives: int = MIN_NEGATIVES,
    min_cv_kappa: float = MIN_CV_KAPPA,
) -> CodeModel | Skipped:
    """Learn one code from labelled rows ``X``/``y`` (1/0) and optional weak positive rows."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y, dtype=np.int8)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if n_neg == 0 and n_pos:
        return Skipped(code_id, f"{code_id}: all {n_pos} human decisions are positive (a single class): "
                       "it needs units decided against it (rejections, or units coded with other codes only)", n_pos, 0)
    if n_pos < min_positives:
        return Skipped(code_id, f"{code_id}: {n_pos} human example{'s' if n_pos != 1 else ''}, needs {min_positives}", n_pos, n_neg)
    if n_neg < min_negatives:
        return Skipped(code_id, f"{code_id}: {n_neg} negative example{'s' if n_neg != 1 else ''}, needs {min_negatives}", n_pos, n_neg)
    n_weak = 0 if X_weak is None else X_weak.shape[0]

    def with_weak(rows: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
        X_rows, y_rows, w_rows = X[rows], y[rows], np.ones(len(rows))
        if n_weak:
            X_rows = sparse.vstack([X_rows, X_weak], format="csr")
            y_rows = np.r_[y_rows, np.ones(n_weak, dtype=np.int8)]
            w_rows = np.r_[w_rows, np.full(n_weak, weak_weight)]
        return X_rows, y_rows, w_rows

    k = max(2, min(folds if len(y) <= LARGE_TRAINING_SET else min(folds, 3), n_pos, n_neg))
    oof = np.zeros(len(y))
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(len(y)), y):
        coef, intercept = _fit_linear(*with_weak(train), C, seed)
        oof[test] = np.asarray(X[test] @ coef).ravel() + intercept
    a, b = _platt(oof, y)
    probabilities = _sigmoid(a * oof + b)
    threshold = _best_threshold(probabilities, y)
    cv = binary_metrics(y.astype(bool), probabilities >= threshold)
    if not cv["kappa"] > min_cv_kappa:
        kappa = "undefined" if math.isnan(cv["kappa"]) else f"{cv['kappa']:.2f}"
        return Skipped(code_id, f"{code_id}: cross-validated kappa {kappa} on {n_pos} human examples is no better "
                       "than chance: not applied (code more units, or sharpen the code)", n_pos, n_neg)
    coef, intercept = _fit_linear(*with_weak(np.arange(len(y))), C, seed)
    return CodeModel(code_id, coef, intercept, a, b, threshold, n_pos, n_neg, n_weak,
                     {key: cv[key] for key in ("precision", "recall", "f1", "kappa")} | {"folds": k})


def fit_learned(
    texts: Sequence[str],
    labels: Mapping[str, np.ndarray],
    *,
    weak: Mapping[str, Sequence[str]] | None = None,
    seed: int = 0,
    folds: int = DEFAULT_FOLDS,
    C: float = DEFAULT_C,
    weak_weight: float = WEAK_WEIGHT,
    min_positives: int = MIN_POSITIVES,
    features: FeatureSet | Callable[[], FeatureSet] | None = None,
    exclusive: bool = True,
    every_unit_coded: bool = False,
) -> LearnedModels:
    """Fit one model per code.

    ``labels[code]`` has one entry per text: 1 (coded with it), 0 (decided against it) or -1
    (no decision: not a training row for that code). ``weak[code]`` are weak positive texts
    (the codebook's examples). Codes are fitted in sorted order; everything is seeded. With
    ``exclusive`` (default), codes that no unit shares are learned together by one multinomial
    model (:mod:`.group`); the others, or all with ``exclusive=False``, one model per code. Such a
    group needs units decided to carry none of its codes, unless ``every_unit_coded`` says the
    texts to be coded are all coded too (a fully coded corpus), where "none" is not an answer.
    """
    weak = dict(weak or {})
    feature_set = features() if callable(features) else (features or build_features())
    weak_texts = [text for code in sorted(weak) for text in weak[code]]
    X_all = feature_set.fit_transform(list(texts) + weak_texts)[: len(texts)]
    X_all.sort_indices()  # once, not in every fold's copy
    models: dict[str, Any] = {}
    skipped: list[Skipped] = []
    groups: list[dict[str, Any]] = []
    notes: list[str] = []
    found = exclusive_group(labels, require_none=not every_unit_coded) if exclusive else None
    group_models: dict[str, Any] = {}
    group_skipped: dict[str, Skipped] = {}
    chosen: dict[str, str] = {}
    if found is not None:
        codes, rows = found
        weak_X = {code: feature_set.transform(list(weak[code])) for code in codes if weak.get(code)}
        members, left_out, group_notes, description = fit_group(
            codes, rows, X_all, labels, weak_X, seed=seed, folds=folds, C=GROUP_C, weak_weight=weak_weight,
            min_positives=min_positives, min_cv_kappa=MIN_CV_KAPPA)
        group_models = {member.code_id: member for member in members}
        group_skipped = {item.code_id: item for item in left_out}
        notes.extend(group_notes)
        groups.append(description)
    for code in sorted(labels):
        vector = np.asarray(labels[code])
        few = int(np.sum(vector == 1)) < min_positives
        if code in group_models and few:  # the group's model is the only one that may apply it
            models[code] = group_models[code]
            continue
        if code in group_skipped and few:
            skipped.append(group_skipped[code])
            continue
        rows = np.flatnonzero(vector >= 0)
        X_rows = X_all if len(rows) == X_all.shape[0] else X_all[rows]
        X_weak = feature_set.transform(list(weak[code])) if weak.get(code) else None
        result = fit_code(code, X_rows, vector[rows], X_weak, seed=seed, folds=folds, C=C,
                          weak_weight=weak_weight, min_positives=min_positives)
        if code in group_models or code in group_skipped:
            # Enough examples for a model of its own: keep whichever cross-validates better.
            grouped = group_models.get(code)
            own_kappa = result.cv["kappa"] if isinstance(result, CodeModel) else -math.inf
            if grouped is not None and grouped.cv["kappa"] >= own_kappa:
                result = grouped
            chosen[code] = "group" if result is grouped else "own"
            if isinstance(result, Skipped):
                result = group_skipped.get(code, result)
        if isinstance(result, Skipped):
            skipped.append(result)
        else:
            models[code] = result
    parameters = {"seed": seed, "folds": folds, "C": C, "weak_weight": weak_weight, "min_positives": min_positives,
                  "min_negatives": MIN_NEGATIVES, "min_cv_kappa": MIN_CV_KAPPA, "classifier": "logistic regression (liblinear, class-balanced)",
                  "calibration": "Platt on out-of-fold decisions", "threshold": "best out-of-fold kappa",
                  "features": feature_set.describe(), "exclusive": exclusive,
                  "every_unit_coded": every_unit_coded}
    if groups:
        groups[0]["model_per_code"] = dict(sorted(chosen.items()))
        parameters["exclusive_groups"] = groups
        parameters["group_classifier"] = (f"multinomial logistic regression (lbfgs, class-balanced, C={GROUP_C}) over codes "
                                          "no unit shares (up to 2% of units may carry two); the most likely code of the group is applied, "
                                          f"from {MIN_GROUP_POSITIVES} human examples; Platt on the out-of-fold margin; a code with {min_positives} examples "
                                          "or more keeps its own model instead where that one's out-of-fold kappa is higher")
    skipped.sort(key=lambda item: item.code_id)
    return LearnedModels(feature_set, models, skipped, parameters, notes)


def training_hash(texts: Sequence[str], labels: Mapping[str, np.ndarray], weak: Mapping[str, Sequence[str]] | None, parameters: Mapping[str, Any]) -> str:
    """SHA-256 of everything a fit depends on: texts, labels, weak examples, parameters."""
    import json

    digest = hashlib.sha256()
    for text in texts:
        digest.update(hashlib.sha256(text.encode("utf-8")).digest())
    for code in sorted(labels):
        digest.update(code.encode("utf-8") + b"\x00" + np.asarray(labels[code], dtype=np.int8).tobytes())
    for code in sorted(weak or {}):
        for text in (weak or {})[code]:
            digest.update(f"weak\x00{code}\x00{text}".encode("utf-8"))
    digest.update(json.dumps(parameters, sort_keys=True, default=str).encode("utf-8"))
    return digest.hexdigest()


__all__ = ["CodeModel", "LearnedModels", "MIN_POSITIVES", "Skipped", "binary_metrics", "fit_code", "fit_learned", "training_hash"]
