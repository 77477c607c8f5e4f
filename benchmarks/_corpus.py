"""Shared by the benchmarks: the podcast corpus in ../shared/data, read without the importers.

A plain ``**Name:** text`` split keeps the benchmarks measuring the stage they name (coding,
topics), not the importers; every speaker is a participant.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from qualkit.transcripts_schema.model import Participant, Transcript, Turn

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "data" / "corpus" / "practicalai"
SPEAKER = re.compile(r"^\*\*([^*\n]{1,80}?):\*\*\s*", re.MULTILINE)


def corpus_files(limit: int | None = None) -> list[Path]:
    """The podcast transcripts in episode order (empty where ../shared is absent)."""
    files = sorted(CORPUS.glob("practical-ai-*.md"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
    return files[:limit]


def speaker_turns(text: str) -> list[tuple[str, str]]:
    """The ``(speaker, text)`` of every non-empty ``**Name:** text`` turn of a transcript, in order."""
    marks = list(SPEAKER.finditer(text))
    turns = []
    for mark, following in zip(marks, [*marks[1:], None]):
        body = text[mark.end() : following.start() if following else len(text)].strip()
        if body:
            turns.append((mark.group(1).strip(), body))
    return turns


def podcast_transcripts(limit: int | None = None) -> Iterator[Transcript]:
    """One :class:`Transcript` per episode, streamed."""
    for path in corpus_files(limit):
        turns = [
            Turn(speaker=speaker, role="participant", text=body)
            for speaker, body in speaker_turns(path.read_text(encoding="utf-8"))
        ]
        if turns:
            yield Transcript(id=path.stem, participant=Participant(id=path.stem), turns=turns)
