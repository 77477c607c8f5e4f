"""Import at scale: streaming (bounded memory), all-or-nothing, every problem reported, on a backend."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from qualkit.errors import AnonymityError, InputError
from qualkit.execution import LocalBackend
from qualkit.study import Study
from qualkit.transcripts_schema import importing
from qualkit.transcripts_schema.importing import import_files

TURNS = """Interviewer: How do you version your models?
{pid}: We keep every model in a registry and tag each version with the data snapshot. Number {n}.
Interviewer: And rollbacks?
{pid}: We roll back by pointing the service at the previous version.
"""


def write_corpus(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(1, n + 1):
        path = folder / f"P{number}.txt"
        path.write_text(TURNS.format(pid=f"P{number}", n=number), encoding="utf-8")
        paths.append(path)
    return paths


def stored_count(study: Study) -> int:
    return study.store.query("SELECT COUNT(*) AS n FROM transcripts")[0]["n"]


def test_import_streams_and_keeps_no_transcript_in_memory(study: Study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_corpus(tmp_path / "corpus", 40)
    alive: list[weakref.ref] = []
    most_alive = 0
    real = importing.read_and_check

    def tracking(path, context):  # type: ignore[no-untyped-def]
        nonlocal most_alive
        gc.collect()
        most_alive = max(most_alive, sum(1 for ref in alive if ref() is not None))
        report = real(path, context)
        alive.append(weakref.ref(report.transcript))
        return report

    monkeypatch.setattr(importing, "read_and_check", tracking)
    result = import_files(study, [str(tmp_path / "corpus")], backend=LocalBackend())
    assert stored_count(study) == 40 and result.count("new") == 40
    assert most_alive <= 1  # at most the transcript being stored is in memory
    assert all(report.parsed and report.transcript is None and report.released for report in result.reports)
    assert [item.transcript_id for item in result.files][:3] == ["P1", "P2", "P3"]


def test_a_bad_file_in_the_middle_stores_nothing_and_every_problem_is_listed(study: Study, tmp_path: Path) -> None:
    paths = write_corpus(tmp_path / "corpus", 12)
    paths[4].write_text("", encoding="utf-8")  # empty: cannot be imported
    paths[9].write_bytes(b"\xff\xfe\x00garbage\x00\x00")  # not text
    with pytest.raises(InputError) as caught:
        import_files(study, [str(tmp_path / "corpus")])
    assert "2 of 12 file(s) cannot be imported; nothing was stored" in caught.value.message
    files = {Path(problem.file).name for problem in caught.value.problems}
    assert {"P5.txt", "P10.txt"} <= files  # the problem after the first one is reported too
    assert stored_count(study) == 0
    assert study.store.query("SELECT COUNT(*) AS n FROM turns")[0]["n"] == 0
    assert study.store.query("SELECT COUNT(*) AS n FROM runs")[0]["n"] == 0


def test_anonymity_findings_anywhere_store_nothing(study: Study, tmp_path: Path) -> None:
    paths = write_corpus(tmp_path / "corpus", 6)
    paths[3].write_text(
        "Interviewer: Hi\nP4: Mail me at jane.doe@example.com or call 555-123-4567.\n", encoding="utf-8"
    )
    with pytest.raises(AnonymityError) as caught:
        import_files(study, [str(tmp_path / "corpus")])
    assert "1 of 6 file(s) are not anonymized" in caught.value.message
    assert all(Path(problem.file).name == "P4.txt" for problem in caught.value.problems)
    assert stored_count(study) == 0
    result = import_files(study, [str(tmp_path / "corpus")], allow_findings=True, reason="test corpus")
    assert stored_count(study) == 6
    assert [item.override for item in result.files].count(True) == 1


def test_duplicate_ids_are_found_across_the_stream(study: Study, tmp_path: Path) -> None:
    write_corpus(tmp_path / "a", 3)
    write_corpus(tmp_path / "b", 1)  # b/P1.txt has the id of a/P1.txt
    with pytest.raises(InputError) as caught:
        import_files(study, [str(tmp_path / "a"), str(tmp_path / "b")])
    assert "also the id of" in caught.value.problems[0].message
    assert stored_count(study) == 0


def test_reimport_is_unchanged_and_new_versions_are_recorded(study: Study, tmp_path: Path) -> None:
    paths = write_corpus(tmp_path / "corpus", 5)
    first = import_files(study, [str(tmp_path / "corpus")])
    again = import_files(study, [str(tmp_path / "corpus")])
    assert first.run_id is not None and again.run_id is None and again.count("unchanged") == 5
    paths[2].write_text(TURNS.format(pid="P3", n=99), encoding="utf-8")
    third = import_files(study, [str(tmp_path / "corpus")])
    assert (third.count("new-version"), third.count("unchanged")) == (1, 4)
