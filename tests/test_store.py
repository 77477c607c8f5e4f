from __future__ import annotations

import sqlite3

import pytest

from qualkit.store import Store, participant_sort_key
from qualkit.store.migrations import SCHEMA_VERSION
from qualkit.transcripts_schema.model import Participant, Transcript, Turn
from qualkit.transcripts_schema.stored import load_transcript


def _transcript(text: str = "We retrain every week.") -> Transcript:
    return Transcript(
        id="P1",
        participant=Participant(id="P1", role="MLE"),
        turns=[
            Turn(speaker="Interviewer", role="interviewer", text="How often do you retrain?"),
            Turn(speaker="P1", role="participant", text=text),
        ],
    )


def test_new_store_is_migrated_with_wal_and_foreign_keys(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    assert store.schema_version == SCHEMA_VERSION
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    # reopening applies nothing new
    store.close()
    assert Store(tmp_path / "s.sqlite").migrate() == []


def test_unchanged_transcript_is_not_stored_twice_and_a_change_is_a_new_version(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    first = store.store_transcript(_transcript())
    again = store.store_transcript(_transcript())
    changed = store.store_transcript(_transcript("We retrain every month."))
    assert (first.status, again.status, changed.status) == ("new", "unchanged", "new-version")
    assert changed.version == 2
    rows = store.transcripts(current_only=False)
    assert [(row.version, row.pk == changed.pk) for row in rows] == [(1, False), (2, True)]
    assert load_transcript(store, "P1").turns[1].text == "We retrain every month."
    assert load_transcript(store, "P1", version=1).turns[1].text == "We retrain every week."


def test_failed_transaction_leaves_the_store_unchanged(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.store_transcript(_transcript())
    before = store.query("SELECT COUNT(*) FROM turns")[0][0]
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction() as conn:
            conn.execute("INSERT INTO turns (transcript_pk, idx, speaker, role, text) VALUES (1, 99, 'x', 'other', 'y')")
            conn.execute("INSERT INTO turns (transcript_pk, idx, speaker, role, text) VALUES (1, 99, 'x', 'other', 'y')")
    assert store.query("SELECT COUNT(*) FROM turns")[0][0] == before


def test_participants_sort_by_number():
    assert sorted(["P10", "P2", "P1", "Lg2", "Sm1"], key=participant_sort_key) == ["Lg2", "P1", "P2", "P10", "Sm1"]


def test_the_store_is_the_ground_floor_it_imports_nothing_of_ours_but_errors() -> None:
    import ast
    import subprocess
    import sys

    script = "import sys, qualkit.store; print(sorted(m for m in sys.modules if m.startswith('qualkit')))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert ast.literal_eval(result.stdout) == ["qualkit", "qualkit.errors", "qualkit.store", "qualkit.store.migrations"]
