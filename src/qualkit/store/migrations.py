"""Schema migrations of the project store.

Each migration is a named block of SQL applied inside one transaction; the number
of applied migrations is kept in ``PRAGMA user_version``. Migrations are only ever
appended: a released migration is never edited, so every store can be brought to
the current schema from any earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str


MIGRATIONS: list[Migration] = [
    Migration(
        "0001_initial",
        """
        -- Participants and their attributes (the paper's Table 1).
        CREATE TABLE participants (
            id               TEXT PRIMARY KEY,
            role             TEXT,
            company_size     TEXT,
            sector           TEXT,
            years_experience REAL,
            attributes       TEXT NOT NULL DEFAULT '{}'   -- JSON object of free-form attributes
        );

        -- One row per imported version of a transcript. A changed file becomes a new
        -- version (is_current moves to it); an unchanged file is not imported again.
        CREATE TABLE transcripts (
            pk                 INTEGER PRIMARY KEY,
            id                 TEXT NOT NULL,
            version            INTEGER NOT NULL,
            is_current         INTEGER NOT NULL DEFAULT 1,
            content_hash       TEXT NOT NULL,            -- sha256 of the canonical JSON transcript
            source_hash        TEXT,                     -- sha256 of the source file's bytes
            source_path        TEXT,
            source_format      TEXT NOT NULL,
            participant_id     TEXT REFERENCES participants(id),
            metadata           TEXT NOT NULL,            -- JSON: InterviewMetadata
            word_count         INTEGER NOT NULL,
            anonymity_override TEXT,                     -- JSON: findings accepted, who, why; NULL when clean
            imported_at        TEXT NOT NULL,
            UNIQUE (id, version)
        );
        CREATE INDEX transcripts_current ON transcripts(id) WHERE is_current = 1;

        CREATE TABLE turns (
            pk            INTEGER PRIMARY KEY,
            transcript_pk INTEGER NOT NULL REFERENCES transcripts(pk) ON DELETE CASCADE,
            idx           INTEGER NOT NULL,              -- 0-based position in the transcript
            speaker       TEXT NOT NULL,
            role          TEXT NOT NULL CHECK (role IN ('interviewer', 'participant', 'other')),
            text          TEXT NOT NULL,
            start_s       REAL,
            end_s         REAL,
            UNIQUE (transcript_pk, idx)
        );

        -- Units of analysis cut from turns. A segment never crosses a turn; offsets
        -- are code-point offsets into its turn's text, end exclusive.
        CREATE TABLE segments (
            pk            INTEGER PRIMARY KEY,
            transcript_pk INTEGER NOT NULL REFERENCES transcripts(pk) ON DELETE CASCADE,
            turn_pk       INTEGER NOT NULL REFERENCES turns(pk) ON DELETE CASCADE,
            unit          TEXT NOT NULL,                 -- turn | sentence | window:N
            ordinal       INTEGER NOT NULL,              -- position among this transcript's segments of this unit
            start_char    INTEGER NOT NULL,
            end_char      INTEGER NOT NULL,
            text          TEXT NOT NULL,
            text_hash     TEXT NOT NULL,
            UNIQUE (transcript_pk, unit, ordinal)
        );
        CREATE INDEX segments_turn ON segments(turn_pk);

        -- Codebooks by the content hash of their fully resolved form.
        CREATE TABLE codebooks (
            hash          TEXT PRIMARY KEY,
            name          TEXT NOT NULL,
            version_label TEXT,
            source_path   TEXT,
            resolved      TEXT NOT NULL,                 -- JSON of the resolved codebook
            created_at    TEXT NOT NULL
        );

        -- Every automatic run (and every human-codings import) is a first-class row.
        CREATE TABLE runs (
            id              INTEGER PRIMARY KEY,
            kind            TEXT NOT NULL,               -- import | rules | topics | codings-import | pipeline
            status          TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
            parameters      TEXT NOT NULL DEFAULT '{}',  -- JSON
            codebook_hash   TEXT REFERENCES codebooks(hash),
            qualkit_version TEXT NOT NULL,
            started_at      TEXT NOT NULL,
            finished_at     TEXT,
            manifest        TEXT,                        -- JSON: inputs and hashes, versions, timings
            error           TEXT
        );

        -- What an automatic coder found. Offsets are into the segment's turn text.
        CREATE TABLE code_applications (
            pk           INTEGER PRIMARY KEY,
            run_id       INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            segment_pk   INTEGER NOT NULL REFERENCES segments(pk) ON DELETE CASCADE,
            code_id      TEXT NOT NULL,
            start_char   INTEGER NOT NULL,
            end_char     INTEGER NOT NULL,
            matched_text TEXT NOT NULL,
            rule         TEXT NOT NULL,                  -- e.g. 'velocity#phrases:3'
            score        REAL NOT NULL DEFAULT 1.0
        );
        CREATE INDEX code_applications_run ON code_applications(run_id, code_id);
        CREATE INDEX code_applications_segment ON code_applications(segment_pk);

        -- Human codings, per coder. Automatic runs never write here.
        CREATE TABLE human_codings (
            pk            INTEGER PRIMARY KEY,
            coder         TEXT NOT NULL,
            run_id        INTEGER REFERENCES runs(id),   -- the codings-import run that brought it in
            transcript_pk INTEGER NOT NULL REFERENCES transcripts(pk) ON DELETE CASCADE,
            turn_pk       INTEGER REFERENCES turns(pk) ON DELETE CASCADE,
            start_char    INTEGER,                       -- into the turn when turn_pk is set
            end_char      INTEGER,
            code_id       TEXT NOT NULL,
            text          TEXT,
            memo          TEXT,
            source        TEXT,                          -- file the coding was imported from
            created_at    TEXT NOT NULL
        );
        CREATE INDEX human_codings_coder ON human_codings(coder, code_id);

        -- Topic-model pass results.
        CREATE TABLE topics (
            run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            topic       INTEGER NOT NULL,                -- -1 is BERTopic's outlier topic
            label       TEXT NOT NULL,
            terms       TEXT NOT NULL,                   -- JSON list of [term, weight]
            size        INTEGER NOT NULL,
            coverage    TEXT,                            -- covered | partly covered | not covered
            alignment   TEXT,                            -- JSON: codes and similarities
            x           REAL,
            y           REAL,
            PRIMARY KEY (run_id, topic)
        );
        CREATE TABLE segment_topics (
            run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            segment_pk  INTEGER NOT NULL REFERENCES segments(pk) ON DELETE CASCADE,
            topic       INTEGER NOT NULL,
            probability REAL,
            PRIMARY KEY (run_id, segment_pk)
        );

        -- Embedding cache: a second fit over the same texts computes none.
        CREATE TABLE embeddings (
            backend     TEXT NOT NULL,
            text_hash   TEXT NOT NULL,
            dim         INTEGER NOT NULL,
            vector      BLOB NOT NULL,                   -- float32 little-endian
            PRIMARY KEY (backend, text_hash)
        );

        -- Pipeline steps: the fingerprint of the inputs a step last ran on.
        CREATE TABLE pipeline_steps (
            step        TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            run_id      INTEGER REFERENCES runs(id),
            outputs     TEXT,                            -- JSON
            updated_at  TEXT NOT NULL
        );
        """,
    ),
    Migration(
        "0002_review_memos_evidence",
        """
        -- Review decisions: a human coding may record the researcher's decision on an automatic
        -- suggestion (a code application of a run). 'coded' is a coding made by hand or imported;
        -- 'accepted', 'adjusted' (span changed) and 'replaced' (other code) are positive decisions on
        -- a suggestion; 'rejected' is a negative one: it is evidence (agreement, learning), never a
        -- coding of the text. Suggestion links survive the deletion of their run as NULL.
        ALTER TABLE human_codings ADD COLUMN decision TEXT NOT NULL DEFAULT 'coded'
            CHECK (decision IN ('coded', 'accepted', 'adjusted', 'replaced', 'rejected'));
        ALTER TABLE human_codings ADD COLUMN suggestion_pk INTEGER
            REFERENCES code_applications(pk) ON DELETE SET NULL;
        ALTER TABLE human_codings ADD COLUMN suggestion_run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL;
        ALTER TABLE human_codings ADD COLUMN origin TEXT NOT NULL DEFAULT 'import';  -- import | workbench
        CREATE INDEX human_codings_suggestion ON human_codings(suggestion_pk);
        CREATE INDEX human_codings_turn ON human_codings(turn_pk);

        -- Memos on a code, a transcript, a turn or a human coding.
        CREATE TABLE memos (
            pk            INTEGER PRIMARY KEY,
            coder         TEXT NOT NULL,
            target_kind   TEXT NOT NULL CHECK (target_kind IN ('code', 'transcript', 'turn', 'coding', 'study')),
            code_id       TEXT,                                            -- target_kind = code
            transcript_id TEXT,                                            -- transcript, turn, coding
            turn_idx      INTEGER,                                         -- turn (0-based, as stored)
            coding_pk     INTEGER REFERENCES human_codings(pk) ON DELETE CASCADE,
            title         TEXT NOT NULL DEFAULT '',
            text          TEXT NOT NULL,
            created_at    TEXT NOT NULL,
            updated_at    TEXT NOT NULL
        );
        CREATE INDEX memos_target ON memos(target_kind, code_id, transcript_id);

        -- Evidence of an automatic application beyond its rule: JSON (learned pass: top features,
        -- calibrated score, training-set hash).
        ALTER TABLE code_applications ADD COLUMN evidence TEXT;
        """,
    ),
    Migration(
        "0003_runs_interrupted_pid_host",
        """
        -- A run whose process died (killed, crashed, power cut) is marked 'interrupted' when the
        -- store is next opened: runs record the process id and host name that started them.
        -- SQLite cannot change a CHECK constraint in place, so the table is rebuilt (the store runs
        -- migrations with foreign keys off, so dropping the old table cascades into nothing, and
        -- checks every foreign key before committing).
        CREATE TABLE runs_new (
            id              INTEGER PRIMARY KEY,
            kind            TEXT NOT NULL,               -- import | rules | topics | codings-import | pipeline
            status          TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'interrupted')),
            parameters      TEXT NOT NULL DEFAULT '{}',  -- JSON
            codebook_hash   TEXT REFERENCES codebooks(hash),
            qualkit_version TEXT NOT NULL,
            started_at      TEXT NOT NULL,
            finished_at     TEXT,
            manifest        TEXT,                        -- JSON: inputs and hashes, versions, timings
            error           TEXT,
            pid             INTEGER,                     -- process that started the run
            host            TEXT                         -- host name of that process
        );
        INSERT INTO runs_new (id, kind, status, parameters, codebook_hash, qualkit_version, started_at, finished_at, manifest, error)
            SELECT id, kind, status, parameters, codebook_hash, qualkit_version, started_at, finished_at, manifest, error FROM runs;
        DROP TABLE runs;
        ALTER TABLE runs_new RENAME TO runs;
        CREATE INDEX runs_kind_status ON runs(kind, status);
        """,
    ),
    Migration(
        "0004_workbench_undo",
        """
        -- The workbench's undo history, kept in the store so that it survives a restart of
        -- `qualkit serve`: one row per change a coder made (code, decide, remove, respan), newest
        -- last; `change` is JSON: the human_codings pks it inserted and the rows as they were
        -- before. Undoing a change deletes its row; only the last few per coder are kept.
        CREATE TABLE workbench_changes (
            pk         INTEGER PRIMARY KEY,
            coder      TEXT NOT NULL,
            action     TEXT NOT NULL,
            summary    TEXT NOT NULL,
            change     TEXT NOT NULL,                    -- JSON
            created_at TEXT NOT NULL
        );
        CREATE INDEX workbench_changes_coder ON workbench_changes(coder, pk);
        """,
    ),
]


SCHEMA_VERSION = len(MIGRATIONS)
