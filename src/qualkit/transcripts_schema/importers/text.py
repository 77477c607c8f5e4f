"""Plain text with speaker labels (``P3: ...``, ``[00:01:02] Interviewer 1: ...``, Otter blocks)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ._base import PARAGRAPH, TIMESTAMP, Parsed, RawTurn, Source, join_text, no_labels_error, parse_clock

if TYPE_CHECKING:
    from ..options import ImportOptions

NAME = "text"
EXTENSIONS = (".txt", ".text")

#: A speaker label: up to four words, the first starting with a letter, the others
#: capitalised or numbers (``P3``, ``Interviewer 1``, ``Mary Kate``, ``Speaker 2``).
LABEL = r"[A-Za-z][\w'’.-]*(?:[ \t]+[A-Z0-9][\w'’.-]*){0,3}"

#: ``P3: text``, ``[00:01:02] P3: text``, ``(00:01:02) P3: text``, ``P3 [00:01:02]: text``.
#: Between the label and the colon: blanks, or blanks around one timestamp (never two adjacent
#: ``\s*``, which would make a long run of blanks quadratic to reject).
LABEL_LINE = re.compile(
    rf"^\s*(?:[\[(](?P<ts>{TIMESTAMP})[\])]\s*)?(?P<label>{LABEL})[ \t]*(?:[\[(](?P<ts2>{TIMESTAMP})[\])][ \t]*)?:(?:\s+(?P<text>.*))?$"
)
#: Otter-style block header: ``P1  0:00`` alone on a line, the turn's text below.
OTTER_HEADER = re.compile(rf"^\s*(?P<label>{LABEL})[ \t]+(?P<ts>{TIMESTAMP})\s*$")
#: A line holding only a timestamp, e.g. ``[00:12:00]``: a time mark, not speech.
TIME_ONLY = re.compile(rf"^\s*[\[(]?{TIMESTAMP}[\])]?\s*$")


def sniff(head: bytes) -> bool:
    """Plain text is the fallback; it never claims a file by content."""
    return False


def read(source: Source, options: "ImportOptions") -> Parsed:
    """Split the text into turns at speaker labels; other lines continue the previous turn."""
    parsed = Parsed(format=NAME)
    current: RawTurn | None = None
    parts: list[str] = []
    skipped: list[int] = []

    def flush() -> None:
        if current is not None:
            current.text = join_text(parts)
            parsed.turns.append(current)

    for number, line in enumerate(source.text.split("\n"), start=1):
        if not line.strip():
            if parts and parts[-1] != PARAGRAPH:
                parts.append(PARAGRAPH)
            continue
        match = LABEL_LINE.match(line)
        otter = None if match else OTTER_HEADER.match(line)
        if match or otter:
            flush()
            found = match or otter
            assert found is not None
            stamp = found.group("ts") or (found.groupdict().get("ts2"))
            current = RawTurn(
                speaker=found.group("label").strip(),
                text="",
                location=f"line {number}",
                start=parse_clock(stamp) if stamp else None,
            )
            first = (match.group("text") or "") if match else ""
            parts = [first] if first.strip() else []
            parsed.units += 1
            continue
        if TIME_ONLY.match(line):
            continue
        if current is None:
            skipped.append(number)
            continue
        parts.append(line)
        parsed.units += 1
    flush()
    if not parsed.turns:
        raise no_labels_error(source, "plain text", "'P3: ...' or 'Interviewer: ...' at the start of a line")
    if skipped:
        parsed.notes.append(f"skipped {len(skipped)} line(s) before the first speaker label (line {skipped[0]}-{skipped[-1]})")
    return parsed
