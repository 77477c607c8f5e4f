"""The review queue: a run's suggestions one at a time, decided with the keyboard."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from ..errors import InputError
from ..workbench.review import (
    ORDERINGS, decide, narrow_queue, queue_position, review_progress, review_run, reviewable_runs, suggestions,
)
from .app import coder, json_ok, optional_int, record, render, request_data, study, wants_json

bp = Blueprint("review", __name__)


def _int(value: object, name: str) -> int | None:
    return optional_int(value, name, hint="use the page's links")


@bp.get("/review")
def queue() -> object:
    current = study()
    run_id = review_run(current, _int(request.args.get("run"), "run"))
    order = request.args.get("order") or "document"
    items = suggestions(current, run_id, coder(), order=order)
    only = {"code": request.args.get("code") or None, "transcript": request.args.get("transcript") or None}
    queue = narrow_queue(items, code_id=only["code"], transcript_id=only["transcript"])
    position = queue_position(current, run_id, coder(), order=order, pk=_int(request.args.get("pk"), "suggestion"),
                              after=_int(request.args.get("after"), "suggestion"), items=queue)
    progress = review_progress(current, run_id, coder(), items=items)  # of the whole run
    rows = reviewable_runs(current)
    runs = [row["id"] for row in rows]
    run_labels = {row["id"]: f"run {row['id']} · {row['kind']} · {str(row['started_at'])[:10]} · {row['n']} suggestions" for row in rows}
    from ..workbench.codes import code_catalogue

    catalogue = code_catalogue(current, (run_id,))
    from ..coding.learned.active import decisions_needed

    needs = decisions_needed(current, coder=coder())  # what the learned pass still needs, per code
    return render("review.html.j2", position=position, progress=progress, runs=runs, orders=sorted(ORDERINGS),
                  catalogue=catalogue, only=only, run_labels=run_labels, needs=needs, title=f"Review run {run_id}")


@bp.post("/review/decide")
def decide_route() -> object:
    form = request_data()
    pk = _int(form.get("pk"), "suggestion")
    if pk is None:
        raise InputError("no suggestion given", hint="use the review page's buttons")
    action = str(form.get("action", ""))
    span = None
    if action == "span":
        span = (_int(form.get("start"), "start") or 0, _int(form.get("end"), "end") or 0)
    change = record(decide(study(), coder(), pk, action, code_id=str(form.get("code") or "") or None, span=span))
    if wants_json():
        return json_ok(change=change.as_dict())
    args = {"run": form.get("run") or None, "order": form.get("order") or None, "code": form.get("only_code") or None,
            "transcript": form.get("only_transcript") or None, "after": pk}
    return redirect(url_for("review.queue", **{k: v for k, v in args.items() if v}), code=303)
