"""Typed transcripts and participants read back from the store.

The store is the ground floor and knows nothing of the transcript model: it hands out plain
dicts in the model's shape (:meth:`Store.transcript_record`, :meth:`Store.participant_records`);
this module turns them into :class:`Transcript` and :class:`Participant` again.
"""

from __future__ import annotations

from typing import Any

from .model import Participant, Transcript


def load_transcript(store: Any, transcript_id: str, version: int | None = None) -> Transcript:
    """Rebuild the typed transcript from the store (the current version unless ``version``)."""
    return Transcript.model_validate(store.transcript_record(transcript_id, version))


def stored_participants(store: Any) -> list[Participant]:
    """Every participant in the store, typed, in participant order (P2 before P10)."""
    return [Participant.model_validate(record) for record in store.participant_records()]


__all__ = ["load_transcript", "stored_participants"]
