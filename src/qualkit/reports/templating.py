"""The report's templates: the jinja2 environment (the study's ``reports/templates/`` first, then
the package's), its filters, and rendering a context to text.

HTML is rendered with autoescape on; Markdown with every value passed through
:func:`md_escape` (``finalize``), so transcript text is always text, never markup.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from ..errors import QualkitError
from .context import ReportContext

TEMPLATES = {"html": "report.html.j2", "md": "report.md.j2"}


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value)


def md_escape(value: Any) -> Any:
    """Finalize hook of the Markdown environment: values print as literal text."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    if not isinstance(value, str):
        return value
    text = re.sub(r"\s+", " ", value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|#])", r"\\\1", text)


#: A participant list longer than this collapses to a count (the full list one click away in HTML,
#: in the exports for Markdown).
MAX_LISTED_PARTICIPANTS = 12
#: Where the Markdown report sends a reader for a collapsed list.
FULL_LISTS_IN = "the exported tables (code_frequency: participant_list)"


_LISTED = re.compile(r"^(?P<prefix>[^()]*?)\s*\((?P<ids>[^()]*)\)\s*$")


def _split_list(text: str) -> tuple[str, list[str]]:
    """``"3 participants (P2, P3, P8)"`` -> ``("3 participants", ["P2", "P3", "P8"])``; ``"(P1)"`` -> ``("", ["P1"])``."""
    match = _LISTED.match(text)
    if match is None:
        return text, []
    return match["prefix"], [part for part in (p.strip() for p in match["ids"].split(",")) if part]


def participants_html(value: Any, css_class: str = "participant-list") -> Markup:
    """A participant list "(P1, P3)" as HTML: as it is up to :data:`MAX_LISTED_PARTICIPANTS` ids,
    else a ``<details>`` whose summary is the count and whose body is the whole list."""
    text = _text(value)
    prefix, ids = _split_list(text)
    if len(ids) <= MAX_LISTED_PARTICIPANTS:
        return Markup('<span class="{}">{}</span>').format(css_class, text)
    summary = prefix or f"{len(ids):,} participants"
    listed = f"({', '.join(ids)})"
    return Markup('<details class="{} collapsed"><summary>{}</summary><span class="ids">{}</span></details>').format(
        css_class, summary, listed
    )


def participants_md(value: Any) -> Markup:
    """A participant list for Markdown: as it is up to :data:`MAX_LISTED_PARTICIPANTS` ids, else the count."""
    text = _text(value)
    prefix, ids = _split_list(text)
    if len(ids) <= MAX_LISTED_PARTICIPANTS:
        return Markup(md_escape(text))
    summary = prefix or f"{len(ids):,} participants"
    return Markup(md_escape(f"({summary}: the full list is in {FULL_LISTS_IN})"))


def template_environment(study: Any | None, fmt: str) -> jinja2.Environment:
    """The jinja2 environment: the study's ``reports/templates/`` first, then the package's."""
    loaders: list[jinja2.BaseLoader] = []
    if study is not None:
        override = Path(study.root) / "reports" / "templates"
        if override.is_dir():
            loaders.append(jinja2.FileSystemLoader(str(override)))
    loaders.append(jinja2.PackageLoader("qualkit.reports", "templates"))
    options: dict[str, Any] = {
        "loader": jinja2.ChoiceLoader(loaders),
        "undefined": jinja2.StrictUndefined,
        "keep_trailing_newline": True,
        "trim_blocks": True,
        "lstrip_blocks": True,
    }
    if fmt == "html":
        env = jinja2.Environment(autoescape=True, **options)
    else:
        env = jinja2.Environment(autoescape=False, finalize=md_escape, **options)
    env.filters["percent"] = lambda v: f"{float(v) * 100:.0f}%"
    env.filters["md_cell"] = md_escape
    env.filters["participants"] = participants_html if fmt == "html" else participants_md
    return env


def render(context: ReportContext, fmt: str, *, study: Any | None = None) -> str:
    """Render one format (``html`` or ``md``) of the report to a string."""
    if fmt not in TEMPLATES:
        raise QualkitError(f"unknown report format {fmt!r}", hint=f"choose one of: {', '.join(TEMPLATES)}")
    env = template_environment(study, fmt)
    try:
        template = env.get_template(TEMPLATES[fmt])
        return template.render(**{name: getattr(context, name) for name in context.__dataclass_fields__})
    except jinja2.TemplateSyntaxError as error:
        raise QualkitError(
            f"report template {error.filename or error.name}: line {error.lineno}: {error.message}",
            hint="fix the template in reports/templates/, or remove it to use the package's",
        ) from error
    except jinja2.UndefinedError as error:
        raise QualkitError(
            f"report template {TEMPLATES[fmt]} uses something the context does not have: {error.message}",
            hint="`qualkit report context` lists the fields a template may use",
        ) from error
    except jinja2.TemplateError as error:  # e.g. a missing included template, a filter given bad arguments
        raise QualkitError(
            f"report template {TEMPLATES[fmt]} cannot be rendered: {type(error).__name__}: {error}",
            hint="fix the template in reports/templates/, or remove it to use the package's",
        ) from error


__all__ = ["FULL_LISTS_IN", "MAX_LISTED_PARTICIPANTS", "TEMPLATES", "md_escape", "participants_html", "participants_md", "render", "template_environment"]
