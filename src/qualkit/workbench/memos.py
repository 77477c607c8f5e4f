"""Memos: a researcher's notes on a code, a transcript, a turn, a human coding, or the study.

Memos live in the store's ``memos`` table (migration 0002). Every write is one transaction and
checks its target first: an unknown code, transcript, turn or coding is a clear error that
changes nothing. Transcripts are referred to by id (a memo survives a new version of its
transcript); turns by their 0-based index as stored (faces show them 1-based).
"""

from __future__ import annotations

import csv
import io
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from ..analysis.code_names import resolve_code, study_code_tree
from ..errors import InputError, NotFoundError, display_path
from ..store import participant_sort_key, utcnow

TARGET_KINDS = ("study", "code", "transcript", "turn", "coding")
MAX_MEMO_CHARS = 100_000

CSV_COLUMNS = ["memo", "coder", "target", "code", "transcript", "turn", "coding", "title", "text", "created_at", "updated_at"]


@dataclass(frozen=True)
class Memo:
    """One memo and what it is about (``turn_idx`` is 0-based)."""

    pk: int
    coder: str
    target_kind: str
    code_id: str | None
    transcript_id: str | None
    turn_idx: int | None
    coding_pk: int | None
    title: str
    text: str
    created_at: str
    updated_at: str

    @property
    def target(self) -> str:
        """The target as people read it: ``code velocity``, ``P3 turn 4`` (turns counted from 1, as every face shows them)."""
        if self.target_kind == "code":
            return f"code {self.code_id}"
        if self.target_kind == "transcript":
            return f"transcript {self.transcript_id}"
        if self.target_kind == "turn":
            return f"{self.transcript_id} turn {(self.turn_idx or 0) + 1}"
        if self.target_kind == "coding":
            return f"coding {self.coding_pk}" + (f" in {self.transcript_id}" if self.transcript_id else "")
        return "study"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "target": self.target}


def _row_to_memo(row: sqlite3.Row) -> Memo:
    return Memo(
        pk=int(row["pk"]),
        coder=row["coder"],
        target_kind=row["target_kind"],
        code_id=row["code_id"],
        transcript_id=row["transcript_id"],
        turn_idx=row["turn_idx"],
        coding_pk=row["coding_pk"],
        title=row["title"] or "",
        text=row["text"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _store(study: Any) -> Any:
    return getattr(study, "store", study)


# -- writing -----------------------------------------------------------------------------------------


def _check_text(text: str, title: str) -> tuple[str, str]:
    text = (text or "").strip()
    title = (title or "").strip()
    if not text:
        raise InputError("a memo needs some text", hint="give the memo some text, e.g. 'why this code matters'")
    if len(text) > MAX_MEMO_CHARS:
        raise InputError(f"the memo is {len(text):,} characters long, more than {MAX_MEMO_CHARS:,}",
                         hint="split it into several memos")
    if "\n" in title or len(title) > 200:
        raise InputError("a memo's title is one line of at most 200 characters", hint="shorten the title")
    return text, title


def _target(
    study: Any,
    *,
    code: str | None,
    transcript: str | None,
    turn_idx: int | None,
    coding: int | None,
) -> dict[str, Any]:
    """Check the target and return the memo columns that describe it."""
    store = _store(study)
    given = [name for name, value in (("code", code), ("coding", coding)) if value is not None]
    if transcript is not None and coding is None:
        given.append("turn" if turn_idx is not None else "transcript")
    elif turn_idx is not None and transcript is None:
        raise InputError("a turn is named by its transcript and its number", hint="give the transcript too, e.g. --transcript P3 --turn 4")
    if len(given) > 1:
        raise InputError(f"a memo has one target, got {' and '.join(given)}",
                         hint="give one of: a code, a transcript (with or without a turn), a coding")
    empty = {"target_kind": "study", "code_id": None, "transcript_id": None, "turn_idx": None, "coding_pk": None}
    if not given:
        return empty
    kind = given[0]
    if kind == "code":
        return {**empty, "target_kind": "code", "code_id": resolve_code(study_code_tree(study), str(code))}
    if kind == "coding":
        row = store.conn.execute(
            """SELECT hc.pk, t.id AS transcript_id, tu.idx AS turn_idx FROM human_codings hc
               JOIN transcripts t ON t.pk = hc.transcript_pk LEFT JOIN turns tu ON tu.pk = hc.turn_pk
               WHERE hc.pk = ?""",
            (int(coding),),  # type: ignore[arg-type]
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no human coding {coding} in this study",
                                hint="memos attach to human codings (the workbench shows their numbers); "
                                "write a memo on the turn instead")
        return {**empty, "target_kind": "coding", "coding_pk": int(row["pk"]), "transcript_id": row["transcript_id"],
                "turn_idx": row["turn_idx"]}
    pk = store.transcript_pk(str(transcript))  # NotFoundError names the known transcripts
    if kind == "transcript":
        return {**empty, "target_kind": "transcript", "transcript_id": str(transcript)}
    turns = int(store.conn.execute("SELECT COUNT(*) FROM turns WHERE transcript_pk = ?", (pk,)).fetchone()[0])
    if turn_idx is None or not 0 <= int(turn_idx) < turns:
        shown = "?" if turn_idx is None else int(turn_idx) + 1
        raise InputError(f"transcript {transcript} has no turn {shown}: its turns are numbered 1 to {turns}",
                         hint=f"give a turn from 1 to {turns}")
    return {**empty, "target_kind": "turn", "transcript_id": str(transcript), "turn_idx": int(turn_idx)}


def add_memo(
    study: Any,
    *,
    coder: str,
    text: str,
    title: str = "",
    code: str | None = None,
    transcript: str | None = None,
    turn_idx: int | None = None,
    coding: int | None = None,
) -> Memo:
    """Write a memo on one target (none: a memo on the study) and return it.

    ``code`` may be an id or a label; ``turn_idx`` is 0-based and needs ``transcript``.
    """
    coder = (coder or "").strip()
    if not coder:
        raise InputError("a memo needs its author", hint="give the coder's name, e.g. --coder alice")
    from .edits import check_coder  # the names `qualkit serve` accepts, so memos and codings share their authors

    coder = check_coder(coder[len("human:"):] if coder.startswith("human:") else coder)
    text, title = _check_text(text, title)
    target = _target(study, code=code, transcript=transcript, turn_idx=turn_idx, coding=coding)
    store = _store(study)
    now = utcnow()
    with store.transaction() as conn:
        cursor = conn.execute(
            """INSERT INTO memos (coder, target_kind, code_id, transcript_id, turn_idx, coding_pk, title, text,
                                  created_at, updated_at)
               VALUES (:coder, :target_kind, :code_id, :transcript_id, :turn_idx, :coding_pk, :title, :text, :now, :now)""",
            {**target, "coder": coder, "title": title, "text": text, "now": now},
        )
        pk = int(cursor.lastrowid)
    return get_memo(study, pk)


def get_memo(study: Any, pk: int) -> Memo:
    row = _store(study).conn.execute("SELECT * FROM memos WHERE pk = ?", (int(pk),)).fetchone()
    if row is None:
        raise NotFoundError(f"no memo {pk} in this study", hint="`qualkit memos list` shows the memos and their numbers")
    return _row_to_memo(row)


def _check_author(memo: Memo, coder: str | None) -> None:
    if coder is not None and memo.coder != coder:
        raise InputError(f"memo {memo.pk} is {memo.coder}'s, not {coder}'s: only its author changes it",
                         hint="write a memo of your own on the same target")


def edit_memo(study: Any, pk: int, *, text: str | None = None, title: str | None = None, coder: str | None = None) -> Memo:
    """Change a memo's text and/or title (its target and author stay); with ``coder``, only the author may."""
    memo = get_memo(study, pk)
    _check_author(memo, coder)
    new_text, new_title = _check_text(memo.text if text is None else text, memo.title if title is None else title)
    with _store(study).transaction() as conn:
        conn.execute("UPDATE memos SET text = ?, title = ?, updated_at = ? WHERE pk = ?",
                     (new_text, new_title, utcnow(), memo.pk))
    return get_memo(study, pk)


def delete_memo(study: Any, pk: int, *, coder: str | None = None) -> Memo:
    """Delete a memo; returns what was deleted. With ``coder``, only the author may."""
    memo = get_memo(study, pk)
    _check_author(memo, coder)
    with _store(study).transaction() as conn:
        conn.execute("DELETE FROM memos WHERE pk = ?", (memo.pk,))
    return memo


# -- reading -----------------------------------------------------------------------------------------


def _order(memos: Iterable[Memo]) -> list[Memo]:
    kind_rank = {kind: i for i, kind in enumerate(TARGET_KINDS)}

    def key(memo: Memo) -> tuple[Any, ...]:
        return (
            kind_rank.get(memo.target_kind, 9),
            memo.code_id or "",
            participant_sort_key(memo.transcript_id or ""),
            memo.turn_idx if memo.turn_idx is not None else -1,
            memo.created_at,
            memo.pk,
        )

    return sorted(memos, key=key)


def _check_filters(study: Any, *, code: str | None, transcript: str | None, turn_idx: int | None) -> tuple[str | None, str | None]:
    """Resolve a code label to its id and refuse filters naming nothing, so a typo is not silently "no memos".

    A code or transcript some memo still names (e.g. since removed from the study) is accepted as it is.
    """
    if turn_idx is not None and transcript is None:
        raise InputError("a turn is named by its transcript and its number", hint="give the transcript too, e.g. --transcript P3 --turn 4")
    store = _store(study)
    if code is not None and store.query("SELECT 1 FROM memos WHERE code_id = ? LIMIT 1", (code,)) == []:
        code = resolve_code(study_code_tree(study), str(code))  # NotFoundError with suggestions
    if transcript is not None and store.query("SELECT 1 FROM memos WHERE transcript_id = ? LIMIT 1", (transcript,)) == []:
        store.transcript_pk(str(transcript))  # NotFoundError naming the known transcripts
    return code, transcript


def list_memos(
    study: Any,
    *,
    kind: str | None = None,
    code: str | None = None,
    transcript: str | None = None,
    turn_idx: int | None = None,
    coding: int | None = None,
    coder: str | None = None,
) -> list[Memo]:
    """Memos, filtered by target kind, code, transcript (its turns and codings too), turn, coding or author.

    Ordered by target: study, codes, transcripts, turns, codings; then by time.
    """
    if kind is not None and kind not in TARGET_KINDS:
        raise InputError(f"unknown memo target {kind!r}", hint=f"choose one of: {', '.join(TARGET_KINDS)}")
    code, transcript = _check_filters(study, code=code, transcript=transcript, turn_idx=turn_idx)
    clauses, params = [], []
    if kind is not None:
        clauses.append("target_kind = ?")
        params.append(kind)
    if code is not None:
        clauses.append("code_id = ?")
        params.append(code)
    if transcript is not None:
        clauses.append("transcript_id = ?")
        params.append(transcript)
    if turn_idx is not None:
        clauses.append("turn_idx = ?")
        params.append(int(turn_idx))
    if coding is not None:
        clauses.append("coding_pk = ?")
        params.append(int(coding))
    if coder is not None:
        clauses.append("coder = ?")
        params.append(coder)
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = _store(study).query(f"SELECT * FROM memos {where}", params)
    return _order(_row_to_memo(row) for row in rows)


def search_memos(study: Any, query: str, **filters: Any) -> list[Memo]:
    """Memos whose title, text, author or target contain every word of ``query`` (case-insensitive)."""
    words = [word.casefold() for word in (query or "").split()]
    if not words:
        raise InputError("an empty memo search", hint="give one or more words to look for")
    found = []
    for memo in list_memos(study, **filters):
        haystack = " ".join((memo.title, memo.text, memo.coder, memo.target, memo.code_id or "")).casefold()
        if all(word in haystack for word in words):
            found.append(memo)
    return found


def memos_csv(memos: Iterable[Memo]) -> str:
    """Memos as CSV text (turns 1-based, as people count them)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for memo in memos:
        writer.writerow([
            memo.pk, memo.coder, memo.target_kind, memo.code_id or "", memo.transcript_id or "",
            "" if memo.turn_idx is None else memo.turn_idx + 1, memo.coding_pk or "", memo.title, memo.text,
            memo.created_at, memo.updated_at,
        ])
    return buffer.getvalue()


def export_memos(study: Any, out_path: str | Path, **filters: Any) -> tuple[Path, int]:
    """Write the memos (filtered as :func:`list_memos`) to a CSV file; returns the path and the count."""
    memos = list_memos(study, **filters)
    out = Path(out_path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(memos_csv(memos), encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot write {display_path(out)}: {error.strerror}",
                         hint="choose a writable file with --out") from error
    return out, len(memos)


__all__ = [
    "CSV_COLUMNS",
    "Memo",
    "TARGET_KINDS",
    "add_memo",
    "delete_memo",
    "edit_memo",
    "export_memos",
    "get_memo",
    "list_memos",
    "memos_csv",
    "search_memos",
]
