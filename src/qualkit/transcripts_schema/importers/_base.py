"""What every importer shares: the source it reads, the raw turns it returns, and helpers."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import InputError, Problem
from ..decoding import decode_bytes

if TYPE_CHECKING:
    from ..model import Transcript


@dataclass
class Source:
    """One file to import: its path, its bytes (already size-checked) and its decoded text."""

    path: Path
    data: bytes
    shown: str  # the path as shown in messages

    @cached_property
    def text(self) -> str:
        """The decoded text (UTF-8, or UTF-16/32 with BOM); raises InputError on bad bytes."""
        return decode_bytes(self.data, self.shown)

    def error(self, message: str, location: str = "", fix: str = "") -> InputError:
        """An InputError naming this file and the place."""
        return InputError(f"{self.shown}: {message}", problems=[Problem(message, self.shown, location, fix)])


@dataclass
class RawTurn:
    """A turn as read from the source, before roles are assigned.

    ``location`` names where it starts in the source: ``line 12``, ``cue 7``, ``row 3``,
    ``paragraph 4``. ``role`` is set only when the source states it (CSV role column).
    """

    speaker: str
    text: str
    location: str
    start: float | None = None
    end: float | None = None
    role: str | None = None


@dataclass
class Parsed:
    """What an importer returns: raw turns, or (qualkit JSON) a ready transcript.

    ``units`` counts the source units read (lines with text, cues, rows, paragraphs),
    ``notes`` are things worth telling the user that are not errors. ``empty_turns`` and
    ``boilerplate`` count what the shared tidy-up (:mod:`._tidy`) dropped: turns with no
    words, and tool footer/header lines.
    """

    format: str
    turns: list[RawTurn] = field(default_factory=list)
    transcript: "Transcript | None" = None
    units: int = 0
    notes: list[str] = field(default_factory=list)
    empty_turns: int = 0
    boilerplate: dict[str, int] = field(default_factory=dict)  # tool -> lines dropped


#: ``[00:01:02]``, ``[1:02]``, ``[01:02.5]``, with optional markdown escapes ``\[04:05\]``.
TIMESTAMP = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?"
BRACKETED_TIMESTAMP = re.compile(rf"\\?\[({TIMESTAMP})\\?\]")


def parse_clock(value: str) -> float:
    """``1:02`` -> 62.0, ``01:00:05.5`` -> 3605.5."""
    value = value.replace(",", ".")
    parts = value.split(":")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def parse_seconds(value: str) -> float:
    """A number of seconds (``12.5``) or a clock time (``00:01:02``)."""
    value = value.strip()
    if re.fullmatch(TIMESTAMP, value):
        return parse_clock(value)
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a finite number of seconds")
    return seconds


#: Put in a turn's list of lines where the source has a blank line (a paragraph break).
PARAGRAPH = ""


def join_text(parts: list[str]) -> str:
    """Join source lines of one turn: wrapped lines with a space, paragraphs (``PARAGRAPH``) with a newline."""
    paragraphs: list[list[str]] = [[]]
    for part in parts:
        if not part.strip():
            paragraphs.append([])
        else:
            paragraphs[-1].append(part.strip())
    return "\n".join(" ".join(lines) for lines in paragraphs if lines)


def no_labels_error(source: Source, what: str, example: str) -> InputError:
    """The error for a file in which no speaker label was found."""
    return source.error(
        f"no speaker labels found ({what})",
        "whole file",
        f"each turn must start with a speaker label, e.g. {example}; or choose another importer with --format",
    )


__all__ = [
    "BRACKETED_TIMESTAMP",
    "PARAGRAPH",
    "Parsed",
    "RawTurn",
    "Source",
    "TIMESTAMP",
    "join_text",
    "no_labels_error",
    "parse_clock",
    "parse_seconds",
]
