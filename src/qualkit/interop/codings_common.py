"""What the readers of human codings (CSV, QDPX) share: a coding waiting to be stored, coder names,
and the study's current transcripts and turns."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass
class PendingCoding:
    """A coding read from the file, checked, waiting for its code to be resolved."""

    coder: str
    transcript_pk: int
    turn_pk: int | tuple[str, str, int]  # ("new", transcript id, turn index) for transcripts created by the import
    start: int
    end: int
    code_key: str
    text: str
    memo: str
    place: str  # provenance stored in human_codings.source: FILE:line N, or FILE#coding-guid


#: A coder cell naming an automatic coder (``run:12``, ``run:3+run:4``), as exported tables do.
AUTOMATIC_CODER = re.compile(r"^run:\d+(\s*\+\s*run:\d+)*$", re.IGNORECASE)


def coder_name(raw: str) -> str:
    """A coder name usable in ``human:NAME``: trimmed, spaces to '-', no ':' or '+'."""
    name = re.sub(r"\s+", "-", raw.strip())
    name = name.replace(":", "-").replace("+", "-")
    return name


def current_transcripts(study: Any) -> dict[str, int]:
    return {row["id"]: row["pk"] for row in study.store.query("SELECT id, pk FROM transcripts WHERE is_current = 1")}


def transcript_turns(study: Any, transcript_pk: int) -> list[Any]:
    return study.store.query("SELECT pk, idx, speaker, role, text FROM turns WHERE transcript_pk = ? ORDER BY idx", (transcript_pk,))


__all__ = ["AUTOMATIC_CODER", "PendingCoding", "coder_name", "current_transcripts", "transcript_turns"]
