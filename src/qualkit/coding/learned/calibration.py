"""Shared pieces of the learned pass's models: calibration, thresholds, agreement, evidence.

Pure numpy: Platt scaling, the best-kappa threshold, binary agreement figures, the terms behind
a decision, and the :class:`Skipped` entry of a code that could not be learned. Used by the
per-code models (:mod:`.model`) and the exclusive groups (:mod:`.group`) alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import sparse

LARGE_TRAINING_SET = 5000
"""Above this many decided units a model is cross-validated with at most 3 folds (time)."""


@dataclass(frozen=True)
class Skipped:
    """A code the pass could not learn, and why (one line a researcher can act on)."""

    code_id: str
    reason: str
    positives: int = 0
    negatives: int = 0


def top_terms(row: sparse.csr_matrix, coef: np.ndarray, names: Sequence[str], k: int = 5) -> list[tuple[str, float]]:
    """The named features of ``row`` with the largest positive weight x value under ``coef``."""
    row = row.tocsr()
    # Character n-grams back the words up but read badly: evidence names words and rule hits.
    contributions = [(names[j], float(v * coef[j])) for j, v in zip(row.indices, row.data)
                     if names[j] and not names[j].startswith("~")]
    contributions = [item for item in contributions if item[1] > 0]
    contributions.sort(key=lambda item: (-item[1], item[0]))
    return [(name, round(value, 4)) for name, value in contributions[:k]]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -35, 35)))


def _round(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), 4)


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


__all__ = ["Skipped", "binary_metrics", "top_terms"]
