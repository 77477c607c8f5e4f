"""Home (the transcripts), the report served by the workbench, and the ``/open`` link scheme."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, redirect, request, send_from_directory, url_for

from ..errors import InputError
from ..workbench.transcript import list_transcripts
from .app import render, study

bp = Blueprint("home", __name__)

#: Added to the report when the workbench serves it: turns the quote links into workbench links.
REPORT_SCRIPT = '<script src="/static/report-links.js"></script>'


@bp.get("/")
def index() -> object:
    current = study()
    rows = list_transcripts(current)
    report = (current.path(current.config.report.out) / "index.html").is_file()
    return render("home.html.j2", rows=rows, has_report=report, title="Transcripts")


@bp.get("/open")
def open_link() -> object:
    """``/open?transcript=ID&turn=N``: the documented link scheme (report quotes use it); turns count from 1."""
    transcript = request.args.get("transcript", "").strip()
    if not transcript:
        raise InputError("the link names no transcript", hint="links look like /open?transcript=P3&turn=12")
    turn = request.args.get("turn", "").strip()
    target = url_for("transcripts.view", transcript_id=transcript)
    if turn.isdigit():
        target += f"?turn={turn}#turn-{turn}"
    return redirect(target, code=303)


@bp.get("/report/")
@bp.get("/report/<path:name>")
def report(name: str = "index.html") -> object:
    """The study's HTML report; its quote links open the transcript view at the quoted turn."""
    current = study()
    folder = Path(current.path(current.config.report.out)).resolve()
    if not (folder / "index.html").is_file():
        raise InputError("this study has no HTML report yet", hint="run `qualkit report build` (or `qualkit run`)")
    if name == "index.html":
        html = (folder / "index.html").read_text(encoding="utf-8")
        html = html.replace("</body>", REPORT_SCRIPT + "</body>", 1) if "</body>" in html else html + REPORT_SCRIPT
        return Response(html, mimetype="text/html")
    if name.startswith("templates/"):
        abort(404)
    return send_from_directory(folder, name)
