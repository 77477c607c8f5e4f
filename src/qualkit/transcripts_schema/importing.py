"""Reading, validating and importing transcript files: the library behind ``qualkit transcripts``.

* :func:`read_transcript` turns one file into a typed :class:`Transcript`.
* :func:`validate_files` checks files (parse, schema, anonymity) and stores nothing.
* :func:`import_files` validates and stores every file in one transaction, or nothing at all.

Both stream: files are read (and checked) one at a time, or in parallel on an execution
backend (:mod:`qualkit.execution`), and an import keeps no transcript in memory once it is
stored, so a corpus of thousands of transcripts imports in bounded memory.

One file is read by :mod:`.reading`; which files, by :mod:`.paths`; both are re-exported here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from ..errors import AnonymityError, InputError, Problem, QualkitError, display_path
from .importers import detect_format, importer_names
from .model import Transcript
from .options import ImportOptions
from .participants import ParticipantRecord, load_participants
from .paths import expand_paths, source_paths, supported_extensions
from .reading import ReadResult, build_transcript, read_data, read_file, read_transcript
from .speakers import SpeakerInfo
from .stored import load_transcript

if TYPE_CHECKING:
    from ..store import TranscriptRow
    from ..study import Study

ProgressCallback = Callable[[Path], None]


# -- validation -----------------------------------------------------------------------
@dataclass
class FileReport:
    """What validating one file found: the transcript, or the error; and the anonymity findings."""

    path: Path
    format: str | None = None
    transcript: Transcript | None = None
    speakers: dict[str, SpeakerInfo] = field(default_factory=dict)
    units: int = 0
    notes: list[str] = field(default_factory=list)
    source_hash: str | None = None
    dropped: dict[str, int] = field(default_factory=dict)  # empty_turns, boilerplate lines
    error: QualkitError | None = None
    anonymity: Any = None  # AnonymityReport from transcripts_schema.anonymity, when checked
    released: bool = False  # the transcript was stored and dropped from memory (large imports)

    def release(self) -> None:
        """Drop the parsed transcript (it has been stored), keeping what was learned about the file."""
        if self.transcript is not None:
            self.released = True
            self.transcript = None

    @property
    def shown(self) -> str:
        return display_path(self.path)

    @property
    def findings(self) -> list[Any]:
        return list(getattr(self.anonymity, "findings", []) or [])

    @property
    def parsed(self) -> bool:
        return self.error is None and (self.transcript is not None or self.released)

    @property
    def ok(self) -> bool:
        """Parsed, valid and without anonymity findings."""
        return self.parsed and not self.findings

    def problems(self) -> list[Problem]:
        """The error's problems, each naming this file."""
        if self.error is None:
            return []
        if not self.error.problems:
            return [Problem(self.error.message, self.shown, "", self.error.hint)]
        return [problem if problem.file else Problem(problem.message, self.shown, problem.location, problem.fix) for problem in self.error.problems]

    def finding_problems(self) -> list[Problem]:
        """The anonymity findings as located problems naming this file."""
        return [finding.as_problem(self.shown) for finding in self.findings]

    @property
    def ner_message(self) -> str:
        """What the anonymity check says about NER (model used, or none available)."""
        return str(getattr(self.anonymity, "ner_message", "")) if self.anonymity is not None else "anonymity not checked"

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        data: dict[str, Any] = {"file": self.shown, "format": self.format, "ok": self.ok, "parsed": self.parsed}
        if self.transcript is not None:
            data.update(
                id=self.transcript.id,
                participant=self.transcript.participant.id,
                turns=len(self.transcript.turns),
                words=self.transcript.word_count,
                participant_words=self.transcript.participant_words(),
                units=self.units,
                speakers=[info.as_dict() for info in self.speakers.values()],
            )
        if self.anonymity is not None:
            data["anonymity"] = {
                "ner_model": self.anonymity.ner_model,
                "ner_message": self.ner_message,
                "counts": self.anonymity.counts_by_kind(),
                "findings": [finding.as_dict() for finding in self.findings],
            }
        if self.error is not None:
            data["error"] = self.error.as_dict()
        data["notes"] = list(self.notes)
        data["dropped"] = dict(self.dropped)
        return data


class _CheckerCache:
    """Builds the anonymity checker once, on first need, and reuses it for every file."""

    def __init__(self, deny_terms: list[str], ner: bool, ner_model: str, allow_terms: list[str] | None = None) -> None:
        self.deny_terms, self.ner, self.ner_model = deny_terms, ner, ner_model
        self.allow_terms = allow_terms or []
        self._checker: Any = None

    def check(self, transcript: Transcript) -> Any:
        if self._checker is None:
            from .anonymity import AnonymityChecker

            self._checker = AnonymityChecker(self.deny_terms, ner=self.ner, ner_model=self.ner_model, allow_terms=self.allow_terms)
        return self._checker.check(transcript)


def _anonymity_settings(
    study: "Study | None", deny_list: str | Path | None, ner: bool | None
) -> tuple[list[str], bool, str, list[str]]:
    """(deny terms, use NER, NER model, allow terms) from the options and the study's [anonymity]."""
    from .anonymity import load_deny_list

    terms: list[str] = []
    allowed: list[str] = []
    use_ner, model = True, "en_core_web_sm"
    path: Path | None = Path(deny_list) if deny_list else None
    if study is not None:
        section = study.config.anonymity
        use_ner, model = section.ner, section.ner_model
        if path is None and section.deny_list:
            path = study.path(section.deny_list)
        if section.allow_list:
            allowed = list(load_deny_list(study.path(section.allow_list)))  # same file format: one term a line
    if path is not None:
        terms = list(load_deny_list(path))
    if ner is not None:
        use_ner = ner
    return terms, use_ner, model, allowed


def study_anonymity_checker(study: "Study") -> Any:
    """The anonymity checker the study's ``[anonymity]`` section configures, as its imports use it."""
    from .anonymity import AnonymityChecker

    terms, use_ner, model, allowed = _anonymity_settings(study, None, None)
    return AnonymityChecker(terms, ner=use_ner, ner_model=model, allow_terms=allowed)


def study_participants(study: "Study | None", path: str | Path | None = None) -> dict[str, ParticipantRecord] | None:
    """The study's participants.csv (or ``path``), or None when there is none."""
    if path is not None:
        return load_participants(path)
    if study is None or not study.config.transcripts.participants:
        return None
    configured = study.config.transcripts.participants
    csv_path = study.path(configured)
    if not csv_path.exists():  # a folder in its place is reported by load_participants
        default = type(study.config.transcripts).model_fields["participants"].default
        if configured == default:
            return None  # the default name is optional: a study may have no participants sheet
        raise InputError(
            f"the participants file {display_path(csv_path)} named in qualkit.toml does not exist",
            problems=[Problem("file not found", "qualkit.toml", "key transcripts.participants", f"create it, or set participants = \"{default}\" (optional)")],
        )
    return load_participants(csv_path, max_mb=study.config.transcripts.max_file_mb)


#: (deny terms, use NER, NER model, allow terms): the settings one anonymity checker is built with.
CheckerSettings = tuple[tuple[str, ...], bool, str, tuple[str, ...]]


@dataclass(frozen=True)
class ReadContext:
    """What reading and checking one file needs (sent once to each worker of a backend)."""

    options: ImportOptions
    participants: dict[str, ParticipantRecord] | None = None
    anonymity: CheckerSettings | None = None


_CHECKERS: dict[CheckerSettings, _CheckerCache] = {}


def _checker_for(settings: CheckerSettings) -> _CheckerCache:
    """One anonymity checker per process and settings (built on first need)."""
    checker = _CHECKERS.get(settings)
    if checker is None:
        if len(_CHECKERS) >= 2:
            _CHECKERS.clear()
        checker = _CHECKERS[settings] = _CheckerCache(list(settings[0]), settings[1], settings[2], list(settings[3]))
    return checker


def read_and_check(path: Path, context: ReadContext) -> FileReport:
    """Read one file and run the anonymity check: a :class:`FileReport` (runs on a worker)."""
    report = FileReport(path=path)
    options = context.options
    try:
        result = read_file(path, format=options.format, options=options, participants=context.participants)
    except QualkitError as error:
        report.error = error
        report.format = options.format or detect_format(path, b"")
        return report
    report.transcript, report.format, report.speakers = result.transcript, result.format, result.speakers
    report.units, report.notes, report.source_hash = result.units, result.notes, result.source_hash
    report.dropped = dict(result.dropped)
    if context.anonymity is not None:
        report.anonymity = _checker_for(context.anonymity).check(result.transcript)
    return report


def iter_file_reports(
    files: Sequence[Path],
    context: ReadContext,
    *,
    backend: Any = None,
    progress: ProgressCallback | None = None,
) -> Iterator[FileReport]:
    """Reports for ``files`` in order, read on ``backend`` (default: this process, one at a time).

    A transcript id seen in an earlier file makes the later file an error (and it is not
    checked for anonymity). Only ids and file names are remembered, never transcripts.
    """
    from ..execution import LocalBackend

    executor = backend if backend is not None else LocalBackend()
    ids: dict[str, str] = {}
    for report in executor.imap(read_and_check, files, shared=(context,)):
        transcript = report.transcript
        if transcript is not None:
            earlier = ids.get(transcript.id)
            if earlier is not None:
                message = f"transcript id {transcript.id!r} is also the id of {earlier}"
                report.error = InputError(
                    f"{report.shown}: {message}",
                    problems=[
                        Problem(
                            message, report.shown, "",
                            "give each file its own pseudonym label or file name (or import it alone with --id)",
                        )
                    ],
                )
                report.anonymity = None
            else:
                ids[transcript.id] = report.shown
        yield report
        if progress is not None:
            progress(report.path)


def _read_context(
    study: "Study | None",
    options: ImportOptions,
    participants_csv: str | Path | None,
    deny_list: str | Path | None,
    ner: bool | None,
    anonymity: bool = True,
) -> ReadContext:
    settings = None
    if anonymity:
        terms, use_ner, model, allowed = _anonymity_settings(study, deny_list, ner)
        settings = (tuple(terms), use_ner, model, tuple(allowed))
    return ReadContext(options, study_participants(study, participants_csv), settings)


def validate_files(
    paths: Sequence[str | Path],
    *,
    options: ImportOptions | None = None,
    study: "Study | None" = None,
    participants_csv: str | Path | None = None,
    deny_list: str | Path | None = None,
    ner: bool | None = None,
    anonymity: bool = True,
    progress: ProgressCallback | None = None,
    backend: Any = None,
) -> list[FileReport]:
    """Parse and check every file without storing anything; one report per file.

    Files are read with ``options`` (default: the study's config), attributes come from
    the study's participants.csv, and each parsed transcript goes through the anonymity
    check (one checker, built once). Errors are collected per file, never raised, except
    for problems with the inputs as a whole (paths matching nothing, a bad participants.csv).
    Files are read on ``backend`` (a :class:`qualkit.execution.Backend`; default this process).
    """
    if options is None:
        options = ImportOptions.from_config(study.config if study else None)
    if not paths and study is not None:
        paths = source_paths(study)
    exclude = [study.path(study.config.transcripts.participants)] if study and study.config.transcripts.participants else []
    files = expand_paths(paths, exclude=exclude)
    context = _read_context(study, options, participants_csv, deny_list, ner, anonymity)
    return list(iter_file_reports(files, context, backend=backend, progress=progress))


# -- import ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ImportedFile:
    """One file of an import: what happened to its transcript."""

    file: str
    transcript_id: str
    status: str  # new, new-version, unchanged
    version: int
    turns: int
    words: int
    findings: int
    override: bool
    empty_turns: int = 0  # speaker labels with no words, dropped
    boilerplate: int = 0  # tool footer/header lines, dropped

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ImportResult:
    """What an import did; ``run_id`` is None when nothing changed."""

    files: list[ImportedFile]
    run_id: int | None
    reports: list[FileReport] = field(default_factory=list, repr=False)

    def count(self, status: str) -> int:
        return sum(1 for item in self.files if item.status == status)

    @property
    def changed(self) -> bool:
        return any(item.status != "unchanged" for item in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "run_id": self.run_id,
            "new": self.count("new"),
            "new_versions": self.count("new-version"),
            "unchanged": self.count("unchanged"),
            "files": [item.as_dict() for item in self.files],
        }


def import_files(
    study: "Study",
    paths: Sequence[str | Path] = (),
    *,
    options: ImportOptions | None = None,
    allow_findings: bool = False,
    reason: str | None = None,
    participants_csv: str | Path | None = None,
    deny_list: str | Path | None = None,
    ner: bool | None = None,
    progress: ProgressCallback | None = None,
    backend: Any = None,
) -> ImportResult:
    """Validate and store every file in one transaction; any failure stores nothing.

    With no ``paths`` the study's ``[transcripts] sources`` are imported. Files with
    anonymity findings are refused unless ``allow_findings`` with a ``reason``, which is
    recorded in each such transcript's ``anonymity_override``.

    Streaming: each file is read (on ``backend``, default this process), checked and stored
    inside one transaction, then dropped from memory; after the first problem nothing more is
    stored but every file is still checked, so the error lists every problem, and the
    transaction is rolled back. ``result.reports`` keep what was learned about each file,
    without its transcript.
    """
    if allow_findings and not (reason and reason.strip()):
        raise InputError(
            "an anonymity override needs a reason",
            problems=[Problem("--allow-findings without --reason", "", "--reason", "say why, e.g. --reason 'public podcast, consent given'")],
        )
    paths = list(paths) or source_paths(study)
    options = options or ImportOptions.from_config(study.config)
    exclude = [study.path(study.config.transcripts.participants)] if study.config.transcripts.participants else []
    files = expand_paths(paths, exclude=exclude)
    if not files:
        raise InputError("no transcript files to import", problems=[Problem("nothing matched", "", "PATH", "name files, folders or globs")])
    context = _read_context(study, options, participants_csv, deny_list, ner)
    when = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    imported: list[ImportedFile] = []
    reports: list[FileReport] = []
    failed: list[Problem] = []
    flagged: list[Problem] = []
    n_failed = n_flagged = 0
    no_ner = False
    run_id: int | None = None
    store = study.store
    with store.transaction():
        for report in iter_file_reports(files, context, backend=backend, progress=progress):
            reports.append(report)
            if report.error is not None:
                n_failed += 1
                failed.extend(report.problems())
            elif report.findings and not allow_findings:
                n_flagged += 1
                flagged.extend(report.finding_problems())
                no_ner = no_ner or (report.anonymity.ner_model is None and report.anonymity.ner_enabled)
            if n_failed or n_flagged:  # nothing more is stored; keep checking to report every problem
                report.release()
                continue
            transcript = report.transcript
            assert transcript is not None
            override = _override(report, reason or "", when) if report.findings else None
            outcome = store.store_transcript(
                transcript,
                source_path=study.relative(report.path),
                source_hash=report.source_hash,
                anonymity_override=override,
            )
            imported.append(
                ImportedFile(
                    report.shown, outcome.transcript_id, outcome.status, outcome.version,
                    len(transcript.turns), transcript.word_count, len(report.findings), override is not None,
                    report.dropped.get("empty_turns", 0), report.dropped.get("boilerplate", 0),
                )
            )
            report.release()
        if n_failed:
            raise InputError(
                f"{n_failed} of {len(reports)} file(s) cannot be imported; nothing was stored",
                problems=failed,
                hint="fix the files named above and run the import again",
            )
        if n_flagged:
            raise AnonymityError(
                f"{n_flagged} of {len(reports)} file(s) are not anonymized ({len(flagged)} finding(s)); nothing was stored",
                problems=flagged,
                hint="pseudonymize them (`qualkit transcripts pseudonymize`), or override explicitly with --allow-findings --reason TEXT"
                + (" (no NER model installed: person names were checked with qualkit's name lists, organisation names were not searched)" if no_ner else ""),
            )
        if any(item.status != "unchanged" for item in imported):
            parameters = {
                "files": [item.file for item in imported],
                "options": options.as_dict(),
                "allow_findings": allow_findings,
            }
            run_id = store.start_run("import", parameters)
            store.finish_run(
                run_id,
                manifest={
                    "files": [item.as_dict() for item in imported], "importers": importer_names(),
                    # the NER model the anonymity check used (None: name lists and context only)
                    "ner_models": sorted({str(r.anonymity.ner_model) for r in reports if r.anonymity is not None and r.anonymity.ner_model}),
                },
            )
    return ImportResult(imported, run_id, reports)


def _override(report: FileReport, reason: str, when: str) -> dict[str, Any]:
    """What ``anonymity_override`` records: findings by kind, the reason, and when."""
    return {
        "reason": reason.strip(),
        "at": when,
        "findings": report.anonymity.counts_by_kind(),
        "total": len(report.findings),
        "ner_model": report.anonymity.ner_model,
    }


# -- reading the store ----------------------------------------------------------------
def list_transcripts(study: "Study", *, all_versions: bool = False) -> list["TranscriptRow"]:
    """The study's transcripts (current versions unless ``all_versions``)."""
    return study.store.transcripts(current_only=not all_versions)


def get_transcript(study: "Study", transcript_id: str, version: int | None = None) -> Transcript:
    """One stored transcript by id (current version unless ``version``)."""
    return load_transcript(study.store, transcript_id, version)


__all__ = [
    "FileReport",
    "ImportResult",
    "ImportedFile",
    "ReadContext",
    "ReadResult",
    "build_transcript",
    "expand_paths",
    "get_transcript",
    "import_files",
    "iter_file_reports",
    "list_transcripts",
    "read_and_check",
    "read_data",
    "read_file",
    "read_transcript",
    "source_paths",
    "study_anonymity_checker",
    "study_participants",
    "supported_extensions",
    "validate_files",
]
