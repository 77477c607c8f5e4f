"""Agreement at a glance: how the reviewing coder judged a run's suggestions, per code."""

from __future__ import annotations

from flask import Blueprint, request

from ..workbench.review_stats import review_stats, reviewed_runs, reviewers
from .app import coder, optional_int, render, study

bp = Blueprint("review_stats", __name__)


@bp.get("/review/stats")
def index() -> object:
    who = (request.args.get("coder") or "").strip() or coder()
    run_id = optional_int(request.args.get("run"), "run", hint="pick a run from the list")
    stats = review_stats(study(), coder=who, run_id=run_id)
    return render(
        "review_stats.html.j2", stats=stats, runs=reviewed_runs(study(), stats.coder),
        reviewers=sorted({*reviewers(study()), coder(), stats.coder}), title="Agreement at a glance",
    )
