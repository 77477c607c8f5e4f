"""The codebook: loading, extends/retire, hash, tree, schema, diff, export, bad input."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from qualkit.codebook import (
    bundled_codebooks,
    codebook_json_schema,
    diff_codebooks,
    export_codebook,
    load_codebook,
)
from qualkit.codebook.schema import SCHEMA_FILE
from qualkit.errors import CodebookError

BASE = """\
name: base
version: "1.0"
description: A test codebook.
codes:
  - id: three-vs
    label: Three Vs
    definition: The three Vs.
  - id: velocity
    label: Velocity
    parent: three-vs
    definition: Speed of iteration.
    examples: ["we ship in an afternoon"]
    relations:
      - {type: tension-with, code: validation, note: speed vs checks}
    rules:
      phrases: [iterate quickly, ship fast]
  - id: validation
    label: Validation
    parent: three-vs
    definition: Checking before release.
    rules:
      phrases: [shadow mode]
      patterns:
        - [{LEMMA: roll}, {OP: "?"}, {LOWER: back}]
  - id: gpus-warm
    label: Keeping GPUs warm
    definition: Running jobs to use hardware.
    rules:
      regex: ['\\bGPUs? (?:warm|busy)']
"""


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> CodebookError:
    with pytest.raises(CodebookError) as info:
        load_codebook(path)
    return info.value


def test_load_gives_codes_in_file_order_and_a_tree(tmp_path):
    book = load_codebook(write(tmp_path, "base.yaml", BASE))
    assert (book.name, book.version, book.description) == ("base", "1.0", "A test codebook.")
    assert list(book.codes) == ["three-vs", "velocity", "validation", "gpus-warm"]
    assert book.roots() == ["three-vs", "gpus-warm"]
    assert book.children("three-vs") == ["velocity", "validation"]
    assert book.ancestors("velocity") == ["three-vs"]
    assert book.descendants("three-vs") == ["velocity", "validation"]
    assert book.get("velocity").relations[0].code == "validation"
    assert book.get("validation").rules.patterns[0][0] == {"LEMMA": "roll"}
    assert book.get("gpus-warm").rules.regex == [r"\bGPUs? (?:warm|busy)"]
    assert book.source_path == tmp_path / "base.yaml"
    assert len(book.hash) == 64


def test_hash_ignores_key_order_comments_and_formatting(tmp_path):
    a = load_codebook(write(tmp_path, "a.yaml", BASE))
    data = yaml.safe_load(BASE)
    shuffled = {"codes": [dict(reversed(list(code.items()))) for code in reversed(data["codes"])], **{k: v for k, v in data.items() if k != "codes"}}
    text = "# a comment\n" + yaml.safe_dump(shuffled, sort_keys=True, default_flow_style=True)
    b = load_codebook(write(tmp_path, "b.yaml", text))
    assert a.hash == b.hash
    changed = load_codebook(write(tmp_path, "c.yaml", BASE.replace("ship fast", "ship faster")))
    assert changed.hash != a.hash


def test_save_yaml_round_trips_to_the_same_hash(tmp_path):
    book = load_codebook(write(tmp_path, "base.yaml", BASE))
    again = load_codebook(book.save_yaml(tmp_path / "saved.yaml"))
    assert again.hash == book.hash
    assert "weight" not in (tmp_path / "saved.yaml").read_text()  # defaults are left out


def test_extends_appends_rules_overrides_fields_and_retires(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    (tmp_path / "sub").mkdir()
    ext = write(
        tmp_path / "sub",
        "ext.yaml",
        """\
name: ext
extends: ../base.yaml
retire: [gpus-warm]
codes:
  - id: velocity
    definition: Overridden.
    rules:
      phrases: [move fast]
      weight: 2
  - id: retraining
    label: Retraining
    parent: velocity
    definition: Retraining often.
    rules:
      phrases: [retrain every week]
""",
    )
    book = load_codebook(ext)
    assert list(book.codes) == ["three-vs", "velocity", "validation", "retraining"]
    velocity = book.get("velocity")
    assert velocity.definition == "Overridden."
    assert velocity.label == "Velocity"  # inherited
    assert velocity.rules.phrases == ["iterate quickly", "ship fast", "move fast"]
    assert velocity.rules.weight == 2
    assert book.descendants("three-vs") == ["velocity", "retraining", "validation"]
    assert Path(book.chain[-1]).name == "base.yaml"


def test_extends_chain_of_three_and_retire_with_children_is_an_error(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    write(tmp_path, "mid.yaml", "name: mid\nextends: base.yaml\ncodes:\n  - id: extra\n    label: Extra\n")
    top = write(tmp_path, "top.yaml", "name: top\nextends: mid.yaml\nretire: [three-vs]\ncodes: []\n")
    error = error_of(top)
    assert "children velocity, validation" in error.render()
    fixed = write(tmp_path, "top2.yaml", "name: top\nextends: mid.yaml\nretire: [three-vs, velocity, validation]\n")
    book = load_codebook(fixed)
    assert list(book.codes) == ["gpus-warm", "extra"]


def test_retire_drops_requires_and_relations_to_the_retired_code(tmp_path):
    write(tmp_path, "base.yaml", BASE.replace("phrases: [shadow mode]", "phrases: [shadow mode]\n      requires: [velocity, model]"))
    write(tmp_path, "x.yaml", "name: x\nextends: base.yaml\nretire: [velocity]\n")
    book = load_codebook(tmp_path / "x.yaml")
    assert book.get("validation").rules.requires == ["model"]
    assert "velocity" not in book


def test_bundled_reference_and_unknown_reference(tmp_path):
    with pytest.raises(CodebookError) as info:
        load_codebook("no-such-codebook")
    assert "not a bundled codebook" in info.value.render()
    if "default" in bundled_codebooks():
        assert load_codebook("default").name


# -- bad input: each a clear CodebookError naming the place ---------------------------------------


def test_yaml_syntax_error_names_line_and_column(tmp_path):
    error = error_of(write(tmp_path, "bad.yaml", "name: x\ncodes:\n  - id: a\n    label: [unclosed\n"))
    problem = error.problems[0]
    assert "YAML syntax error" in problem.message
    assert problem.location.startswith("line ")
    assert "column" in problem.location


def test_code_without_id_names_the_yaml_path_and_line(tmp_path):
    error = error_of(write(tmp_path, "noid.yaml", "name: x\ncodes:\n  - id: a\n    label: A\n  - label: B\n    definition: d\n"))
    [problem] = error.problems
    assert "'id' is required" in problem.message
    assert problem.location == "line 5, column 5 (codes -> 1 -> id)"


def test_invalid_matcher_pattern_names_code_rule_and_spacy_reason(tmp_path):
    text = "name: x\ncodes:\n  - id: roll\n    label: R\n    definition: d\n    rules:\n      patterns:\n        - [{LEMMA: roll}]\n        - [{LEMA: roll}, {OP: '??'}]\n"
    error = error_of(write(tmp_path, "pat.yaml", text))
    messages = [problem.message for problem in error.problems]
    assert any("roll#pattern:1" in m and "LEMA" in m and "Extra inputs" in m for m in messages)
    assert any("roll#pattern:1" in m and "OP" in m for m in messages)
    assert all("line 9" in problem.location for problem in error.problems)


def test_extends_cycle_is_an_error(tmp_path):
    write(tmp_path, "a.yaml", "name: a\nextends: b.yaml\ncodes: []\n")
    write(tmp_path, "b.yaml", "name: b\nextends: a.yaml\ncodes: []\n")
    error = error_of(tmp_path / "a.yaml")
    assert "extends cycle" in error.render()
    assert "a.yaml -> b.yaml -> a.yaml" in error.render().replace(str(tmp_path) + "/", "")


def test_extends_not_found_is_an_error(tmp_path):
    error = error_of(write(tmp_path, "a.yaml", "name: a\nextends: missing.yaml\ncodes: []\n"))
    assert "extends 'missing.yaml'" in error.render()
    assert error.problems[0].location.startswith("line 2")


def test_regex_that_does_not_compile(tmp_path):
    error = error_of(write(tmp_path, "re.yaml", "name: x\ncodes:\n  - id: a\n    label: A\n    definition: d\n    rules:\n      regex: ['ok', '(unclosed']\n"))
    [problem] = error.problems
    assert "a#regex:1" in problem.message and "does not compile" in problem.message
    assert problem.location.startswith("line 7")


def test_codebook_not_utf8_names_the_byte(tmp_path):
    raw = "name: caf\u00e9\ncodes: []\n".encode("latin-1")
    error = error_of(write(tmp_path, "latin.yaml", raw))
    assert "not UTF-8" in error.render()
    offset = raw.index(bytes([0xE9]))
    assert error.problems[0].location == f"byte {offset}"


def test_every_problem_is_listed_not_just_the_first(tmp_path):
    text = """\
name: x
codes:
  - id: a
    label: Same
    parent: nowhere
  - id: b
    label: Same
  - id: a
    label: Other
  - id: Bad_Id
    label: Z
  - id: c
    label: C
    parent: d
  - id: d
    label: D
    parent: c
"""
    error = error_of(write(tmp_path, "many.yaml", text))
    rendered = error.render()
    for expected in ("unknown parent 'nowhere'", "duplicate label 'Same'", "duplicate code id 'a'", "invalid code id 'Bad_Id'", "parent cycle"):
        assert expected in rendered
    assert len(error.problems) >= 5


def test_unknown_keys_get_a_did_you_mean(tmp_path):
    error = error_of(write(tmp_path, "k.yaml", "name: x\ncodes:\n  - id: a\n    label: A\n    definiton: d\n"))
    [problem] = error.problems
    assert "unknown key 'definiton'" in problem.message
    assert "definition" in problem.fix


# -- schema, diff, export ---------------------------------------------------------------------


def test_shipped_json_schema_equals_the_generated_one():
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == codebook_json_schema()


def test_diff_reports_codes_and_rules_added_removed_changed(tmp_path):
    a = load_codebook(write(tmp_path, "a.yaml", BASE))
    b_text = BASE.replace("phrases: [iterate quickly, ship fast]", "phrases: [iterate quickly, move fast]").replace(
        "Checking before release.", "Checks."
    )
    b_text = b_text.split("  - id: gpus-warm")[0] + "  - id: new-code\n    label: New\n"
    b = load_codebook(write(tmp_path, "b.yaml", b_text))
    diff = diff_codebooks(a, b)
    assert diff.added == ["new-code"]
    assert diff.removed == ["gpus-warm"]
    changed = {change.code_id: change for change in diff.changed}
    assert set(changed) == {"velocity", "validation"}
    assert changed["velocity"].rules_added == ["phrase: move fast"]
    assert changed["velocity"].rules_removed == ["phrase: ship fast"]
    assert changed["validation"].fields["definition"] == ("Checking before release.", "Checks.")
    assert diff_codebooks(a, a).is_empty


def test_export_markdown_and_csv(tmp_path):
    book = load_codebook(write(tmp_path, "a.yaml", BASE))
    md = export_codebook(book, "md").decode()
    assert "## Three Vs (`three-vs`)" in md and "### Velocity (`velocity`)" in md
    rows = list(csv.DictReader(io.StringIO(export_codebook(book, "csv").decode())))
    assert [row["id"] for row in rows] == ["three-vs", "velocity", "validation", "gpus-warm"]
    assert rows[1]["parent"] == "three-vs" and rows[1]["depth"] == "1"
    assert rows[1]["phrases"] == "iterate quickly | ship fast"
    assert load_codebook(write(tmp_path, "round.yaml", export_codebook(book, "yaml").decode())).hash == book.hash


def test_qdc_export_validates_and_imports_back_with_the_same_tree(tmp_path, shared_data):
    from qualkit.interop import qdc
    xmlschema = pytest.importorskip("xmlschema")
    from qualkit.codebook import import_qdc

    book = load_codebook(write(tmp_path, "a.yaml", BASE))
    data = export_codebook(book, "qdc")
    (tmp_path / "a.qdc").write_bytes(data)
    xmlschema.XMLSchema(str(shared_data / "refi" / "refi-qda-codebook.xsd")).validate(str(tmp_path / "a.qdc"))
    back = import_qdc(tmp_path / "a.qdc", tmp_path / "back.yaml")
    assert [(code.id, code.label, code.parent) for code in back] == [(code.id, code.label, code.parent) for code in book]
    assert back.get("velocity").definition.startswith("Speed of iteration.")
    assert load_codebook(tmp_path / "back.yaml").hash == back.hash
    assert qdc is not None


def test_default_codebook_loads_and_lints_clean():
    assert "default" in bundled_codebooks()
    from qualkit.codebook import lint_codebook

    book = load_codebook("default")
    assert len(book) > 20
    errors = [problem.format() for problem in lint_codebook("default") if problem.severity == "error"]
    assert errors == []
