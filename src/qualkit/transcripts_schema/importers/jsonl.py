"""JSON Lines (``.jsonl``, ``.ndjson``): one turn per line, ``{"speaker": ..., "text": ..., "start": ..., "end": ...}``.

The mapping, per non-blank line (each must be a JSON object):

* ``speaker`` (also ``speaker_name`` or ``name``): the speaker label, required;
* ``text`` (also ``content``, ``utterance`` or ``transcript``): what was said; an empty text is
  an empty turn (dropped and counted, like every importer's);
* ``start`` / ``end`` (also ``start_time`` / ``end_time``): seconds (``62.5``) or a clock time
  (``"00:01:02.5"``), optional;
* ``role``: ``interviewer``, ``participant`` or ``other``, optional.

Other keys (``confidence``, ``words``, ``id`` ...) are ignored and listed in a note. Every bad
line is reported with its line number before failing.
"""

from __future__ import annotations

import json as _json
from typing import TYPE_CHECKING, Any

from ...errors import InputError, Problem
from ._base import Parsed, RawTurn, Source, parse_seconds

if TYPE_CHECKING:
    from ..options import ImportOptions

NAME = "jsonl"
EXTENSIONS = (".jsonl", ".ndjson")
ROLES = {"interviewer", "participant", "other"}
#: Accepted keys per field, first match wins.
KEYS: dict[str, tuple[str, ...]] = {
    "speaker": ("speaker", "speaker_name", "name"),
    "text": ("text", "content", "utterance", "transcript"),
    "start": ("start", "start_time"),
    "end": ("end", "end_time"),
    "role": ("role",),
}
_KNOWN = {key for names in KEYS.values() for key in names}
_EXAMPLE = '{"speaker": "P3", "text": "...", "start": 12.5, "end": 15.0}'


def sniff(head: bytes) -> bool:
    """JSON Lines: the first line is a whole JSON object with a speaker key, and another line follows."""
    lines = head.lstrip(b"\xef\xbb\xbf").lstrip().split(b"\n", 2)
    if len(lines) < 2 or not lines[0].strip().startswith(b"{") or not lines[1].strip().startswith(b"{"):
        return False
    try:
        first = _json.loads(lines[0])
    except (ValueError, RecursionError):
        return False
    return isinstance(first, dict) and any(key in first for key in KEYS["speaker"])


def _field(item: dict[str, Any], key: str) -> Any:
    for name in KEYS[key]:
        if name in item:
            return item[name]
    return None


def read(source: Source, options: "ImportOptions") -> Parsed:
    """One turn per line; every bad line is collected before failing."""
    text = source.text.lstrip("\ufeff")
    if not text.strip():
        raise source.error("file is empty", "whole file", f"write one JSON object a line, e.g. {_EXAMPLE}")
    parsed = Parsed(format=NAME)
    problems: list[Problem] = []
    ignored: set[str] = set()
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            item = _json.loads(line)
        except _json.JSONDecodeError as error:
            problems.append(Problem(f"not valid JSON: {error.msg}", source.shown, f"{where} column {error.colno}", f"write one JSON object a line, e.g. {_EXAMPLE}"))
            continue
        except ValueError as error:  # e.g. an integer of more than 4,300 digits
            problems.append(Problem(f"not valid JSON: {error}", source.shown, where, f"write one JSON object a line, e.g. {_EXAMPLE}"))
            continue
        except RecursionError:
            problems.append(Problem("JSON nested too deeply", source.shown, where, f"write one flat JSON object a line, e.g. {_EXAMPLE}"))
            continue
        parsed.units += 1
        if not isinstance(item, dict):
            problems.append(Problem(f"a JSON {type(item).__name__}, not an object", source.shown, where, f"write one JSON object a line, e.g. {_EXAMPLE}"))
            continue
        ignored.update(key for key in item if key not in _KNOWN)
        speaker, spoken = _field(item, "speaker"), _field(item, "text")
        if not isinstance(speaker, str) or not speaker.strip():
            whole = "turns" in item and "participant" in item  # a qualkit JSON transcript on one line
            fix = "this line is a whole qualkit JSON transcript: name the file .json, or pass --format json" if whole else 'add "speaker": "P3"'
            problems.append(Problem("no speaker (a non-empty string under 'speaker')", source.shown, where, fix))
            continue
        if spoken is None:
            spoken = ""
        if not isinstance(spoken, str):
            problems.append(Problem(f"text is a JSON {type(spoken).__name__}, not a string", source.shown, where, 'write "text": "what was said"'))
            continue
        times: dict[str, float | None] = {}
        for key in ("start", "end"):
            value = _field(item, key)
            times[key] = None
            if value is None or value == "":
                continue
            try:
                if isinstance(value, bool):
                    raise ValueError
                seconds = float(value) if isinstance(value, (int, float)) else parse_seconds(str(value))
                if not seconds >= 0 or seconds == float("inf"):  # also refuses NaN
                    raise ValueError
                times[key] = seconds
            except (ValueError, OverflowError):
                problems.append(Problem(f"{key} {value!r} is not seconds or hh:mm:ss", source.shown, where, "write e.g. 62.5 or \"00:01:02\""))
        role = _field(item, "role")
        if role is not None and (not isinstance(role, str) or role.strip().lower() not in ROLES):
            problems.append(Problem(f"role {role!r} is not interviewer, participant or other", source.shown, where, "fix the role, or leave it out"))
            continue
        parsed.turns.append(
            RawTurn(speaker=speaker.strip(), text=spoken.strip(), location=where, start=times["start"], end=times["end"], role=role.strip().lower() if role else None)
        )
    if problems:
        raise InputError(f"{source.shown}: {len(problems)} bad line(s)", problems=problems)
    if not parsed.turns:
        raise source.error("no turns", "whole file", f"write one JSON object a line, e.g. {_EXAMPLE}")
    if ignored:
        parsed.notes.append("ignored key(s): " + ", ".join(sorted(ignored)[:10]))
    return parsed
