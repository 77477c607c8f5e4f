"""Human codings made in the workbench: code a span by hand, remove or re-span a coding, undo.

Every function checks its input against the store (the transcript is current, the turn exists,
the span lies inside it, the codes are in the codebook, the coding is the coder's own) and then
writes in ONE store transaction, so a refused request changes nothing. Each returns a
:class:`Change` that holds what it inserted and the rows as they were before, which
:func:`undo` uses to put the store back. :func:`remember` keeps the last changes of each coder in
the store (table ``workbench_changes``), so :func:`undo_last` works after a restart of
``qualkit serve`` too; :class:`UndoStack` is the same in memory.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConflictError, InputError, NotFoundError
from ..store import utcnow
from .codes import check_codes

CODER_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
HUMAN_COLUMNS = (
    "pk", "coder", "run_id", "transcript_pk", "turn_pk", "start_char", "end_char", "code_id", "text", "memo",
    "source", "created_at", "decision", "suggestion_pk", "suggestion_run_id", "origin",
)


def check_coder(name: str) -> str:
    """A coder name usable as ``human:NAME`` (letters, digits, ``_ . @ -``)."""
    name = (name or "").strip()
    if not CODER_RE.match(name):
        raise InputError(
            f"{name!r} is not a usable coder name",
            hint="use letters, digits and _ . @ - (e.g. --coder alice); it is stored as human:NAME",
        )
    return name


@dataclass
class Change:
    """What one workbench action did: rows inserted, rows deleted or updated (as they were)."""

    action: str  # code | decide | remove | respan
    coder: str
    summary: str
    inserted: list[int] = field(default_factory=list)
    before: list[dict[str, Any]] = field(default_factory=list)  # rows deleted or updated, as they were
    updated: list[int] = field(default_factory=list)  # pks among ``before`` that were updated, not deleted

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "coder": self.coder, "summary": self.summary, "inserted": list(self.inserted)}

    def to_json(self) -> str:
        """Everything :func:`undo` needs, as JSON (stored in ``workbench_changes.change``)."""
        return json.dumps({"inserted": self.inserted, "before": self.before, "updated": self.updated}, sort_keys=True)

    @classmethod
    def from_json(cls, action: str, coder: str, summary: str, text: str) -> "Change":
        data = json.loads(text)
        return cls(action, coder, summary, [int(pk) for pk in data.get("inserted", [])], list(data.get("before", [])),
                   [int(pk) for pk in data.get("updated", [])])


@dataclass(frozen=True)
class TurnRef:
    """A turn of a current transcript, as the workbench addresses it."""

    transcript_id: str
    transcript_pk: int
    turn_pk: int
    turn_idx: int
    text: str


def current_turn(conn: sqlite3.Connection, transcript_id: str, turn_idx: int, *, transcript_pk: int | None = None) -> TurnRef:
    """The turn ``turn_idx`` of the current version of ``transcript_id``.

    ``transcript_pk`` is the version the page showed: when another version is current now, the
    page is stale and a :class:`ConflictError` says so.
    """
    row = conn.execute("SELECT pk, version FROM transcripts WHERE id = ? AND is_current = 1", (transcript_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no transcript {transcript_id!r} in this study", hint="`qualkit transcripts list` shows them")
    if transcript_pk is not None and int(transcript_pk) != row["pk"]:
        raise ConflictError(
            f"transcript {transcript_id!r} changed since this page was loaded (version {row['version']} is current now); nothing was stored",
            hint="reload the page and code the new version",
        )
    turn = conn.execute("SELECT pk, idx, text FROM turns WHERE transcript_pk = ? AND idx = ?", (row["pk"], turn_idx)).fetchone()
    if turn is None:
        raise NotFoundError(f"transcript {transcript_id!r} has no turn {turn_idx + 1}", hint="reload the page")
    return TurnRef(transcript_id, row["pk"], turn["pk"], turn["idx"], turn["text"])


def check_span(turn: TurnRef, start: Any, end: Any) -> tuple[int, int]:
    """``(start, end)`` as integers inside the turn, non-empty, or a clear error."""
    try:
        start, end = int(start), int(end)
    except (TypeError, ValueError):
        raise InputError(f"span {start!r}..{end!r} is not two whole numbers", hint="select the text again") from None
    if not (0 <= start < end <= len(turn.text)):
        raise InputError(
            f"span {start}..{end} is outside turn {turn.turn_idx + 1} of {turn.transcript_id} (0..{len(turn.text)}); nothing was stored",
            hint="select text inside one turn",
        )
    return start, end


def row_dict(row: sqlite3.Row) -> dict[str, Any]:
    return {column: row[column] for column in HUMAN_COLUMNS}


def insert_coding(conn: sqlite3.Connection, values: dict[str, Any]) -> int:
    columns = [column for column in HUMAN_COLUMNS if column in values]
    cursor = conn.execute(
        f"INSERT INTO human_codings ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
        [values[column] for column in columns],
    )
    return int(cursor.lastrowid)


def add_coding(
    study: Any, coder: str, transcript_id: str, turn_idx: int, start: Any, end: Any, code_ids: list[str], *,
    transcript_pk: int | None = None, memo: str | None = None,
) -> Change:
    """Code ``[start, end)`` of a turn with one or more codes, as human coder ``coder``."""
    coder = check_coder(coder)
    codes = check_codes(study, code_ids)
    store = study.store
    with store.transaction() as conn:
        turn = current_turn(conn, transcript_id, int(turn_idx), transcript_pk=transcript_pk)
        start, end = check_span(turn, start, end)
        now = utcnow()
        inserted = [
            insert_coding(conn, {
                "coder": coder, "transcript_pk": turn.transcript_pk, "turn_pk": turn.turn_pk, "start_char": start,
                "end_char": end, "code_id": code_id, "text": turn.text[start:end], "memo": memo or None,
                "source": "workbench", "created_at": now, "decision": "coded", "origin": "workbench",
            })
            for code_id in codes
        ]
    return Change("code", coder, f"coded {turn.transcript_id} turn {turn.turn_idx + 1} [{start}:{end}] with {', '.join(codes)}", inserted)


def _own_coding(conn: sqlite3.Connection, coder: str, coding_pk: int) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM human_codings WHERE pk = ?", (int(coding_pk),)).fetchone()
    if row is None:
        raise ConflictError(f"coding {coding_pk} no longer exists; nothing was changed", hint="reload the page")
    if row["coder"] != coder:
        raise InputError(
            f"coding {coding_pk} belongs to human:{row['coder']}, not to you (human:{coder}); nothing was changed",
            hint="only your own codings can be changed here",
        )
    return row


def remove_coding(study: Any, coder: str, coding_pk: int) -> Change:
    """Delete one of ``coder``'s codings."""
    coder = check_coder(coder)
    with study.store.transaction() as conn:
        row = _own_coding(conn, coder, coding_pk)
        conn.execute("DELETE FROM human_codings WHERE pk = ?", (row["pk"],))
    return Change("remove", coder, f"removed coding {row['pk']} ({row['code_id']})", before=[row_dict(row)])


def respan_coding(study: Any, coder: str, coding_pk: int, start: Any, end: Any, *, transcript_pk: int | None = None) -> Change:
    """Move one of ``coder``'s codings to another span of the same turn."""
    coder = check_coder(coder)
    with study.store.transaction() as conn:
        row = _own_coding(conn, coder, coding_pk)
        if row["turn_pk"] is None:
            raise InputError(f"coding {coding_pk} is not tied to a turn", hint="remove it and code the span again")
        owner = conn.execute(
            "SELECT t.id, t.is_current, tu.idx FROM turns tu JOIN transcripts t ON t.pk = tu.transcript_pk WHERE tu.pk = ?",
            (row["turn_pk"],),
        ).fetchone()
        turn = current_turn(conn, owner["id"], owner["idx"], transcript_pk=transcript_pk if transcript_pk is not None else row["transcript_pk"])
        start, end = check_span(turn, start, end)
        decision = "adjusted" if row["decision"] in ("accepted", "adjusted") else row["decision"]
        conn.execute(
            "UPDATE human_codings SET start_char = ?, end_char = ?, text = ?, decision = ? WHERE pk = ?",
            (start, end, turn.text[start:end], decision, row["pk"]),
        )
    return Change("respan", coder, f"moved coding {row['pk']} ({row['code_id']}) to [{start}:{end}]",
                  before=[row_dict(row)], updated=[row["pk"]])


def undo(study: Any, change: Change) -> str:
    """Put the store back as it was before ``change``; returns what was undone.

    Rows the change inserted are deleted, rows it deleted come back (with their pk when it is
    free), rows it updated get their old values. When a later edit of someone else already
    touched those rows, a :class:`ConflictError` says so and nothing is changed.
    """
    with study.store.transaction() as conn:
        _undo_rows(conn, change)
    return f"undid: {change.summary}"


def _undo_rows(conn: sqlite3.Connection, change: Change) -> None:
    """Delete what ``change`` inserted, put back the rows it deleted or updated (in the caller's transaction)."""
    for pk in change.inserted:
        if conn.execute("SELECT 1 FROM human_codings WHERE pk = ?", (pk,)).fetchone() is None:
            raise ConflictError(f"cannot undo '{change.summary}': coding {pk} was removed since; nothing was changed")
        conn.execute("DELETE FROM human_codings WHERE pk = ?", (pk,))
    for row in change.before:
        if row["pk"] in change.updated:
            if conn.execute("SELECT 1 FROM human_codings WHERE pk = ?", (row["pk"],)).fetchone() is None:
                raise ConflictError(f"cannot undo '{change.summary}': coding {row['pk']} was removed since; nothing was changed")
            sets = ", ".join(f"{column} = ?" for column in HUMAN_COLUMNS if column != "pk")
            conn.execute(f"UPDATE human_codings SET {sets} WHERE pk = ?",
                         [row[column] for column in HUMAN_COLUMNS if column != "pk"] + [row["pk"]])
        else:
            values = dict(row)
            if conn.execute("SELECT 1 FROM human_codings WHERE pk = ?", (row["pk"],)).fetchone() is not None:
                values.pop("pk")
            insert_coding(conn, values)


UNDO_DEPTH = 50
"""How many of a coder's changes :func:`remember` keeps for undo."""


def remember(study: Any, change: Change, *, depth: int = UNDO_DEPTH) -> Change:
    """Keep ``change`` in the store for :func:`undo_last` (the coder's last ``depth`` changes); returns it."""
    with study.store.transaction() as conn:
        conn.execute(
            "INSERT INTO workbench_changes (coder, action, summary, change, created_at) VALUES (?, ?, ?, ?, ?)",
            (change.coder, change.action, change.summary, change.to_json(), utcnow()),
        )
        conn.execute(
            """DELETE FROM workbench_changes WHERE coder = ? AND pk NOT IN
                   (SELECT pk FROM workbench_changes WHERE coder = ? ORDER BY pk DESC LIMIT ?)""",
            (change.coder, change.coder, int(depth)),
        )
    return change


def undo_last(study: Any, coder: str) -> str:
    """Undo ``coder``'s last remembered change (it may predate a restart); returns what was undone.

    One transaction: the codings are put back and the change leaves the history, or, when a later
    edit makes that impossible (:class:`ConflictError`), nothing changes.
    """
    coder = check_coder(coder)
    with study.store.transaction() as conn:
        row = conn.execute(
            "SELECT pk, action, summary, change FROM workbench_changes WHERE coder = ? ORDER BY pk DESC LIMIT 1", (coder,)
        ).fetchone()
        if row is None:
            raise InputError("nothing to undo", hint=f"undo covers the last {UNDO_DEPTH} changes you made in the workbench")
        change = Change.from_json(row["action"], coder, row["summary"], row["change"])
        _undo_rows(conn, change)
        conn.execute("DELETE FROM workbench_changes WHERE pk = ?", (row["pk"],))
    return f"undid: {change.summary}"


class UndoStack:
    """The last changes of each coder (thread-safe; kept in memory for one ``qualkit serve``)."""

    def __init__(self, depth: int = 50) -> None:
        self.depth = depth
        self._changes: dict[str, deque[Change]] = {}
        self._lock = threading.Lock()

    def push(self, change: Change) -> None:
        with self._lock:
            self._changes.setdefault(change.coder, deque(maxlen=self.depth)).append(change)

    def peek(self, coder: str) -> Change | None:
        with self._lock:
            changes = self._changes.get(coder)
            return changes[-1] if changes else None

    def undo_last(self, study: Any, coder: str) -> str:
        """Undo ``coder``'s last change; a clear error when there is none."""
        with self._lock:
            changes = self._changes.get(coder)
            if not changes:
                raise InputError("nothing to undo", hint="undo covers the changes made since `qualkit serve` started")
            change = changes[-1]
            message = undo(study, change)  # raises, leaving the change on the stack, when it cannot
            changes.pop()
            return message

    def __len__(self) -> int:
        return sum(len(changes) for changes in self._changes.values())


__all__ = [
    "UNDO_DEPTH", "Change", "TurnRef", "UndoStack", "add_coding", "check_coder", "check_span", "current_turn", "remember",
    "remove_coding", "respan_coding", "undo", "undo_last",
]
