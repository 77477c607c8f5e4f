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
        raise source.error(f"not valid JSON: {error.msg}", f"line {error.lineno} column {error.colno}", "fix the JSON syntax there") from None
    transcript = validate_transcript_data(data, source.shown)
    return Parsed(format=NAME, transcript=transcript, units=len(transcript.turns))
