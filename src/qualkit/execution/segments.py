"""Segmentation on a backend: the same segments as :func:`qualkit.coding.segment.ensure_segments`.

Sentence and window units run spaCy's sentencizer over every turn, the slowest part of
preparing a large study. Here the client streams the turns of transcripts that have no
segments of the unit yet, workers cut them into spans (``get_segmenter(unit)``, built once
per process), and the client stores the segments in batches: rows identical to
``ensure_segments`` (same ordinals, offsets, texts and hashes).
"""

from __future__ import annotations

import functools
from typing import Any, Iterator

from ..store import sha256_text
from .backends import Backend
from .progress import progress_bar

TRANSCRIPTS_PER_BATCH = 8

Turns = list[tuple[int, str]]  # (turn_pk, text)


@functools.lru_cache(maxsize=4)
def _segmenter(unit: str) -> Any:
    from ..coding.segment import get_segmenter

    return get_segmenter(unit)


def segment_batch(batch: list[tuple[int, Turns]], unit: str) -> list[tuple[int, list[list[tuple[int, int]]]]]:
    """Spans of every turn of each transcript in ``batch`` (runs on a worker)."""
    segmenter = _segmenter(unit)
    result = []
    for transcript_pk, turns in batch:
        spans = [list(turn_spans) for turn_spans in segmenter.segment(text for _, text in turns)]
        result.append((transcript_pk, spans))
    return result


def _batches(store: Any, missing: list[int], size: int) -> Iterator[list[tuple[int, Turns]]]:
    for start in range(0, len(missing), size):
        batch = []
        for transcript_pk in missing[start : start + size]:
            turns = store.query("SELECT pk, text FROM turns WHERE transcript_pk = ? ORDER BY idx", (transcript_pk,))
            batch.append((transcript_pk, [(row["pk"], row["text"]) for row in turns]))
        yield batch


def ensure_segments_on(store: Any, unit: str, backend: Backend, *, progress: bool = False) -> int:
    """Create the missing segments of ``unit`` on ``backend``; returns how many were created."""
    from ..coding.segment import ensure_segments, normalize_unit

    unit = normalize_unit(unit)
    if unit == "turn":  # one segment per turn: nothing worth sending to workers
        return ensure_segments(store, unit)
    missing = [
        int(row["pk"])
        for row in store.query(
            """SELECT t.pk FROM transcripts t WHERE t.is_current = 1 AND NOT EXISTS
                   (SELECT 1 FROM segments s WHERE s.transcript_pk = t.pk AND s.unit = ?)
               ORDER BY t.pk""",
            (unit,),
        )
    ]
    if not missing:
        return 0
    created = 0
    texts: dict[int, Turns] = {}

    def remember(batches: Iterator[list[tuple[int, Turns]]]) -> Iterator[list[tuple[int, Turns]]]:
        for batch in batches:  # the client keeps the turns of the batches in flight, to slice texts
            for transcript_pk, turns in batch:
                texts[transcript_pk] = turns
            yield batch

    insert = """INSERT OR IGNORE INTO segments (transcript_pk, turn_pk, unit, ordinal, start_char, end_char, text, text_hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""
    with progress_bar(f"segmenting ({unit}, {backend.name})", len(missing), unit="transcripts", enabled=progress) as advance:
        batches = remember(_batches(store, missing, TRANSCRIPTS_PER_BATCH))
        for result in backend.imap(segment_batch, batches, shared=(unit,)):
            rows = []
            words = 0
            for transcript_pk, spans in result:
                turns = texts.pop(transcript_pk)
                ordinal = 0
                for (turn_pk, text), turn_spans in zip(turns, spans):
                    words += len(text.split())
                    for start, end in turn_spans:
                        piece = text[start:end]
                        rows.append((transcript_pk, turn_pk, unit, ordinal, start, end, piece, sha256_text(piece)))
                        ordinal += 1
            with store.transaction() as conn:
                conn.executemany(insert, rows)
            created += len(rows)
            advance(len(result), words)
    return created


__all__ = ["ensure_segments_on", "segment_batch"]
