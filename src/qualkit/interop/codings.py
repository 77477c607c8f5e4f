"""Human codings: import them from CSV or REFI-QDA projects into ``human_codings``.

One call, :func:`import_codings`, reads a file (``.csv`` or ``.qdpx``), checks every row or
selection against the study, resolves the file's codes to the study codebook's ids, and
stores everything in one transaction; any problem stores nothing. Automatic runs never
write to ``human_codings``; an import replaces the earlier imported codings of the coders it brings
in (their workbench codings and review decisions, ``origin = 'workbench'``, are kept).

Codes the codebook does not know are reported. They can be mapped (``map_file``: CSV with
``old,new`` columns, or YAML ``{old: new}``; ``old`` may be a label, an id, a REFI code
GUID or a ``Parent/Child`` path) or added (``add_unknown``): added codes are written to
``codebook/imported-codes.yaml``, which ``extends`` the study codebook, and the result says so.

CSV columns (header names, case-insensitive)
--------------------------------------------
``transcript`` (or ``transcript_id``), required.
``turn`` (1-based, as users see turns) or ``turn_idx`` (0-based), optional.
``start``/``end`` (or ``start_char``/``end_char``), optional: code-point offsets, end
exclusive, into the turn when a turn is given, else into the transcript's exported text
(the layout of :func:`qualkit.interop.qdpx.render_source`). Neither turn nor span: the
whole transcript's participant turns are not guessed; a turn or a span is required.
``code`` (or ``code_id``, ``label``), required: a code id or label.
``coder``, optional: wins over ``coder=`` (``human:NAME`` is read as NAME); a cell naming an
automatic run (``run:12``, as ``qualkit export`` writes) is no person, so ``coder=`` is used for
that row (and without it the row is refused). ``memo`` optional. ``text`` optional: when given
it must equal the coded text, a check that the offsets mean what the file thinks.

The readers live apart: :mod:`.codings_csv` (CSV rows), :mod:`.codings_qdpx` (REFI-QDA projects),
:mod:`.code_mapping` (codes resolved, the map file, the extension codebook); :mod:`.codings_common`
holds what they share. This module stores what they read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, display_path
from ..store import utcnow
from .code_mapping import (
    EXTENSION_FILE,
    ForeignCode,
    codebook_codes,
    is_configured_extension,
    read_map_file,
    resolve_codes,
    write_extension,
)
from .codings_common import coder_name
from .codings_csv import read_csv_codings
from .codings_qdpx import read_qdpx_codings, source_transcript
from .qdpx import QdpxProject


# --------------------------------------------------------------------------- results


@dataclass
class CodingsImportResult:
    """What an import did."""

    file: str
    format: str
    run_id: int
    codings: int
    coders: dict[str, int]
    replaced: dict[str, int]
    codes_used: list[str]
    mapped: dict[str, str] = field(default_factory=dict)
    added_codes: list[str] = field(default_factory=list)
    extension_path: str | None = None
    unknown_unused: list[str] = field(default_factory=list)
    transcripts_created: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)  # e.g. the QDPX project's summary
    memos: int = 0  # QDPX notes written as memos

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- the import


def import_codings(
    study: Any,
    path: str | Path,
    *,
    coder: str | None = None,
    map_file: str | Path | None = None,
    add_unknown: bool = False,
    import_sources: bool = False,
    allow_findings: bool = False,
    reason: str | None = None,
    units: str = "auto",
    ends: str = "exclusive",
) -> CodingsImportResult:
    """Import human codings from a CSV or QDPX file in one transaction (see the module docs)."""
    path = Path(path)
    shown = display_path(path)
    if not path.is_file():
        raise InputError(f"{shown} does not exist", hint="check the path")
    if allow_findings and not (reason and reason.strip()):
        raise InputError("an anonymity override needs a reason", hint="add --reason TEXT, e.g. --reason 'public comments, consent given'")
    suffix = path.suffix.lower()
    mapping = read_map_file(map_file) if map_file else {}
    project: QdpxProject | None = None
    to_create: list[tuple[Any, dict[str, Any] | None]] = []
    if suffix == ".qdpx":
        pending, foreign, warnings, to_create, project = read_qdpx_codings(
            study, path, coder, import_sources=import_sources, allow_findings=allow_findings, reason=reason, units=units, ends=ends
        )
        fmt = "qdpx"
    elif suffix in (".csv", ".tsv"):
        if import_sources:
            raise InputError("--import-sources applies to QDPX projects only", hint="import transcripts with `qualkit transcripts import`")
        pending, foreign, warnings = read_csv_codings(study, path, coder)
        fmt = "csv"
    else:
        raise InputError(f"{shown}: cannot import codings from {suffix or 'a file without extension'!r}", hint="give a .csv or .qdpx file")
    known, _ = codebook_codes(study)
    resolution = resolve_codes(foreign, known, mapping, add_unknown=add_unknown, file=shown,
                               map_file=display_path(map_file) if map_file else "")
    store = study.store
    coders_count: dict[str, int] = {}
    replaced: dict[str, int] = {}
    created: list[str] = []
    ext_path: Path | None = None
    previous_ext: str | None = None
    try:
        with store.transaction() as conn:
            new_turns: dict[tuple[str, int], tuple[int, int]] = {}
            for transcript, override in to_create:
                outcome = store.store_transcript(transcript, source_path=f"{path.name}#{transcript.id}", anonymity_override=override)
                created.append(transcript.id)
                for row in conn.execute("SELECT pk, idx FROM turns WHERE transcript_pk = ?", (outcome.pk,)):
                    new_turns[(transcript.id, row["idx"])] = (outcome.pk, row["pk"])
            parameters = {
                "file": shown,
                "format": fmt,
                "coder": coder,
                "map": display_path(map_file) if map_file else None,
                "add_unknown": add_unknown,
                "import_sources": import_sources,
            }
            run_id = store.start_run("codings-import", parameters)
            for name in sorted({p.coder for p in pending}):
                # workbench codings and review decisions are the coder's own work here: an import keeps them
                cursor = conn.execute("DELETE FROM human_codings WHERE coder = ? AND origin != 'workbench'", (name,))
                if cursor.rowcount:
                    replaced[name] = cursor.rowcount
            now = utcnow()
            rows = []
            turn_owner: dict[int, int] = {}
            for p in pending:
                transcript_pk, turn_pk = p.transcript_pk, p.turn_pk
                if isinstance(turn_pk, tuple):
                    transcript_pk, turn_pk = new_turns[(turn_pk[1], turn_pk[2])]
                elif transcript_pk < 0:
                    if turn_pk not in turn_owner:
                        turn_owner[turn_pk] = conn.execute("SELECT transcript_pk FROM turns WHERE pk = ?", (turn_pk,)).fetchone()[0]
                    transcript_pk = turn_owner[turn_pk]
                rows.append((p.coder, run_id, transcript_pk, turn_pk, p.start, p.end, resolution.ids[p.code_key], p.text,
                             p.memo or None, p.place, now))
                coders_count[p.coder] = coders_count.get(p.coder, 0) + 1
            conn.executemany(
                """INSERT INTO human_codings (coder, run_id, transcript_pk, turn_pk, start_char, end_char, code_id, text,
                       memo, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                rows,
            )
            codes_used = sorted({resolution.ids[p.code_key] for p in pending})
            memos_added = 0
            if project is not None and project.notes:  # REFI-QDA notes become memos
                from .notes import import_notes

                current = {row[0]: row[1] for row in conn.execute("SELECT id, pk FROM transcripts WHERE is_current = 1")}
                by_source = {s.guid: tid for s in project.text_sources if (tid := source_transcript(project, s, current))}
                memos_added, note_warnings = import_notes(conn, project, file_name=path.name, run_id=run_id, coder=coder,
                                                          code_ids=resolution.ids, source_transcripts=by_source)
                warnings.extend(note_warnings)
            if resolution.added:
                ext_path, previous_ext = write_extension(study, resolution.added)
                if not is_configured_extension(study):
                    warnings.append(
                        f"{len(resolution.added)} new code(s) were written to {display_path(ext_path)}, which extends the study codebook; "
                        f"set [codebook] path = \"{EXTENSION_FILE}\" in qualkit.toml to use them"
                    )
            manifest = {
                "codings": len(rows),
                "coders": coders_count,
                "replaced": replaced,
                "added_codes": [entry["id"] for entry in resolution.added],
                "transcripts_created": created,
                "memos": memos_added,
                "warnings": warnings,
            }
            store.finish_run(run_id, manifest=manifest)
    except BaseException:
        if ext_path is not None:  # undo the codebook file too: the import is all or nothing
            if previous_ext is None:
                ext_path.unlink(missing_ok=True)
            else:
                ext_path.write_text(previous_ext, encoding="utf-8")
        raise
    return CodingsImportResult(
        file=shown,
        format=fmt,
        run_id=run_id,
        codings=len(rows),
        coders=coders_count,
        replaced=replaced,
        codes_used=codes_used,
        mapped=resolution.mapped,
        added_codes=[entry["id"] for entry in resolution.added],
        extension_path=display_path(ext_path) if ext_path else None,
        unknown_unused=resolution.unknown_unused,
        transcripts_created=created,
        warnings=warnings,
        source=project.summary() if project is not None else {},
        memos=memos_added,
    )


def import_qdpx_codings(
    study: Any,
    path: str | Path,
    *,
    coder: str | None = None,
    map_file: str | Path | None = None,
    add_unknown: bool = False,
    import_sources: bool = False,
    allow_findings: bool = False,
    reason: str | None = None,
    units: str = "auto",
    ends: str = "exclusive",
) -> CodingsImportResult:
    """Import the codings of a REFI-QDA project (NVivo, ATLAS.ti, MAXQDA, QualCoder, qualkit)."""
    if Path(path).suffix.lower() != ".qdpx":
        raise InputError(f"{display_path(path)} is not a .qdpx file", hint="export the project as REFI-QDA (.qdpx)")
    return import_codings(study, path, coder=coder, map_file=map_file, add_unknown=add_unknown, import_sources=import_sources,
                          allow_findings=allow_findings, reason=reason, units=units, ends=ends)


def list_codings(study: Any) -> list[dict[str, Any]]:
    """One row per human coder: codings (review rejections are not codings), codes, transcripts, the last
    import's run and file, codings made in the workbench, and review rejections."""
    rows = study.store.query(
        """SELECT g.*, json_extract(r.parameters, '$.file') AS source
           FROM (SELECT coder, SUM(decision != 'rejected') AS codings,
                        COUNT(DISTINCT CASE WHEN decision != 'rejected' THEN code_id END) AS codes,
                        COUNT(DISTINCT CASE WHEN decision != 'rejected' THEN transcript_pk END) AS transcripts,
                        MAX(run_id) AS run_id, SUM(origin = 'workbench' AND decision != 'rejected') AS workbench,
                        SUM(decision = 'rejected') AS rejected
                 FROM human_codings GROUP BY coder) g
           LEFT JOIN runs r ON r.id = g.run_id ORDER BY g.coder"""
    )
    keys = ("codings", "codes", "transcripts", "run_id", "source", "workbench", "rejected")
    return [{"coder": f"human:{row['coder']}", **{k: row[k] for k in keys}} for row in rows]


__all__ = [
    "CodingsImportResult",
    "EXTENSION_FILE",
    "ForeignCode",
    "coder_name",
    "import_codings",
    "import_qdpx_codings",
    "list_codings",
    "read_map_file",
    "resolve_codes",
]
