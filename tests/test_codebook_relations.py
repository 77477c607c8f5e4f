"""Top-level ``relations``: typed ties between codes, validated with YAML path and line, hashed, shown, exported."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qualkit.analysis import as_tree, tree_from_resolved
from qualkit.cli import main
from qualkit.codebook import diff_codebooks, export_codebook, lint_codebook, load_codebook
from qualkit.errors import CodebookError

BOOK = """\
name: ties
codes:
  - id: velocity
    label: Velocity
    definition: Speed of iteration.
    examples: ["we iterate quickly"]
    rules: {phrases: [iterate quickly]}
  - id: validation
    label: Validation
    examples: ["we check it first"]
  - id: notebooks
    label: Notebooks
    examples: ["the notebook"]
    relations: [{type: see-also, code: validation}]
relations:
  - {from: notebooks, type: serves, to: velocity, note: "quick exploration (5.1.1.2)"}
  - {from: notebooks, type: hinders, to: validation}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_relations_load_and_ties_combine_both_places(tmp_path):
    book = load_codebook(write(tmp_path, "b.yaml", BOOK))
    assert [tie.key for tie in book.relations] == [("notebooks", "serves", "velocity"), ("notebooks", "hinders", "validation")]
    assert book.relations[0].note == "quick exploration (5.1.1.2)"
    assert [tie.key for tie in book.ties()] == [
        ("notebooks", "see-also", "validation"),
        ("notebooks", "serves", "velocity"),
        ("notebooks", "hinders", "validation"),
    ]
    assert [tie.key for tie in book.ties(("serves",))] == [("notebooks", "serves", "velocity")]
    tree = as_tree(book)
    assert {(t["from"], t["type"], t["to"]) for t in tree.ties} == {tie.key for tie in book.ties()}
    assert tree_from_resolved(book.to_resolved_dict()).ties == tree.ties


def test_relations_are_in_the_hash_and_round_trip(tmp_path):
    book = load_codebook(write(tmp_path, "b.yaml", BOOK))
    without = load_codebook(write(tmp_path, "c.yaml", BOOK.split("relations:\n  - {from")[0]))
    assert book.hash != without.hash
    assert "relations" not in without.to_resolved_dict()
    reordered = BOOK.replace(
        '  - {from: notebooks, type: serves, to: velocity, note: "quick exploration (5.1.1.2)"}\n  - {from: notebooks, type: hinders, to: validation}\n',
        '  - {type: hinders, to: validation, from: notebooks}\n  - {note: "quick exploration (5.1.1.2)", from: notebooks, type: serves, to: velocity}\n',
    )
    assert load_codebook(write(tmp_path, "r.yaml", reordered)).hash == book.hash
    again = load_codebook(write(tmp_path, "again.yaml", book.to_yaml()))
    assert again.hash == book.hash and again.relations == book.relations


def test_unknown_codes_and_types_are_errors_with_path_and_line(tmp_path):
    bad = BOOK.replace("to: validation}", "to: validaton}").replace("type: serves", "type: helps")
    path = write(tmp_path, "bad.yaml", bad)
    problems = [p for p in lint_codebook(path) if p.severity == "error"]
    found = {(p.path, p.line): p for p in problems}
    assert "unknown code 'validaton'" in found[("relations -> 1 -> to", 17)].message
    assert "did you mean 'validation'" in found[("relations -> 1 -> to", 17)].fix
    assert "'serves' or 'hinders'" in found[("relations -> 0 -> type", 16)].message
    with pytest.raises(CodebookError):
        load_codebook(path)


def test_self_ties_and_repeats_are_warnings(tmp_path):
    text = BOOK + "  - {from: velocity, type: serves, to: velocity}\n  - {from: notebooks, type: hinders, to: validation}\n"
    warnings = [p for p in lint_codebook(write(tmp_path, "w.yaml", text)) if p.severity == "warning"]
    messages = " ".join(p.message for p in warnings)
    assert "ties a code to itself" in messages and "stated twice (first at relations -> 1)" in messages


def test_extends_appends_relations_and_retire_drops_them(tmp_path):
    write(tmp_path, "base.yaml", BOOK)
    child = write(
        tmp_path,
        "child.yaml",
        "name: child\nextends: base.yaml\nretire: [validation]\nrelations:\n  - {from: velocity, type: part-of, to: notebooks}\n",
    )
    book = load_codebook(child)
    assert [tie.key for tie in book.relations] == [("notebooks", "serves", "velocity"), ("velocity", "part-of", "notebooks")]
    diff = diff_codebooks(load_codebook(tmp_path / "base.yaml"), book)
    assert "velocity part-of notebooks" in diff.relations_added and "notebooks hinders validation" in diff.relations_removed


def test_shared_phrase_is_fine_between_codes_tied_at_top_level(tmp_path):
    text = BOOK.replace("    examples: [\"the notebook\"]\n", "    examples: [\"the notebook\"]\n    definition: d\n    rules: {phrases: [iterate quickly]}\n")
    problems = lint_codebook(write(tmp_path, "s.yaml", text))
    assert not [p for p in problems if "without a stated reason" in p.message]


def test_show_and_exports_list_the_relations(tmp_path):
    path = write(tmp_path, "b.yaml", BOOK)
    result = CliRunner().invoke(main, ["codebook", "show", str(path)])
    assert result.exit_code == 0, result.output
    assert "notebooks serves velocity quick exploration (5.1.1.2)" in result.output
    shown = json.loads(CliRunner().invoke(main, ["codebook", "show", str(path), "--json"]).output)
    assert shown["relations"][1] == {"from": "notebooks", "type": "hinders", "to": "validation"}
    book = load_codebook(path)
    assert "| `notebooks` | serves | `velocity` | quick exploration (5.1.1.2) |" in export_codebook(book, "md").decode()
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(export_codebook(book, "csv").decode()))}
    assert rows["notebooks"]["relations"] == "see-also:validation | serves:velocity | hinders:validation"


def test_the_default_codebook_ties_practices_and_pain_points_to_the_three_vs():
    book = load_codebook("default")
    lenses = {tie.to for tie in book.relations if tie.type in ("serves", "hinders")}
    assert lenses == {"velocity", "validation", "versioning"}
    keys = {tie.key for tie in book.relations}
    # the paper's stated tensions (its §5 and the study README's table)
    assert {("standardized-validation", "serves", "validation"), ("standardized-validation", "hinders", "velocity")} <= keys
    assert {("keeping-gpus-warm", "serves", "velocity"), ("keeping-gpus-warm", "hinders", "versioning")} <= keys
    assert {("diminishing-returns", "serves", "velocity"), ("diminishing-returns", "serves", "validation")} <= keys
    assert all(tie.note for tie in book.relations)
