"""`qualkit run` can do what `qualkit transcripts import` can: import options in qualkit.toml, per
study and per file glob ([[transcripts.files]]), recorded in the manifest; hints name the keys;
a refused run records nothing; outputs are checked before a step is skipped."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from qualkit.cli import main
from qualkit.study import Study
from qualkit.transcripts_schema.stored import load_transcript

CODEBOOK = """\
name: tiny
version: "1"
codes:
  - id: retraining
    label: Retraining
    definition: Retraining models.
    rules:
      phrases: [retrain]
"""

INTERVIEW = """\
Interviewer: How often do you retrain?
P1: We retrain every week, honestly it is just a cron job.
Interviewer: Anything else?
P1: Not really.
"""

PANEL = """\
Interviewer: Welcome to the panel. How often do you retrain?
P2: We retrain every night.
P3: We hardly retrain at all, maybe twice a year.
P4: Only when the data drifts.
Interviewer: Thanks, all.
"""

BASE = """\
[study]
name = "Panel study"

[transcripts]
sources = ["transcripts/*.txt", "panels/*.txt"]

[codebook]
path = "codebook/tiny.yaml"

[topics]
enabled = false
"""

PANEL_RULE = """
[[transcripts.files]]
glob = "panels/*.txt"
multi_party = true
"""


@pytest.fixture
def panel(tmp_path: Path) -> Path:
    root = tmp_path / "panel"
    for folder in ("transcripts", "panels", "codebook"):
        (root / folder).mkdir(parents=True)
    (root / "codebook" / "tiny.yaml").write_text(CODEBOOK, encoding="utf-8")
    (root / "transcripts" / "P1.txt").write_text(INTERVIEW, encoding="utf-8")
    (root / "panels" / "panel-1.txt").write_text(PANEL, encoding="utf-8")
    (root / "qualkit.toml").write_text(BASE, encoding="utf-8")
    return root


def _run(root: Path, *args: str):
    return CliRunner().invoke(main, ["--study", str(root), "run", *args], catch_exceptions=False)


def _count(root: Path, table: str) -> int:
    conn = sqlite3.connect(root / ".qualkit" / "store.sqlite")
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def test_a_multi_party_study_declared_only_in_qualkit_toml_builds(panel: Path):
    refused = _run(panel)
    assert refused.exit_code == 1
    assert "multi_party = true" in refused.output and "qualkit.toml" in refused.output
    assert "--multi-party" not in refused.output and "--speaker-role" not in refused.output
    assert 'speaker_roles = { "P2" = "participant" } in qualkit.toml' in refused.output
    assert 'interviewers = ["P2"] in qualkit.toml' in refused.output and "--interviewer" not in refused.output
    assert "nothing was recorded" in refused.output
    assert _count(panel, "runs") == 0 and _count(panel, "transcripts") == 0  # a refused run records nothing

    (panel / "qualkit.toml").write_text(BASE + PANEL_RULE, encoding="utf-8")
    result = _run(panel)
    assert result.exit_code == 0, result.output
    study = Study(panel)
    try:
        panel_transcript = load_transcript(study.store, "panel-1")
        roles = {turn.speaker: turn.role.value for turn in panel_transcript.turns}
        assert roles == {"Interviewer": "interviewer", "P2": "participant", "P3": "participant", "P4": "participant"}
        assert load_transcript(study.store, "P1").participant.id == "P1"
        # the manifest records which options each file was read with
        pipeline = study.store.latest_run("pipeline")
        manifest = json.loads(pipeline["manifest"])
        step = next(step for step in manifest["steps"] if step["step"] == "import")
        groups = {tuple(group["files"]): group for group in step["outputs"]["options"]}
        assert groups[("panels/panel-1.txt",)]["options"]["multi_party"] is True
        assert groups[("panels/panel-1.txt",)]["rules"] == ["1: panels/*.txt"]
        assert groups[("transcripts/P1.txt",)]["options"]["multi_party"] is False
        assert step["inputs"]["transcripts_config"]["files"][0]["glob"] == "panels/*.txt"
    finally:
        study.close()
    assert _run(panel).output.count("ran ") == 0  # the next run is a no-op


def test_allow_findings_and_reason_per_file_glob_are_recorded(panel: Path):
    (panel / "deny-list.txt").write_text("Acme Robotics\n", encoding="utf-8")
    (panel / "panels" / "panel-1.txt").write_text(PANEL.replace("every night.", "every night at Acme Robotics."), encoding="utf-8")
    config = BASE.replace("[codebook]", '[anonymity]\ndeny_list = "deny-list.txt"\nner = false\n\n[codebook]') + PANEL_RULE
    (panel / "qualkit.toml").write_text(config, encoding="utf-8")
    refused = _run(panel)
    assert refused.exit_code == 1
    assert 'allow_findings = true and reason = "why"' in refused.output and "--allow-findings" not in refused.output
    assert _count(panel, "runs") == 0

    (panel / "qualkit.toml").write_text(config + 'allow_findings = true\nreason = "the company agreed to be named"\n', encoding="utf-8")
    result = _run(panel)
    assert result.exit_code == 0, result.output
    study = Study(panel)
    try:
        rows = {row.id: row.anonymity_override for row in study.store.transcripts()}
        assert rows["panel-1"]["reason"] == "the company agreed to be named"
        assert rows["P1"] is None
    finally:
        study.close()


@pytest.mark.parametrize(
    "rule, expected",
    [
        ('[[transcripts.files]]\nglob = "panels/*.txt"\nmultiparty = true\n', "did you mean 'multi_party'"),
        ('[[transcripts.files]]\nglob = "panels/*.txt"\nallow_findings = true\n', "needs reason"),
        ('[[transcripts.files]]\nglob = "elsewhere/*.txt"\nmulti_party = true\n', "matches none of the files"),
        ('[[transcripts.files]]\nglob = "panels/*.txt"\nformat = "mardown"\n', "unknown transcript format"),
        ('[[transcripts.files]]\nglob = "*/*.txt"\nid = "X"\nmulti_party = true\n', "matches 2 files"),
    ],
)
def test_bad_file_rules_are_refused_with_their_place(panel: Path, rule: str, expected: str):
    (panel / "qualkit.toml").write_text(BASE + "\n" + rule, encoding="utf-8")
    result = _run(panel)
    assert result.exit_code == 1
    assert expected in result.output and "[[transcripts.files]] entry 1" in result.output
    assert "Traceback" not in result.output


def test_study_level_multi_party_and_csv_columns(panel: Path):
    (panel / "panels" / "panel-1.txt").unlink()
    (panel / "panels" / "panel-2.csv").write_text("Who,Said\nInterviewer,How often?\nP5,We retrain weekly.\nP6,Never.\n", encoding="utf-8")
    config = BASE.replace('"panels/*.txt"]', '"panels/*.csv"]').replace(
        "[codebook]", '[transcripts.csv_columns]\nspeaker = "Who"\ntext = "Said"\n\n[codebook]'
    ).replace('sources = [', 'multi_party = true\nsources = [')
    (panel / "qualkit.toml").write_text(config, encoding="utf-8")
    result = _run(panel)
    assert result.exit_code == 0, result.output
    study = Study(panel)
    try:
        turns = load_transcript(study.store, "panel-2").turns
        assert [(t.speaker, t.role.value) for t in turns] == [("Interviewer", "interviewer"), ("P5", "participant"), ("P6", "participant")]
    finally:
        study.close()


def test_a_truncated_or_deleted_report_is_rebuilt(panel: Path):
    (panel / "qualkit.toml").write_text(BASE + PANEL_RULE, encoding="utf-8")
    assert _run(panel).exit_code == 0
    html, md = panel / "reports" / "index.html", panel / "reports" / "report.md"
    good_html = html.read_bytes()
    html.write_bytes(good_html[:100])
    md.unlink()
    result = _run(panel)
    assert result.exit_code == 0, result.output
    assert "ran   report" in result.output and "output missing: reports/report.md" in result.output
    assert "Everything is up to date" not in result.output
    assert md.is_file() and html.read_bytes() == good_html
    again = _run(panel)
    assert "Everything is up to date." in again.output
    # an output edited in place keeping its size is caught by its hash
    table = next((panel / "reports" / "tables").glob("*.csv"))
    data = table.read_bytes()
    table.write_bytes(data[:-2] + b"XX")
    rerun = _run(panel)
    assert "ran   analyse" in rerun.output and "output changed since written" in rerun.output
    assert table.read_bytes() == data


def test_report_writes_leave_no_temporary_files(panel: Path):
    (panel / "qualkit.toml").write_text(BASE + PANEL_RULE, encoding="utf-8")
    assert _run(panel).exit_code == 0
    leftovers = [path.name for path in (panel / "reports").rglob("*") if path.name.endswith(".tmp")]
    assert leftovers == []
    assert oct((panel / "reports" / "index.html").stat().st_mode & 0o777) != oct(0o600)


def test_a_failure_after_finished_steps_says_what_is_kept(panel: Path):
    (panel / "qualkit.toml").write_text(BASE + PANEL_RULE, encoding="utf-8")
    book = panel / "codebook" / "tiny.yaml"
    book.write_text(CODEBOOK + "  - id: broken\n    label: Broken\n    rules:\n      regex: ['(unclosed']\n", encoding="utf-8")
    result = _run(panel)
    assert result.exit_code == 1
    assert "steps import finished and are kept" in result.output
    conn = sqlite3.connect(panel / ".qualkit" / "store.sqlite")
    rows = conn.execute("SELECT kind, status FROM runs ORDER BY id").fetchall()
    conn.close()
    assert rows[-1] == ("pipeline", "failed") and ("rules", "failed") not in rows


# -- one writer at a time: real processes ------------------------------------------------------------

import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from qualkit.pipeline.lock import pipeline_lock  # noqa: E402


def _spawn_run(root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "qualkit", "--study", str(root), "run", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_a_second_run_waits_for_the_lock_holder_with_a_message(panel: Path):
    (panel / "qualkit.toml").write_text(BASE + PANEL_RULE, encoding="utf-8")
    with pipeline_lock(panel / ".qualkit"):
        refused = _spawn_run(panel, "--no-wait")
        out, err = refused.communicate(timeout=120)
        assert refused.returncode == 1
        assert "another `qualkit run`" in out + err and "Traceback" not in out + err
        waiting = _spawn_run(panel)
        line = waiting.stderr.readline()
        assert "waiting for it to finish" in line
        time.sleep(0.5)
        assert waiting.poll() is None  # still waiting while the lock is held
        assert not (panel / "reports" / "index.html").exists()
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert "ran   report" in out
    assert (panel / "reports" / "index.html").is_file()


def test_two_concurrent_runs_do_the_work_once(panel: Path):
    (panel / "qualkit.toml").write_text(BASE + PANEL_RULE, encoding="utf-8")
    first, second = _spawn_run(panel), _spawn_run(panel)
    results = [proc.communicate(timeout=300) for proc in (first, second)]
    for proc, (out, err) in zip((first, second), results):
        assert proc.returncode == 0, out + err
    conn = sqlite3.connect(panel / ".qualkit" / "store.sqlite")
    kinds = [row[0] for row in conn.execute("SELECT kind FROM runs WHERE status = 'ok' ORDER BY id")]
    steps = conn.execute("SELECT COUNT(DISTINCT run_id) FROM pipeline_steps").fetchone()[0]
    conn.close()
    # one import run per group of options (interviews, panels), one rules run, one pipeline run
    assert kinds.count("rules") == 1 and kinds.count("import") == 2 and kinds.count("pipeline") == 1
    assert steps == 1  # every step's state comes from the one run that did the work
    assert sum("Everything is up to date." in out for out, _ in results) == 1


PODCAST = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "corpus" / "practicalai"


@pytest.mark.skipif(not PODCAST.is_dir(), reason="../shared/data is not here")
def test_real_podcast_transcripts_build_from_qualkit_toml_alone(tmp_path: Path):
    """Real multi-party files (Practical AI episodes, real names): qualkit.toml says everything."""
    root = tmp_path / "podcast-study"
    root.mkdir()
    folder = PODCAST.resolve()
    (root / "qualkit.toml").write_text(
        f"""[study]
name = "Podcast study"

[transcripts]
sources = ["{folder}/practical-ai-1.md", "{folder}/practical-ai-2.md"]

[[transcripts.files]]
glob = "{folder}/practical-ai-*.md"
multi_party = true
interviewers = ["Daniel Whitenack", "Chris Benson"]
allow_findings = true
reason = "public podcast: hosts and guests speak under their own names"

[topics]
enabled = false
""",
        encoding="utf-8",
    )
    result = _run(root)
    assert result.exit_code == 0, result.output
    study = Study(root)
    try:
        episode = load_transcript(study.store, "practical-ai-1")
        roles = {turn.speaker: turn.role.value for turn in episode.turns}
        assert roles["Daniel Whitenack"] == roles["Chris Benson"] == "interviewer"
        assert roles["Adam Stacoviak"] == roles["Jerod Santo"] == "participant"
        assert {row.id for row in study.store.transcripts()} == {"practical-ai-1", "practical-ai-2"}
    finally:
        study.close()
    assert (root / "reports" / "index.html").is_file()


def test_outputs_recorded_without_hashes_are_still_checked_for_existence(panel: Path):
    """A store written before output hashes were kept: a deleted report is still noticed."""
    (panel / "qualkit.toml").write_text(BASE + PANEL_RULE, encoding="utf-8")
    assert _run(panel).exit_code == 0
    conn = sqlite3.connect(panel / ".qualkit" / "store.sqlite")
    payload = json.loads(conn.execute("SELECT outputs FROM pipeline_steps WHERE step = 'report'").fetchone()[0])
    del payload["outputs"]["output_files"]
    conn.execute("UPDATE pipeline_steps SET outputs = ? WHERE step = 'report'", (json.dumps(payload),))
    conn.commit()
    conn.close()
    (panel / "reports" / "report.md").unlink()
    result = _run(panel)
    assert "ran   report" in result.output and "output missing: reports/report.md" in result.output


def test_an_output_written_atomically_is_never_half_written(tmp_path: Path):
    from qualkit.outputs import atomic_path, write_atomic

    target = tmp_path / "index.html"
    write_atomic(target, "<p>the good report</p>")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("<p>half a rep", encoding="utf-8")
            raise RuntimeError("killed while rendering")
    assert target.read_text(encoding="utf-8") == "<p>the good report</p>"
    assert [path.name for path in tmp_path.iterdir()] == ["index.html"]  # no temporary file left behind


def test_an_unwritable_lock_is_a_clean_error(panel: Path):
    (panel / ".qualkit").mkdir()
    (panel / ".qualkit" / "pipeline.lock").mkdir()  # a folder where the lock file goes
    result = _run(panel)
    assert result.exit_code == 1 and "cannot open the pipeline lock" in result.output
    assert "Traceback" not in result.output
