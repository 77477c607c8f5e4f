"""Execution backends: selection, ordering, batching, the rule pass on a backend, Dask missing, progress."""

from __future__ import annotations

import builtins
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from qualkit.cli import main
from qualkit.codebook import load_codebook
from qualkit.execution.rules_run import run_rules
from qualkit.errors import CodebookError, ConfigError, MissingDependencyError
from qualkit.execution import LocalBackend, backend_for_study, get_backend, progress_bar
from qualkit.execution import rules as exec_rules
from qualkit.study import Study
from qualkit.transcripts_schema import import_files

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "qualkit" / "sample_study"

APPLICATION_SQL = """SELECT segment_pk, code_id, start_char, end_char, matched_text, rule, score
                     FROM code_applications WHERE run_id = ?"""


def applications(study: Study, run_id: int) -> list[tuple]:
    """A run's applications as sorted plain tuples (segment, code, offsets, text, rule, score)."""
    return sorted(tuple(row) for row in study.store.query(APPLICATION_SQL, (run_id,)))


@pytest.fixture
def sample_study(tmp_path: Path) -> Study:
    """The bundled sample study (10 interviews), imported."""
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root)
    study = Study(root)
    import_files(study)
    yield study
    study.close()


# -- choosing a backend --------------------------------------------------------------------------
def test_get_backend_defaults_to_local_and_rejects_unknown_names() -> None:
    assert isinstance(get_backend(), LocalBackend)
    assert isinstance(get_backend("LOCAL"), LocalBackend)
    with pytest.raises(ConfigError) as caught:
        get_backend("spark")
    assert "spark" in caught.value.message and "local, dask" in caught.value.hint


def test_workers_without_dask_is_an_error_with_a_fix() -> None:
    with pytest.raises(ConfigError) as caught:
        get_backend("local", workers=4)
    assert "--backend dask" in caught.value.hint


def test_backend_for_study_reads_the_execution_section(sample_study: Study) -> None:
    assert isinstance(backend_for_study(sample_study), LocalBackend)
    sample_study.config.execution.backend = "dask"
    sample_study.config.execution.workers = 3
    backend = backend_for_study(sample_study)
    assert backend.name == "dask" and backend.requested_workers == 3  # lazy: no cluster started
    assert isinstance(backend_for_study(sample_study, "local"), LocalBackend)


def test_dask_workers_and_scheduler_are_exclusive() -> None:
    pytest.importorskip("distributed")
    with pytest.raises(ConfigError):
        get_backend("dask", workers=2, scheduler="tcp://127.0.0.1:8786")


# -- dask missing ---------------------------------------------------------------------------------
@pytest.fixture
def no_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import distributed`` / ``dask.distributed`` fail as if the extra were not installed."""
    real_import = builtins.__import__

    def fake_import(name: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "distributed" or name.startswith("distributed.") or name.startswith("dask"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    for name in [key for key in sys.modules if key == "distributed" or key.startswith(("distributed.", "dask"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_missing_dask_says_what_to_install(no_dask: None) -> None:
    with pytest.raises(MissingDependencyError) as caught:
        get_backend("dask", workers=2)
    assert caught.value.code == "QK600"
    assert "qualkit[dask]" in caught.value.hint


def test_code_cli_with_dask_missing_is_a_clean_error(sample_study: Study, no_dask: None) -> None:
    result = CliRunner().invoke(main, ["--study", str(sample_study.root), "code", "--workers", "2"])
    assert result.exit_code == 1
    assert "Dask" in result.output and "pip install 'qualkit[dask]'" in result.output
    assert "Traceback" not in result.output
    assert sample_study.store.query("SELECT COUNT(*) AS n FROM runs WHERE kind = 'rules'")[0]["n"] == 0


def test_code_cli_rejects_workers_with_the_local_backend(sample_study: Study) -> None:
    result = CliRunner().invoke(main, ["--study", str(sample_study.root), "code", "--backend", "local", "--workers", "2"])
    assert result.exit_code == 1
    assert "--backend dask" in result.output


# -- local backend ----------------------------------------------------------------------------------
def test_local_backend_streams_in_order_with_shared_arguments() -> None:
    consumed: list[int] = []

    def items():
        for number in range(5):
            consumed.append(number)
            yield number

    backend = LocalBackend()
    results = backend.imap(lambda item, factor: item * factor, items(), shared=(10,))
    assert next(results) == 0
    assert consumed == [0]  # streaming: the next item is not read before it is needed
    assert list(results) == [10, 20, 30, 40]
    assert "local" in backend.worker_memory()


def test_transcript_batches_keep_transcripts_whole_and_order() -> None:
    rows = [(pk, 0, "one two three", transcript) for pk, transcript in enumerate([1, 1, 1, 2, 2, 3, 4, 4], start=1)]
    batches = list(exec_rules.transcript_batches(rows, batch_words=5))
    assert [segment[0] for batch in batches for segment in batch] == list(range(1, 9))
    transcript_of = {pk: transcript for pk, _, _, transcript in rows}
    seen: set[int] = set()
    for batch in batches:
        here = {transcript_of[segment[0]] for segment in batch}
        assert not here & seen  # no transcript is split across batches
        seen |= here
    assert len(batches) == 3  # [1], [2, 3], [4]: a batch closes at a boundary once it has 5 words


def test_worker_coder_is_built_once_per_codebook_hash() -> None:
    book = load_codebook("default")
    payload = exec_rules.codebook_payload(book)
    first = exec_rules.worker_coder(payload)
    assert exec_rules.worker_coder((payload[0], dict(payload[1]))) is first
    with pytest.raises(CodebookError) as caught:
        exec_rules.worker_coder(("0" * 64, payload[1]))
    assert "same version" in caught.value.hint


@pytest.mark.parametrize("unit", ["turn", "sentence"])
def test_rule_pass_on_a_backend_equals_the_in_process_pass(sample_study: Study, unit: str) -> None:
    reference = run_rules(sample_study, unit=unit, progress=False)
    batched = exec_rules.BATCH_WORDS
    exec_rules.BATCH_WORDS = 500  # many small batches
    try:
        on_backend = run_rules(sample_study, unit=unit, progress=False, backend=LocalBackend())
    finally:
        exec_rules.BATCH_WORDS = batched
    assert reference.applications > 50
    assert applications(sample_study, on_backend.run_id) == applications(sample_study, reference.run_id)
    assert (on_backend.segments_coded, on_backend.words, on_backend.code_counts) == (
        reference.segments_coded,
        reference.words,
        reference.code_counts,
    )


def test_code_segments_batches_are_many_and_identical(sample_study: Study) -> None:
    reference = run_rules(sample_study, progress=False)
    book = load_codebook("default")
    run_id = sample_study.store.start_run("rules", {"test": True}, codebook_hash=book.hash)
    totals = exec_rules.code_segments(
        sample_study.store, run_id, book, unit="turn", include_interviewer=False, backend=LocalBackend(), progress=False, batch_words=300
    )
    assert totals.batches > 5
    assert totals.applications == reference.applications
    assert applications(sample_study, run_id) == applications(sample_study, reference.run_id)


def test_a_failing_batch_stores_nothing(sample_study: Study, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = exec_rules.code_batch

    def flaky(batch, payload):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker died")
        return real(batch, payload)

    monkeypatch.setattr(exec_rules, "code_batch", flaky)
    monkeypatch.setattr(exec_rules, "BATCH_WORDS", 300)
    with pytest.raises(RuntimeError):
        run_rules(sample_study, progress=False, backend=LocalBackend())
    run = sample_study.store.query("SELECT id, status FROM runs WHERE kind = 'rules'")[0]
    assert run["status"] == "failed"
    assert sample_study.store.query("SELECT COUNT(*) AS n FROM code_applications")[0]["n"] == 0


# -- progress -------------------------------------------------------------------------------------
def test_progress_bar_shows_counts_and_rates(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "160")
    with progress_bar("coding", 4, unit="segments") as advance:
        for _ in range(4):
            advance(1, words=1000)
    err = capsys.readouterr().err
    assert "coding" in err and "4/4" in err
    assert "segments/s" in err and "words/s" in err


def test_progress_is_silent_when_disabled_or_not_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    with progress_bar("coding", 2) as advance:
        advance(2)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    with progress_bar("coding", 2, enabled=False) as advance:
        advance(2)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("backend", [None, "local-object"])
def test_rule_pass_reports_progress_on_both_paths(
    sample_study: Study, backend: str | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "160")
    summary = run_rules(sample_study, progress=True, backend=LocalBackend() if backend else None)
    err = capsys.readouterr().err
    assert f"{summary.segments_coded}/{summary.segments_coded}" in err
    assert "segments/s" in err and "words/s" in err


# -- segmentation on a backend ----------------------------------------------------------------------
SEGMENT_SQL = """SELECT transcript_pk, turn_pk, ordinal, start_char, end_char, text, text_hash
                 FROM segments WHERE unit = ? ORDER BY transcript_pk, ordinal"""


@pytest.mark.parametrize("unit", ["sentence", "window:3", "turn"])
def test_segments_on_a_backend_equal_ensure_segments(sample_study: Study, tmp_path: Path, unit: str) -> None:
    from qualkit.coding.segment import ensure_segments
    from qualkit.execution.segments import ensure_segments_on

    created = ensure_segments_on(sample_study.store, unit, LocalBackend())
    assert created > 0
    assert ensure_segments_on(sample_study.store, unit, LocalBackend()) == 0  # idempotent
    mine = [tuple(row) for row in sample_study.store.query(SEGMENT_SQL, (unit,))]
    with sample_study.store.transaction() as conn:
        conn.execute("DELETE FROM segments WHERE unit = ?", (unit,))
    assert ensure_segments(sample_study.store, unit) == created
    assert [tuple(row) for row in sample_study.store.query(SEGMENT_SQL, (unit,))] == mine
