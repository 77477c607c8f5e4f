"""Segmentation: turn, sentence, window:N; idempotent; offsets into the turn."""

from __future__ import annotations

import pytest

from qualkit.coding.segment import (
    SentenceSegmenter,
    ensure_segments,
    get_segmenter,
    normalize_unit,
    register_segmenter,
)
from qualkit.errors import ConfigError
from qualkit.transcripts_schema.model import Participant, Transcript, Turn

TEXT = "We retrain every week. Then we check it!  Finally we ship. And monitor."


def transcript(tid: str = "P1", text: str = TEXT) -> Transcript:
    return Transcript(
        id=tid,
        participant=Participant(id=tid),
        turns=[
            Turn(speaker="Interviewer", role="interviewer", text="How do you retrain? Tell me."),
            Turn(speaker=tid, role="participant", text=text),
        ],
    )


def segments(store, unit):
    return store.query("SELECT * FROM segments WHERE unit = ? ORDER BY transcript_pk, ordinal", (unit,))


def test_turn_segments_cover_every_turn_once(study):
    study.store.store_transcript(transcript())
    assert ensure_segments(study.store, "turn") == 2
    assert ensure_segments(study.store, "turn") == 0  # idempotent
    rows = segments(study.store, "turn")
    assert [(r["ordinal"], r["start_char"], r["end_char"]) for r in rows] == [(0, 0, 28), (1, 0, len(TEXT))]
    assert rows[1]["text"] == TEXT


def test_sentence_segments_are_offsets_into_the_turn(study):
    study.store.store_transcript(transcript())
    assert ensure_segments(study.store, "sentence") == 6
    rows = segments(study.store, "sentence")
    texts = [r["text"] for r in rows]
    assert texts == ["How do you retrain?", "Tell me.", "We retrain every week.", "Then we check it!", "Finally we ship.", "And monitor."]
    turn_text = study.store.query("SELECT text FROM turns WHERE pk = ?", (rows[3]["turn_pk"],))[0]["text"]
    assert all(turn_text[r["start_char"]:r["end_char"]] == r["text"] for r in rows[2:])
    assert [r["ordinal"] for r in rows] == list(range(6))


def test_window_groups_n_sentences_without_crossing_turns(study):
    study.store.store_transcript(transcript())
    ensure_segments(study.store, "window:3")
    rows = segments(study.store, "window:3")
    assert [r["text"] for r in rows] == [
        "How do you retrain? Tell me.",
        "We retrain every week. Then we check it!  Finally we ship.",
        "And monitor.",
    ]


def test_new_transcript_version_gets_its_own_segments(study):
    study.store.store_transcript(transcript())
    ensure_segments(study.store, "turn")
    study.store.store_transcript(transcript(text="Changed text. Two sentences."))
    assert ensure_segments(study.store, "turn") == 2
    assert ensure_segments(study.store, "sentence") == 4  # only the current version


def test_units_are_validated_and_window_1_is_sentence():
    assert normalize_unit("window:1") == "sentence"
    assert get_segmenter("window:4").unit == "window:4"
    for bad in ("paragraph", "window:0", "window:x"):
        with pytest.raises(ConfigError):
            normalize_unit(bad)


def test_custom_segmenter_can_be_registered(study):
    class Halves:
        unit = "halves"

        def segment(self, texts):
            for text in texts:
                middle = len(text) // 2
                yield [(0, middle), (middle, len(text))]

    register_segmenter("halves", lambda unit: Halves())
    study.store.store_transcript(transcript())
    assert ensure_segments(study.store, "halves") == 4


def test_sentence_segmenter_streams_many_texts():
    spans = list(SentenceSegmenter(2).segment(["We ship. We test. We wait.", "   ", "One."]))
    assert spans == [[(0, 17), (18, 26)], [], [(0, 4)]]
