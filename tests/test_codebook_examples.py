"""Counterexamples in the codebook format: loading, extends, hash stability, diff, exports."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from qualkit.codebook import diff_codebooks, export_codebook, load_codebook
from qualkit.errors import CodebookError

BOOK = """\
name: tiny
codes:
  - id: versioning
    label: Versioning
    definition: Keeping model and data versions.
    examples: ["we roll back to the previous model"]
    counterexamples: ["the new version of the podcast is out"]
    rules:
      phrases: [roll back]
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_counterexamples_load_and_round_trip(tmp_path):
    book = load_codebook(write(tmp_path, "book.yaml", BOOK))
    code = book.get("versioning")
    assert code.counterexamples == ["the new version of the podcast is out"]
    again = load_codebook(write(tmp_path, "again.yaml", book.to_yaml()))
    assert again.get("versioning").counterexamples == code.counterexamples
    assert again.hash == book.hash


def test_counterexamples_change_the_hash_but_an_empty_list_does_not(tmp_path):
    with_them = load_codebook(write(tmp_path, "a.yaml", BOOK))
    without = load_codebook(write(tmp_path, "b.yaml", BOOK.replace('    counterexamples: ["the new version of the podcast is out"]\n', "")))
    empty = load_codebook(write(tmp_path, "c.yaml", BOOK.replace('["the new version of the podcast is out"]', "[]")))
    assert with_them.hash != without.hash
    assert empty.hash == without.hash
    assert "counterexamples" not in without.to_resolved_dict()["codes"][0]


def test_extending_codebook_replaces_counterexamples(tmp_path):
    write(tmp_path, "base.yaml", BOOK)
    child = write(
        tmp_path,
        "child.yaml",
        "name: child\nextends: base.yaml\ncodes:\n  - id: versioning\n    counterexamples: [\"a new version of the song\"]\n",
    )
    base, book = load_codebook(tmp_path / "base.yaml"), load_codebook(child)
    assert book.get("versioning").counterexamples == ["a new version of the song"]
    assert book.get("versioning").examples == ["we roll back to the previous model"]
    change = diff_codebooks(base, book).changed[0]
    assert "counterexamples" in change.fields


def test_counterexamples_in_markdown_and_csv(tmp_path):
    book = load_codebook(write(tmp_path, "book.yaml", BOOK))
    markdown = export_codebook(book, "md").decode()
    assert "Counterexamples (must not match)" in markdown and "podcast is out" in markdown
    rows = list(csv.DictReader(io.StringIO(export_codebook(book, "csv").decode())))
    assert rows[0]["counterexamples"] == "the new version of the podcast is out"


def test_counterexamples_must_be_a_list_of_strings(tmp_path):
    bad = write(tmp_path, "bad.yaml", BOOK.replace('["the new version of the podcast is out"]', "{a: 1}"))
    with pytest.raises(CodebookError) as caught:
        load_codebook(bad)
    assert any("counterexamples" in problem.location for problem in caught.value.problems)
