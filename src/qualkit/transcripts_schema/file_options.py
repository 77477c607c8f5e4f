"""Import options per file: ``[transcripts]``, the matching ``[[transcripts.files]]`` entries, then flags.

One place resolves the options a source file is read with, for every face: ``qualkit run``
(the pipeline's import step), ``qualkit transcripts import`` and ``qualkit transcripts
validate``. Files with the same effective options form an :class:`ImportGroup`; each group is
read with one call of :func:`import_files` or :func:`validate_files`.

Order of precedence, later winning: the study's ``[transcripts]`` / ``[anonymity]`` keys, the
``[[transcripts.files]]`` entries whose glob matches the file (in file order), then the command
line (:class:`CommandOptions`). ``interviewers``, ``speaker_roles`` and ``csv_columns`` add up.
"""

from __future__ import annotations

import glob as globlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..errors import AnonymityError, ConfigError, InputError, Problem, QualkitError
from .importing import FileReport, ImportResult, expand_paths, import_files, source_paths, validate_files
from .options import ImportOptions

if TYPE_CHECKING:
    from ..study import Study

#: ImportOptions fields a [[transcripts.files]] entry sets, by entry key.
_RULE_KEYS = (("format", "format"), ("multi_party", "multi_party"), ("max_file_mb", "max_mb"), ("id", "transcript_id"), ("participant", "participant_id"))
_ADDITIVE = ("interviewers", "speaker_roles", "csv_columns")


@dataclass(frozen=True)
class CommandOptions:
    """What a command line sets on top of ``qualkit.toml`` (None: not given, keep the toml's).

    ``overrides`` are :meth:`ImportOptions.from_config` keyword arguments (``format``,
    ``interviewers``, ``speaker_roles``, ``multi_party``, ``transcript_id``, ``participant_id``,
    ``max_mb``, ``csv_columns``).
    """

    overrides: dict[str, Any] = field(default_factory=dict)
    allow_findings: bool | None = None
    reason: str | None = None
    participants: str | None = None
    deny_list: str | None = None
    ner: bool | None = None


@dataclass
class ImportGroup:
    """Source files read with the same import options."""

    files: list[Path]
    options: ImportOptions
    allow_findings: bool
    reason: str
    participants: str | None
    deny_list: str | None
    ner: bool | None
    rules: list[str]  # the [[transcripts.files]] entries that matched, "N: glob"

    def as_dict(self, study: "Study | None" = None) -> dict[str, Any]:
        """What manifests record: the files (relative to ``study``'s folder) and every option they were read with."""
        return {
            "files": [study.relative(path) if study is not None else str(path.resolve()) for path in self.files],
            "rules": self.rules,
            "options": self.options.as_dict(),
            "allow_findings": self.allow_findings,
            "reason": self.reason,
            "participants": self.participants,
            "deny_list": self.deny_list,
            "ner": self.ner,
        }


def _glob_files(root: Path, pattern: str) -> set[str]:
    full = pattern if Path(pattern).is_absolute() else str(root / pattern)
    return {str(Path(match).resolve()) for match in globlib.glob(full, recursive=True) if Path(match).is_file()}


def _add(overrides: dict[str, Any], key: str, value: Any) -> None:
    """Set one ImportOptions override; the additive keys add to what is there."""
    if value is None:
        return
    if key == "interviewers":
        overrides[key] = tuple(overrides.get(key, ())) + tuple(value)
    elif key in ("speaker_roles", "csv_columns"):
        overrides[key] = {**overrides.get(key, {}), **{k: v for k, v in dict(value).items() if v}}
    else:
        overrides[key] = value


def rule_matches(study: "Study", universe: Sequence[Path], *, strict: bool) -> list[set[str]]:
    """For each ``[[transcripts.files]]`` entry, the resolved paths of ``universe`` its glob matches.

    An entry with ``id`` or ``participant`` must match exactly one file; with ``strict`` (the
    pipeline, whose universe is the study's sources) every entry must match at least one.
    Mistakes are :class:`ConfigError` naming the entry.
    """
    resolved = {str(path.resolve()) for path in universe}
    matched: list[set[str]] = []
    for number, rule in enumerate(study.config.transcripts.files, start=1):
        hits = _glob_files(study.root, rule.glob) & resolved
        where = f"[[transcripts.files]] entry {number}"
        if strict and not hits:
            raise ConfigError(
                f"{where}: glob {rule.glob!r} matches none of the files of [transcripts] sources",
                problems=[Problem("matches no source file", "qualkit.toml", f"{where} -> glob", "fix the glob (relative to the study folder), or add the files to [transcripts] sources")],
            )
        if (rule.id or rule.participant) and len(hits) > 1:
            raise ConfigError(
                f"{where}: id / participant name one transcript, but glob {rule.glob!r} matches {len(hits)} files",
                problems=[Problem("id or participant for several files", "qualkit.toml", f"{where} -> glob", "make the glob name exactly one file")],
            )
        matched.append(hits)
    return matched


def _rule_file(study: "Study", number: int, glob: str, key: str, value: str | None) -> str | None:
    """The path a ``[[transcripts.files]]`` entry's ``key`` names, refused (naming the entry) when it is no file."""
    if not value:
        return None
    path = study.path(value)
    if not path.is_file():
        place = f"[[transcripts.files]] entry {number} (glob {glob!r}) -> {key}"
        raise ConfigError(
            f"qualkit.toml {place}: {value!r} is not a file",
            problems=[Problem("no such file" if not path.exists() else "a folder, not a file", "qualkit.toml", place,
                              f"write the path relative to the study folder {study.root}, or remove {key} from the entry")],
        )
    return str(path)


def resolve_file_options(
    study: "Study | None", path: Path, matched: list[set[str]] | None = None, command: CommandOptions | None = None,
) -> ImportGroup:
    """The effective options of one file: the study's, its matching entries in order, then ``command``.

    ``matched`` is :func:`rule_matches` (computed once for many files; None: every entry's glob
    is expanded here). Returns a one-file :class:`ImportGroup`.
    """
    command = command or CommandOptions()
    overrides: dict[str, Any] = {}
    allow: bool = False
    reason: str = ""
    participants = deny_list = None
    ner: bool | None = None
    names: list[str] = []
    if study is not None:
        section = study.config.transcripts
        allow, reason = section.allow_findings, section.reason
        key = str(path.resolve())
        for number, rule in enumerate(section.files, start=1):
            hits = matched[number - 1] if matched is not None else _glob_files(study.root, rule.glob)
            if key not in hits:
                continue
            names.append(f"{number}: {rule.glob}")
            for name, option in _RULE_KEYS:
                _add(overrides, option, getattr(rule, name))
            for name in _ADDITIVE:
                _add(overrides, name, getattr(rule, name) or None)
            allow = rule.allow_findings if rule.allow_findings is not None else allow
            reason = rule.reason if rule.reason is not None else reason
            participants = _rule_file(study, number, rule.glob, "participants", rule.participants) or participants
            deny_list = _rule_file(study, number, rule.glob, "deny_list", rule.deny_list) or deny_list
            ner = rule.ner if rule.ner is not None else ner
    for key, value in command.overrides.items():
        _add(overrides, key, value)
    if command.allow_findings is not None:
        allow = command.allow_findings
    if command.reason is not None:
        reason = command.reason
    options = ImportOptions.from_config(study.config if study is not None else None, **overrides)
    return ImportGroup(
        [path], options, bool(allow), (reason or "") if allow else "",
        command.participants or participants, command.deny_list or deny_list,
        command.ner if command.ner is not None else ner, names,
    )


def group_files(
    study: "Study | None", files: Sequence[Path], *, universe: Sequence[Path] | None = None,
    strict: bool = False, command: CommandOptions | None = None,
) -> list[ImportGroup]:
    """Group ``files`` by their effective options (:func:`resolve_file_options`), in first-seen order.

    Entries are checked against ``universe`` (default: ``files`` plus the study's sources).
    """
    if study is None:  # no qualkit.toml: the command's options for every file
        if not files:
            return []
        only = resolve_file_options(None, files[0], None, command)
        only.files = list(files)
        return [only]
    if universe is None:
        universe = [*files, *_study_sources(study)]
    matched = rule_matches(study, universe, strict=strict)
    groups: dict[str, ImportGroup] = {}
    for path in files:
        single = resolve_file_options(study, path, matched, command)
        key = json.dumps([single.options.as_dict(), single.allow_findings, single.reason, single.participants, single.deny_list, single.ner], sort_keys=True, default=str)
        group = groups.get(key)
        if group is None:
            groups[key] = single
        else:
            group.files.append(path)
            group.rules = sorted(set(group.rules) | set(single.rules))
    return list(groups.values())


def _study_sources(study: "Study") -> list[Path]:
    found: set[str] = set()
    for pattern in study.config.transcripts.sources:
        found |= _glob_files(study.root, pattern)
    return [Path(path) for path in sorted(found)]


def _files_of(study: "Study | None", paths: Sequence[str | Path]) -> list[Path]:
    if not paths and study is not None:
        paths = source_paths(study)
    exclude = [study.path(study.config.transcripts.participants)] if study is not None and study.config.transcripts.participants else []
    return expand_paths(paths, exclude=exclude)


# -- the faces' entry points ----------------------------------------------------------------
def validate_configured(
    paths: Sequence[str | Path], *, study: "Study | None" = None, command: CommandOptions | None = None,
    anonymity: bool = True, progress: Any = None, backend: Any = None,
) -> list[FileReport]:
    """:func:`validate_files` with each file's options from ``qualkit.toml`` and ``command``; reports in file order."""
    files = _files_of(study, paths)
    groups = group_files(study, files, command=command)
    reports: dict[str, FileReport] = {}
    for group in groups:
        for report in validate_files(
            group.files, options=group.options, study=study, participants_csv=group.participants,
            deny_list=group.deny_list, ner=group.ner, anonymity=anonymity, progress=progress, backend=backend,
        ):
            if group.allow_findings and report.findings:
                where = ", ".join(f"[[transcripts.files]] {rule}" for rule in group.rules) or "[transcripts]"
                report.notes.append(
                    f"the anonymity findings are allowed by qualkit.toml ({where}; reason: {group.reason}): "
                    "`transcripts import` and `qualkit run` store this file with the override recorded"
                )
            reports[str(report.path.resolve())] = report
    ordered = [reports[str(path.resolve())] for path in files if str(path.resolve()) in reports]
    if len(groups) > 1:
        _mark_shared_ids(ordered)
    return ordered


def _mark_shared_ids(reports: list[FileReport]) -> None:
    """Two files read in different groups that became one transcript id: the later is an error."""
    seen: dict[str, str] = {}
    for report in reports:
        transcript = report.transcript
        if transcript is None or report.error is not None:
            continue
        if transcript.id in seen:
            message = f"transcript id {transcript.id!r} is also the id of {seen[transcript.id]}"
            report.error = InputError(f"{report.shown}: {message}", problems=[Problem(message, report.shown, "", "give each file its own pseudonym label or file name (or set id in a [[transcripts.files]] entry)")])
            report.anonymity = None
        else:
            seen[transcript.id] = report.shown


@dataclass
class ConfiguredImport(ImportResult):
    """An import of several option groups: every group's files, runs and options."""

    run_ids: list[int] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ner_models(self) -> list[str]:
        """The NER models the anonymity check used (empty: the model-free check only)."""
        return sorted({str(r.anonymity.ner_model) for r in self.reports if r.anonymity is not None and r.anonymity.ner_model})

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "run_ids": list(self.run_ids), "groups": list(self.groups), "ner_models": self.ner_models}


def import_groups_in_one_transaction(study: "Study", groups: list[ImportGroup], *, progress: Any = None, backend: Any = None) -> ConfiguredImport:
    """Import every group in one transaction: any refused file (in any group) stores nothing.

    Every group is checked even after one fails, so the error lists every problem.
    """
    results: list[ImportResult] = []
    errors: list[QualkitError] = []
    with study.store.transaction():
        for group in groups:
            try:
                results.append(
                    import_files(
                        study, [str(path) for path in group.files], options=group.options,
                        allow_findings=group.allow_findings, reason=group.reason or None,
                        participants_csv=group.participants, deny_list=group.deny_list, ner=group.ner,
                        progress=progress, backend=backend,
                    )
                )
            except (InputError, AnonymityError) as error:
                errors.append(error)
        if errors:
            raise _combined(errors)
        _refuse_shared_ids(results)
    files = [item for result in results for item in result.files]
    run_ids = [result.run_id for result in results if result.run_id]
    reports = [report for result in results for report in result.reports]
    return ConfiguredImport(files, run_ids[-1] if run_ids else None, reports, run_ids, [group.as_dict(study) for group in groups])


def _combined(errors: list[QualkitError]) -> QualkitError:
    if len(errors) == 1:
        return errors[0]
    problems = [problem for error in errors for problem in error.problems]
    kind = AnonymityError if all(isinstance(error, AnonymityError) for error in errors) else InputError
    hints = list(dict.fromkeys(error.hint for error in errors if error.hint))
    return kind("; ".join(error.message.removesuffix("; nothing was stored") for error in errors) + "; nothing was stored",
                problems=problems, hint="; ".join(hints))


def _refuse_shared_ids(results: list[ImportResult]) -> None:
    """Two files of different groups that became the same transcript id: refuse (rolls back)."""
    seen: dict[str, str] = {}
    problems = []
    for result in results:
        for item in result.files:
            if item.transcript_id in seen:
                problems.append(
                    Problem(
                        f"transcript id {item.transcript_id!r} is also the id of {seen[item.transcript_id]}", item.file, "",
                        "give each file its own pseudonym label or file name, or set id in a [[transcripts.files]] entry for it",
                    )
                )
            else:
                seen[item.transcript_id] = item.file
    if problems:
        raise InputError(f"{len(problems)} file(s) share a transcript id with another file; nothing was stored", problems=problems)


def import_configured(
    study: "Study", paths: Sequence[str | Path] = (), *, command: CommandOptions | None = None,
    progress: Any = None, backend: Any = None,
) -> ConfiguredImport:
    """:func:`import_files` with each file's options from ``qualkit.toml`` and ``command``, all or nothing."""
    command = command or CommandOptions()
    if command.allow_findings and not (command.reason and command.reason.strip()):
        raise InputError(
            "an anonymity override needs a reason",
            problems=[Problem("--allow-findings without --reason", "", "--reason", "say why, e.g. --reason 'public podcast, consent given'")],
        )
    files = _files_of(study, paths)
    if not files:
        raise InputError("no transcript files to import", problems=[Problem("nothing matched", "", "PATH", "name files, folders or globs")])
    return import_groups_in_one_transaction(study, group_files(study, files, command=command), progress=progress, backend=backend)


__all__ = [
    "CommandOptions",
    "ConfiguredImport",
    "ImportGroup",
    "group_files",
    "import_configured",
    "import_groups_in_one_transaction",
    "resolve_file_options",
    "rule_matches",
    "validate_configured",
]
