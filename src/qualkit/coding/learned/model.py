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

MIN_POSITIVES = 8
MIN_NEGATIVES = 5
DEFAULT_FOLDS = 5
DEFAULT_C = 1.0
LARGE_TRAINING_SET = 5000
"""Above this many decided units a code is cross-validated with at most 3 folds (time)."""
WEAK_WEIGHT = 0.3
MIN_CV_KAPPA = 0.0
"""A code whose out-of-fold decisions agree with the human no better than chance is not applied."""


@dataclass(frozen=True)
class Skipped:
    """A code the pass could not learn, and why (one line a researcher can act on)."""

    code_id: str
    reason: str
    positives: int = 0
    negatives: int = 0


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
        row = row.tocsr()
        # Character n-grams back the words up but read badly: evidence names words and rule hits.
        contributions = [(names[j], float(v * self.coef[j])) for j, v in zip(row.indices, row.data)
                         if names[j] and not names[j].startswith("~")]
        contributions = [item for item in contributions if item[1] > 0]
        contributions.sort(key=lambda item: (-item[1], item[0]))
        return [(name, round(value, 4)) for name, value in contributions[:k]]

    def summary(self) -> dict[str, Any]:
        return {"threshold": round(self.threshold, 4), "positives": self.positives, "negatives": self.negatives,
                "weak_examples": self.weak, "platt": [round(self.platt_a, 4), round(self.platt_b, 4)],
                "cv": {key: _round(value) for key, value in self.cv.items()}}


@dataclass
class LearnedModels:
    """The fitted features and every code's model, plus the codes that were skipped."""

    features: FeatureSet
    models: dict[str, CodeModel]
    skipped: list[Skipped]
    parameters: dict[str, Any]

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return self.features.transform(texts)

    def predict(self, texts: Sequence[str], X: sparse.csr_matrix | None = None) -> dict[str, np.ndarray]:
        """Calibrated scores per code for ``texts``."""
        X = self.transform(texts) if X is None else X
        return {code: model.scores(X) for code, model in self.models.items()}

    def decide(self, scores: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Boolean decisions per code at each code's threshold."""
        return {code: scores[code] >= self.models[code].threshold for code in scores}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -35, 35)))


def _round(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), 4)


def _logistic(C: float, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    # dual: far faster than the primal when features outnumber units, as with n-grams
    return LogisticRegression(C=C, class_weight="balanced", solver="liblinear", dual=True, tol=1e-3, random_state=seed, max_iter=500)


def _fit_linear(X: sparse.csr_matrix, y: np.ndarray, w: np.ndarray, C: float, seed: int) -> tuple[np.ndarray, float]:
    model = _logistic(C, seed)
    model.fit(X, y, sample_weight=w)
    return model.coef_.ravel().astype(np.float64), float(model.intercept_[0])


def _platt(decisions: np.ndarray, y: np.ndarray, iterations: int = 100) -> tuple[float, float]:
    """Platt scaling (Platt 1999, with Lin, Lin and Weng's Newton method): fit p = sigmoid(a*d + b)
    to Platt's smoothed targets by a damped two-parameter Newton iteration."""
    d = np.asarray(decisions, dtype=np.float64)
    n_pos = float(np.sum(y == 1))
    n_neg = float(len(y) - n_pos)
    t = np.where(y == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    a, b = 1.0, float(np.log((n_neg + 1.0) / (n_pos + 1.0)) * -1.0)

    def loss(a_: float, b_: float) -> float:
        z = a_ * d + b_
        return float(np.sum(np.logaddexp(0.0, z) - t * z))

    current = loss(a, b)
    for _ in range(iterations):
        p = _sigmoid(a * d + b)
        g_a, g_b = float(np.sum((p - t) * d)), float(np.sum(p - t))
        w = p * (1.0 - p) + 1e-12
        h_aa, h_ab, h_bb = float(np.sum(w * d * d)) + 1e-9, float(np.sum(w * d)), float(np.sum(w)) + 1e-9
        det = h_aa * h_bb - h_ab * h_ab
        if det <= 0:
            break
        step_a = (h_bb * g_a - h_ab * g_b) / det
        step_b = (h_aa * g_b - h_ab * g_a) / det
        scale = 1.0
        while scale > 1e-6:
            candidate = loss(a - scale * step_a, b - scale * step_b)
            if candidate <= current + 1e-12:
                break
            scale /= 2.0
        a, b = a - scale * step_a, b - scale * step_b
        improvement = current - loss(a, b)
        current = loss(a, b)
        if abs(g_a) < 1e-7 and abs(g_b) < 1e-7 or improvement < 1e-10:
            break
    return a, b


def binary_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Precision, recall, F1 and Cohen's kappa of boolean ``predicted`` against ``truth``."""
    truth = np.asarray(truth, dtype=bool)
    predicted = np.asarray(predicted, dtype=bool)
    n = len(truth)
    tp = int(np.sum(truth & predicted))
    fp = int(np.sum(~truth & predicted))
    fn = int(np.sum(truth & ~predicted))
    tn = n - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else (0.0 if fp or fn else float("nan"))
    kappa = float("nan")
    if n:
        p_o = (tp + tn) / n
        p_e = ((tp + fp) * (tp + fn) + (tn + fn) * (tn + fp)) / (n * n)
        kappa = (p_o - p_e) / (1 - p_e) if not math.isclose(p_e, 1.0) else float("nan")
    return {"precision": precision, "recall": recall, "f1": f1, "kappa": kappa, "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def _best_threshold(probabilities: np.ndarray, y: np.ndarray) -> float:
    """The cut with the best Cohen's kappa over the out-of-fold probabilities: the measure validity
    judges a code by (ties: the higher cut). Computed for every cut at once from cumulative counts."""
    order = np.argsort(-probabilities, kind="mergesort")
    sorted_p = probabilities[order]
    sorted_y = y[order].astype(bool)
    n = len(sorted_y)
    positives = float(sorted_y.sum())
    tp = np.cumsum(sorted_y).astype(float)
    fp = np.cumsum(~sorted_y).astype(float)
    fn = positives - tp
    tn = (n - positives) - fp
    p_o = (tp + tn) / n
    p_e = ((tp + fp) * (tp + fn) + (tn + fn) * (tn + fp)) / (n * n)
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = np.where(np.isclose(p_e, 1.0), -1.0, (p_o - p_e) / (1.0 - p_e))
    # Only cut between distinct probabilities.
    distinct = np.r_[sorted_p[1:] != sorted_p[:-1], True]
    kappa = np.where(distinct, kappa, -2.0)
    best = int(np.argmax(kappa))
    low = sorted_p[best + 1] if best + 1 < n else 0.0
    return float((sorted_p[best] + low) / 2.0)


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
) -> LearnedModels:
    """Fit one model per code.

    ``labels[code]`` has one entry per text: 1 (coded with it), 0 (decided against it) or -1
    (no decision: not a training row for that code). ``weak[code]`` are weak positive texts
    (the codebook's examples). Codes are fitted in sorted order; everything is seeded.
    """
    weak = dict(weak or {})
    feature_set = features() if callable(features) else (features or build_features())
    weak_texts = [text for code in sorted(weak) for text in weak[code]]
    X_all = feature_set.fit_transform(list(texts) + weak_texts)[: len(texts)]
    X_all.sort_indices()  # once, not in every fold's copy
    models: dict[str, CodeModel] = {}
    skipped: list[Skipped] = []
    for code in sorted(labels):
        vector = np.asarray(labels[code])
        rows = np.flatnonzero(vector >= 0)
        X_rows = X_all if len(rows) == X_all.shape[0] else X_all[rows]
        X_weak = feature_set.transform(list(weak[code])) if weak.get(code) else None
        result = fit_code(code, X_rows, vector[rows], X_weak, seed=seed, folds=folds, C=C,
                          weak_weight=weak_weight, min_positives=min_positives)
        if isinstance(result, Skipped):
            skipped.append(result)
        else:
            models[code] = result
    parameters = {"seed": seed, "folds": folds, "C": C, "weak_weight": weak_weight, "min_positives": min_positives,
                  "min_negatives": MIN_NEGATIVES, "min_cv_kappa": MIN_CV_KAPPA, "classifier": "logistic regression (liblinear, class-balanced)",
                  "calibration": "Platt on out-of-fold decisions", "threshold": "best out-of-fold kappa",
                  "features": feature_set.describe()}
    return LearnedModels(feature_set, models, skipped, parameters)


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
