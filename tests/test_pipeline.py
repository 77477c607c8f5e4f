"""`qualkit run`: incremental steps, resumption after failure, provenance, reproducibility."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from qualkit.cli import main
from qualkit.demo import copy_sample_study
from qualkit.pipeline import run_pipeline
from qualkit.study import Study

CODEBOOK = """\
name: tiny
version: "1"
codes:
  - id: practice
    label: Practice
    definition: Group of practices.
  - id: retraining
    label: Retraining
    parent: practice
    definition: Retraining models on a schedule.
    rules:
      phrases: [retrain, retraining schedule]
  - id: rollback
    label: Rollback
    parent: practice
    definition: Going back to an earlier model.
    rules:
      phrases: [roll back, previous model]
"""

TRANSCRIPT = """\
Interviewer: How often do you retrain?
{pid}: We retrain every week, honestly it is just a cron job.
Interviewer: And when something breaks?
{pid}: We roll back to the previous model and then look at the data.
Interviewer: Anything else?
{pid}: {extra}
"""

CONFIG = """\
[study]
name = "Tiny pipeline study"

[transcripts]
sources = ["transcripts/*.txt"]
participants = "participants.csv"

[codebook]
path = "codebook/tiny.yaml"

[topics]
enabled = false

[report]
formats = ["html", "md"]
"""


def _write_transcript(root: Path, pid: str, extra: str = "Not really, we keep it simple.") -> None:
    (root / "transcripts" / f"{pid}.txt").write_text(TRANSCRIPT.format(pid=pid, extra=extra), encoding="utf-8")


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    (root / "transcripts").mkdir(parents=True)
    (root / "codebook").mkdir()
    (root / "qualkit.toml").write_text(CONFIG, encoding="utf-8")
    (root / "codebook" / "tiny.yaml").write_text(CODEBOOK, encoding="utf-8")
    (root / "participants.csv").write_text(
        "id,role,company_size,sector,interview_date\nP1,MLE,large,retail,2026-01-01\nP2,MLE,small,finance,2026-01-08\nP3,MLE,small,health,2026-01-15\n",
        encoding="utf-8",
    )
    _write_transcript(root, "P1")
    _write_transcript(root, "P2", "We had to retrain after a bad deploy.")
    return root


def _run(root: Path, *args: str):
    return CliRunner().invoke(main, ["--study", str(root), "run", *args], catch_exceptions=False)


def _actions(root: Path, **kwargs) -> dict[str, str]:
    study = Study(root)
    try:
        result = run_pipeline(study, **kwargs)
        return {step.name: step.action for step in result.steps}
    finally:
        study.close()


def test_cold_then_noop_run(tiny: Path):
    cold = _actions(tiny)
    assert cold == {"import": "run", "code": "run", "learned": "disabled", "topics": "disabled", "analyse": "run", "report": "run", "export": "disabled"}
    assert (tiny / "reports" / "index.html").is_file()
    assert (tiny / "reports" / "report.md").is_file()
    assert _actions(tiny) == {"import": "skip", "code": "skip", "learned": "disabled", "topics": "disabled", "analyse": "skip", "report": "skip", "export": "disabled"}


def test_disabled_step_says_why(tiny: Path):
    study = Study(tiny)
    try:
        reasons = {step.name: step.reason for step in run_pipeline(study, dry_run=True).steps}
    finally:
        study.close()
    assert reasons["learned"] == "no human codings yet (`qualkit codings import` adds some)"  # [learned] is on by default
    assert reasons["topics"] == "turned off in qualkit.toml"
    toml = tiny / "qualkit.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "\n[learned]\nenabled = false\n", encoding="utf-8")
    study = Study(tiny)
    try:
        reasons = {step.name: step.reason for step in run_pipeline(study, dry_run=True).steps}
    finally:
        study.close()
    assert reasons["learned"] == "turned off in qualkit.toml ([learned] enabled = false)"


def test_cli_run_prints_steps_and_report_path(tiny: Path):
    result = _run(tiny)
    assert result.exit_code == 0, result.output
    assert "ran   import" in result.output and "ran   code" in result.output
    assert "Report:" in result.output and "index.html" in result.output
    again = _run(tiny)
    assert "Everything is up to date." in again.output


def test_dry_run_changes_nothing(tiny: Path):
    result = _run(tiny, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would run import" in result.output and "never ran" in result.output
    assert "would run code" in result.output and "upstream step import will run" in result.output
    assert not (tiny / "reports" / "index.html").exists()
    store = sqlite3.connect(tiny / ".qualkit" / "store.sqlite")
    assert store.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0] == 0


def test_adding_a_transcript_codes_only_that_transcript(tiny: Path):
    _actions(tiny)
    _write_transcript(tiny, "P3", "We retrain nightly now.")
    actions = _actions(tiny)
    assert actions["import"] == actions["code"] == actions["report"] == "run"
    study = Study(tiny)
    try:
        imports = study.store.query("SELECT manifest FROM runs WHERE kind = 'import' ORDER BY id")
        assert len(imports) == 2 and imports[-1]["manifest"].count('"file"') == 1  # only P3 was parsed again
        latest = study.store.latest_run("rules")
        import json

        manifest = json.loads(latest["manifest"])
        assert manifest["reused"]["transcripts"] == 2  # P1 and P2 kept the previous run's applications
        assert manifest["segments_coded"] == 3  # only P3's three participant turns were coded
        coded = {row["id"] for row in study.store.query(
            "SELECT DISTINCT t.id FROM code_applications a JOIN segments s ON s.pk = a.segment_pk "
            "JOIN transcripts t ON t.pk = s.transcript_pk WHERE a.run_id = ?", (latest["id"],))}
        assert coded == {"P1", "P2", "P3"}
    finally:
        study.close()
    report = (tiny / "reports" / "report.md").read_text(encoding="utf-8")
    assert "Changes since the previous run" in report
    assert "(P3)" in report  # P3 newly supports Retraining


def test_changing_a_rule_recodes_without_reimporting(tiny: Path):
    _actions(tiny)
    book = tiny / "codebook" / "tiny.yaml"
    book.write_text(book.read_text(encoding="utf-8").replace("[retrain, retraining schedule]", "[retrain, cron job]"), encoding="utf-8")
    study = Study(tiny)
    try:
        result = run_pipeline(study)
        plans = {step.name: step for step in result.steps}
        assert plans["import"].action == "skip"
        assert plans["code"].action == "run" and "codebook" in plans["code"].reason
        assert plans["report"].action == "run"
    finally:
        study.close()
    report = (tiny / "reports" / "report.md").read_text(encoding="utf-8")
    assert "Changes since the previous run" in report and "which used a different codebook" in report


def test_force_redoes_a_step(tiny: Path):
    _actions(tiny)
    actions = _actions(tiny, force=["report"])
    assert actions["report"] == "run" and actions["code"] == "skip"
    result = _run(tiny, "--force", "nonsense")
    assert result.exit_code == 1 and "unknown step" in result.output + (result.stderr if result.stderr_bytes else "")


def test_failed_step_keeps_earlier_work_and_the_next_run_resumes(tiny: Path):
    book = tiny / "codebook" / "tiny.yaml"
    good = book.read_text(encoding="utf-8")
    book.write_text(good + "  - id: broken\n    label: Broken\n    rules:\n      regex: ['(unclosed']\n", encoding="utf-8")
    result = _run(tiny)
    assert result.exit_code == 1
    assert "tiny.yaml" in result.output and "broken" in result.output
    assert "Traceback" not in result.output
    study = Study(tiny)
    try:
        assert study.store.latest_run("rules") is None
        assert len(study.store.transcripts()) == 2  # the import step finished and is kept
    finally:
        study.close()
    book.write_text(good, encoding="utf-8")
    actions = _actions(tiny)
    assert actions["import"] == "skip" and actions["code"] == "run"


def test_bad_config_messages(tiny: Path):
    config = tiny / "qualkit.toml"
    config.write_text(CONFIG.replace('[codebook]\npath = "codebook/tiny.yaml"', '[codebook]\npaht = "codebook/tiny.yaml"'), encoding="utf-8")
    result = _run(tiny)
    assert result.exit_code == 1 and "unknown key 'codebook.paht'" in result.output and "did you mean 'path'" in result.output
    config.write_text(CONFIG + "\n[report\n", encoding="utf-8")
    result = _run(tiny)
    assert result.exit_code == 1 and "line" in result.output and "column" in result.output
    config.write_text(CONFIG.replace("transcripts/*.txt", "interviews/*.txt"), encoding="utf-8")
    result = _run(tiny)
    assert result.exit_code == 1 and "match no file" in result.output
    config.write_text(CONFIG.replace("codebook/tiny.yaml", "codebook/missing.yaml"), encoding="utf-8")
    result = _run(tiny)
    assert result.exit_code == 1 and "missing.yaml" in result.output


def test_runs_list_show_diff(tiny: Path):
    _actions(tiny)
    book = tiny / "codebook" / "tiny.yaml"
    book.write_text(book.read_text(encoding="utf-8").replace("[retrain, retraining schedule]", "[retraining schedule]"), encoding="utf-8")
    _actions(tiny)
    runner = CliRunner()
    listing = runner.invoke(main, ["--study", str(tiny), "runs", "list", "--json"])
    assert listing.exit_code == 0, listing.output
    import json

    runs = json.loads(listing.output)
    rules = [run["id"] for run in runs if run["kind"] == "rules"]
    assert len(rules) == 2
    shown = runner.invoke(main, ["--study", str(tiny), "runs", "show", str(rules[0])])
    assert shown.exit_code == 0 and '"codebook"' in shown.output
    diff = runner.invoke(main, ["--study", str(tiny), "runs", "diff", str(rules[1]), str(rules[0]), "--json"])
    data = json.loads(diff.output)
    assert data["codebook"] is not None
    retraining = next(row for row in data["codes"] if row["code_id"] == "retraining")
    # "retrain" matched P1's and P2's first answers and P2's last one; nothing else says "retraining schedule"
    assert (retraining["segments_a"], retraining["segments_b"], retraining["lost"], retraining["gained"]) == (3, 0, 3, 0)
    assert all(row["code_id"] != "rollback" for row in data["codes"])
    missing = runner.invoke(main, ["--study", str(tiny), "runs", "show", "999"])
    assert missing.exit_code == 1 and "no run 999" in missing.output


def _normalised(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return re.sub(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00", "<timestamp>", text)


def test_two_runs_on_the_same_inputs_give_identical_reports(tiny: Path, tmp_path: Path):
    twin = tmp_path / "twin"
    shutil.copytree(tiny, twin)
    _actions(tiny)
    _actions(twin)
    for name in ("index.html", "report.md"):
        assert _normalised(tiny / "reports" / name) == _normalised(twin / "reports" / name)
    tables = sorted((tiny / "reports" / "tables").iterdir())
    assert tables
    for table in tables:
        assert table.read_bytes() == (twin / "reports" / "tables" / table.name).read_bytes()


@pytest.mark.slow
def test_sample_study_cold_noop_add_transcript_and_change_rule(tmp_path: Path):
    root = copy_sample_study(tmp_path / "sample")
    every = {"import", "code", "topics", "analyse", "report", "export"}
    cold = _actions(root)
    assert {name for name, action in cold.items() if action == "run"} == every
    assert _actions(root) == {name: "skip" for name in every} | {"learned": "disabled"}  # no human codings
    html = (root / "reports" / "index.html").read_text(encoding="utf-8")
    assert "Emergent themes" in html and "Velocity" in html and "Changes since the previous run" not in html

    # adding one interview re-imports and codes only that interview
    (root / "transcripts" / "P11.txt").write_text(TRANSCRIPT.format(pid="P11", extra="We retrain nightly."), encoding="utf-8")
    added = _actions(root)
    assert {name for name, action in added.items() if action == "run"} == every
    study = Study(root)
    try:
        import json

        manifest = json.loads(study.store.latest_run("rules")["manifest"])
        assert manifest["reused"]["transcripts"] == 10 and manifest["segments_coded"] == 3
    finally:
        study.close()

    # changing a rule re-codes but does not re-import
    (root / "codebook" / "study.yaml").write_text(
        "name: sample-study\nversion: '2'\nextends: default\ncodes:\n  - id: frequent-retraining\n"
        "    rules:\n      phrases: [cron job]\n",
        encoding="utf-8",
    )
    config = root / "qualkit.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('path = "default"', 'path = "codebook/study.yaml"'), encoding="utf-8")
    changed = _actions(root)
    assert changed["import"] == "skip"
    assert {name for name, action in changed.items() if action == "run"} == every - {"import"}
    report = (root / "reports" / "report.md").read_text(encoding="utf-8")
    assert "Changes since the previous run" in report and "which used a different codebook" in report


def test_human_codings_hash_is_scanned_once_per_state_and_sees_every_writer(tmp_path):
    import sqlite3

    from qualkit.pipeline.steps import human_codings_hash
    from qualkit.study import init_study
    from qualkit.transcripts_schema.model import Participant, Transcript, Turn

    study = init_study(tmp_path / "study", name="hash")
    study.store.store_transcript(Transcript(id="P1", participant=Participant(id="P1"),
                                            turns=[Turn(speaker="P1", role="participant", text="We retrain weekly.")]))
    assert human_codings_hash(study) is None
    insert = ("INSERT INTO human_codings (coder, transcript_pk, code_id, created_at) "
              "VALUES (?, (SELECT pk FROM transcripts), 'retraining', '2026-01-01')")
    with study.store.transaction() as conn:  # this connection's own write
        conn.execute(insert, ("alice",))
    first = human_codings_hash(study)
    assert first is not None and human_codings_hash(study) == first
    other = sqlite3.connect(study.store_path)  # another process's write (the workbench, a CLI)
    other.execute(insert, ("bob",))
    other.commit()
    other.close()
    second = human_codings_hash(study)
    assert second not in (None, first)
    study.close()
