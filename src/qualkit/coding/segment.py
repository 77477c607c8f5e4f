"""Segmentation: cut turns into units of analysis (a swappable stage).

A :class:`Segmenter` turns each turn's text into ``(start_char, end_char)`` spans; segments
never cross a turn. Built in: ``turn`` (the whole turn), ``sentence`` (spaCy's rule-based
sentencizer on ``blank("en")``) and ``window:N`` (N consecutive sentences of one turn,
non-overlapping). :func:`register_segmenter` adds others. Segments are deterministic for a
(transcript version, unit), so :func:`ensure_segments` creates them once for every run.
"""

from __future__ import annotations

import functools
import re
from typing import Callable, Iterable, Iterator, Protocol

from ..errors import ConfigError
from ..store import Store, sha256_text

Span = tuple[int, int]


class Segmenter(Protocol):
    """Cuts turn texts into spans (code-point offsets into each text, end exclusive)."""

    unit: str

    def segment(self, texts: Iterable[str]) -> Iterator[list[Span]]:
        """One list of spans per text, in order."""
        ...


class TurnSegmenter:
    """The whole turn is one segment."""

    unit = "turn"

    def segment(self, texts: Iterable[str]) -> Iterator[list[Span]]:
        for text in texts:
            yield [(0, len(text))]


@functools.lru_cache(maxsize=1)
def _sentencizer():  # type: ignore[no-untyped-def]
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


class SentenceSegmenter:
    """Sentences by spaCy's rule-based sentencizer; ``window > 1`` groups N sentences."""

    def __init__(self, window: int = 1, batch_size: int = 256) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.window = window
        self.batch_size = batch_size
        self.unit = "sentence" if window == 1 else f"window:{window}"

    def segment(self, texts: Iterable[str]) -> Iterator[list[Span]]:
        # the input text is the doc's text: Doc.text would rebuild it (per access, token by token)
        pairs = ((text, text) for text in texts)
        for doc, text in _sentencizer().pipe(pairs, batch_size=self.batch_size, as_tuples=True):
            sentences = []
            for sent in doc.sents:
                span = _trim(text, sent.start_char, sent.end_char)
                if span is not None:
                    sentences.append(span)
            if not sentences:
                yield []
                continue
            spans = []
            for first in range(0, len(sentences), self.window):
                group = sentences[first : first + self.window]
                spans.append((group[0][0], group[-1][1]))
            yield spans


def _trim(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


SegmenterFactory = Callable[[str], Segmenter]
_REGISTRY: dict[str, SegmenterFactory] = {
    "turn": lambda unit: TurnSegmenter(),
    "sentence": lambda unit: SentenceSegmenter(1),
    "window": lambda unit: SentenceSegmenter(_window_size(unit)),
}


def _window_size(unit: str) -> int:
    match = re.fullmatch(r"window:(\d+)", unit)
    if match is None or int(match.group(1)) < 1:
        raise ConfigError(f"invalid unit {unit!r}", hint="write window:N with N a whole number of sentences, e.g. window:3")
    return int(match.group(1))


def register_segmenter(name: str, factory: SegmenterFactory) -> None:
    """Make ``unit = "NAME"`` (or ``"NAME:ARG"``) available; ``factory(unit)`` builds the segmenter."""
    _REGISTRY[name] = factory


def available_units() -> list[str]:
    return [name if name != "window" else "window:N" for name in _REGISTRY]


def normalize_unit(unit: str) -> str:
    """Validate a unit name; ``window:1`` is ``sentence``."""
    unit = unit.strip()
    base = unit.split(":", 1)[0]
    if base not in _REGISTRY:
        raise ConfigError(f"unknown unit {unit!r}", hint=f"choose one of {', '.join(available_units())}")
    if base == "window":
        return "sentence" if _window_size(unit) == 1 else f"window:{_window_size(unit)}"
    return unit


def get_segmenter(unit: str) -> Segmenter:
    """The segmenter for a unit such as ``turn``, ``sentence`` or ``window:3``."""
    unit = normalize_unit(unit)
    return _REGISTRY[unit.split(":", 1)[0]](unit)


def ensure_segments(store: Store, unit: str = "turn") -> int:
    """Create the segments of ``unit`` for every current transcript that has none yet.

    Every turn (all roles) is segmented; ``ordinal`` numbers a transcript's segments of
    this unit in order. Idempotent; returns the number of segments created.
    """
    unit = normalize_unit(unit)
    missing = store.query(
        """SELECT t.pk FROM transcripts t WHERE t.is_current = 1 AND NOT EXISTS
               (SELECT 1 FROM segments s WHERE s.transcript_pk = t.pk AND s.unit = ?)
           ORDER BY t.pk""",
        (unit,),
    )
    if not missing:
        return 0
    segmenter = get_segmenter(unit)
    created = 0
    for row in missing:
        transcript_pk = row["pk"]
        turns = store.query("SELECT pk, text FROM turns WHERE transcript_pk = ? ORDER BY idx", (transcript_pk,))
        rows = []
        ordinal = 0
        for turn, spans in zip(turns, segmenter.segment(turn["text"] for turn in turns)):
            for start, end in spans:
                text = turn["text"][start:end]
                rows.append((transcript_pk, turn["pk"], unit, ordinal, start, end, text, sha256_text(text)))
                ordinal += 1
        with store.transaction() as conn:
            conn.executemany(
                """INSERT OR IGNORE INTO segments (transcript_pk, turn_pk, unit, ordinal, start_char, end_char, text, text_hash)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                rows,
            )
        created += len(rows)
    return created


def segment_study(study: "object", unit: str | None = None) -> int:
    """Ensure segments for a study's configured unit (or ``unit``); returns how many were created."""
    config_unit = unit or study.config.coding.unit  # type: ignore[attr-defined]
    return ensure_segments(study.store, config_unit)  # type: ignore[attr-defined]


__all__ = [
    "Segmenter",
    "SentenceSegmenter",
    "TurnSegmenter",
    "available_units",
    "ensure_segments",
    "get_segmenter",
    "normalize_unit",
    "register_segmenter",
    "segment_study",
]
