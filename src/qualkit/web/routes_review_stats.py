"""Agreement at a glance: how the reviewing coder judged a run's suggestions, per code."""

from __future__ import annotations

from flask import Blueprint, request

from ..errors import InputError
from ..workbench.review_stats import review_stats, reviewed_runs, reviewers
from .app import coder, render, study

bp = Blueprint("review_stats", __name__)


@bp.get("/review/stats")
def index() -> object:
    who = (request.args.get("coder") or "").strip() or coder()
    run = (request.args.get("run") or "").strip()
    if run and not run.isdigit():
        raise InputError(f"run {run!r} is not a number", hint="pick a run from the list")
    stats = review_stats(study(), coder=who, run_id=int(run) if run else None)
    return render(
        "review_stats.html.j2", stats=stats, runs=reviewed_runs(study(), stats.coder),
        reviewers=sorted({*reviewers(study()), coder(), stats.coder}), title="Agreement at a glance",
    )
