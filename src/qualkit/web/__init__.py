"""The workbench's web face: ``qualkit serve`` (Flask app, served by waitress on 127.0.0.1).

The web layer is a face like the CLI: a route parses the request, calls ONE library function
(``qualkit.workbench``, ``qualkit.analysis`` ...), and renders a template. It owns no logic and
nothing below it imports it.

How to add pages
----------------
1. Write ``src/qualkit/web/routes_NAME.py`` with a Flask ``Blueprint`` called ``bp``::

       from flask import Blueprint
       from .app import render, study, coder, json_ok

       bp = Blueprint("memos", __name__)

       @bp.get("/memos")
       def memos_page():
           rows = list_memos(study(), coder=coder())      # one library call
           return render("memos.html.j2", rows=rows, title="Memos")

2. Add ``("routes_NAME", "Nav label", "endpoint")`` to ``PAGES`` in ``app.py`` (the nav shows
   pages with a label; ``None`` as label registers the blueprint without a nav entry).
3. Templates live in ``templates/`` and ``{% extends "base.html.j2" %}`` (blocks ``title``,
   ``content``, ``scripts``); autoescape is on: never mark transcript text ``|safe``.
4. Every request is already authenticated (token cookie) and every POST is CSRF-checked by the
   app: forms carry ``<input type="hidden" name="csrf" value="{{ csrf }}">``; ``fetch`` calls send
   the header ``X-CSRF-Token`` (``window.QK.post(url, data)`` in ``static/workbench.js`` does it).
5. Library errors (:class:`qualkit.errors.QualkitError`) raised in a route become a clear
   message page (HTML) or ``{"ok": false, "error": ...}`` (JSON, when the client asked for JSON),
   with status 400 (404 for :class:`NotFoundError`); nothing is changed by the failed call.
6. ``study()`` is a per-request :class:`qualkit.study.Study` (its own SQLite connection, closed
   after the request); ``coder()`` is the reviewing coder's name given to ``qualkit serve --coder``.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
