"""CLI: ``qualkit code``, ``code explain``, ``codes list|show``, ``codebook show|diff|export|import``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qualkit.cli import main
from qualkit.transcripts_schema.model import Participant, Transcript, Turn

CODEBOOK = """\
name: cli-test
version: "2"
codes:
  - id: three-vs
    label: Three Vs
    definition: The three Vs of MLOps.
  - id: versioning
    label: Versioning
    parent: three-vs
    definition: Versions of data and models.
    rules:
      phrases: [version, model registry]
  - id: rollback
    label: Rollback
    definition: Undoing a deployment.
    rules:
      patterns:
        - [{LEMMA: roll}, {OP: "?"}, {OP: "?"}, {LOWER: back}]
"""


@pytest.fixture
def coded_study(study):
    (study.root / "codebook" / "cb.yaml").write_text(CODEBOOK, encoding="utf-8")
    config = study.root / "qualkit.toml"
    config.write_text(config.read_text().replace('path = "default"', 'path = "codebook/cb.yaml"'), encoding="utf-8")
    for tid, text in [("P1", "We version every dataset and rolled it back."), ("P2", "Nothing to see.")]:
        study.store.store_transcript(
            Transcript(
                id=tid,
                participant=Participant(id=tid),
                turns=[
                    Turn(speaker="Interviewer", role="interviewer", text="Do you version things?"),
                    Turn(speaker=tid, role="participant", text=text),
                ],
            )
        )
    study.close()
    return study.root


def run(root: Path, *args: str):
    return CliRunner().invoke(main, ["--study", str(root), *args], catch_exceptions=False)


def test_code_runs_the_pass_with_config_defaults(coded_study):
    result = run(coded_study, "code")
    assert result.exit_code == 0, result.output
    assert "coded 2 turn segments" in result.output
    assert "2 applications of 2 codes" in result.output
    as_json = json.loads(run(coded_study, "code", "--json", "--unit", "sentence", "--include-interviewer").output)
    assert as_json["ok"] is True and as_json["unit"] == "sentence" and as_json["segments_coded"] == 4
    assert as_json["code_counts"]["versioning"] == 3  # both interviewers' "version" too


def test_code_with_a_bad_codebook_exits_1_and_stores_nothing(coded_study, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncodes:\n  - id: a\n    label: A\n    definition: d\n    rules:\n      regex: ['(']\n")
    result = run(coded_study, "code", "--codebook", str(bad))
    assert result.exit_code == 1
    assert "a#regex:0" in result.output and "line 7" in result.output
    assert "no rules run" in run(coded_study, "codes", "list").output


def test_explain_highlights_matches_with_their_rules(coded_study):
    run(coded_study, "code")
    data = json.loads(run(coded_study, "code", "explain", "2", "--json").output)
    assert data["transcript_id"] == "P1" and data["role"] == "participant"
    assert [(m["code_id"], m["text"], m["rule"], m["rule_source"]) for m in data["matches"]] == [
        ("versioning", "version", "versioning#phrase:0", "version"),
        ("rollback", "rolled it back", "rollback#pattern:0", [{"LEMMA": "roll"}, {"OP": "?"}, {"OP": "?"}, {"LOWER": "back"}]),
    ]
    text = run(coded_study, "code", "explain", "2").output
    assert "We version every dataset and rolled it back." in text
    assert "versioning#phrase:0" in text and "rollback#pattern:0" in text
    missing = CliRunner().invoke(main, ["--study", str(coded_study), "code", "explain", "999"])
    assert missing.exit_code == 1 and "no segment 999" in missing.output


def test_codes_list_and_show_count_with_descendants(coded_study):
    run(coded_study, "code")
    data = json.loads(run(coded_study, "codes", "list", "--json").output)
    rows = {row["id"]: row for row in data["rows"]}
    assert (rows["versioning"]["applications"], rows["versioning"]["participants"]) == (1, 1)
    assert (rows["three-vs"]["applications"], rows["three-vs"]["segments"], rows["three-vs"]["participants"]) == (0, 1, 1)
    assert rows["versioning"]["depth"] == 1
    table = run(coded_study, "codes", "list").output
    assert "Versioning" in table and "rollback" in table
    shown = run(coded_study, "codes", "show", "three-vs").output
    assert "children: versioning" in shown and "1 segments, 1 participants" in shown
    unknown = CliRunner().invoke(main, ["--study", str(coded_study), "codes", "show", "versionin"])
    assert unknown.exit_code == 1 and "did you mean versioning" in unknown.output


def test_codebook_show_diff_export(coded_study, tmp_path):
    shown = run(coded_study, "codebook", "show", "--rules")
    assert "cli-test" in shown.output and "Versions of data and models." in shown.output and "phrase: model registry" in shown.output
    other = tmp_path / "other.yaml"
    other.write_text(CODEBOOK.replace("model registry", "model store"), encoding="utf-8")
    diff = run(coded_study, "codebook", "diff", str(coded_study / "codebook" / "cb.yaml"), str(other)).output
    assert "~ code versioning" in diff and "+ phrase: model store" in diff and "- phrase: model registry" in diff
    out = tmp_path / "cb.csv"
    assert run(coded_study, "codebook", "export", "--format", "csv", "--out", str(out)).exit_code == 0
    assert out.read_text().splitlines()[0].startswith("id,label,parent")
    md = run(coded_study, "codebook", "export", str(other), "--format", "md").output
    assert "# cli-test" in md


def test_codebook_export_qdc_and_import_round_trip(coded_study, tmp_path):
    qdc = tmp_path / "cb.qdc"
    assert run(coded_study, "codebook", "export", "--format", "qdc", "--out", str(qdc)).exit_code == 0
    back = tmp_path / "back.yaml"
    result = run(coded_study, "codebook", "import", str(qdc), "--out", str(back))
    assert result.exit_code == 0, result.output
    assert "3 codes" in result.output
    shown = json.loads(run(coded_study, "codebook", "show", str(back), "--json").output)
    assert [(c["id"], c["parent"]) for c in shown["codes"]] == [("three-vs", None), ("versioning", "three-vs"), ("rollback", None)]


def test_every_command_has_help():
    runner = CliRunner()
    for args in (["code"], ["code", "explain"], ["codes", "list"], ["codes", "show"], ["codebook", "lint"], ["codebook", "show"],
                 ["codebook", "diff"], ["codebook", "export"], ["codebook", "import"]):
        result = runner.invoke(main, [*args, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, args


@pytest.mark.parametrize(
    "content, expected",
    [
        ("name: x\ncodes:\n  - id: a\n    label: [oops\n", "line 5"),
        ("name: x\ncodes:\n  - label: A\n", "'id' is required"),
        ("name: x\ncodes:\n  - id: a\n    label: A\n    definition: d\n    rules:\n      patterns: [[{NOPE: a}]]\n", "a#pattern:0"),
        ("name: x\nextends: bad.yaml\ncodes: []\n", "extends cycle"),
        ("name: x\ncodes:\n  - id: a\n    label: A\n    definition: d\n    rules:\n      regex: ['(']\n", "does not compile"),
        (b"name: \xff\ncodes: []\n", "not UTF-8 (byte 6"),
    ],
)
def test_code_with_bad_codebooks_exits_1_with_the_place_and_stores_nothing(coded_study, tmp_path, content, expected):
    import sqlite3

    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    store = coded_study / ".qualkit" / "store.sqlite"

    def snapshot():
        with sqlite3.connect(store) as conn:
            return [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("codebooks", "runs", "segments", "code_applications")]

    before = snapshot()
    result = CliRunner().invoke(main, ["--study", str(coded_study), "code", "--codebook", str(bad)])
    assert result.exit_code == 1
    assert expected in result.output and "Traceback" not in result.output
    assert snapshot() == before
    assert CliRunner().invoke(main, ["codebook", "lint", str(bad)]).exit_code == 1
