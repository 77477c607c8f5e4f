"""Markdown with ``**Name:** text`` turns (also ``**Name**: text``, escaped ``\\[04:05\\]`` timestamps)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ._base import PARAGRAPH, BRACKETED_TIMESTAMP, Parsed, RawTurn, Source, join_text, no_labels_error, parse_clock

if TYPE_CHECKING:
    from ..options import ImportOptions

NAME = "markdown"
EXTENSIONS = (".md", ".markdown")

#: ``**Name:** text``, ``**Name**: text`` and the broken ``**Name: T**ext`` seen in real exports.
LABELS = (
    re.compile(r"^\*\*(?P<label>[^*:\n]{1,60}?):\*\*\s*(?P<text>.*)$"),
    re.compile(r"^\*\*(?P<label>[^*:\n]{1,60}?)\*\*\s*:\s*(?P<text>.*)$"),
    # the lead starts at its first non-blank and runs greedily to the first '*': linear on long lines
    re.compile(r"^\*\*(?P<label>[^*:\n]{1,60}?):[ \t]*(?P<lead>[^*\s][^*\n]*)\*\*(?P<text>.*)$"),
)
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>|])")
_BOLD = re.compile(r"\*\*([^*\n]+?)\*\*")
_SKIP = re.compile(r"^(#{1,6}\s|-{3,}\s*$|\*{3,}\s*$|_{3,}\s*$)")
_SNIFF = re.compile(rb"(?m)^\*\*[^*\n]{1,60}(?::\*\*|\*\*\s*:)")


def sniff(head: bytes) -> bool:
    """Markdown transcripts have lines starting with ``**Name:**``."""
    return bool(_SNIFF.search(head))


def clean(text: str) -> tuple[str, float | None]:
    """Drop bracketed timestamps and markdown escapes; return the text and a leading timestamp."""
    stripped = text.strip()
    leading = BRACKETED_TIMESTAMP.match(stripped)
    start = parse_clock(leading.group(1)) if leading else None
    text = BRACKETED_TIMESTAMP.sub("", text)
    text = _BOLD.sub(r"\1", text)
    text = _ESCAPE.sub(r"\1", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip(), start


def read(source: Source, options: "ImportOptions") -> Parsed:
    """One turn per ``**Name:**`` paragraph; unlabelled paragraphs continue the previous turn."""
    parsed = Parsed(format=NAME)
    current: RawTurn | None = None
    parts: list[str] = []
    skipped = 0

    def flush() -> None:  # a label with no speech (e.g. a break) stays an empty turn: dropped and counted later
        if current is not None:
            current.text = join_text(parts)
            parsed.turns.append(current)

    for number, line in enumerate(source.text.split("\n"), start=1):
        if not line.strip() or _SKIP.match(line):
            if parts and parts[-1] != PARAGRAPH:
                parts.append(PARAGRAPH)
            continue
        found = None
        for pattern in LABELS:
            found = pattern.match(line.strip())
            if found:
                break
        if found:
            flush()
            body = (found.groupdict().get("lead") or "") + found.group("text")
            text, start = clean(body)
            current = RawTurn(speaker=found.group("label").strip(), text="", location=f"line {number}", start=start)
            parts = [text] if text else []
            parsed.units += 1
            continue
        if current is None:
            skipped += 1
            continue
        text, _ = clean(line)
        if text:
            parts.append(text)
        parsed.units += 1
    flush()
    if not parsed.turns:
        raise no_labels_error(source, "markdown", "'**P3:** ...' at the start of a paragraph")
    if skipped:
        parsed.notes.append(f"skipped {skipped} line(s) before the first speaker label")
    return parsed
