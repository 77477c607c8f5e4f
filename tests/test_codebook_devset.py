"""The hand-coded development set of the default codebook (``benchmarks/data/devset_labels.csv``).

The labels are references into the shared podcast corpus (file, turn index, split, code ids),
never text: every code id must still exist in the default codebook, the split must be the
seeded 70/30 one the benchmark reports, and, where ``../shared`` is present, every reference must
name a substantive guest turn of the seeded draw.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from qualkit.codebook import load_codebook

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
LABELS = BENCH / "data" / "devset_labels.csv"
CORPUS = REPO.parent / "shared" / "data" / "corpus" / "practicalai"


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with LABELS.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_labels_are_references_not_text(rows: list[dict[str, str]]) -> None:
    assert list(rows[0]) == ["file", "turn", "split", "codes"]
    assert len(rows) == 400
    assert len({(row["file"], row["turn"]) for row in rows}) == 400
    for row in rows:
        assert row["file"].startswith("practical-ai-") and row["file"].endswith(".md")
        assert row["turn"].isdigit()


def test_every_label_is_a_code_of_the_default_codebook(rows: list[dict[str, str]]) -> None:
    codebook = load_codebook("default")
    used = {code for row in rows for code in row["codes"].split(";") if code}
    assert used, "no labels"
    assert used <= {code.id for code in codebook}, used - {code.id for code in codebook}
    group_codes = {code.id for code in codebook if not code.rules.phrases and not code.rules.patterns and not code.rules.regex}
    assert not used & group_codes, "group codes are implied by their children, never labelled"


def test_split_is_the_seeded_seventy_thirty(rows: list[dict[str, str]]) -> None:
    splits = [row["split"] for row in rows]
    assert splits == ["dev"] * 280 + ["heldout"] * 120


@pytest.mark.skipif(not CORPUS.is_dir(), reason="needs ../shared/data/corpus/practicalai")
def test_references_are_the_seeded_draw_of_substantive_guest_turns(rows: list[dict[str, str]]) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import _devset
    finally:
        sys.path.remove(str(BENCH))
    drawn = [(turn.file, turn.index) for turn in _devset.draw()]
    assert drawn == [(row["file"], int(row["turn"])) for row in rows]
    labels = _devset.read_labels()
    turns = _devset.texts_for(labels)
    for label in labels:
        turn = turns[(label.file, label.index)]
        assert turn.speaker not in _devset.HOSTS
        assert turn.words >= _devset.SUBSTANTIVE_WORDS
