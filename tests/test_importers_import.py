"""Library-level import: one checker per import, one transaction, VTT/SRT cue details."""

from __future__ import annotations

from pathlib import Path

import pytest

from qualkit.errors import InputError
from qualkit.store import Store
from qualkit.transcripts_schema import ImportOptions, import_files, read_transcript, validate_files
from qualkit.transcripts_schema.importing import expand_paths

from qualkit.transcripts_schema import anonymity

ZOOM = """WEBVTT

1
00:00:01.000 --> 00:00:03.500
Interviewer: How do you test data pipelines?

2
00:00:04.000 --> 00:00:06.000
P12: Mostly we don't.

3
00:00:06.000 --> 00:00:07.000
Honestly.

4
00:00:07.500 --> 00:00:09.000
P12: We look at row counts.
"""


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_zoom_labels_in_cues_and_unlabelled_cues_continue_the_speaker(tmp_path):
    transcript = read_transcript(_write(tmp_path, "zoom.vtt", ZOOM))
    assert [(t.speaker, t.text, t.start, t.end) for t in transcript.turns] == [
        ("Interviewer", "How do you test data pipelines?", 1.0, 3.5),
        ("P12", "Mostly we don't. Honestly. We look at row counts.", 4.0, 9.0),
    ]
    assert transcript.id == "P12"


def test_vtt_cue_ending_before_it_starts_is_reported_with_cue_and_line(tmp_path):
    bad = ZOOM.replace("00:00:06.000 --> 00:00:07.000", "00:00:06.000 --> 00:00:05.000")
    with pytest.raises(InputError) as caught:
        read_transcript(_write(tmp_path, "zoom.vtt", bad))
    [problem] = caught.value.problems
    assert problem.location == "cue 3 (line 12)" and "before it starts" in problem.message


def test_every_broken_srt_timing_is_listed(tmp_path):
    text = "1\n00:00:01,000 --> 00:00:02,000\nP1: a\n\n2\n00:00:02,000 --> 00:00:0x,000\nP1: b\n\n3\n00:00:03,000 --> 00:00:04\nP1: c\n"
    with pytest.raises(InputError) as caught:
        read_transcript(_write(tmp_path, "P1.srt", text))
    assert [problem.location for problem in caught.value.problems] == ["line 6", "line 10"]


def test_the_anonymity_checker_is_built_once_per_import(study, tmp_path, monkeypatch):
    built: list[object] = []

    class Counting(anonymity.AnonymityChecker):
        def __init__(self, *args, **kwargs):
            built.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(anonymity, "AnonymityChecker", Counting)
    from qualkit.transcripts_schema import importing

    monkeypatch.setattr(importing, "_CHECKERS", {})  # no checker cached by an earlier test in this process
    folder = tmp_path / "in"
    for number in (1, 2, 3):
        _write(folder, f"P{number}.txt", f"Interviewer: Hi.\nP{number}: Hello number {number}.\n")
    result = import_files(study, [folder])
    assert [item.transcript_id for item in result.files] == ["P1", "P2", "P3"]
    assert len(built) == 1


def test_a_failure_while_storing_rolls_back_the_whole_import(study, tmp_path, monkeypatch):
    folder = tmp_path / "in"
    for number in (1, 2):
        _write(folder, f"P{number}.txt", f"Interviewer: Hi.\nP{number}: Hello number {number}.\n")
    original = Store.store_transcript
    calls = []

    def failing(self, transcript, **kwargs):
        calls.append(transcript.id)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return original(self, transcript, **kwargs)

    monkeypatch.setattr(Store, "store_transcript", failing)
    with pytest.raises(RuntimeError):
        import_files(study, [folder])
    assert calls == ["P1", "P2"]
    for table in ("transcripts", "turns", "participants", "runs"):
        assert study.store.query(f"SELECT COUNT(*) FROM {table}")[0][0] == 0


def test_override_needs_a_reason(study, tmp_path):
    path = _write(tmp_path, "P1.txt", "Interviewer: Hi.\nP1: Hello.\n")
    with pytest.raises(InputError, match="reason"):
        import_files(study, [path], allow_findings=True, reason="  ")


def test_deny_list_from_the_study_config_is_used(study, tmp_path):
    (study.root / "deny.txt").write_text("Quillfeather\n", encoding="utf-8")
    config = study.config.model_copy(deep=True)
    config.anonymity.deny_list = "deny.txt"
    study.config = config
    path = _write(tmp_path, "P1.txt", "Interviewer: Where?\nP1: At quillfeather, for two years.\n")
    [report] = validate_files([path], study=study)
    assert [(f.kind, f.text, f.turn) for f in report.findings] == [("deny-list", "quillfeather", 1)]


def test_expand_paths_handles_folders_globs_and_missing_paths(tmp_path):
    folder = tmp_path / "t"
    for name in ("P10.txt", "P2.vtt", "P1.md", ".hidden.txt", "notes.pdf"):
        _write(folder, name, "x")
    assert [p.name for p in expand_paths([folder])] == ["P1.md", "P2.vtt", "P10.txt"]
    assert [p.name for p in expand_paths([str(folder / "P1*")])] == ["P1.md", "P10.txt"]
    with pytest.raises(InputError) as caught:
        expand_paths([folder / "nope.txt", str(folder / "*.docx")])
    assert len(caught.value.problems) == 2


def test_many_files_get_a_progress_bar_and_few_do_not():
    from qualkit.cli.transcripts import PROGRESS_THRESHOLD, _progress

    with _progress(PROGRESS_THRESHOLD + 1, "x", True) as advance:
        assert callable(advance)
        advance(Path("a"))
    with _progress(PROGRESS_THRESHOLD, "x", True) as advance:
        assert advance is None


def test_options_are_recorded_with_the_import_run(study, tmp_path):
    path = _write(tmp_path, "group.txt", "Host: Hi.\nAna: Hello.\nBo: Hey.\n")
    result = import_files(study, [path], options=ImportOptions(interviewers=("Host",), multi_party=True), allow_findings=True, reason="test")
    run = study.store.run(result.run_id)
    assert run["kind"] == "import" and '"multi_party":true' in run["parameters"]
