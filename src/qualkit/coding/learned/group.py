"""Mutually exclusive codes learned together: one multinomial model over a group of sibling codes.

When the human codings give every decided unit at most one code of a set (a single-label
scheme, such as a debt type or a category per comment), separate yes/no classifiers per code
each see a handful of positives against everything else and agree poorly with the coder. One
multinomial logistic regression over the whole set (plus a ``none`` class for units decided with
none of them) uses every unit as evidence for every code and lets the codes compete.

:func:`exclusive_group` detects such a set from the training labels alone (no per-dataset
switch): the codes with human positives, on the units decided about all of them, never share a
unit, and at most :data:`MAX_INCOMPLETE_SHARE` of the units decided about any of them leave
some code undecided (a rejection of one code says nothing about which other code applies, so
such units cannot be classes; where they are many, the per-code models keep their evidence).

:func:`fit_group` fits the model (class-balanced, seeded, deterministic lbfgs), and per code:
the margin ``log P(code) - max log P(other class)`` of out-of-fold predictions is calibrated by
Platt scaling, the threshold is the cut with the best out-of-fold kappa but never below margin 0,
so a unit gets at most one code of the group (the most likely one, when it is likely enough).
Codes with fewer than ``min_positives`` human examples stay in the model as classes (they compete
for their units) but are not applied; their :class:`~.model.Skipped` entry says so.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import sparse

from .calibration import LARGE_TRAINING_SET, Skipped, _best_threshold, _platt, _round, _sigmoid, binary_metrics, top_terms

MAX_INCOMPLETE_SHARE = 0.10
MAX_SHARED_SHARE = 0.02
MIN_GROUP_POSITIVES = 3
#: Units decided to carry none of a group's codes that a group needs (its "none" class).
MIN_NONE_UNITS = 5
"""A code of an exclusive group is applied from this many human examples (a class the model has seen in three folds)."""
GROUP_C = 10.0
"""Weak regularization: the multinomial model shares its evidence across classes and overfits less than per-code models."""
NONE_CLASS = "(none)"


def exclusive_group(labels: Mapping[str, np.ndarray], *, require_none: bool = True) -> tuple[list[str], np.ndarray] | None:
    """The codes that are (nearly) mutually exclusive in ``labels`` and the rows to fit them on, or ``None``.

    ``labels[code]``: 1 / 0 / -1 per unit (see :func:`~.model.fit_learned`). A group needs at least
    two codes with positives; at most :data:`MAX_SHARED_SHARE` of the units decided about all of
    them may carry two or more (a slip, or a rare double coding), and at most
    :data:`MAX_INCOMPLETE_SHARE` of the units decided about any of them may leave some undecided; and,
    with ``require_none`` (the default), at least :data:`MIN_NONE_UNITS` units must carry none of them:
    without them the group's model would give one of its codes to every unit it sees, which is right
    only where every unit is coded (a fully coded survey), not for a study's uncoded segments.
    """
    codes = sorted(code for code, vector in labels.items() if np.any(np.asarray(vector) == 1))
    if len(codes) < 2:
        return None
    matrix = np.vstack([np.asarray(labels[code]) for code in codes])
    decided_any = (matrix >= 0).any(axis=0)
    complete = (matrix >= 0).all(axis=0)
    if not complete.any() or (decided_any.sum() - complete.sum()) > MAX_INCOMPLETE_SHARE * decided_any.sum():
        return None
    if ((matrix[:, complete] == 1).sum(axis=0) > 1).sum() > MAX_SHARED_SHARE * complete.sum():
        return None
    if require_none and int(((matrix[:, complete] == 1).sum(axis=0) == 0).sum()) < MIN_NONE_UNITS:
        # Without units decided to carry none of the codes, the group's model would give one of them
        # to every segment of the study: leave such codes to their own yes/no models.
        return None
    return codes, np.flatnonzero(complete)


class GroupModel:
    """The fitted multinomial model shared by the codes of one group."""

    def __init__(self, classes: list[str], coef: np.ndarray, intercept: np.ndarray) -> None:
        self.classes = classes
        self.coef = coef  # classes x features
        self.intercept = intercept

    def log_probabilities(self, X: sparse.csr_matrix) -> np.ndarray:
        z = np.asarray(X @ self.coef.T) + self.intercept
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def margin(self, X: sparse.csr_matrix, index: int) -> np.ndarray:
        return _margins(self.log_probabilities(X), index)


def _margins(log_p: np.ndarray, index: int) -> np.ndarray:
    """log P(class) minus the largest log P of the other classes: positive exactly where it is the argmax."""
    others = np.delete(log_p, index, axis=1)
    return log_p[:, index] - others.max(axis=1)


def _multinomial(X: sparse.csr_matrix, y: np.ndarray, w: np.ndarray, n_classes: int, C: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fit a class-balanced multinomial logistic regression; weights laid out for all ``n_classes``
    (a class absent from this fold gets a very low intercept: never predicted)."""
    from sklearn.linear_model import LogisticRegression

    present = np.unique(y)
    counts = np.bincount(y, weights=w, minlength=n_classes)
    balanced = {int(c): float(w.sum() / (len(present) * counts[c])) for c in present}
    model = LogisticRegression(C=C, class_weight=balanced, solver="lbfgs", max_iter=300, tol=1e-3, random_state=seed)
    coef = np.zeros((n_classes, X.shape[1]))
    intercept = np.full(n_classes, -30.0)
    if len(present) == 1:
        intercept[present[0]] = 0.0
        return coef, intercept
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes on tiny folds: the fit is still usable
        model.fit(X, y, sample_weight=w)
    if len(present) == 2:  # scikit-learn keeps one weight vector for two classes
        coef[present[1]], intercept[present[1]] = model.coef_[0] / 2, model.intercept_[0] / 2
        coef[present[0]], intercept[present[0]] = -model.coef_[0] / 2, -model.intercept_[0] / 2
    else:
        coef[present], intercept[present] = model.coef_, model.intercept_
    return coef, intercept


def fit_group(
    codes: Sequence[str],
    rows: np.ndarray,
    X: sparse.csr_matrix,
    labels: Mapping[str, np.ndarray],
    weak_X: Mapping[str, sparse.csr_matrix],
    *,
    seed: int,
    folds: int,
    C: float,
    weak_weight: float,
    min_positives: int,
    min_cv_kappa: float,
    min_group_positives: int = MIN_GROUP_POSITIVES,
) -> tuple[list[Any], list[Any], list[str], dict[str, Any]]:
    """Fit one exclusive group: (applied member models, skipped entries, notes, description for the parameters)."""
    from sklearn.model_selection import StratifiedKFold

    X_rows = X[rows]
    member = np.vstack([np.asarray(labels[code])[rows] == 1 for code in codes]).T  # units x codes
    classes = list(codes)
    if not member.any(axis=1).all():
        classes.append(NONE_CLASS)
    n_classes = len(classes)
    # Each unit is one training row per code it carries (weight 1/k for a unit with k codes), or a "none" row.
    primary = np.where(member.any(axis=1), member.argmax(axis=1), len(codes))
    weak_parts = [(index, weak_X[code]) for index, code in enumerate(codes) if code in weak_X]

    def with_weak(subset: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
        units, ys, ws = [], [], []
        for i in subset:
            carried = np.flatnonzero(member[i])
            for index in carried if len(carried) else [len(codes)]:
                units.append(i)
                ys.append(index)
                ws.append(1.0 / max(1, len(carried)))
        parts, y_parts, w_parts = [X_rows[np.asarray(units)]], [np.asarray(ys)], [np.asarray(ws)]
        for index, matrix in weak_parts:
            parts.append(matrix)
            y_parts.append(np.full(matrix.shape[0], index))
            w_parts.append(np.full(matrix.shape[0], weak_weight))
        return sparse.vstack(parts, format="csr"), np.concatenate(y_parts), np.concatenate(w_parts)

    largest = int(np.bincount(primary, minlength=n_classes).max())  # stratified folds need one class this large
    if largest < 2:  # every class a single unit: nothing to cross-validate (StratifiedKFold would raise)
        left_out = []
        for index, code in enumerate(codes):
            n_pos, n_neg = int(member[:, index].sum()), int(np.sum(np.asarray(labels[code]) == 0))
            left_out.append(Skipped(code, f"{code}: {n_pos} human example{'s' if n_pos != 1 else ''}, needs {min_group_positives} "
                                    "(in its group of mutually exclusive codes)", n_pos, n_neg))
        return [], left_out, [], {"codes": list(codes), "none_class": NONE_CLASS in classes, "units": int(len(rows)),
                                  "folds": 0, "shared_units": 0, "min_positives": min_group_positives}
    k = max(2, min(folds if len(rows) <= LARGE_TRAINING_SET else min(folds, 3), len(rows) // 2, largest))
    log_p = np.zeros((len(rows), n_classes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the least populated class has only n members": expected for rare codes
        splits = list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(rows)), primary))
    for train, test in splits:
        coef, intercept = _multinomial(*with_weak(train), n_classes, C, seed)
        log_p[test] = GroupModel(classes, coef, intercept).log_probabilities(X_rows[test])
    coef, intercept = _multinomial(*with_weak(np.arange(len(rows))), n_classes, C, seed)
    shared = GroupModel(classes, coef, intercept)
    members: list[Any] = []
    skipped: list[Any] = []
    n_weak = {code: weak_X[code].shape[0] for code in codes if code in weak_X}
    notes: list[str] = []
    for index, code in enumerate(codes):
        truth = member[:, index]
        n_pos = int(truth.sum())
        n_neg = int(np.sum(np.asarray(labels[code]) == 0))
        if n_pos < min_group_positives:
            skipped.append(Skipped(code, f"{code}: {n_pos} human example{'s' if n_pos != 1 else ''}, needs {min_group_positives} "
                                   "(in its group of mutually exclusive codes)", n_pos, n_neg))
            continue
        margin = _margins(log_p, index)
        a, b = _platt(margin, truth.astype(np.int8))
        # Only the most likely code of the group can apply: the cut is at least margin 0, where the
        # code's calibrated score is sigmoid(b). With min_positives examples or more, the cut is the
        # one with the best out-of-fold kappa above that; with fewer it stays at margin 0 (a cut
        # chosen on three or four out-of-fold examples overfits them).
        few = n_pos < min_positives
        probabilities = _sigmoid(a * margin + b)
        floor = math.nextafter(float(_sigmoid(np.array([b]))[0]), 1.0)
        threshold = floor if few or a <= 0 else max(floor, _best_threshold(probabilities, truth))
        cv = binary_metrics(truth, (margin > 0) & (probabilities >= threshold))
        if a <= 0 or (not few and not cv["kappa"] > min_cv_kappa):
            kappa = "undefined" if math.isnan(cv["kappa"]) else f"{cv['kappa']:.2f}"
            skipped.append(Skipped(code, f"{code}: cross-validated kappa {kappa} on {n_pos} human examples is no better "
                                   "than chance: not applied (code more units, or sharpen the code)", n_pos, n_neg))
            continue
        if few:
            notes.append(f"{code}: only {n_pos} human examples (fewer than {min_positives}): applied as part of its group of "
                         "mutually exclusive codes; check its validity before trusting it")
        members.append(GroupCodeModel(code, shared, index, a, b, threshold, n_pos, n_neg, n_weak.get(code, 0),
                                      {key: cv[key] for key in ("precision", "recall", "f1", "kappa")} | {"folds": k}, few))
    description = {"codes": list(codes), "none_class": NONE_CLASS in classes, "units": int(len(rows)), "folds": k,
                   "shared_units": int((member.sum(axis=1) > 1).sum()), "min_positives": min_group_positives}
    return members, skipped, notes, description


class GroupCodeModel:
    """One code of an exclusive group: the shared model's margin for it, calibrated and thresholded.

    Same interface as :class:`~.model.CodeModel` (``scores``, ``threshold``, ``top_terms``, ``summary``)."""

    def __init__(self, code_id: str, group: GroupModel, index: int, platt_a: float, platt_b: float, threshold: float,
                 positives: int, negatives: int, weak: int, cv: dict[str, float], few_examples: bool = False) -> None:
        self.code_id = code_id
        self.group = group
        self.index = index
        self.platt_a = platt_a
        self.platt_b = platt_b
        self.threshold = threshold
        self.positives = positives
        self.negatives = negatives
        self.weak = weak
        self.cv = cv
        self.few_examples = few_examples

    @property
    def coef(self) -> np.ndarray:
        return self.group.coef[self.index]

    def decision(self, X: sparse.csr_matrix) -> np.ndarray:
        return self.group.margin(X, self.index)

    def scores(self, X: sparse.csr_matrix) -> np.ndarray:
        """Calibrated probability that a human would code each row with this code (of its group).

        Only where the code is the group's most likely class does the score reach the threshold."""
        margin = self.decision(X)
        scores = _sigmoid(self.platt_a * margin + self.platt_b)
        return np.where(margin > 0, scores, np.minimum(scores, np.nextafter(self.threshold, 0.0)))

    def top_terms(self, row: sparse.csr_matrix, names: Sequence[str], k: int = 5) -> list[tuple[str, float]]:
        return top_terms(row, self.coef, names, k)

    def summary(self) -> dict[str, Any]:
        return {"threshold": round(self.threshold, 4), "positives": self.positives, "negatives": self.negatives,
                "weak_examples": self.weak, "platt": [round(self.platt_a, 4), round(self.platt_b, 4)],
                "model": f"exclusive group of {len(self.group.classes)} classes (multinomial)", "few_examples": self.few_examples,
                "cv": {key: _round(value) for key, value in self.cv.items()}}


__all__ = ["GROUP_C", "MIN_GROUP_POSITIVES", "MIN_NONE_UNITS", "GroupCodeModel", "GroupModel", "MAX_INCOMPLETE_SHARE", "exclusive_group", "fit_group"]
