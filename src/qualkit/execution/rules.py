"""The rule pass on a backend: transcript batches coded on workers, stored by the client.

Each worker process builds the spaCy pipeline and the codebook's matchers **once**, from the
codebook's resolved form (plain data, sent to each worker once), cached by the codebook's
content hash; a live pipeline is never pickled. A batch is a list of whole transcripts'
segments ``(segment_pk, start_char, text)``; a worker returns plain tuples
``(segment_pk, code_id, start_char, end_char, matched_text, rule, score)`` with offsets
already into the turn. Only the client writes to SQLite, in batched inserts inside the
run's transaction, so a failure stores nothing.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from ..codebook import Codebook
from ..errors import CodebookError
from .backends import Backend
from .progress import progress_bar

#: A batch holds whole transcripts and is closed once it has at least this many words.
BATCH_WORDS = 40_000
#: Applications written per ``executemany``.
INSERT_BATCH = 5000

Segment = tuple[int, int, str]  # (segment_pk, start_char in the turn, text)
Application = tuple[int, str, int, int, str, str, float]  # (segment_pk, code_id, start, end, text, rule, score)
CodebookPayload = tuple[str, dict[str, Any]]  # (hash, resolved form)

_CODERS: collections.OrderedDict[str, Any] = collections.OrderedDict()
_CODERS_SIZE = 4


def codebook_payload(codebook: Codebook) -> CodebookPayload:
    """What a worker needs to rebuild a codebook's coder: its hash and its resolved form."""
    return codebook.hash, codebook.to_resolved_dict()


def worker_coder(payload: CodebookPayload) -> Any:
    """The :class:`~qualkit.coding.rules.RuleCoder` for ``payload``, built once per process."""
    codebook_hash, resolved = payload
    coder = _CODERS.get(codebook_hash)
    if coder is not None:
        _CODERS.move_to_end(codebook_hash)
        return coder
    from ..coding.rules import RuleCoder

    book = Codebook.from_resolved_dict(resolved)
    if book.hash != codebook_hash:
        raise CodebookError(
            f"the codebook sent to a worker does not match its hash ({codebook_hash[:12]} expected, {book.hash[:12]} rebuilt)",
            hint="the worker runs another qualkit version than the client: install the same version on every worker",
        )
    coder = RuleCoder(book)
    _CODERS[codebook_hash] = coder
    if len(_CODERS) > _CODERS_SIZE:
        _CODERS.popitem(last=False)
    return coder


@dataclass
class BatchResult:
    """What a worker returns for one batch: counts and plain application tuples."""

    segments: int
    words: int
    applications: list[Application]


def code_batch(batch: list[Segment], payload: CodebookPayload) -> BatchResult:
    """Code one batch of segments with the codebook in ``payload`` (runs on a worker)."""
    coder = worker_coder(payload)
    rows: list[Application] = []
    append = rows.append
    words = 0
    for _, _, text in batch:
        words += len(text.split())
    items = ((text, (segment_pk, offset)) for segment_pk, offset, text in batch)
    for matches, (segment_pk, offset) in coder.code_with_context(items):
        for match in matches:
            append((segment_pk, match.code_id, offset + match.start, offset + match.end, match.text, match.rule, match.score))
    return BatchResult(len(batch), words, rows)


def transcript_batches(rows: Iterable[Any], batch_words: int | None = None) -> Iterator[list[Segment]]:
    """Group ``(segment_pk, start_char, text, transcript_pk)`` rows, in order, into batches of whole transcripts."""
    batch_words = batch_words or BATCH_WORDS
    batch: list[Segment] = []
    words = 0
    current: Any = None
    for segment_pk, offset, text, transcript_pk in rows:
        if transcript_pk != current:
            if words >= batch_words:
                yield batch
                batch, words = [], 0
            current = transcript_pk
        batch.append((segment_pk, offset, text))
        words += text.count(" ") + 1
    if batch:
        yield batch


@dataclass
class CodingTotals:
    """What :func:`code_segments` did."""

    segments: int = 0
    words: int = 0
    applications: int = 0
    batches: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def segment_query(unit: str, include_interviewer: bool) -> tuple[str, tuple[Any, ...]]:
    """SQL for the segments a rules run codes (current transcripts, the unit, the roles), in order."""
    roles = ("participant", "interviewer") if include_interviewer else ("participant",)
    marks = ",".join("?" for _ in roles)
    sql = f"""SELECT s.pk, s.start_char, s.text, s.transcript_pk FROM segments s
              JOIN turns u ON u.pk = s.turn_pk
              JOIN transcripts t ON t.pk = s.transcript_pk
              WHERE t.is_current = 1 AND s.unit = ? AND u.role IN ({marks})
                AND s.transcript_pk NOT IN (SELECT pk FROM temp.{SKIP_TABLE})
              ORDER BY s.transcript_pk, s.ordinal"""
    return sql, (unit, *roles)


#: Transcripts a rules run does not code because it reuses an earlier run's applications for
#: them (see ``run_rules(reuse_run=...)``); a temporary table of the store's connection.
SKIP_TABLE = "qualkit_skip_transcripts"


def code_segments(
    store: Any,
    run_id: int,
    codebook: Codebook,
    *,
    unit: str,
    include_interviewer: bool,
    backend: Backend,
    progress: bool = True,
    batch_words: int | None = None,
) -> CodingTotals:
    """Code the study's segments on ``backend`` and store the applications under ``run_id``.

    Runs inside one store transaction (joining the caller's, if any): the client streams
    segments from SQLite into batches, the backend codes them (results in batch order, a
    bounded number in flight) and the client inserts the applications every
    :data:`INSERT_BATCH` rows.
    """
    sql, params = segment_query(unit, include_interviewer)
    total = store.query(f"SELECT COUNT(*) AS n FROM ({sql})", params)[0]["n"]
    totals = CodingTotals()
    insert = f"""INSERT INTO code_applications (run_id, segment_pk, code_id, start_char, end_char, matched_text, rule, score)
                 VALUES ({int(run_id)}, ?, ?, ?, ?, ?, ?, ?)"""
    counts = totals.counts
    pending: list[Application] = []
    label = f"coding ({backend.name}, {backend.n_workers} worker{'s' if backend.n_workers != 1 else ''})"
    with store.transaction() as conn, progress_bar(label, total, unit="segments", enabled=progress) as advance:
        cursor = conn.execute(sql, params)
        rows = (row for chunk in iter(lambda: cursor.fetchmany(2000), []) for row in chunk)
        batches = transcript_batches(rows, batch_words or BATCH_WORDS)
        for result in backend.imap(code_batch, batches, shared=(codebook_payload(codebook),)):
            totals.batches += 1
            totals.segments += result.segments
            totals.words += result.words
            for row in result.applications:
                counts[row[1]] = counts.get(row[1], 0) + 1
            pending.extend(result.applications)
            if len(pending) >= INSERT_BATCH:
                conn.executemany(insert, pending)
                totals.applications += len(pending)
                pending = []
            advance(result.segments, result.words)
        if pending:
            conn.executemany(insert, pending)
            totals.applications += len(pending)
    totals.counts = dict(sorted(counts.items()))
    return totals


__all__ = [
    "BATCH_WORDS",
    "BatchResult",
    "CodingTotals",
    "code_batch",
    "code_segments",
    "codebook_payload",
    "segment_query",
    "transcript_batches",
    "worker_coder",
]
