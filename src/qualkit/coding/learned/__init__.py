"""The learned coding pass: per-code classifiers trained on the researcher's human codings.

- ``features``: the swappable feature stage (TF-IDF words + characters, rule hits, optional
  local sentence embeddings cached in the store);
- ``training``: human codings and review decisions mapped onto units as per-code labels;
- ``model``: calibrated per-code logistic regressions with cross-validated thresholds (pure);
- ``group``: one multinomial model over codes no unit shares (a single-label scheme), detected from the labels;
- ``calibration``: Platt scaling, best-kappa thresholds, agreement figures, evidence terms;
- ``run``: ``run_learned``, the pass over a study, recorded as a run of kind ``learned``;
- ``active``: the review order that helps the model most, and the decisions each code still needs.
"""

from __future__ import annotations

from .model import MIN_POSITIVES, fit_learned
from .run import LearnedSummary, NothingToLearnError, run_learned

__all__ = ["LearnedSummary", "MIN_POSITIVES", "NothingToLearnError", "fit_learned", "run_learned"]
