"""The project store: one SQLite file per study (stdlib ``sqlite3``, WAL, foreign keys).

The store owns persistence only. Other modules read and write through the
functions here or with SQL inside :meth:`Store.transaction`, one transaction per
unit of work, so a failure leaves the store exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import socket
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .. import __version__
from ..errors import NotFoundError, StoreError
from .migrations import MIGRATIONS, SCHEMA_VERSION

#: Seconds a write waits for another process's write transaction before giving up.
BUSY_TIMEOUT_S = 30.0


def utcnow() -> str:
    """Current UTC time as an ISO 8601 string with seconds precision."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace: the basis of content hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def transcript_content_hash(transcript: Any) -> str:
    """Content hash of a transcript (a ``transcripts_schema.Transcript``): same turns, participant
    and metadata, same hash."""
    data = transcript.to_json_dict()
    data.get("metadata", {}).pop("source_file", None)
    return sha256_text(canonical_json(data))


@dataclass(frozen=True)
class ImportOutcome:
    """What storing one transcript did: ``new``, ``new-version`` or ``unchanged``."""

    transcript_id: str
    status: str
    version: int
    pk: int


@dataclass(frozen=True)
class TranscriptRow:
    pk: int
    id: str
    version: int
    participant_id: str | None
    source_path: str | None
    source_format: str
    word_count: int
    turn_count: int
    imported_at: str
    content_hash: str
    anonymity_override: dict[str, Any] | None


class Store:
    """A connection to a study's SQLite store, migrated to the current schema."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise StoreError(
                f"no project store at {self.path}",
                hint="run `qualkit init` to create a study, or `qualkit transcripts import` to start one",
            )
        if self.path.is_dir():
            raise StoreError(
                f"the project store {self.path} is a folder, not a file",
                hint=f"move the folder {self.path} away; qualkit creates the store file there",
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as error:  # pragma: no cover - depends on the file system
            raise StoreError(f"cannot open the project store {self.path}: {error}") from error
        self.conn.row_factory = sqlite3.Row
        try:
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.migrate()
            self.mark_interrupted()
        except sqlite3.DatabaseError as error:
            self.conn.close()
            raise self._database_error(error, "opening") from None

    def _database_error(self, error: sqlite3.DatabaseError, doing: str) -> StoreError:
        """A :class:`StoreError` for SQLite's "locked" and "not a database" failures."""
        text = str(error)
        if "locked" in text or "busy" in text:
            return StoreError(
                f"the project store {self.path} is locked: another process is writing to it ({doing} waited {BUSY_TIMEOUT_S:g} s)",
                hint="wait for the other qualkit command (or sqlite3 session) to finish, then run this command again; "
                "nothing was changed",
            )
        if "readonly" in text or "read-only" in text:  # a read-only study folder: not damage, do not advise moving it
            return StoreError(
                f"the project store {self.path} cannot be written: the file or its folder {self.path.parent} is read-only "
                f"({doing}: {text})",
                hint=f"give yourself write permission on {self.path.parent} and the files in it (e.g. chmod -R u+w "
                f"{self.path.parent}), or work on a copy of the study; nothing was changed",
            )
        return StoreError(
            f"the project store {self.path} cannot be read: {text}",
            hint="the file is damaged or is not a qualkit store: restore it from a backup, or move it away "
            "and rebuild the study with `qualkit run` (human codings must then be imported again)",
        )

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _check_version(self, current: int) -> None:
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"the store {self.path} has schema version {current}, newer than this qualkit understands ({SCHEMA_VERSION})",
                hint="upgrade qualkit",
            )

    def migrate(self) -> list[str]:
        """Apply every migration not yet applied, each in its own exclusive transaction.

        The schema version is read again inside each ``BEGIN EXCLUSIVE``, so two processes
        opening a new store at once never apply a migration twice: the second waits for the
        first and then finds nothing left to do. Foreign keys are off while migrating (a table
        rebuild must not cascade) and every foreign key is checked before each commit.
        """
        self._check_version(self.schema_version)
        if self.schema_version == SCHEMA_VERSION:
            return []
        applied = []
        self.conn.execute("PRAGMA foreign_keys = OFF")
        try:
            while True:
                try:
                    self.conn.execute("BEGIN EXCLUSIVE")
                except sqlite3.OperationalError as error:
                    raise self._database_error(error, "the schema migration") from None
                try:
                    current = self.schema_version
                    self._check_version(current)
                    if current >= SCHEMA_VERSION:
                        self.conn.execute("COMMIT")
                        break
                    migration = MIGRATIONS[current]
                    for statement in _split_sql(migration.sql):
                        self.conn.execute(statement)
                    broken = self.conn.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise StoreError(
                            f"migration {migration.name} of {self.path} would break {len(broken)} foreign key(s) "
                            f"(first: table {broken[0][0]}, row {broken[0][1]}); nothing was changed",
                            hint="restore the store from a backup, or report this with the store attached",
                        )
                    self.conn.execute(f"PRAGMA user_version = {current + 1}")
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                self.conn.execute("COMMIT")
                applied.append(migration.name)
        finally:
            self.conn.execute("PRAGMA foreign_keys = ON")
        return applied

    def mark_interrupted(self) -> list[int]:
        """Mark ``running`` runs whose process is gone as ``interrupted``; returns their ids.

        A run records the pid and host of the process that started it. Runs started on another
        host are left alone (their process cannot be checked from here); runs recorded before
        qualkit kept pids (no pid) are taken as interrupted.
        """
        host = socket.gethostname()
        rows = self.query("SELECT id, pid, host FROM runs WHERE status = 'running'")
        gone = [row for row in rows if (row["host"] in (None, host)) and not _process_alive(row["pid"])]
        if not gone:
            return []
        try:
            with self.transaction() as conn:
                for row in gone:
                    who = f"process {row['pid']} on {row['host']}" if row["pid"] else "its process"
                    conn.execute(
                        """UPDATE runs SET status = 'interrupted', finished_at = COALESCE(finished_at, ?),
                           error = COALESCE(error, ?) WHERE id = ? AND status = 'running'""",
                        (utcnow(), f"interrupted: {who} ended before the run finished", row["id"]),
                    )
        except (StoreError, sqlite3.OperationalError):  # busy or read-only: leave it for the next start
            return []
        return [row["id"] for row in gone]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One unit of work: commit on success, roll back everything on any error."""
        if self.conn.in_transaction:  # nested: join the outer transaction
            yield self.conn
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise self._database_error(error, "the write") from None
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    # -- participants ----------------------------------------------------------------
    def upsert_participant(self, participant: Any) -> None:
        """Insert or update a participant (a ``transcripts_schema.Participant``); attributes already
        known are kept unless given."""
        with self.transaction() as conn:
            existing = conn.execute("SELECT * FROM participants WHERE id = ?", (participant.id,)).fetchone()
            values = participant.model_dump()
            if existing is not None:
                for key in ("role", "company_size", "sector", "years_experience"):
                    if values[key] is None:
                        values[key] = existing[key]
                merged = json.loads(existing["attributes"])
                merged.update(values["attributes"])
                values["attributes"] = merged
            conn.execute(
                """INSERT INTO participants (id, role, company_size, sector, years_experience, attributes)
                   VALUES (:id, :role, :company_size, :sector, :years_experience, :attributes)
                   ON CONFLICT(id) DO UPDATE SET role = excluded.role, company_size = excluded.company_size,
                     sector = excluded.sector, years_experience = excluded.years_experience,
                     attributes = excluded.attributes""",
                {**values, "attributes": canonical_json(values["attributes"])},
            )

    @staticmethod
    def _participant_record(row: sqlite3.Row) -> dict[str, Any]:
        return {
            "id": row["id"],
            "role": row["role"],
            "company_size": row["company_size"],
            "sector": row["sector"],
            "years_experience": row["years_experience"],
            "attributes": json.loads(row["attributes"]),
        }

    def participant_records(self) -> list[dict[str, Any]]:
        """Every participant as a plain dict (the fields of ``transcripts_schema.Participant``), in
        participant order (P2 before P10). ``transcripts_schema.stored_participants`` types them."""
        people = [self._participant_record(row) for row in self.query("SELECT * FROM participants")]
        return sorted(people, key=lambda person: participant_sort_key(person["id"]))

    # -- transcripts -----------------------------------------------------------------
    def store_transcript(
        self,
        transcript: Any,
        *,
        source_path: str | None = None,
        source_hash: str | None = None,
        anonymity_override: dict[str, Any] | None = None,
    ) -> ImportOutcome:
        """Store a validated transcript (a ``transcripts_schema.Transcript``) in one transaction.

        An unchanged transcript (same content hash as the current version) is left
        alone; a changed one becomes a new version and the old one stops being current.
        """
        content_hash = transcript_content_hash(transcript)
        with self.transaction() as conn:
            current = conn.execute(
                "SELECT pk, version, content_hash FROM transcripts WHERE id = ? AND is_current = 1",
                (transcript.id,),
            ).fetchone()
            if current is not None and current["content_hash"] == content_hash:
                return ImportOutcome(transcript.id, "unchanged", current["version"], current["pk"])
            self.upsert_participant(transcript.participant)
            last = conn.execute("SELECT MAX(version) FROM transcripts WHERE id = ?", (transcript.id,)).fetchone()[0]
            version = (last or 0) + 1
            conn.execute("UPDATE transcripts SET is_current = 0 WHERE id = ?", (transcript.id,))
            cursor = conn.execute(
                """INSERT INTO transcripts (id, version, is_current, content_hash, source_hash, source_path,
                       source_format, participant_id, metadata, word_count, anonymity_override, imported_at)
                   VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    transcript.id,
                    version,
                    content_hash,
                    source_hash,
                    source_path,
                    transcript.metadata.source_format,
                    transcript.participant.id,
                    canonical_json(transcript.metadata.model_dump(mode="json")),
                    transcript.word_count,
                    canonical_json(anonymity_override) if anonymity_override else None,
                    utcnow(),
                ),
            )
            pk = int(cursor.lastrowid)
            conn.executemany(
                "INSERT INTO turns (transcript_pk, idx, speaker, role, text, start_s, end_s) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (pk, idx, turn.speaker, turn.role.value, turn.text, turn.start, turn.end)
                    for idx, turn in enumerate(transcript.turns)
                ],
            )
        return ImportOutcome(transcript.id, "new" if version == 1 else "new-version", version, pk)

    def transcripts(self, *, current_only: bool = True) -> list[TranscriptRow]:
        """Transcripts in participant order (P2 before P10)."""
        where = "WHERE t.is_current = 1" if current_only else ""
        rows = self.query(
            f"""SELECT t.*, (SELECT COUNT(*) FROM turns WHERE transcript_pk = t.pk) AS turn_count
                FROM transcripts t {where}"""
        )
        result = [
            TranscriptRow(
                pk=row["pk"],
                id=row["id"],
                version=row["version"],
                participant_id=row["participant_id"],
                source_path=row["source_path"],
                source_format=row["source_format"],
                word_count=row["word_count"],
                turn_count=row["turn_count"],
                imported_at=row["imported_at"],
                content_hash=row["content_hash"],
                anonymity_override=json.loads(row["anonymity_override"]) if row["anonymity_override"] else None,
            )
            for row in rows
        ]
        return sorted(result, key=lambda row: (participant_sort_key(row.id), row.version))

    def transcript_pk(self, transcript_id: str, version: int | None = None) -> int:
        if version is None:
            row = self.conn.execute(
                "SELECT pk FROM transcripts WHERE id = ? AND is_current = 1", (transcript_id,)
            ).fetchone()
        else:
            row = self.conn.execute(
                "SELECT pk FROM transcripts WHERE id = ? AND version = ?", (transcript_id, version)
            ).fetchone()
        if row is None:
            versions = [
                str(r["version"])
                for r in self.conn.execute("SELECT version FROM transcripts WHERE id = ? ORDER BY version", (transcript_id,))
            ]
            if version is not None and versions:
                raise NotFoundError(
                    f"transcript {transcript_id!r} has no version {version}",
                    hint=f"its versions are: {', '.join(versions)}",
                )
            known = ", ".join(r.id for r in self.transcripts()) or "none yet"
            raise NotFoundError(f"no transcript {transcript_id!r} in this study", hint=f"known transcripts: {known}")
        return int(row["pk"])

    def transcript_record(self, transcript_id: str, version: int | None = None) -> dict[str, Any]:
        """A stored transcript as a plain dict in the shape of the transcript JSON Schema (the current
        version unless ``version``); ``transcripts_schema.load_transcript`` types it."""
        pk = self.transcript_pk(transcript_id, version)
        row = self.conn.execute("SELECT * FROM transcripts WHERE pk = ?", (pk,)).fetchone()
        person = self.conn.execute("SELECT * FROM participants WHERE id = ?", (row["participant_id"],)).fetchone()
        turns = [
            {"speaker": t["speaker"], "role": t["role"], "text": t["text"], "start": t["start_s"], "end": t["end_s"]}
            for t in self.conn.execute("SELECT * FROM turns WHERE transcript_pk = ? ORDER BY idx", (pk,))
        ]
        return {
            "id": row["id"],
            "participant": self._participant_record(person),
            "metadata": json.loads(row["metadata"]),
            "turns": turns,
        }

    # -- codebooks and runs ----------------------------------------------------------
    def store_codebook(self, hash_: str, name: str, version_label: str | None, resolved: dict[str, Any], source_path: str | None) -> None:
        with self.transaction() as conn:
            conn.execute(
                """INSERT OR IGNORE INTO codebooks (hash, name, version_label, source_path, resolved, created_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (hash_, name, version_label, source_path, canonical_json(resolved), utcnow()),
            )

    def start_run(
        self, kind: str, parameters: dict[str, Any], *, codebook_hash: str | None = None, started_at: str | None = None
    ) -> int:
        """Record a run as ``running`` (with this process's pid and host); finish it with :meth:`finish_run`."""
        with self.transaction() as conn:
            cursor = conn.execute(
                """INSERT INTO runs (kind, status, parameters, codebook_hash, qualkit_version, started_at, pid, host)
                   VALUES (?, 'running', ?, ?, ?, ?, ?, ?)""",
                (kind, canonical_json(parameters), codebook_hash, __version__, started_at or utcnow(), os.getpid(), socket.gethostname()),
            )
            return int(cursor.lastrowid)

    def finish_run(self, run_id: int, *, status: str = "ok", manifest: dict[str, Any] | None = None, error: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, manifest = ?, error = ? WHERE id = ?",
                (status, utcnow(), canonical_json(manifest) if manifest is not None else None, error, run_id),
            )

    def run(self, run_id: int) -> sqlite3.Row:
        row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no run {run_id} in this study", hint="`qualkit runs list` shows the runs")
        return row

    def latest_run(self, kind: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM runs WHERE kind = ? AND status = 'ok' ORDER BY id DESC LIMIT 1", (kind,)
        ).fetchone()


def _process_alive(pid: int | None) -> bool:
    """True when process ``pid`` exists on this host and is not a zombie."""
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    try:  # Linux: a killed child not yet reaped is a zombie, not a live run
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def participant_sort_key(identifier: str) -> tuple[str, int, str]:
    """Sort P2 before P10: by the text before the trailing number, then the number."""
    match = re.match(r"^(.*?)(\d+)$", identifier)
    if match is None:
        return (identifier, -1, identifier)
    return (match.group(1), int(match.group(2)), identifier)


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements: comments dropped first, then split on ';'.

    Our migrations keep '--' and ';' out of string literals, which makes this safe.
    """
    without_comments = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [statement.strip() for statement in without_comments.split(";") if statement.strip()]


__all__ = [
    "ImportOutcome",
    "SCHEMA_VERSION",
    "Store",
    "TranscriptRow",
    "canonical_json",
    "participant_sort_key",
    "sha256_text",
    "transcript_content_hash",
    "utcnow",
]
