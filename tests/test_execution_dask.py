"""The Dask backend on a real LocalCluster (2 worker processes): same applications as local.

One cluster serves the whole module (it takes a few seconds to start); the second test
connects to it by address, as ``--scheduler`` does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("distributed")

from qualkit.cli import main  # noqa: E402
from qualkit.execution.rules_run import run_rules  # noqa: E402
from qualkit.execution import DaskBackend, get_backend  # noqa: E402
from qualkit.execution import rules as exec_rules  # noqa: E402
from qualkit.study import Study  # noqa: E402
from qualkit.transcripts_schema import import_files  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "qualkit" / "sample_study"
APPLICATION_SQL = """SELECT segment_pk, code_id, start_char, end_char, matched_text, rule, score
                     FROM code_applications WHERE run_id = ?"""

pytestmark = pytest.mark.slow


def applications(study: Study, run_id: int) -> list[tuple]:
    return sorted(tuple(row) for row in study.store.query(APPLICATION_SQL, (run_id,)))


@pytest.fixture(scope="module")
def cluster():  # type: ignore[no-untyped-def]
    backend = get_backend("dask", workers=2)
    assert isinstance(backend, DaskBackend)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def sample_study(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("dask") / "sample"
    shutil.copytree(SAMPLE, root)
    study = Study(root)
    import_files(study)
    yield study
    study.close()


@pytest.mark.parametrize("unit, include_interviewer", [("sentence", True), ("turn", False)])
def test_dask_gives_the_same_applications_as_local(
    cluster: DaskBackend, sample_study: Study, unit: str, include_interviewer: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = run_rules(sample_study, unit=unit, include_interviewer=include_interviewer, progress=False, backend="local")
    monkeypatch.setattr(exec_rules, "BATCH_WORDS", 1500)  # several batches, so both workers get some
    distributed = run_rules(sample_study, unit=unit, include_interviewer=include_interviewer, progress=False, backend=cluster)
    assert local.applications > 100
    assert applications(sample_study, distributed.run_id) == applications(sample_study, local.run_id)
    assert distributed.code_counts == local.code_counts
    assert (distributed.segments_coded, distributed.words) == (local.segments_coded, local.words)
    manifest = json.loads(sample_study.store.run(distributed.run_id)["manifest"])
    assert manifest["execution"] == {"backend": "dask", "workers": 2}
    memory = cluster.worker_memory()
    assert len(memory) == 2 and all(value > 50 for value in memory.values())  # each worker built spaCy


def test_cli_connects_to_an_existing_scheduler(cluster: DaskBackend, sample_study: Study) -> None:
    local = run_rules(sample_study, progress=False, backend="local")
    result = CliRunner().invoke(
        main, ["--study", str(sample_study.root), "code", "--scheduler", cluster.scheduler_address, "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert applications(sample_study, data["run_id"]) == applications(sample_study, local.run_id)
    assert json.loads(sample_study.store.run(data["run_id"])["manifest"])["execution"]["scheduler"] == cluster.scheduler_address
    # the CLI's connection is closed; the cluster it connected to keeps running
    assert len(cluster.client.scheduler_info()["workers"]) == 2


def test_import_on_dask_stores_the_same_transcripts(cluster: DaskBackend, sample_study: Study, tmp_path: Path) -> None:
    root = tmp_path / "again"
    shutil.copytree(SAMPLE, root)
    other = Study(root)
    try:
        result = import_files(other, backend=cluster)
        query = "SELECT id, version, content_hash, word_count FROM transcripts ORDER BY id"
        assert result.count("new") == 10
        assert [tuple(row) for row in other.store.query(query)] == [tuple(row) for row in sample_study.store.query(query)]
    finally:
        other.close()


def test_segments_on_dask_equal_ensure_segments(cluster: DaskBackend, sample_study: Study) -> None:
    from qualkit.coding.segment import ensure_segments
    from qualkit.execution.segments import ensure_segments_on

    query = """SELECT transcript_pk, turn_pk, ordinal, start_char, end_char, text, text_hash
               FROM segments WHERE unit = 'window:2' ORDER BY transcript_pk, ordinal"""
    created = ensure_segments_on(sample_study.store, "window:2", cluster)
    on_dask = [tuple(row) for row in sample_study.store.query(query)]
    with sample_study.store.transaction() as conn:
        conn.execute("DELETE FROM segments WHERE unit = 'window:2'")
    assert ensure_segments(sample_study.store, "window:2") == created > 0
    assert [tuple(row) for row in sample_study.store.query(query)] == on_dask
