"""One rule for every importer, applied after it has read the turns: tool boilerplate and empty turns.

* Lines that transcription tools add to the text (Otter's "Transcribed by https://otter.ai"
  footer, Rev's "This transcript was exported on ..." line, Teams' "NAME started
  transcription") are dropped from the turns; each is counted and reported.
* An empty turn (a speaker label with no words, e.g. ``Interviewee:`` followed by a blank
  line) is dropped and counted; it never fails the file and is never merged into another
  speaker's words.
* A NUL character in a turn (from a JSON ``\\u0000`` escape, say) refuses the file with the turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import InputError, Problem
from ._base import Parsed, Source

_TOOLS = (
    r"otter(?:\.ai)?|trint(?:\.com)?|rev(?:\.com)?|temi(?:\.com)?|descript|sonix(?:\.ai)?|happy\s?scribe"
    r"|zoom|(?:microsoft\s+)?teams"
)
_URL_TAIL = r"(?:\s*[(<]?(?:https?://)?(?:www\.)?[\w.-]+\.\w{2,}(?:/[^\s)>]*)?[)>]?)?"


@dataclass(frozen=True)
class Boilerplate:
    """A line a transcription tool adds to its exports."""

    tool: str
    pattern: re.Pattern[str]


#: Whole lines (paragraphs of a turn) that are tool footers or headers, never speech.
BOILERPLATE: tuple[Boilerplate, ...] = (
    Boilerplate("Otter", re.compile(r"transcribed\s+by\s+(?:https?://)?(?:www\.)?otter\.ai/?\.?", re.I)),
    Boilerplate(
        "transcription tool",
        re.compile(
            rf"(?:transcribed|transcript(?:ion)?(?:\s+(?:generated|created|produced|made|exported))?)\s+"
            rf"(?:by|with|using|via|from)\s+(?:{_TOOLS})\b{_URL_TAIL}\.?",
            re.I,
        ),
    ),
    Boilerplate("Rev", re.compile(r"this\s+transcript\s+was\s+exported\s+on\s+.{1,60}?(?:view\s+latest\s+version(?:\s+here)?\.?)?", re.I)),
    Boilerplate("Teams", re.compile(r"(?:[A-Z][\w'’-]*\s+){0,4}[A-Z][\w'’-]*(?:\s+\((?:Guest|External|Unverified)\))?\s+(?:started|stopped)\s+transcription\.?")),
)


def boilerplate_tool(line: str) -> str | None:
    """The tool whose footer/header ``line`` is, or None when it is not one."""
    stripped = line.strip()
    if not stripped or len(stripped) > 160:
        return None
    lowered = stripped.lower()
    if "transcri" not in lowered and "exported" not in lowered:  # every pattern has one: skip the regexes
        return None
    for item in BOILERPLATE:
        if item.pattern.fullmatch(stripped):
            return item.tool
    return None


def drop_boilerplate_piece(parsed: Parsed, text: str) -> bool:
    """True (and counted in ``parsed``) when ``text``, a whole cue or cell, is tool boilerplate."""
    tool = boilerplate_tool(text)
    if tool is not None:
        parsed.boilerplate[tool] = parsed.boilerplate.get(tool, 0) + 1
    return tool is not None


def tidy_parsed(parsed: Parsed, source: Source) -> None:
    """Drop tool boilerplate and empty turns from ``parsed`` (in place), with notes; refuse NULs."""
    problems: list[Problem] = []
    for index, turn in enumerate(parsed.turns):
        if "\x00" in turn.text or "\x00" in turn.speaker:
            problems.append(Problem("NUL character (U+0000) in the turn", source.shown, f"turn {index + 1} ({turn.location})", "delete it from the source file"))
    if parsed.transcript is not None:
        for index, done in enumerate(parsed.transcript.turns):
            if "\x00" in done.text or "\x00" in done.speaker:
                problems.append(Problem("NUL character (U+0000) in the turn", source.shown, f"turns[{index}]", "delete it (a \\u0000 escape?)"))
    if problems:
        raise InputError(f"{source.shown}: NUL characters in {len(problems)} turn(s)", problems=problems)
    if parsed.transcript is not None:
        return
    dropped = parsed.boilerplate
    for turn in parsed.turns:
        kept: list[str] = []
        for line in turn.text.split("\n"):
            tool = boilerplate_tool(line)
            if tool is None:
                kept.append(line)
            else:
                dropped[tool] = dropped.get(tool, 0) + 1
        turn.text = "\n".join(kept).strip()
    if parsed.turns:  # the Otter footer glued to the end of the last turn (no blank line before it)
        last = parsed.turns[-1]
        at = last.text.lower().rfind("transcribed")
        if at >= 0 and BOILERPLATE[0].pattern.fullmatch(last.text[at:].strip()):
            last.text = last.text[:at].strip()
            dropped["Otter"] = dropped.get("Otter", 0) + 1
    if dropped:
        parsed.notes.append(
            "dropped tool footer/header line(s): " + ", ".join(f"{tool} {count}" for tool, count in sorted(dropped.items()))
        )
    empty = [turn for turn in parsed.turns if not turn.text.strip()]
    if empty:
        parsed.turns = [turn for turn in parsed.turns if turn.text.strip()]
        parsed.empty_turns += len(empty)
    if parsed.empty_turns:
        shown = ", ".join(f"{turn.speaker} ({turn.location})" for turn in empty[:5]) if empty else ""
        parsed.notes.append(
            f"dropped {parsed.empty_turns} empty turn(s) (a speaker label with no words)" + (f": {shown}" if shown else "")
            + (" ..." if len(empty) > 5 else "")
        )
    if not parsed.turns:
        raise source.error(
            "no turn has any words" + (f" ({parsed.empty_turns} empty turn(s) dropped)" if parsed.empty_turns else ""),
            "whole file",
            "check that the export holds the transcript's text",
        )


__all__ = ["BOILERPLATE", "boilerplate_tool", "drop_boilerplate_piece", "tidy_parsed"]
