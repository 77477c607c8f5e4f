"""Running the rules pass over a study: one recorded run, on the local process or a Dask backend.

The pass itself (:class:`qualkit.coding.rules.RuleCoder`: compiled matchers, explained
applications) knows nothing of where it runs or how progress is shown; this module is the
backend side that runs it over the study's segments, reuses an earlier run's applications for
unchanged transcripts, stores the applications in one transaction and records the run.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..codebook import Codebook, load_codebook
from ..coding.nlp import versions
from ..coding.rules import INSERT_BATCH, RuleCoder
from ..coding.segment import ensure_segments, normalize_unit
from ..errors import NotFoundError
from .progress import progress_bar
from .rules import SKIP_TABLE, segment_query


@dataclass
class RunSummary:
    """What one rules run did."""

    run_id: int
    codebook_name: str
    codebook_hash: str
    unit: str
    include_interviewer: bool
    transcripts: int
    segments_created: int
    segments_coded: int
    words: int
    applications: int
    codes_used: int
    seconds: float
    code_counts: dict[str, int] = field(default_factory=dict)

    @property
    def words_per_second(self) -> float:
        return self.words / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["words_per_second"] = round(self.words_per_second)
        return data


def _codebook_for(study: Any, codebook: Codebook | str | Path | None) -> tuple[Codebook, str]:
    if isinstance(codebook, Codebook):
        return codebook, str(codebook.source_path or codebook.name)
    ref = codebook if codebook is not None else study.config.codebook.path
    return load_codebook(ref, base_dir=study.root), str(ref)


def run_rules(
    study: Any,
    *,
    codebook: Codebook | str | Path | None = None,
    unit: str | None = None,
    include_interviewer: bool | None = None,
    progress: bool = True,
    backend: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    reuse_run: int | None = None,
) -> RunSummary:
    """Code every current transcript of ``study`` with the codebook's rules and record a run.

    Defaults come from the study's ``[codebook] path`` (relative to the study folder, or a
    bundled name) and ``[coding]``. Errors in the codebook or options are raised before
    anything is stored; a failure during coding marks the run failed and removes its
    applications.

    ``backend`` is ``"local"`` (this process), ``"dask"`` (with ``workers`` or ``scheduler``),
    or a :class:`qualkit.execution.Backend`; default: the study's ``[execution]`` section.
    Every backend gives the same applications.

    ``reuse_run`` names an earlier rules run: when it used the same codebook (hash), unit and
    roles, the transcripts it coded that are still current keep its applications (copied into
    the new run) and only the others are coded. The new run is complete either way.
    """
    started = time.perf_counter()
    book, ref = _codebook_for(study, codebook)
    unit = normalize_unit(unit if unit is not None else study.config.coding.unit)
    include = study.config.coding.include_interviewer if include_interviewer is None else include_interviewer
    coder = RuleCoder(book)
    from .backends import Backend, backend_for_study

    executor = backend if isinstance(backend, Backend) else backend_for_study(study, backend, workers, scheduler)
    owned = executor is not backend
    if owned and executor.name == "local":
        executor = None  # the in-process path below
    store = study.store
    transcripts = store.query("SELECT COUNT(*) AS n FROM transcripts WHERE is_current = 1")[0]["n"]
    if not transcripts:
        raise NotFoundError("the study has no transcripts to code", hint="import some with `qualkit transcripts import`")

    source = str(book.source_path) if book.source_path else None
    store.store_codebook(book.hash, book.name, book.version, book.to_resolved_dict(), source)
    parameters = {"unit": unit, "include_interviewer": include, "codebook": ref}
    run_id = store.start_run("rules", parameters, codebook_hash=book.hash)
    try:
        t0 = time.perf_counter()
        if executor is not None:
            from .segments import ensure_segments_on

            try:
                created = ensure_segments_on(store, unit, executor, progress=progress)
            except BaseException:
                if owned:
                    executor.close()
                raise
        else:
            created = ensure_segments(store, unit)
        t_segments = time.perf_counter() - t0
        reused = _reuse_applications(store, run_id, reuse_run, book.hash, unit, include)
        select, select_params = segment_query(unit, include)  # rows: pk, start_char, text, transcript_pk
        total = store.query(f"SELECT COUNT(*) AS n FROM ({select})", select_params)[0]["n"]
        counts: dict[str, int] = dict(reused["code_counts"])
        segments = words = applications = 0
        t1 = time.perf_counter()
        if executor is not None:
            from .rules import code_segments

            try:
                totals = code_segments(store, run_id, book, unit=unit, include_interviewer=include, backend=executor, progress=progress)
            finally:
                if owned:
                    executor.close()
            segments, words, applications = totals.segments, totals.words, totals.applications
            for code_id, n in totals.counts.items():
                counts[code_id] = counts.get(code_id, 0) + n
        else:
            with store.transaction() as conn:
                cursor = conn.execute(select, select_params)
                items = ((row[2], (row[0], row[1], row[2])) for row in _rows(cursor))
                batch: list[tuple[Any, ...]] = []
                insert = """INSERT INTO code_applications (run_id, segment_pk, code_id, start_char, end_char, matched_text, rule, score)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""
                with progress_bar("coding (local, 1 worker)", total, unit="segments", enabled=progress) as advance:
                    for matches, (segment_pk, offset, text) in coder.code_with_context(items):
                        segments += 1
                        words += len(text.split())
                        for match in matches:
                            batch.append((run_id, segment_pk, match.code_id, offset + match.start, offset + match.end, match.text, match.rule, match.score))
                            counts[match.code_id] = counts.get(match.code_id, 0) + 1
                        if len(batch) >= INSERT_BATCH:
                            conn.executemany(insert, batch)
                            applications += len(batch)
                            batch.clear()
                        advance(1, len(text.split()))
                    if batch:
                        conn.executemany(insert, batch)
                        applications += len(batch)
        t_code = time.perf_counter() - t1
        applications += reused["applications"]
        coded_transcripts = [row["pk"] for row in store.query("SELECT pk FROM transcripts WHERE is_current = 1 ORDER BY pk")]
    except BaseException as error:
        with store.transaction() as conn:
            conn.execute("DELETE FROM code_applications WHERE run_id = ?", (run_id,))
        store.finish_run(run_id, status="failed", error=f"{type(error).__name__}: {error}")
        raise
    seconds = time.perf_counter() - started
    summary = RunSummary(
        run_id=run_id,
        codebook_name=book.name,
        codebook_hash=book.hash,
        unit=unit,
        include_interviewer=include,
        transcripts=transcripts,
        segments_created=created,
        segments_coded=segments,
        words=words,
        applications=applications,
        codes_used=len(counts),
        seconds=seconds,
        code_counts=dict(sorted(counts.items())),
    )
    manifest = {
        "codebook": {"name": book.name, "version": book.version, "hash": book.hash, "ref": ref, "source": source},
        "unit": unit,
        "include_interviewer": include,
        "transcripts": transcripts,
        "segments_created": created,
        "segments_coded": segments,
        "words": words,
        "applications": applications,
        "codes_used": len(counts),
        "code_counts": summary.code_counts,
        "timings": {"segment_s": round(t_segments, 4), "code_s": round(t_code, 4), "total_s": round(seconds, 4)},
        "words_per_second": round(summary.words_per_second),
        "versions": versions(),
        "execution": executor.describe() if executor is not None else {"backend": "local", "workers": 1},
        "reused": {key: reused[key] for key in ("run", "transcripts", "applications")},
        "transcript_pks": coded_transcripts,
    }
    store.finish_run(run_id, status="ok", manifest=manifest)
    return summary


def _reuse_applications(store: Any, run_id: int, reuse_run: int | None, codebook_hash: str, unit: str, include: bool) -> dict[str, Any]:
    """Copy ``reuse_run``'s applications for transcripts it coded that are still current, and
    list those transcripts in the skip table so that this run codes only the others."""
    store.conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {SKIP_TABLE} (pk INTEGER PRIMARY KEY)")
    store.conn.execute(f"DELETE FROM temp.{SKIP_TABLE}")
    nothing: dict[str, Any] = {"run": None, "transcripts": 0, "applications": 0, "code_counts": {}}
    if reuse_run is None:
        return nothing
    rows = store.query("SELECT * FROM runs WHERE id = ? AND kind = 'rules' AND status = 'ok'", (reuse_run,))
    if not rows:
        return nothing
    previous = rows[0]
    parameters = json.loads(previous["parameters"] or "{}")
    manifest = json.loads(previous["manifest"] or "{}")
    if previous["codebook_hash"] != codebook_hash or parameters.get("unit") != unit or bool(parameters.get("include_interviewer")) != include:
        return nothing
    current = {row["pk"] for row in store.query("SELECT pk FROM transcripts WHERE is_current = 1")}
    keep = sorted(current & set(manifest.get("transcript_pks", [])))
    if not keep:
        return nothing
    with store.transaction() as conn:
        conn.executemany(f"INSERT INTO temp.{SKIP_TABLE} (pk) VALUES (?)", [(pk,) for pk in keep])
        copied = conn.execute(
            f"""INSERT INTO code_applications (run_id, segment_pk, code_id, start_char, end_char, matched_text, rule, score)
                SELECT ?, a.segment_pk, a.code_id, a.start_char, a.end_char, a.matched_text, a.rule, a.score
                FROM code_applications a JOIN segments s ON s.pk = a.segment_pk
                WHERE a.run_id = ? AND s.transcript_pk IN (SELECT pk FROM temp.{SKIP_TABLE})
                ORDER BY a.pk""",
            (run_id, reuse_run),
        ).rowcount
        counts = {
            row["code_id"]: row["n"]
            for row in conn.execute("SELECT code_id, COUNT(*) AS n FROM code_applications WHERE run_id = ? GROUP BY code_id", (run_id,))
        }
    return {"run": reuse_run, "transcripts": len(keep), "applications": copied, "code_counts": counts}


def _rows(cursor: Any, size: int = 1000) -> Iterator[Any]:
    while True:
        rows = cursor.fetchmany(size)
        if not rows:
            return
        yield from rows



__all__ = ["RunSummary", "run_rules"]
