"""The Flask application: app factory, access token, CSRF check, host check, error pages.

Security model (a local app holding someone else's words):

- every request needs the access token: ``?token=...`` once (then an HttpOnly cookie, and a
  redirect that drops the token from the address bar), the cookie, or ``Authorization: token ...``;
- every state-changing request is a POST carrying the CSRF value (form field ``csrf`` or header
  ``X-CSRF-Token``), an HMAC of the token, so another site cannot post on the user's behalf;
- the Host header must name this machine (127.0.0.1, localhost, ::1), which defeats DNS
  rebinding (not checked when ``qualkit serve --host`` binds a network address on purpose);
- templates autoescape everything; responses carry a strict Content-Security-Policy (scripts
  only from this server), ``X-Frame-Options: DENY`` and ``Referrer-Policy: no-referrer``.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, redirect, render_template, request

from ..errors import ConflictError, InputError, NotFoundError, QualkitError
from ..study import Study
from ..workbench.edits import Change, remember
from ..workbench.transcript import format_time

#: Pages: (module in qualkit.web, nav label or None, endpoint the nav links to).
PAGES: list[tuple[str, str | None, str | None]] = [
    ("routes_home", "Transcripts", "home.index"),
    ("routes_transcripts", None, None),
    ("routes_review", "Review", "review.queue"),
    ("routes_coding", None, None),
    ("routes_review_stats", "Agreement", "review_stats.index"),
    ("routes_search", "Search", "search.index"),
    ("routes_memos", "Memos", "memos.index"),
]

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass
class WorkbenchSettings:
    """What one running workbench knows: the study folder, the coder, the token, allowed hosts."""

    study_root: Path
    coder: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    hosts: frozenset[str] | None = LOCAL_HOSTS  # None: any Host header (served on a network address)

    @property
    def cookie_name(self) -> str:
        # Cookies are shared by every port of a host: name ours after the token.
        return "qualkit_" + hashlib.sha256(self.token.encode()).hexdigest()[:12]

    @property
    def csrf(self) -> str:
        return hmac.new(self.token.encode(), b"qualkit-csrf", hashlib.sha256).hexdigest()

    def token_ok(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(value.encode(), self.token.encode())  # type: ignore[union-attr]


def create_app(study_root: str | Path, *, coder: str, token: str | None = None, host: str | None = None) -> Flask:
    """The workbench app on the study at ``study_root`` for ``coder`` (token: random unless given)."""
    root = Path(study_root).resolve()
    Study(root)  # fail now, with the study's own error, when the folder is not a study
    # Bound to this machine, the Host header must name it (no DNS rebinding); bound to a network
    # address on purpose (--host), other machines name it as they know it: the token still guards.
    hosts = None if host and host not in LOCAL_HOSTS else LOCAL_HOSTS
    settings = WorkbenchSettings(root, coder, token or secrets.token_urlsafe(24), hosts)
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config["WORKBENCH"] = settings
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    app.jinja_env.autoescape = True  # also for .j2 templates
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.globals["nav"] = []
    app.jinja_env.filters["hms"] = format_time
    for module_name, label, endpoint in PAGES:
        try:
            module = importlib.import_module(f"{__package__}.{module_name}")
        except ModuleNotFoundError as error:
            if error.name == f"{__package__}.{module_name}":
                continue  # a page not built yet
            raise
        app.register_blueprint(module.bp)
        if label and endpoint:
            app.jinja_env.globals["nav"].append((label, endpoint))
    app.before_request(_guard)
    app.after_request(_headers)
    app.teardown_request(_close_study)
    app.register_error_handler(QualkitError, _qualkit_error)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(405, _method_not_allowed)
    app.register_error_handler(413, _too_large)
    return app


# --------------------------------------------------------------------------- per request


def settings() -> WorkbenchSettings:
    from flask import current_app

    return current_app.config["WORKBENCH"]


def study() -> Study:
    """This request's study (opened on first use, closed after the request)."""
    if "study" not in g:
        g.study = Study(settings().study_root)
    return g.study


def coder() -> str:
    """The reviewing coder's name (``qualkit serve --coder``)."""
    return settings().coder


def record(change: Change) -> Change:
    """Remember a change for undo, in the store (it survives a restart); returns it."""
    return remember(study(), change)


def request_data() -> dict[str, Any]:
    """The POSTed fields: the JSON object a script sent, or the form; a clear error for any other body."""
    data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if not isinstance(data, dict):
        raise InputError("the request body is not a JSON object", hint="use the workbench's pages")
    return data


def optional_int(value: Any, name: str, *, hint: str) -> int | None:
    """A number sent by a page (query, form or JSON), None when absent or empty; a clear error when not a number."""
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{name} {value!r} is not a number", hint=hint) from None


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.is_json or request.accept_mimetypes.best == "application/json"


def render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    """Render a page with the shared context (csrf, coder, study name)."""
    current = study()
    context.setdefault("title", "qualkit")
    name = current.config.study.name or current.root.name
    html = render_template(template, csrf=settings().csrf, coder=coder(), study_name=name, **context)
    return html, status


def json_ok(**data: Any) -> Response:
    return jsonify({"ok": True, **data})


def _close_study(_exc: BaseException | None) -> None:
    current = g.pop("study", None)
    if current is not None:
        current.close()


# --------------------------------------------------------------------------- security


def _refuse(status: int, message: str, hint: str, *, home: bool = False) -> Response:
    """A refusal: JSON for scripts, else a bare page (with a link home when ``home``: the visitor holds the token)."""
    if wants_json():
        response = jsonify({"ok": False, "error": {"message": message, "hint": hint}})
    else:
        page = render_template("refused.html.j2", message=message, hint=hint, title="Refused", home=home)
        response = Response(page, mimetype="text/html")
    response.status_code = status
    return response


def _guard() -> Response | None:
    s = settings()
    hostname = (request.host or "").rsplit(":", 1)[0] if not (request.host or "").startswith("[") else request.host.split("]")[0] + "]"
    if s.hosts is not None and hostname not in s.hosts:
        return _refuse(400, f"unknown host {request.host!r}", "open the workbench at the address `qualkit serve` printed")
    given = request.args.get("token")
    if given is not None:
        if not s.token_ok(given):
            return _refuse(403, "wrong access token", "open the address `qualkit serve` printed, with its token")
        rest = {key: value for key, value in request.args.items(multi=False) if key != "token"}
        target = request.path + ("?" + urlencode(rest) if rest else "")
        response = redirect(target, code=303)
        response.set_cookie(s.cookie_name, s.token, httponly=True, samesite="Lax", path="/")
        return response
    header = request.headers.get("Authorization", "")
    bearer = header[6:].strip() if header.lower().startswith("token ") else None
    if not (s.token_ok(request.cookies.get(s.cookie_name)) or s.token_ok(bearer)):
        return _refuse(403, "this workbench needs its access token",
                       "open the address with ?token=... that `qualkit serve` printed (the token changes at every start)")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf") or ""
        if not hmac.compare_digest(sent.encode(), s.csrf.encode()):
            return _refuse(403, "the request's CSRF check failed", "reload the page and try again")
        origin = request.headers.get("Origin")
        if origin and origin != "null" and origin.split("://", 1)[-1] != request.host:
            return _refuse(403, f"cross-site request from {origin!r} refused", "use the workbench's own pages")
    return None


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


# --------------------------------------------------------------------------- errors


def error_status(error: QualkitError) -> int:
    """The HTTP status of a refused request: 404 not found, 409 conflict (a stale page), else 400."""
    return 404 if isinstance(error, NotFoundError) else 409 if isinstance(error, ConflictError) else 400


def _qualkit_error(error: QualkitError) -> Any:
    status = error_status(error)
    if wants_json():
        response = jsonify({"ok": False, "error": error.as_dict()})
        response.status_code = status
        return response
    return render("error.html.j2", status=status, error=error, title="Problem")


def _not_found(_error: Exception) -> Any:
    return _refuse(404, f"no page {request.path}", "the workbench's pages are linked from its transcripts page", home=True)


def _method_not_allowed(_error: Exception) -> Any:
    return _refuse(405, f"{request.method} is not allowed on {request.path}", "changes are made with the page's buttons (POST)")


def _too_large(_error: Exception) -> Any:
    return _refuse(413, "the request is too large", "send less at once")
