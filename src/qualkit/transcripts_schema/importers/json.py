"""qualkit JSON: a transcript in the shape of transcript.schema.json, validated against the model."""

from __future__ import annotations

import json as _json
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ...errors import Problem, TranscriptValidationError
from ..model import Transcript
from ._base import Parsed, Source

if TYPE_CHECKING:
    from ..options import ImportOptions

NAME = "json"
EXTENSIONS = (".json",)


def sniff(head: bytes) -> bool:
    """A JSON transcript is an object."""
    stripped = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return stripped.startswith(b"{")


def json_path(loc: tuple[Any, ...]) -> str:
    """``('turns', 3, 'text')`` -> ``turns[3].text``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or "(root)"


def validate_transcript_data(data: Any, file: str = "") -> Transcript:
    """Validate plain data against the transcript model; every violation is listed with its JSON path."""
    try:
        return Transcript.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            loc = tuple(part for part in item["loc"] if not (isinstance(part, str) and part.startswith("function-")))
            message = item["msg"]
            if item["type"] == "extra_forbidden":
                message = "unknown field (not in the transcript schema)"
            problems.append(Problem(message, file, json_path(loc), "see `qualkit transcripts schema`"))
        raise TranscriptValidationError(
            f"{file or 'transcript'} violates the transcript schema ({len(problems)} problem(s))", problems=problems
        ) from None


def read(source: Source, options: "ImportOptions") -> Parsed:
    """Parse the JSON and validate it against the model."""
    text = source.text.lstrip("\ufeff")
    if not text.strip():
        raise source.error("file is empty", "whole file", "write a transcript as described by `qualkit transcripts schema`")
    try:
        data = _json.loads(text)
    except _json.JSONDecodeError as error:
        fix = "fix the JSON syntax there"
        if error.msg == "Extra data" and _looks_like_lines(text):
            fix = "this is JSON Lines (one object per line): name the file .jsonl, or pass --format jsonl"
        raise source.error(f"not valid JSON: {error.msg}", f"line {error.lineno} column {error.colno}", fix) from None
    except ValueError as error:  # e.g. an integer of more than 4,300 digits
        raise source.error(f"not valid JSON: {error}", "whole file", "fix the value") from None
    except RecursionError:
        raise source.error("JSON nested too deeply to read", "whole file", "a transcript is a flat object with a list of turns") from None
    empty = _empty_turns(data)
    if not empty:
        transcript = validate_transcript_data(data, source.shown)
        return Parsed(format=NAME, transcript=transcript, units=len(transcript.turns))
    turns = data["turns"]
    if len(empty) == len(turns):
        validate_transcript_data(data, source.shown)  # raises: every turn's text is blank (and any other problem)
        raise source.error(f"no turn has any words ({len(empty)} empty turn(s))", "turns", "check that the file holds the transcript's text")
    # validate with the empty turns in place (errors keep their JSON paths), then drop them
    stand_in = {**data, "turns": [{**turn, "text": "-"} if index in empty else turn for index, turn in enumerate(turns)]}
    try:
        checked = Transcript.model_validate(stand_in)
    except ValidationError:
        validate_transcript_data(data, source.shown)  # raises with every problem, the empty texts too
        raise
    transcript = checked.model_copy(update={"turns": [turn for index, turn in enumerate(checked.turns) if index not in empty]})
    parsed = Parsed(format=NAME, transcript=transcript, units=len(turns), empty_turns=len(empty))
    shown = ", ".join(f"turns[{index}]" for index in sorted(empty)[:5])
    parsed.notes.append(f"dropped {len(empty)} empty turn(s) (no words): {shown}" + (" ..." if len(empty) > 5 else ""))
    return parsed


def _empty_turns(data: Any) -> set[int]:
    """Indexes of the turns whose text is a blank string."""
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
        return set()
    return {
        index
        for index, turn in enumerate(data["turns"])
        if isinstance(turn, dict) and isinstance(turn.get("text"), str) and not turn["text"].strip()
    }


def _looks_like_lines(text: str) -> bool:
    """True when the first two non-blank lines are each a JSON object (JSON Lines)."""
    lines = [line for line in text.splitlines()[:50] if line.strip()][:2]
    if len(lines) < 2:
        return False
    try:
        return all(isinstance(_json.loads(line), dict) for line in lines)
    except (ValueError, RecursionError):
        return False
