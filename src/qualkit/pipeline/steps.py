"""The standard pipeline steps. Each is a small class: its inputs are cheap hashes and
parameters; its ``run`` calls the same library function as the matching CLI command."""

from __future__ import annotations

from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from .. import __version__
from ..errors import ConfigError, PipelineError, Problem
from ..study import Study
from ..transcripts_schema.file_options import ImportGroup
from .fingerprint import expand_sources, file_sha256, fingerprint, tree_sha256


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _optional_file_hash(study: Study, relative: str | None) -> str | None:
    if not relative:
        return None
    path = study.path(relative)
    return file_sha256(path) if path.is_file() else None


@contextmanager
def _backend(study: Study) -> Iterator[Any]:
    """The study's ``[execution]`` backend for a step, or None for the in-process default; closed after."""
    if study.config.execution.backend == "local":
        yield None
        return
    from ..execution.backends import backend_for_study

    backend = backend_for_study(study)
    try:
        yield backend
    finally:
        backend.close()


def stored_transcripts(study: Study) -> dict[str, str]:
    """``id -> content hash`` of the store's current transcripts: what the coding steps read.

    A transcript imported with ``qualkit transcripts import`` from outside ``[transcripts] sources``
    is in the study too, so it makes ``qualkit run`` code it (the sources' hashes alone would not).
    """
    rows = study.store.query("SELECT id, content_hash FROM transcripts WHERE is_current = 1 ORDER BY id")
    return {row["id"]: row["content_hash"] for row in rows}


class ImportStep:
    """Import the transcripts named by ``[transcripts] sources``; only changed files are parsed."""

    name = "import"
    depends_on: tuple[str, ...] = ()

    def enabled(self, study: Study) -> bool:
        return True

    def _files(self, study: Study) -> list[Path]:
        config = study.config.transcripts
        participants = study.path(config.participants).resolve() if config.participants else None
        files = [path for path in expand_sources(study.root, config.sources) if path.resolve() != participants]
        if not files:
            raise ConfigError(
                f"[transcripts] sources {config.sources} match no file in {study.root}",
                problems=[Problem("the globs match nothing", "qualkit.toml", "key transcripts.sources", "put transcripts there or fix the globs")],
            )
        return files

    def inputs(self, study: Study, upstream: dict[str, dict[str, Any]]) -> dict[str, Any]:
        config = study.config
        return {
            "files": {study.relative(path): file_sha256(path) for path in self._files(study)},
            "participants": _optional_file_hash(study, config.transcripts.participants),
            "deny_list": _optional_file_hash(study, config.anonymity.deny_list),
            "allow_list": _optional_file_hash(study, config.anonymity.allow_list),
            "transcripts_config": config.transcripts.model_dump(),
            "anonymity_config": config.anonymity.model_dump(),
            "qualkit": __version__,
        }

    def run(self, study: Study, upstream: dict[str, dict[str, Any]], previous: dict[str, Any] | None, inputs: dict[str, Any]) -> dict[str, Any]:
        from ..transcripts_schema.file_options import import_groups_in_one_transaction

        files = self._files(study)
        settings_inputs = dict(inputs)  # the fingerprint's inputs, computed once by the pipeline
        hashes = settings_inputs.pop("files")
        settings = fingerprint(settings_inputs)
        if previous and previous.get("settings") == settings:
            # Same settings: parse only files that are new or changed since the last import.
            known = previous.get("files", {})
            todo = [path for path in files if known.get(study.relative(path)) != hashes[study.relative(path)]]
        else:
            todo = files
        groups = import_groups(study, files, todo)
        with _backend(study) as backend:  # every group in one transaction: any refused file stores nothing
            result = import_groups_in_one_transaction(study, groups, backend=backend)
        run_ids = result.run_ids
        kept = {study.relative(path) for path in files}
        retired = []
        with study.store.transaction() as conn:
            for row in conn.execute("SELECT pk, id, source_path FROM transcripts WHERE is_current = 1").fetchall():
                source = row["source_path"]
                if source and not Path(source).is_absolute() and source not in kept and (study.root / source).parent.resolve() in {
                    path.parent.resolve() for path in files
                }:
                    conn.execute("UPDATE transcripts SET is_current = 0 WHERE pk = ?", (row["pk"],))
                    retired.append(row["id"])
        current = stored_transcripts(study)
        return {
            "transcripts": current,
            "files": hashes,
            "settings": settings,
            "import_run": run_ids[-1] if run_ids else None,
            "import_runs": run_ids,
            "options": result.groups,
            "ner_models": result.ner_models,
            "parsed": len(todo),
            "new": result.count("new"),
            "new_versions": result.count("new-version"),
            "retired": sorted(retired),
        }


def import_groups(study: Study, sources: list[Path], todo: list[Path]) -> list[ImportGroup]:
    """Group the files to import (``todo``) by their effective options (the same resolution as
    ``qualkit transcripts import``: :func:`qualkit.transcripts_schema.file_options.group_files`).

    Each ``[[transcripts.files]]`` glob must match at least one of the ``sources``, and one with
    ``id`` or ``participant`` exactly one; a mistake is a :class:`ConfigError` naming the entry.
    """
    from ..transcripts_schema.file_options import group_files

    return group_files(study, todo, universe=sources, strict=True)


class CodeStep:
    """The rule-based pass; unchanged transcripts keep the previous run's applications."""

    name = "code"
    depends_on = ("import",)

    def enabled(self, study: Study) -> bool:
        return True

    def inputs(self, study: Study, upstream: dict[str, dict[str, Any]]) -> dict[str, Any]:
        from ..codebook import load_codebook

        # The hash needs the resolved content only: skip spaCy's pattern validation (and the spaCy
        # import), which the rules pass does anyway when the step runs.
        book = load_codebook(study.config.codebook.path, base_dir=study.root, validate_patterns=False)
        return {
            "codebook": book.hash,
            "coding": study.config.coding.model_dump(),
            "transcripts": stored_transcripts(study),  # every current transcript, also those imported by hand
            "qualkit": __version__,
            "spacy": _version("spacy"),
            "spacy_lookups_data": _version("spacy-lookups-data"),
        }

    def run(self, study: Study, upstream: dict[str, dict[str, Any]], previous: dict[str, Any] | None, inputs: dict[str, Any]) -> dict[str, Any]:
        from ..execution.rules_run import run_rules
        from ..execution.progress import current_progress

        previous_run = previous.get("run_id") if previous else None
        # the rules pass draws its own bars (on a terminal) when the pipeline's caller shows progress
        summary = run_rules(study, progress=current_progress() is not None, reuse_run=previous_run)
        return {"run_id": summary.run_id, "previous_run_id": previous_run, "applications": summary.applications}


class TopicsStep:
    """The topic-model pass over participant segments."""

    name = "topics"
    depends_on = ("import", "code")

    def enabled(self, study: Study) -> bool:
        return study.config.topics.enabled

    def inputs(self, study: Study, upstream: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {
            "topics": study.config.topics.model_dump(),
            "unit": study.config.coding.unit,
            "transcripts": stored_transcripts(study),  # every current transcript, also those imported by hand
            "rules_run": upstream["code"]["run_id"],
            "bertopic": _version("bertopic"),
            "scikit_learn": _version("scikit-learn"),
        }

    def run(self, study: Study, upstream: dict[str, dict[str, Any]], previous: dict[str, Any] | None, inputs: dict[str, Any]) -> dict[str, Any]:
        from ..coding.topics import fit_topics
        from ..execution.progress import current_progress

        with _backend(study) as backend:
            summary = fit_topics(study, sample_size=study.config.topics.sample_size, backend=backend, on_progress=current_progress())
        return {"run_id": summary.run_id, "status": summary.status, "reason": summary.reason, "topics": summary.n_topics}


class LearnedStep:
    """The learned pass: runs when the study has human codings; a study whose codings teach no code
    yet records why (per code) instead of failing the pipeline."""

    name = "learned"
    depends_on = ("import", "code")

    def enabled(self, study: Study) -> bool:
        if not study.config.learned.enabled:
            return False
        return study.store.conn.execute("SELECT 1 FROM human_codings LIMIT 1").fetchone() is not None

    def why_disabled(self, study: Study) -> str:
        if not study.config.learned.enabled:
            return "turned off in qualkit.toml ([learned] enabled = false)"
        return "no human codings yet (`qualkit codings import` adds some)"

    def inputs(self, study: Study, upstream: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {
            "rules_run": upstream["code"]["run_id"],
            "coding": study.config.coding.model_dump(),
            "transcripts": stored_transcripts(study),  # every current transcript, also those imported by hand
            "human_codings": human_codings_hash(study),
            "learned": study.config.learned.model_dump(),
            "qualkit": __version__,
            "scikit_learn": _version("scikit-learn"),
        }

    def run(self, study: Study, upstream: dict[str, dict[str, Any]], previous: dict[str, Any] | None, inputs: dict[str, Any]) -> dict[str, Any]:
        from ..coding.learned import NothingToLearnError, run_learned

        try:
            config = study.config.learned
            summary = run_learned(study, seed=config.seed, embedding=config.embedding or None)
        except NothingToLearnError as error:
            return {"run_id": None, "reason": error.message, "skipped": error.hint}
        return {"run_id": summary.run_id, "codes": summary.codes_learned, "skipped": summary.skipped,
                "applications": summary.applications}


def human_codings_hash(study: Study) -> str | None:
    """Hash of every human coding (coder, place, code, decision): the analyse, report and export
    steps read them, so a `qualkit codings import` (or a review in the workbench) makes them run."""
    import hashlib

    conn = study.store.conn
    # One scan per state of the table, not one per step: the key moves with this connection's own
    # writes (total_changes) and with any other process's commits (data_version).
    key = (id(conn), conn.total_changes, conn.execute("PRAGMA data_version").fetchone()[0])
    if _HUMAN_HASH[0] == key:
        return _HUMAN_HASH[1]
    digest = hashlib.sha256()
    rows = 0
    cursor = conn.cursor()
    cursor.row_factory = None  # plain tuples: their repr is fast, and stable for these column types
    cursor.execute(
        """SELECT pk, coder, transcript_pk, turn_pk, start_char, end_char, code_id, decision, memo
           FROM human_codings ORDER BY pk"""
    )
    while batch := cursor.fetchmany(10_000):
        digest.update(repr(batch).encode("utf-8"))
        rows += len(batch)
    result = digest.hexdigest() if rows else None
    _HUMAN_HASH[:] = [key, result]
    return result


_HUMAN_HASH: list[Any] = [None, None]  # [key, hash] of the last human_codings_hash


def memos_hash(study: Study) -> str | None:
    """Hash of every memo, or None when there are none: the report's memo appendix
    (``[report] memos``) and QDPX exports (REFI-QDA notes) read them."""
    import hashlib

    rows = study.store.conn.execute(
        "SELECT pk, coder, target_kind, code_id, transcript_id, turn_idx, coding_pk, title, text, updated_at FROM memos ORDER BY pk"
    ).fetchall()
    return hashlib.sha256(repr([tuple(row) for row in rows]).encode("utf-8")).hexdigest() if rows else None


def _with_memos(inputs: dict[str, Any], study: Study, reads_memos: bool) -> dict[str, Any]:
    """``inputs`` plus the memos' hash when the step reads memos and there are some (a study
    without memos keeps its fingerprints)."""
    digest = memos_hash(study) if reads_memos else None
    return {**inputs, "memos": digest} if digest is not None else inputs


def _report_inputs(study: Study, upstream: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "human_codings": human_codings_hash(study),
        "rules_run": upstream["code"]["run_id"],
        "previous_rules_run": upstream["code"].get("previous_run_id"),
        "topics_run": upstream.get("topics", {}).get("run_id"),
        "study": study.config.study.model_dump(),
        "qualkit": __version__,
    }


class AnalyseStep:
    """The analysis tables, written as CSV next to the report for mixed-methods work."""

    name = "analyse"
    depends_on = ("code", "topics")

    def enabled(self, study: Study) -> bool:
        return True

    def inputs(self, study: Study, upstream: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {**_report_inputs(study, upstream), "out": study.config.report.out}

    def run(self, study: Study, upstream: dict[str, dict[str, Any]], previous: dict[str, Any] | None, inputs: dict[str, Any]) -> dict[str, Any]:
        from ..reports.exports import export_tables

        out = study.path(study.config.report.out) / "tables"
        files = export_tables(study, ["csv"], out, coder=f"run:{upstream['code']['run_id']}")
        return {"files": sorted(study.relative(f) for f in files)}


class ReportStep:
    """The theme report (HTML and Markdown), opening with what changed since the previous run."""

    name = "report"
    depends_on = ("code", "topics", "analyse")

    def enabled(self, study: Study) -> bool:
        return bool(study.config.report.formats)

    def inputs(self, study: Study, upstream: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return _with_memos({
            **_report_inputs(study, upstream),
            "report": study.config.report.model_dump(),
            "templates": tree_sha256(study.root / "reports" / "templates"),
            "participants": _optional_file_hash(study, study.config.transcripts.participants),
        }, study, study.config.report.memos)

    def run(self, study: Study, upstream: dict[str, dict[str, Any]], previous: dict[str, Any] | None, inputs: dict[str, Any]) -> dict[str, Any]:
        from ..reports import build_report

        from ..execution.progress import current_progress

        code = upstream["code"]
        files = build_report(
            study,
            coder=f"run:{code['run_id']}",
            formats=tuple(study.config.report.formats),
            out=study.path(study.config.report.out),
            compare_with=code.get("previous_run_id"),
            on_progress=current_progress(),
        )
        return {"files": [study.relative(f) for f in files]}


class ExportStep:
    """Exports for other tools: csv / xlsx / parquet tables and REFI-QDA projects."""

    name = "export"
    depends_on = ("code",)

    def enabled(self, study: Study) -> bool:
        return bool(study.config.export.formats)

    def inputs(self, study: Study, upstream: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return _with_memos({
            "rules_run": upstream["code"]["run_id"],
            "human_codings": human_codings_hash(study),
            "export": study.config.export.model_dump(),
            "qualkit": __version__,
        }, study, "qdpx" in study.config.export.formats)  # a QDPX project carries the memos as notes

    def run(self, study: Study, upstream: dict[str, dict[str, Any]], previous: dict[str, Any] | None, inputs: dict[str, Any]) -> dict[str, Any]:
        out = study.path(study.config.export.out)
        formats = list(study.config.export.formats)
        files: list[str] = []
        tables = [fmt for fmt in formats if fmt in ("csv", "xlsx", "parquet")]
        unknown = [fmt for fmt in formats if fmt not in ("csv", "xlsx", "parquet", "qdpx")]
        if unknown:
            raise ConfigError(
                f"unknown export format(s) {unknown}",
                problems=[Problem("unknown format", "qualkit.toml", "key export.formats", "use csv, xlsx, parquet or qdpx")],
            )
        if tables:
            from ..reports.exports import export_tables

            files += [str(f) for f in export_tables(study, tables, out, coder=f"run:{upstream['code']['run_id']}")]
        if "qdpx" in formats:
            from ..interop.qdpx import export_qdpx

            humans = [f"human:{row['coder']}" for row in study.store.query("SELECT DISTINCT coder FROM human_codings ORDER BY coder")]
            coders = [*humans, f"run:{upstream['code']['run_id']}"]  # the pipeline's own run, not the latest of any
            files.append(str(export_qdpx(study, out / f"{study.root.name}.qdpx", coders=coders)))
        return {"files": sorted(study.relative(f) for f in files)}


def default_steps() -> list:
    """import, code, learned (when human codings exist), topics, analyse, report, export."""
    return [ImportStep(), CodeStep(), LearnedStep(), TopicsStep(), AnalyseStep(), ReportStep(), ExportStep()]


__all__ = ["AnalyseStep", "CodeStep", "LearnedStep", "ExportStep", "ImportStep", "ReportStep", "TopicsStep", "default_steps", "PipelineError"]
