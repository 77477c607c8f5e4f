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


# -- qualkit codebook test -------------------------------------------------------------------

TESTED = """\
name: tested
codes:
  - id: three-vs
    label: Three Vs
    examples: ["we version every dataset"]
    counterexamples: ["we had a nice lunch"]
  - id: versioning
    label: Versioning
    parent: three-vs
    definition: Keeping versions.
    examples: ["we version every dataset"]
    counterexamples: ["the new version of the podcast is out"]
    rules:
      phrases: [version]
  - id: retraining
    label: Retraining
    definition: Retraining models.
    examples: ["we retrain the model weekly", "we retrain weekly"]
    rules:
      phrases: [retrain]
      requires: [model]
  - id: human-only
    label: Human only
    definition: Coded by people.
    examples: ["something only people see"]
"""


def run_test(tmp_path: Path, text: str, *args: str):
    from click.testing import CliRunner

    from qualkit.cli import main

    path = write(tmp_path, "tested.yaml", text)
    return CliRunner().invoke(main, ["codebook", "test", str(path), *args])


def test_codebook_test_reports_hits_and_misses_with_the_rule(tmp_path):
    result = run_test(tmp_path, TESTED, "--json")
    assert result.exit_code == 1, result.output
    import json

    data = json.loads(result.output)
    assert (data["examples"], data["counterexamples"], data["untested"]) == (5, 2, {"human-only": 1})
    failures = {(f["code_id"], f["kind"], f["index"]): f for f in data["failures"]}
    assert set(failures) == {("versioning", "counterexample", 0), ("retraining", "example", 1)}
    hit = failures[("versioning", "counterexample", 0)]
    assert hit["rules"] == [{"rule": "versioning#phrase:0", "matched_text": "version"}]
    miss = failures[("retraining", "example", 1)]
    assert miss["dropped"][0]["rule"] == "retraining#phrase:0" and "requires" in miss["dropped"][0]["why"]
    assert data["ok"] is False and data["missed"] == 1 and data["hit"] == 1


def test_codebook_test_passes_once_the_rules_are_fixed(tmp_path):
    fixed = TESTED.replace("      phrases: [version]\n", "      phrases: [version]\n      excludes: [podcast]\n").replace(
        '"we retrain weekly"', '"we retrain the models weekly"'
    )
    result = run_test(tmp_path, fixed)
    assert result.exit_code == 0, result.output
    assert "ok, 6 sentences tested" in result.output
    assert "human-only: 1 sentence(s) untested" in result.output


def test_codebook_test_text_output_names_rule_and_text(tmp_path):
    result = run_test(tmp_path, TESTED)
    assert result.exit_code == 1
    assert "versioning hits counterexample 0" in result.output and "versioning#phrase:0 ('version')" in result.output
    assert "retraining misses example 1" in result.output and "requires one of 'model'" in result.output


def test_codebook_test_parent_examples_match_through_children(tmp_path):
    from qualkit.coding.examples import check_examples

    report = check_examples(load_codebook(write(tmp_path, "t.yaml", TESTED)))
    assert not [f for f in report.failures if f.code_id == "three-vs"]
    assert report.without_examples == []


def test_the_default_codebook_passes_its_own_test():
    from qualkit.coding.examples import check_examples

    report = check_examples(load_codebook("default"))
    assert report.ok, "\n".join(failure.describe() for failure in report.failures)
    assert report.examples >= 2 * len([code for code in load_codebook("default") if not code.rules.is_empty])
    assert report.counterexamples > 0 and not report.untested


def test_counterexamples_survive_a_qdc_round_trip(tmp_path):
    from qualkit.codebook import import_qdc

    book = load_codebook(write(tmp_path, "book.yaml", BOOK))
    (tmp_path / "book.qdc").write_bytes(export_codebook(book, "qdc"))
    back = import_qdc(tmp_path / "book.qdc", tmp_path / "back.yaml")
    code = back.get("versioning")
    assert code.counterexamples == ["the new version of the podcast is out"]
    assert code.examples == ["we roll back to the previous model"]
