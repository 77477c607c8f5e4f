"""The labelled development set of the default codebook: drawing it and reading its labels.

The set is a seeded random draw of substantive participant turns (25 words or more) from the
Practical AI podcast corpus in ``../shared/data/corpus/practicalai/``. Turns are numbered as
:func:`_corpus.podcast_transcripts` splits a file (``**Name:** text``, every non-empty turn,
hosts included, from 0), so ``practical-ai-12.md`` turn 40 always names the same text. The
labels (``data/devset_labels.csv``) keep only file, turn index, split and code ids: no text.

    .venv/bin/python benchmarks/_devset.py --draw      # prints the draw (file, turn, speaker, words)
"""

from __future__ import annotations

import argparse
import csv
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from _corpus import CORPUS, corpus_files, speaker_turns

DATA = Path(__file__).resolve().parent / "data"
LABELS = DATA / "devset_labels.csv"

# The podcast's hosts (and the Changelog and Go Time hosts of crossover episodes) and the
# transcripts' non-speaker labels: every other speaker is a guest, our "participant".
HOSTS = frozenset({
    "Daniel Whitenack", "Chris Benson", "Jerod Santo", "Adam Stacoviak", "Natalie Pistunovich",
    "Mat Ryer", "Break", "Intro", "Outro", "ChatGPT",
})
SUBSTANTIVE_WORDS = 25
SEED = 12
SIZE = 400
HELD_OUT = 0.3


@dataclass(frozen=True)
class Turn:
    file: str
    index: int
    speaker: str
    text: str

    @property
    def words(self) -> int:
        return len(self.text.split())

    @property
    def key(self) -> tuple[str, int]:
        return (self.file, self.index)


def file_turns(path: Path) -> list[Turn]:
    """Every non-empty turn of one transcript, numbered from 0 (the same split as _corpus)."""
    pairs = speaker_turns(path.read_text(encoding="utf-8"))
    return [Turn(path.name, index, speaker, body) for index, (speaker, body) in enumerate(pairs)]


def participant_turns(min_words: int = SUBSTANTIVE_WORDS) -> Iterator[Turn]:
    """Guests' turns with at least ``min_words`` words, in corpus order."""
    for path in corpus_files():
        for turn in file_turns(path):
            if turn.speaker not in HOSTS and turn.words >= min_words:
                yield turn


def draw(size: int = SIZE, seed: int = SEED) -> list[Turn]:
    """The seeded random draw of substantive participant turns, with its held-out part last."""
    population = list(participant_turns())
    return random.Random(seed).sample(population, size)


def split_of(position: int, size: int = SIZE) -> str:
    """'dev' for the first 70% of the draw, 'heldout' for the rest (the draw order is random)."""
    return "dev" if position < round(size * (1 - HELD_OUT)) else "heldout"


@dataclass(frozen=True)
class Label:
    file: str
    index: int
    split: str
    codes: frozenset[str]


def read_labels(path: Path = LABELS) -> list[Label]:
    """The labelled turns: ``file,turn,split,codes`` with codes separated by ';'."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        Label(row["file"], int(row["turn"]), row["split"], frozenset(c for c in re.split(r"[;\s]+", row["codes"]) if c))
        for row in rows
    ]


def texts_for(labels: list[Label]) -> dict[tuple[str, int], Turn]:
    """The shared corpus's text of each labelled turn (read from ../shared, never stored here)."""
    wanted: dict[str, set[int]] = {}
    for label in labels:
        wanted.setdefault(label.file, set()).add(label.index)
    found = {}
    for name, indexes in wanted.items():
        for turn in file_turns(CORPUS / name):
            if turn.index in indexes:
                found[turn.key] = turn
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draw", action="store_true", help="Print the draw: position, split, file, turn, speaker, words.")
    args = parser.parse_args()
    if args.draw:
        for position, turn in enumerate(draw()):
            print(position, split_of(position), turn.file, turn.index, turn.speaker, turn.words, sep="\t")


if __name__ == "__main__":
    main()
