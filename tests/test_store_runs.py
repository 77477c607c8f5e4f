"""The store across processes: schema migrations of a populated store, interrupted runs,
two processes opening a new store at once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from click.testing import CliRunner

from qualkit.cli import main
from qualkit.store import Store, _split_sql
from qualkit.store.migrations import MIGRATIONS, SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]


def _store_at_version(path: Path, version: int) -> sqlite3.Connection:
    """A store with only the first ``version`` migrations, as an older qualkit left it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    for number, migration in enumerate(MIGRATIONS[:version], start=1):
        conn.execute("BEGIN")
        for statement in _split_sql(migration.sql):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    return conn


def _populate_v2(conn: sqlite3.Connection) -> dict[str, int]:
    conn.executescript(
        """
        INSERT INTO participants (id) VALUES ('P1');
        INSERT INTO transcripts (pk, id, version, content_hash, source_format, participant_id, metadata, word_count, imported_at)
            VALUES (1, 'P1', 1, 'h', 'text', 'P1', '{}', 3, 'now');
        INSERT INTO turns (pk, transcript_pk, idx, speaker, role, text) VALUES (1, 1, 0, 'P1', 'participant', 'we retrain');
        INSERT INTO segments (pk, transcript_pk, turn_pk, unit, ordinal, start_char, end_char, text, text_hash)
            VALUES (1, 1, 1, 'turn', 0, 0, 10, 'we retrain', 'x');
        INSERT INTO codebooks (hash, name, resolved, created_at) VALUES ('cb', 'book', '{}', 'now');
        INSERT INTO runs (id, kind, status, codebook_hash, qualkit_version, started_at) VALUES (1, 'rules', 'ok', 'cb', '0', 'now');
        INSERT INTO runs (id, kind, status, qualkit_version, started_at) VALUES (2, 'codings-import', 'ok', '0', 'now');
        INSERT INTO runs (id, kind, status, qualkit_version, started_at) VALUES (3, 'topics', 'running', '0', 'now');
        INSERT INTO code_applications (pk, run_id, segment_pk, code_id, start_char, end_char, matched_text, rule)
            VALUES (1, 1, 1, 'retraining', 0, 10, 'we retrain', 'r#1');
        INSERT INTO human_codings (coder, run_id, transcript_pk, turn_pk, start_char, end_char, code_id, created_at, suggestion_pk, suggestion_run_id)
            VALUES ('alice', 2, 1, 1, 0, 10, 'retraining', 'now', 1, 1);
        INSERT INTO topics (run_id, topic, label, terms, size) VALUES (3, 0, 't', '[]', 1);
        INSERT INTO segment_topics (run_id, segment_pk, topic) VALUES (3, 1, 0);
        INSERT INTO pipeline_steps (step, fingerprint, run_id, updated_at) VALUES ('code', 'f', 1, 'now');
        """
    )
    tables = ["runs", "code_applications", "human_codings", "topics", "segment_topics", "pipeline_steps", "segments", "turns"]
    return {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in tables}


def test_migrating_a_populated_store_keeps_every_row_and_foreign_keys(tmp_path):
    path = tmp_path / "store.sqlite"
    conn = _store_at_version(path, 2)
    before = _populate_v2(conn)
    conn.close()
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION
    after = {table: store.query(f"SELECT COUNT(*) FROM {table}")[0][0] for table in before}
    assert after == before
    assert store.query("PRAGMA foreign_key_check") == []
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    row = store.run(1)
    assert (row["kind"], row["status"], row["codebook_hash"]) == ("rules", "ok", "cb")
    # the legacy 'running' row (no pid: its process cannot be alive) is now interrupted
    assert store.run(3)["status"] == "interrupted"
    # deleting a run still cascades into its applications and topics (the references follow the new table)
    with store.transaction() as tx:
        tx.execute("DELETE FROM pipeline_steps")
        tx.execute("UPDATE human_codings SET run_id = NULL")
        tx.execute("DELETE FROM runs WHERE id = 3")
    assert store.query("SELECT COUNT(*) FROM topics")[0][0] == 0
    assert store.query("SELECT COUNT(*) FROM segment_topics")[0][0] == 0
    # ... and refuses dangling references
    try:
        with store.transaction() as tx:
            tx.execute("INSERT INTO code_applications (run_id, segment_pk, code_id, start_char, end_char, matched_text, rule) VALUES (99, 1, 'x', 0, 1, 'w', 'r')")
    except sqlite3.IntegrityError:
        pass
    else:  # pragma: no cover - the assertion below reports it
        raise AssertionError("a code application of a missing run was accepted")


def test_new_runs_record_pid_and_host_and_a_live_run_stays_running(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    run_id = store.start_run("rules", {})
    row = store.run(run_id)
    assert row["pid"] == os.getpid() and row["host"]
    store.close()
    assert Store(tmp_path / "s.sqlite").run(run_id)["status"] == "running"


def _python(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_a_killed_run_is_marked_interrupted_and_listed_so(tmp_path):
    from qualkit.study import init_study

    study = init_study(tmp_path / "study")
    study.close()
    proc = _python(
        """
        import sys, time
        from qualkit.study import Study
        study = Study(sys.argv[1])
        print(study.store.start_run("rules", {}), flush=True)
        time.sleep(60)
        """,
        str(tmp_path / "study"),
    )
    run_id = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    result = CliRunner().invoke(main, ["--study", str(tmp_path / "study"), "runs", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.output)}
    assert rows[run_id]["status"] == "interrupted"
    text = CliRunner().invoke(main, ["--study", str(tmp_path / "study"), "runs", "list"]).output
    assert "interrupted" in text and f"process {proc.pid}" in text


def test_two_processes_opening_a_new_store_at_once_both_succeed(tmp_path):
    code = """
        import sys, time
        from pathlib import Path
        go = Path(sys.argv[2])
        while not go.exists():
            time.sleep(0.001)
        from qualkit.store import Store
        store = Store(sys.argv[1])
        print(store.schema_version)
        """
    for attempt in range(6):  # the old race failed about 4 times in 10 with three processes
        go = tmp_path / f"go{attempt}"
        path = tmp_path / f"store{attempt}.sqlite"
        procs = [_python(code, str(path), str(go)) for _ in range(3)]
        time.sleep(1.0)  # let the interpreters start and wait on the flag
        go.touch()
        outputs = [proc.communicate(timeout=120) for proc in procs]
        for proc, (out, err) in zip(procs, outputs):
            assert proc.returncode == 0, err
            assert out.strip() == str(SCHEMA_VERSION)
        conn = sqlite3.connect(path)
        names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        assert names.count("participants") == 1 and "runs_new" not in names
        conn.close()
