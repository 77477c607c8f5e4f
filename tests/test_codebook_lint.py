"""``lint_codebook`` and ``qualkit codebook lint``: every problem with YAML path and line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from qualkit.cli import main
from qualkit.codebook import lint_codebook

CLEAN = """\
name: clean
codes:
  - id: versioning
    label: Versioning
    definition: Versions of data and models.
    examples: ["we keep every model in the model registry"]
    rules:
      phrases: [model registry, version the dataset]
      patterns:
        - [{LEMMA: roll}, {OP: "?"}, {LOWER: back}]
  - id: retraining
    label: Retraining
    definition: Retraining models.
    examples: ["we retrain every week"]
    relations: [{type: see-also, code: versioning}]
    rules:
      phrases: [retrain every week, model registry]
"""


def write(tmp_path: Path, text: str, name: str = "cb.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_clean_codebook_has_no_problems_shared_phrase_with_relation_is_fine(tmp_path):
    assert lint_codebook(write(tmp_path, CLEAN)) == []


def test_shared_phrase_without_reason_is_a_warning_until_allowed(tmp_path):
    text = CLEAN.replace("    relations: [{type: see-also, code: versioning}]\n", "")
    problems = lint_codebook(write(tmp_path, text))
    assert [(p.severity, p.path, p.line) for p in problems] == [("warning", "codes -> 1 -> rules -> phrases -> 1", 16)]
    assert "also codes 'versioning'" in problems[0].message
    allowed = text.replace("phrases: [retrain every week, model registry]", "phrases: [retrain every week, model registry]\n      shared_phrases_ok: [model registry]")
    assert lint_codebook(write(tmp_path, allowed, "ok.yaml")) == []


def test_rules_that_can_never_match_are_reported(tmp_path):
    text = """\
name: never
codes:
  - id: a
    label: A
    definition: d
    rules:
      phrases: ["   ", roll back, rolled back]
      patterns:
        - [{LOWER: Back}]
        - [{LOWER: on-call}]
        - [{LEMMA: rolled}]
        - [{LOWER: back, OP: "?"}]
"""
    problems = lint_codebook(write(tmp_path, text))
    found = {(p.severity, p.path): p.message for p in problems}
    assert "has no words" in found[("error", "codes -> 0 -> rules -> phrases -> 0")]
    assert "same as a#phrase:1" in found[("warning", "codes -> 0 -> rules -> phrases -> 2")]
    assert "lowercase" in found[("error", "codes -> 0 -> rules -> patterns -> 0")]
    assert "splits it into" in found[("error", "codes -> 0 -> rules -> patterns -> 1")]
    assert "not a lemma" in found[("warning", "codes -> 0 -> rules -> patterns -> 2")]
    assert "optional" in found[("warning", "codes -> 0 -> rules -> patterns -> 3")]
    assert problems[0].severity == "error" and problems[-1].severity == "warning"


def test_structural_problems_come_with_lines(tmp_path):
    text = """\
name: broken
codes:
  - id: a
    label: A
    parent: missing
    relations: [{type: see-also, code: ghost}]
  - id: b
    label: B
    rules:
      phrases: [something]
      regex: ['(']
"""
    problems = lint_codebook(write(tmp_path, text))
    by_line = {(p.line, p.severity): p.message for p in problems}
    assert "unknown parent 'missing'" in by_line[(5, "error")]
    assert "unknown code 'ghost'" in by_line[(6, "error")]
    assert "no definition" in by_line[(7, "error")]
    assert "does not compile" in by_line[(11, "error")]


def test_duplicate_yaml_keys_are_reported(tmp_path):
    problems = lint_codebook(write(tmp_path, "name: x\nname: y\ncodes: []\n"))
    assert [p.message for p in problems] == ["duplicate key 'name' (YAML keeps only the last one)"]


def test_problems_in_a_base_file_name_that_file(tmp_path):
    write(tmp_path, "name: base\ncodes:\n  - id: a\n    label: A\n    parent: nope\n", "base.yaml")
    ext = write(tmp_path, "name: ext\nextends: base.yaml\ncodes:\n  - id: b\n    label: B\n", "ext.yaml")
    [problem] = [p for p in lint_codebook(ext) if p.severity == "error"]
    assert problem.file.endswith("base.yaml") and problem.line == 5


def test_codes_without_examples_get_a_warning_group_codes_do_not(tmp_path):
    text = CLEAN.replace('    examples: ["we retrain every week"]\n', "") + (
        "  - id: group\n    label: Group\n  - id: child\n    label: Child\n    parent: group\n    examples: [x]\n"
    )
    problems = lint_codebook(write(tmp_path, text))
    assert [(p.severity, p.path, p.line) for p in problems] == [("warning", "codes -> 1", 11)]
    assert "no examples" in problems[0].message and "codebook test" in problems[0].message


def test_cli_lint_exit_codes_and_json(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(main, ["codebook", "lint", str(write(tmp_path, CLEAN))])
    assert ok.exit_code == 0, ok.output
    assert "0 error(s)" in ok.output
    bad = runner.invoke(main, ["codebook", "lint", str(write(tmp_path, "name: x\ncodes:\n  - label: A\n", "bad.yaml"))])
    assert bad.exit_code == 1
    assert "'id' is required" in bad.output and "line 3" in bad.output
    as_json = runner.invoke(main, ["codebook", "lint", "--json", str(tmp_path / "bad.yaml")])
    assert as_json.exit_code == 1
    assert '"ok": false' in as_json.output
