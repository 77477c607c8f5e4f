"""``qualkit transcripts``: schema, validate, import, list, show; bad input leaves the store unchanged."""

from __future__ import annotations

import json
import sqlite3
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from qualkit.cli import main
from qualkit.study import Study
from qualkit.transcripts_schema import SCHEMA_PATH


GOOD = "Interviewer: How do you deploy models?\nP1: We ship a container every Tuesday, more or less.\n"


def _run(study: Study, *args: str):
    return CliRunner().invoke(main, ["--study", str(study.root), "transcripts", *args])


def _snapshot(study: Study) -> dict[str, list[tuple]]:
    """Every row of every table, read through a fresh connection."""
    conn = sqlite3.connect(study.store_path)
    try:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {table: sorted(map(tuple, conn.execute(f"SELECT * FROM {table}")), key=repr) for table in tables}
    finally:
        conn.close()


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def seeded(study: Study, tmp_path: Path) -> Study:
    """A study that already holds one transcript (so 'unchanged' means more than 'empty')."""
    result = _run(study, "import", str(_write(tmp_path / "in", "P1.txt", GOOD)))
    assert result.exit_code == 0, result.output
    return study


# -- schema ---------------------------------------------------------------------------------
def test_schema_prints_the_shipped_json_schema(study):
    result = _run(study, "schema")
    assert result.exit_code == 0
    assert result.stdout == SCHEMA_PATH.read_text(encoding="utf-8")


# -- validate ---------------------------------------------------------------------------------
def test_validate_reports_turns_speakers_words_and_stores_nothing(study, tmp_path):
    path = _write(tmp_path, "P1.txt", GOOD)
    before = _snapshot(study)
    result = _run(study, "validate", str(path))
    assert result.exit_code == 0, result.output
    assert "2 turns" in result.stdout and "P1 = participant" in result.stdout and "Interviewer = interviewer" in result.stdout
    assert "anonymity: 0 finding(s)" in result.stdout
    assert _snapshot(study) == before


def test_validate_json_lists_findings_and_exits_1(study, tmp_path):
    path = _write(tmp_path, "P2.txt", "Interviewer: Contact?\nP2: Mail me at jo.smith@example.com please.\n")
    result = _run(study, "validate", "--json", str(path))
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    [report] = data["files"]
    assert report["parsed"] is True and report["turns"] == 2
    assert [f["kind"] for f in report["anonymity"]["findings"]] == ["email"]
    assert report["anonymity"]["findings"][0]["text"] == "jo.smith@example.com"


def test_validate_works_outside_a_study(tmp_path, monkeypatch):
    monkeypatch.delenv("QUALKIT_STUDY", raising=False)
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "P1.txt", GOOD)
    result = CliRunner().invoke(main, ["transcripts", "validate", "P1.txt"])
    assert result.exit_code == 0, result.output
    assert "1 of 1 file(s) ok" in result.stdout


def test_validate_folder_reports_every_file(study, tmp_path):
    folder = tmp_path / "many"
    _write(folder, "P1.txt", GOOD)
    _write(folder, "P2.txt", "no labels in this file at all\n")
    _write(folder, "notes.pdf", "ignored: no importer claims .pdf")
    result = _run(study, "validate", "--json", str(folder))
    assert result.exit_code == 1
    files = {Path(item["file"]).name: item for item in json.loads(result.stdout)["files"]}
    assert set(files) == {"P1.txt", "P2.txt"}
    assert files["P1.txt"]["ok"] and not files["P2.txt"]["parsed"]


# -- import ---------------------------------------------------------------------------------
def test_import_then_reimport_unchanged_changes_nothing_and_a_change_is_a_new_version(study, tmp_path):
    path = _write(tmp_path, "P1.txt", GOOD)
    first = _run(study, "import", "--json", str(path))
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["new"] == 1
    before = _snapshot(study)
    again = _run(study, "import", "--json", str(path))
    assert json.loads(again.stdout)["unchanged"] == 1 and json.loads(again.stdout)["run_id"] is None
    assert _snapshot(study) == before
    path.write_text(GOOD.replace("Tuesday", "Thursday"), encoding="utf-8")
    changed = json.loads(_run(study, "import", "--json", str(path)).stdout)
    assert changed["new_versions"] == 1 and changed["files"][0]["version"] == 2
    runs = study.store.query("SELECT kind, status FROM runs")
    assert [tuple(row) for row in runs] == [("import", "ok"), ("import", "ok")]


def test_import_without_paths_uses_the_study_sources_and_participants_csv(study):
    _write(study.root / "transcripts", "P1.txt", GOOD)
    _write(study.root / "transcripts", "P2.md", "**Interviewer:** Any incidents?\n\n**P2:** One, last spring.\n")
    _write(study.root, "participants.csv", "id,role,sector,interview_date,duration_minutes,team_size\nP2,MLE,retail,2026-02-01,41,4\n")
    result = _run(study, "import")
    assert result.exit_code == 0, result.output
    listed = json.loads(_run(study, "list", "--json").stdout)
    assert [(row["id"], row["source_format"], row["turn_count"]) for row in listed] == [("P1", "text", 2), ("P2", "markdown", 2)]
    shown = json.loads(_run(study, "show", "P2", "--json").stdout)
    assert shown["participant"] == {"id": "P2", "role": "MLE", "sector": "retail", "attributes": {"team_size": "4"}}
    assert shown["metadata"]["date"] == "2026-02-01" and shown["metadata"]["duration_minutes"] == 41


def test_speaker_roles_from_the_study_config(study, tmp_path):
    config = study.root / "qualkit.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace("interviewers = []", 'interviewers = ["Host"]').replace("speaker_roles = {}", 'speaker_roles = { "Producer" = "other" }')
    config.write_text(text, encoding="utf-8")
    path = _write(tmp_path, "P4.txt", "Host: Welcome.\nProducer: We are recording.\nP4: Great.\n")
    result = _run(study, "validate", "--json", str(path))
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.stdout)["files"]
    assert [(s["label"], s["role"]) for s in report["speakers"]] == [("Host", "interviewer"), ("Producer", "other"), ("P4", "participant")]
    # a mapping that makes Host the participant leaves P4 an unknown second participant
    assert _run(study, "validate", "--speaker-role", "Host=participant", str(path)).exit_code == 1


def test_findings_refuse_the_import_unless_overridden_with_a_reason(seeded, tmp_path):
    path = _write(tmp_path, "P3.txt", "Interviewer: Where?\nP3: See https://intranet.example.org/ml for details.\n")
    before = _snapshot(seeded)
    refused = _run(seeded, "import", str(path))
    assert refused.exit_code == 1
    assert "P3.txt" in refused.stderr and "url" in refused.stderr and "--allow-findings" in refused.stderr
    assert _snapshot(seeded) == before
    no_reason = _run(seeded, "import", "--allow-findings", str(path))
    assert no_reason.exit_code == 2
    assert _snapshot(seeded) == before
    allowed = _run(seeded, "import", "--allow-findings", "--reason", "internal URL, harmless", str(path))
    assert allowed.exit_code == 0, allowed.output
    override = next(row for row in seeded.store.transcripts() if row.id == "P3").anonymity_override
    assert override["findings"] == {"url": 1} and override["reason"] == "internal URL, harmless" and override["at"]


def test_one_bad_file_stores_nothing_from_the_batch(seeded, tmp_path):
    folder = tmp_path / "batch"
    _write(folder, "P4.txt", GOOD.replace("P1", "P4"))
    _write(folder, "P5.txt", "Interviewer: Hi\nP5: Hello\nStranger: Who is this?\n")
    before = _snapshot(seeded)
    result = _run(seeded, "import", str(folder))
    assert result.exit_code == 1
    assert "nothing was stored" in result.stderr and "Stranger" in result.stderr
    assert _snapshot(seeded) == before


def test_duplicate_transcript_ids_in_one_import_are_refused(seeded, tmp_path):
    a = _write(tmp_path / "a", "P6.txt", GOOD.replace("P1", "P6"))
    b = _write(tmp_path / "b", "P6.txt", GOOD.replace("P1", "P6").replace("Tuesday", "Friday"))
    before = _snapshot(seeded)
    result = _run(seeded, "import", str(a), str(b))
    assert result.exit_code == 1 and "'P6' is also the id of" in result.stderr
    assert _snapshot(seeded) == before


def test_many_files_import_with_progress(study, tmp_path):
    folder = tmp_path / "many"
    for number in range(1, 8):
        _write(folder, f"P{number}.txt", GOOD.replace("P1", f"P{number}").replace("Tuesday", f"day {number}"))
    result = _run(study, "import", str(folder))
    assert result.exit_code == 0, result.output
    assert "Imported 7 new" in result.stdout
    assert [row.id for row in study.store.transcripts()] == [f"P{n}" for n in range(1, 8)]


def test_usage_errors_exit_2(study, tmp_path):
    a, b = _write(tmp_path, "P1.txt", GOOD), _write(tmp_path, "P2.txt", GOOD.replace("P1", "P2"))
    assert _run(study, "import", "--id", "X", str(a), str(b)).exit_code == 2
    assert _run(study, "validate", "--speaker-role", "P1", str(a)).exit_code == 2
    assert _run(study, "validate", "--speaker-role", "P1=boss", str(a)).exit_code == 2
    assert _run(study, "import", "--reason", "why", str(a)).exit_code == 2


# -- list and show ---------------------------------------------------------------------------
def test_list_and_show(seeded):
    table = _run(seeded, "list")
    assert table.exit_code == 0 and "P1" in table.stdout and "text" in table.stdout
    shown = _run(seeded, "show", "P1")
    assert shown.exit_code == 0
    assert "[2] P1 (participant)" in shown.stdout and "every Tuesday" in shown.stdout
    data = json.loads(_run(seeded, "show", "P1", "--json").stdout)
    assert [turn["role"] for turn in data["turns"]] == ["interviewer", "participant"]
    missing = _run(seeded, "show", "P99")
    assert missing.exit_code == 1 and "P99" in missing.stderr and "P1" in missing.stderr


# -- bad input: clear message with file and place, exit 1, unchanged store --------------------
def _zip_of_something_else(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("photos/cat.jpg", b"not really a cat")


BAD_INPUTS = {
    "non-utf8": ("P7.txt", "Interviewer: Hi\nP7: caf\u00e9 au lait\n".encode("cp1252"), ["byte 23 (line 2)", "UTF-8"]),
    "empty": ("P7.txt", b"", ["file is empty"]),
    "no-labels": ("P7.txt", b"We talked about retraining for an hour.\nNobody took notes.\n", ["no speaker labels"]),
    "unknown-speaker": ("P7.txt", b"Interviewer: Hi\nAlice: Hello\nBob: Hi all\n", ["unknown speaker 'Alice'", "line 2", "--speaker-role"]),
    "broken-vtt": (
        "P7.vtt",
        b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nP7: ok\n\n00:00:0x.000 --> 00:00:03.000\nP7: bad\n",
        ["line 6", "broken cue timing"],
    ),
    "json-schema": (
        "P7.json",
        json.dumps({"id": "P7", "participant": {"id": ""}, "turns": [{"speaker": "P7", "role": "boss", "text": ""}]}).encode(),
        ["participant.id", "turns[0].role", "turns[0].text"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_refused_with_file_and_place_and_the_store_is_unchanged(seeded, tmp_path, case):
    name, data, expected = BAD_INPUTS[case]
    folder = tmp_path / "bad"
    folder.mkdir()
    bad = folder / name
    bad.write_bytes(data)
    good = _write(folder, "P8.txt", GOOD.replace("P1", "P8"))
    before = _snapshot(seeded)
    result = _run(seeded, "import", str(good), str(bad))
    assert result.exit_code == 1, result.output
    assert name in result.stderr
    for text in expected:
        assert text in result.stderr
    assert "Traceback" not in result.output
    assert _snapshot(seeded) == before


def test_docx_that_is_a_zip_of_something_else(seeded, tmp_path):
    path = tmp_path / "P7.docx"
    _zip_of_something_else(path)
    before = _snapshot(seeded)
    result = _run(seeded, "import", str(path))
    assert result.exit_code == 1
    assert "P7.docx" in result.stderr and "not a Word document" in result.stderr and "photos/cat.jpg" in result.stderr
    not_zip = tmp_path / "P8.docx"
    not_zip.write_bytes(b"plain text pretending to be Word")
    result = _run(seeded, "import", str(not_zip))
    assert result.exit_code == 1 and "not a ZIP archive" in result.stderr.replace("\n", " ")
    assert _snapshot(seeded) == before


def test_a_50_mb_file_is_refused_quickly_with_the_limit(seeded, tmp_path):
    path = tmp_path / "P9.txt"
    with path.open("wb") as handle:  # sparse: nothing is written, nothing need be read
        handle.truncate(50 * 1024 * 1024)
    before = _snapshot(seeded)
    started = time.perf_counter()
    result = _run(seeded, "import", str(path))
    assert time.perf_counter() - started < 5
    assert result.exit_code == 1
    assert "P9.txt" in result.stderr and "50.0 MB" in result.stderr and "limit of 20 MB" in result.stderr
    assert "max_file_mb" in result.stderr
    lower = _run(seeded, "validate", "--max-mb", "1", str(_write(tmp_path, "P10.txt", GOOD * 30000)))
    assert lower.exit_code == 1 and "limit of 1 MB" in lower.stdout
    assert _snapshot(seeded) == before
