"""Coders and codings: the one place that turns a coder name into a DataFrame of codings.

A coder is named ``run:ID`` (an automatic run's code applications), ``human:NAME`` (a human
coder's imported codings, mapped onto segments of the unit of analysis by character overlap
within the turn), or a union ``run:3+human:alice``. ``None`` means the latest successful
rules run.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import pandas as pd

from ..errors import InputError, NotFoundError, QualkitError
from ..store import Store, participant_sort_key
from ..transcripts_schema.stored import stored_participants
from .codetree import CodeTree, tree_from_resolved

CODING_COLUMNS = [
    "segment_pk",
    "transcript_id",
    "participant_id",
    "turn_idx",
    "code_id",
    "start_char",
    "end_char",
    "text",
    "score",
]
"""The contract columns of :func:`load_codings` (see ARCHITECTURE.md, "Coders")."""

EXTRA_COLUMNS = ["segment_start", "segment_end", "turn_pk", "matched_text", "rule", "coder"]
"""Further columns :func:`load_codings` adds: the segment's span in its turn, the turn's pk,
the matched text, the rule (``human`` for human codings) and the coder name."""


@dataclass(frozen=True)
class CoderSpec:
    """One parsed part of a coder name."""

    kind: str  # "run" or "human"
    value: str

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.value}"


def _store_of(study_or_store: Any) -> Store:
    return study_or_store if isinstance(study_or_store, Store) else study_or_store.store


def _config_unit(study_or_store: Any) -> str:
    config = getattr(study_or_store, "config", None)
    return config.coding.unit if config is not None else "turn"


def parse_coder(coder: str) -> list[CoderSpec]:
    """Split ``run:3+human:alice`` into its parts; a bare number means ``run:N``."""
    specs = []
    for part in (p.strip() for p in coder.split("+")):
        if not part:
            raise InputError(f"empty part in coder {coder!r}", hint="write coders as run:ID, human:NAME, or a+b")
        kind, sep, value = part.partition(":")
        if not sep and part.isdigit():
            kind, value = "run", part
        if kind not in ("run", "human") or not value:
            raise InputError(
                f"unknown coder {part!r}",
                hint="write coders as run:ID (e.g. run:3), human:NAME (e.g. human:alice), or a union a+b; "
                "`qualkit runs list` shows the runs",
            )
        if kind == "run" and not value.isdigit():
            raise InputError(f"run id in coder {part!r} is not a number", hint="write run:ID, e.g. run:3")
        specs.append(CoderSpec(kind, value))
    return specs


def declared_codebook_hash(study: Any) -> str | None:
    """Content hash of the codebook the study declares (``[codebook] path``), or None when it cannot be loaded."""
    config = getattr(study, "config", None)
    if config is None:
        return None
    from ..codebook import load_codebook

    try:
        return load_codebook(config.codebook.path, base_dir=study.root, validate_patterns=False).hash
    except QualkitError:
        return None


def latest_rules_run(study_or_store: Any) -> sqlite3.Row | None:
    """The latest successful rules run of the study's declared codebook, or ``None``.

    A one-off ``qualkit code --codebook X`` does not become the study's default: only runs with
    the codebook of ``[codebook] path`` count. When no run used it (or given a bare store, or the
    codebook cannot be loaded), the latest successful rules run of any codebook.
    """
    store = _store_of(study_or_store)
    declared = declared_codebook_hash(study_or_store)
    if declared is not None:
        row = store.conn.execute(
            "SELECT * FROM runs WHERE kind = 'rules' AND status = 'ok' AND codebook_hash = ? ORDER BY id DESC LIMIT 1",
            (declared,),
        ).fetchone()
        if row is not None:
            return row
    return store.latest_run("rules")


def run_unit(row: sqlite3.Row) -> str | None:
    """The unit of analysis recorded in a run's parameters."""
    try:
        params = json.loads(row["parameters"] or "{}")
    except json.JSONDecodeError:
        return None
    unit = params.get("unit")
    return str(unit) if unit else None


def coders(study_or_store: Any) -> list[str]:
    """Every coder this study has: ``run:ID`` for successful rules and learned runs, ``human:NAME`` per human coder."""
    store = _store_of(study_or_store)
    runs = store.query("SELECT id FROM runs WHERE kind IN ('rules', 'learned') AND status = 'ok' ORDER BY id")
    humans = store.query("SELECT DISTINCT coder FROM human_codings ORDER BY coder")
    return [f"run:{row['id']}" for row in runs] + [f"human:{row['coder']}" for row in humans]


def default_coder(study_or_store: Any) -> str:
    """``run:ID`` of the latest successful rules run; a clear error when there is none."""
    row = latest_rules_run(study_or_store)
    if row is None:
        known = coders(study_or_store)
        hint = "run `qualkit code` first"
        if known:
            hint += f", or choose one of: {', '.join(known)}"
        raise NotFoundError("this study has no successful rules run to analyse", hint=hint)
    return f"run:{row['id']}"


def resolve_unit(study_or_store: Any, specs: list[CoderSpec], unit: str | None) -> str:
    """The unit of analysis for a coder: given, else the first run's, else the study's config."""
    store = _store_of(study_or_store)
    for spec in specs:
        if spec.kind == "run":
            recorded = run_unit(store.run(int(spec.value)))
            if unit is not None and recorded is not None and recorded != unit:
                raise InputError(
                    f"run {spec.value} coded {recorded!r} segments, not {unit!r}",
                    hint=f"leave out --unit, or pass --unit {recorded}",
                )
            if unit is None and recorded is not None:
                unit = recorded
    return unit or _config_unit(study_or_store)


_RUN_SQL = """
SELECT s.pk AS segment_pk, t.id AS transcript_id, t.participant_id AS participant_id, tu.idx AS turn_idx,
       ca.code_id AS code_id, ca.start_char AS start_char, ca.end_char AS end_char, s.text AS text,
       ca.score AS score, s.start_char AS segment_start, s.end_char AS segment_end, tu.pk AS turn_pk,
       ca.matched_text AS matched_text, ca.rule AS rule
FROM code_applications ca
JOIN segments s ON s.pk = ca.segment_pk
JOIN turns tu ON tu.pk = s.turn_pk
JOIN transcripts t ON t.pk = s.transcript_pk
WHERE ca.run_id = ?
"""

_HUMAN_SQL = """
SELECT s.pk AS segment_pk, t.id AS transcript_id, t.participant_id AS participant_id, tu.idx AS turn_idx,
       hc.code_id AS code_id,
       MAX(COALESCE(hc.start_char, 0), s.start_char) AS start_char,
       MIN(COALESCE(hc.end_char, LENGTH(tu.text)), s.end_char) AS end_char,
       s.text AS text, 1.0 AS score, s.start_char AS segment_start, s.end_char AS segment_end, tu.pk AS turn_pk,
       COALESCE(hc.text, '') AS matched_text, 'human' AS rule
FROM human_codings hc
JOIN turns tu ON tu.pk = hc.turn_pk
JOIN transcripts t ON t.pk = hc.transcript_pk
JOIN segments s ON s.turn_pk = hc.turn_pk AND s.unit = ?
WHERE hc.coder = ? AND hc.decision != 'rejected'
  AND s.start_char < COALESCE(hc.end_char, LENGTH(tu.text))
  AND COALESCE(hc.start_char, 0) < s.end_char
"""


def _ensure_segments(store: Store, unit: str) -> None:
    have = store.conn.execute("SELECT 1 FROM segments WHERE unit = ? LIMIT 1", (unit,)).fetchone()
    if have is not None:
        return
    try:
        from ..coding.segment import ensure_segments
    except ImportError as error:  # the segmenter is part of the coding module
        raise QualkitError(
            f"no {unit!r} segments in the store to map human codings onto",
            hint=f"run `qualkit code` with unit {unit!r} first",
        ) from error
    ensure_segments(store, unit)


def _frame(rows: Iterable[Sequence[Any]], coder: str) -> pd.DataFrame:
    """Rows of :data:`_RUN_SQL` / :data:`_HUMAN_SQL` as a frame, read as they stream from SQLite.

    Each distinct string (a segment's text, an id, a rule) is held once, however many codings
    repeat it: SQLite returns a new string object per row, and a segment's text repeated for
    each of its codes was most of a large study's codings frame (and of the report's memory).
    """
    columns = CODING_COLUMNS + EXTRA_COLUMNS[:-1]
    values: list[list[Any]] = [[] for _ in columns]
    shared: dict[str, str] = {}
    for row in rows:
        for column, value in zip(values, row):
            if isinstance(value, str):
                value = shared.setdefault(value, value)
            column.append(value)
    frame = pd.DataFrame(dict(zip(columns, values)), columns=columns)
    frame["coder"] = coder
    return frame


def empty_codings() -> pd.DataFrame:
    """An empty codings frame with the right columns and dtypes."""
    frame = pd.DataFrame({column: pd.Series(dtype="object") for column in CODING_COLUMNS + EXTRA_COLUMNS})
    for column in ("segment_pk", "turn_idx", "start_char", "end_char", "segment_start", "segment_end", "turn_pk"):
        frame[column] = frame[column].astype("int64")
    frame["score"] = frame["score"].astype("float64")
    return frame


def load_codings(study_or_store: Any, coder: str | None = None, *, unit: str | None = None) -> pd.DataFrame:
    """One row per code application of ``coder`` (default: the latest successful rules run).

    Columns: ``segment_pk, transcript_id, participant_id, turn_idx, code_id, start_char,
    end_char, text, score`` (offsets are into the turn; ``text`` is the segment's text), plus
    ``segment_start, segment_end, turn_pk, matched_text, rule, coder``. ``df.attrs`` holds
    ``coder`` and ``unit``.
    """
    store = _store_of(study_or_store)
    coder = coder or default_coder(study_or_store)
    specs = parse_coder(coder)
    unit = resolve_unit(study_or_store, specs, unit)
    frames = []
    for spec in specs:
        if spec.kind == "run":
            row = store.run(int(spec.value))
            if row["kind"] not in ("rules", "learned"):
                raise NotFoundError(
                    f"run {spec.value} is of kind {row['kind']!r}, not a rules run (nor a learned one): it has no codings",
                    hint="choose a run of kind 'rules' or 'learned' (`qualkit runs list` shows each run's kind), or a human coder",
                )
            if row["status"] != "ok":
                raise NotFoundError(
                    f"run {spec.value} did not finish successfully (status {row['status']!r})",
                    hint="choose another run; `qualkit runs list` shows them",
                )
            frames.append(_frame(store.conn.execute(_RUN_SQL, (int(spec.value),)), spec.name))
        else:
            known = store.conn.execute("SELECT 1 FROM human_codings WHERE coder = ? LIMIT 1", (spec.value,)).fetchone()
            if known is None:
                names = ", ".join(coders(store)) or "none yet"
                raise NotFoundError(f"no human coder {spec.value!r} in this study", hint=f"known coders: {names}")
            _ensure_segments(store, unit)
            frames.append(_frame(store.conn.execute(_HUMAN_SQL, (unit, spec.value)), spec.name))
    frames = [frame for frame in frames if not frame.empty]
    codings = pd.concat(frames, ignore_index=True) if frames else empty_codings()
    codings = sort_codings(codings)
    codings.attrs.update({"coder": coder, "unit": unit})
    return codings


def sort_codings(codings: pd.DataFrame) -> pd.DataFrame:
    """Order codings by transcript (P2 before P10), turn, offset and code, with a fresh index."""
    if codings.empty:
        return codings.reset_index(drop=True)
    order = sorted(codings["transcript_id"].unique(), key=participant_sort_key)
    rank = codings["transcript_id"].map({tid: i for i, tid in enumerate(order)})
    result = (
        codings.assign(_rank=rank)
        .sort_values(["_rank", "turn_idx", "segment_start", "start_char", "code_id"], kind="mergesort")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )
    result.attrs = dict(codings.attrs)
    return result


def participants_frame(study_or_store: Any) -> pd.DataFrame:
    """Participants as a DataFrame (``participant_id, role, company_size, sector, years_experience``
    and one column per free-form attribute), in participant order."""
    store = _store_of(study_or_store)
    people = stored_participants(store)
    rows = []
    for person in people:
        row: dict[str, Any] = {
            "participant_id": person.id,
            "role": person.role,
            "company_size": person.company_size,
            "sector": person.sector,
            "years_experience": person.years_experience,
        }
        for key, value in person.attributes.items():
            row.setdefault(key, value)
        rows.append(row)
    columns = ["participant_id", "role", "company_size", "sector", "years_experience"]
    frame = pd.DataFrame(rows)
    return frame if not frame.empty else pd.DataFrame(columns=columns)


def transcripts_frame(study_or_store: Any) -> pd.DataFrame:
    """Current transcripts (``transcript_pk, transcript_id, version, participant_id, date, word_count,
    participant_words, interviewer_words, n_turns, n_participant_turns, n_interviewer_turns``)."""
    store = _store_of(study_or_store)
    # each turn's words are counted as its row streams by: a large study's turn texts (and their
    # words as lists) are never all in memory at once
    rows = [
        (*row[:7], len(row[7].split()) if row[7] else 0)
        for row in store.conn.execute(
            """SELECT t.pk AS transcript_pk, t.id AS transcript_id, t.version, t.participant_id, t.metadata,
                      t.word_count, tu.role, tu.text
               FROM transcripts t LEFT JOIN turns tu ON tu.transcript_pk = t.pk
               WHERE t.is_current = 1"""
        )
    ]
    columns = [
        "transcript_pk", "transcript_id", "version", "participant_id", "date", "word_count",
        "participant_words", "interviewer_words", "n_turns", "n_participant_turns", "n_interviewer_turns",
    ]
    if not rows:
        return pd.DataFrame(columns=columns)
    raw = pd.DataFrame(rows, columns=["transcript_pk", "transcript_id", "version", "participant_id", "metadata", "word_count", "role", "words"])
    raw["is_participant"] = raw["role"].eq("participant")
    raw["is_interviewer"] = raw["role"].eq("interviewer")
    raw["participant_words"] = raw["words"].where(raw["is_participant"], 0)
    raw["interviewer_words"] = raw["words"].where(raw["is_interviewer"], 0)
    keys = ["transcript_pk", "transcript_id", "version", "participant_id", "metadata", "word_count"]
    frame = (
        raw.groupby(keys, dropna=False)
        .agg(
            participant_words=("participant_words", "sum"),
            interviewer_words=("interviewer_words", "sum"),
            n_turns=("role", "count"),
            n_participant_turns=("is_participant", "sum"),
            n_interviewer_turns=("is_interviewer", "sum"),
        )
        .reset_index()
    )
    frame["date"] = pd.to_datetime(
        frame["metadata"].map(lambda m: json.loads(m).get("date") if m else None), errors="coerce"
    )
    frame = frame.drop(columns="metadata")
    order = sorted(frame["transcript_id"], key=participant_sort_key)
    frame = frame.set_index("transcript_id").loc[order].reset_index()
    return frame[columns]


def run_codebook(study_or_store: Any, run_id: int) -> CodeTree | None:
    """The codebook a run used, from the store (``None`` when the run recorded none)."""
    store = _store_of(study_or_store)
    run = store.run(run_id)
    hash_ = run["codebook_hash"]
    if not hash_:
        return None
    row = store.conn.execute("SELECT * FROM codebooks WHERE hash = ?", (hash_,)).fetchone()
    if row is None:
        return None
    tree = tree_from_resolved(row["resolved"], hash_=hash_)
    tree.name = tree.name or row["name"]
    tree.version = tree.version or (row["version_label"] or "")
    return tree


def segment_count(study_or_store: Any, unit: str, *, participant_only: bool = True) -> int:
    """Segments of ``unit`` in the current transcripts (participant turns only by default)."""
    role = "AND tu.role = 'participant'" if participant_only else ""
    row = _store_of(study_or_store).conn.execute(
        f"""SELECT COUNT(*) FROM segments s JOIN transcripts t ON t.pk = s.transcript_pk
            JOIN turns tu ON tu.pk = s.turn_pk WHERE t.is_current = 1 AND s.unit = ? {role}""",
        (unit,),
    ).fetchone()
    return int(row[0])


__all__ = [
    "CODING_COLUMNS",
    "CoderSpec",
    "coders",
    "default_coder",
    "empty_codings",
    "declared_codebook_hash",
    "latest_rules_run",
    "load_codings",
    "parse_coder",
    "participants_frame",
    "run_codebook",
    "run_unit",
    "segment_count",
    "sort_codings",
    "transcripts_frame",
]
