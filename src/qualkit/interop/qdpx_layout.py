"""The plain-text layout qualkit gives a transcript in a REFI-QDA project, shared by export and import.

:func:`render_source` is the one place that defines the layout (turns joined as ``Speaker: text``
paragraphs) and returns where each turn's text starts; :func:`qualkit_layout` reads back the turn
layout written into a source's Description; :func:`locate_turns` and :func:`split_span` map spans
of a source's text onto turns.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from typing import Any, Sequence

LAYOUT_PREFIX = "qualkit transcript"


@dataclass(frozen=True)
class TurnSpan:
    """Where a turn's text sits in the rendered source text (code points, end exclusive)."""

    turn_pk: int | None
    idx: int
    start: int
    end: int


def render_source(turns: Sequence[tuple[str, str]]) -> tuple[str, list[tuple[int, int]]]:
    """The plain text qualkit exports for a transcript, and each turn's text span in it.

    ``turns`` are ``(speaker, text)`` pairs; paragraphs are ``Speaker: text`` joined by a blank
    line. The span of turn *i* covers exactly its text (not the speaker label).
    """
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    offset = 0
    for index, (speaker, text) in enumerate(turns):
        if index:
            parts.append("\n\n")
            offset += 2
        label = f"{speaker}: "
        parts.append(label + text)
        spans.append((offset + len(label), offset + len(label) + len(text)))
        offset += len(label) + len(text)
    return "".join(parts), spans


def qualkit_layout(description: str) -> dict[str, Any] | None:
    """The turn layout qualkit writes into a source's Description on export, or None."""
    if not description.startswith(LAYOUT_PREFIX):
        return None
    _, _, payload = description.partition("\n")
    try:
        data = json.loads(payload)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
        return None
    return data


def locate_turns(source_text: str, turn_texts: Sequence[str]) -> list[tuple[int, int]] | None:
    """Each turn's span in ``source_text``, found in order; ``None`` when a turn is not there."""
    spans = []
    cursor = 0
    for text in turn_texts:
        found = source_text.find(text, cursor)
        if found < 0:
            return None
        spans.append((found, found + len(text)))
        cursor = found + len(text)
    return spans


def split_span(start: int, end: int, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """The parts of ``[start, end)`` inside turn spans, as ``(turn index, start, end)`` offsets into the turn."""
    starts = [span[0] for span in spans]
    index = max(bisect.bisect_right(starts, start) - 1, 0)
    pieces = []
    while index < len(spans) and spans[index][0] < max(end, start + 1):
        t_start, t_end = spans[index]
        lo, hi = max(start, t_start), min(end, t_end)
        if lo < hi or (start == end and t_start <= start <= t_end):
            pieces.append((index, lo - t_start, hi - t_start))
        index += 1
    return pieces


__all__ = ["LAYOUT_PREFIX", "TurnSpan", "locate_turns", "qualkit_layout", "render_source", "split_span"]
