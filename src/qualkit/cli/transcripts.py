"""``qualkit transcripts``: schema, validate, import, list, show (and pseudonymize)."""

from __future__ import annotations

import contextlib
import importlib
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import click

from ..config import CONFIG_NAME
from ..study import Study
from ..transcripts_schema import (
    FileReport,
    get_transcript,
    importer_names,
    list_transcripts,
    schema_text,
)
from ..transcripts_schema.file_options import CommandOptions, import_configured, validate_configured
from ..transcripts_schema.options import ROLES
from ._common import StudyContext, echo_json, get_study, handle_errors, json_option

F = TypeVar("F", bound=Callable[..., Any])

#: More files than this get a progress bar.
PROGRESS_THRESHOLD = 5


@click.group("transcripts")
def transcripts() -> None:
    """Bring interview transcripts into the study: check, import, list and show them."""


# -- shared options -------------------------------------------------------------------
def _parse_roles(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    roles: dict[str, str] = {}
    for value in values:
        label, sep, role = value.rpartition("=")
        role = role.strip().lower()
        if not sep or not label.strip() or role not in ROLES:
            raise click.BadParameter(f"{value!r}: write LABEL=ROLE with ROLE one of {', '.join(ROLES)}", ctx, param)
        roles[label.strip()] = role
    return roles


def read_options(func: F) -> F:
    """The options that control how files are read (shared by validate and import)."""
    options = [
        click.option("--format", "format_", type=click.Choice(["auto", *importer_names()]), help="Importer to use (default: detect by extension and content)."),
        click.option("--interviewer", "interviewers", multiple=True, metavar="NAME", help="A speaker label that is an interviewer (repeatable)."),
        click.option("--speaker-role", "speaker_roles", multiple=True, metavar="LABEL=ROLE", callback=_parse_roles, help="Role of a speaker label: interviewer, participant or other (repeatable)."),
        click.option("--multi-party", is_flag=True, help="Accept several unmapped speakers as participants (group interviews, podcasts)."),
        click.option("--id", "transcript_id", metavar="ID", help="Transcript id (one file only; default: the participant's pseudonym or the file name)."),
        click.option("--participant", "participant_id", metavar="ID", help="Participant id (one file only)."),
        click.option("--max-mb", type=click.FloatRange(min=0, min_open=True), help="Refuse files larger than this (default: [transcripts] max_file_mb)."),
        click.option("--csv-speaker", metavar="COLUMN", help="CSV column with the speaker label (default: speaker)."),
        click.option("--csv-text", metavar="COLUMN", help="CSV column with the text (default: text)."),
        click.option("--csv-start", metavar="COLUMN", help="CSV column with the start time (default: start)."),
        click.option("--csv-end", metavar="COLUMN", help="CSV column with the end time (default: end)."),
        click.option("--participants", "participants_csv", type=click.Path(dir_okay=False, exists=True), help="participants.csv to use (default: the study's)."),
        click.option("--deny-list", type=click.Path(dir_okay=False, exists=True), help="Deny-list file (default: [anonymity] deny_list)."),
        click.option("--ner/--no-ner", default=None, help="Use a spaCy NER model for names (default: [anonymity] ner)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _command(params: dict[str, Any], paths: tuple[str, ...], allow_findings: bool = False, reason: str | None = None) -> CommandOptions:
    """The flags as overrides of qualkit.toml (each file's [transcripts] and [[transcripts.files]] options)."""
    if (params["transcript_id"] or params["participant_id"]) and len(paths) != 1:
        raise click.UsageError("--id and --participant name one transcript: give exactly one file")
    columns = {key: params[f"csv_{key}"] for key in ("speaker", "text", "start", "end") if params.get(f"csv_{key}")}
    return CommandOptions(
        overrides={
            "format": params["format_"],
            "interviewers": params["interviewers"] or None,
            "speaker_roles": params["speaker_roles"] or None,
            "multi_party": params["multi_party"] or None,
            "transcript_id": params["transcript_id"],
            "participant_id": params["participant_id"],
            "max_mb": params["max_mb"],
            "csv_columns": columns or None,
        },
        allow_findings=True if allow_findings else None,
        reason=reason if allow_findings else None,
        participants=params["participants_csv"],
        deny_list=params["deny_list"],
        ner=params["ner"],
    )


def _optional_study(ctx: click.Context) -> Study | None:
    """The study when one is named or found from the current folder; validate works without one."""
    obj = ctx.find_object(StudyContext)
    if obj is not None and obj.study_path:
        return get_study(ctx)
    cwd = Path.cwd().resolve()
    if any((folder / CONFIG_NAME).is_file() for folder in (cwd, *cwd.parents)):
        return get_study(ctx)
    return None


@contextlib.contextmanager
def _progress(total: int, label: str, enabled: bool) -> Iterator[Callable[[Path], None] | None]:
    """A rich progress bar on stderr for more than a handful of files."""
    if not enabled or total <= PROGRESS_THRESHOLD:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda path: progress.advance(task)


def _count_inputs(paths: tuple[str, ...]) -> int:
    return sum(len(list(Path(p).iterdir())) if Path(p).is_dir() else 1 for p in paths) if paths else PROGRESS_THRESHOLD + 1


# -- commands -------------------------------------------------------------------------
@transcripts.command("schema")
def schema_command() -> None:
    """Print the transcript JSON Schema (draft 2020-12)."""
    click.echo(schema_text(), nl=False)


@transcripts.command("validate")
@click.argument("paths", nargs=-1, type=click.Path())
@read_options
@click.option("--show-findings", default=10, show_default=True, type=click.IntRange(min=0), help="Findings listed per file (all with --json).")
@json_option
@click.pass_context
@handle_errors
def validate_command(ctx: click.Context, paths: tuple[str, ...], show_findings: int, as_json: bool, **params: Any) -> None:
    """Check transcript files without storing them: parse, schema, anonymity.

    PATH may be files, folders or globs; with none, the study's [transcripts] sources.
    Exits 1 when any file fails to parse or has anonymity findings.
    """
    study = _optional_study(ctx)
    if not paths and study is None:
        raise click.UsageError("give PATH... (or run inside a study to check its [transcripts] sources)")
    command = _command(params, paths)
    with _progress(_count_inputs(paths), "Checking", not as_json) as progress:
        reports = validate_configured(paths, study=study, command=command, progress=progress)
    ok = all(report.ok for report in reports)
    if as_json:
        echo_json({"ok": ok, "files": [report.as_dict() for report in reports]})
    else:
        for report in reports:
            _print_report(report, show_findings)
        parsed = sum(report.parsed for report in reports)
        flagged = sum(bool(report.findings) for report in reports)
        summary = f"{sum(r.ok for r in reports)} of {len(reports)} file(s) ok; {len(reports) - parsed} failed to parse; {flagged} with anonymity findings"
        click.secho(summary, fg="green" if ok else "red", bold=True)
    if not ok:
        ctx.exit(1)


def _print_report(report: FileReport, show_findings: int) -> None:
    status = "ok" if report.ok else ("FAILED" if not report.parsed else "REFUSED")
    click.secho(f"{report.shown}  [{report.format or '?'}]  {status}", fg="green" if report.ok else "red", bold=True)
    if report.error is not None:
        for problem in report.problems():
            click.echo(f"  error: {problem.format()}")
        return
    transcript = report.transcript
    assert transcript is not None
    click.echo(
        f"  id {transcript.id}, participant {transcript.participant.id}: {len(transcript.turns)} turns, "
        f"{transcript.word_count:,} words ({transcript.participant_words():,} by participants), {report.units} source units read"
    )
    speakers = "; ".join(f"{info.label} = {info.role.value} ({info.turns} turns)" for info in report.speakers.values())
    click.echo(f"  speakers: {speakers}")
    findings = report.findings
    if report.anonymity is not None:
        counts = ", ".join(f"{kind} {count}" for kind, count in report.anonymity.counts_by_kind().items())
        click.echo(f"  anonymity: {len(findings)} finding(s){': ' + counts if counts else ''}. {report.ner_message}")
        for finding in findings[:show_findings]:
            click.echo(f"    - {finding.format()}")
        if len(findings) > show_findings:
            click.echo(f"    ... and {len(findings) - show_findings} more (--show-findings N or --json for all)")
    for note in report.notes:
        click.echo(f"  note: {note}")


@transcripts.command("import")
@click.argument("paths", nargs=-1, type=click.Path())
@read_options
@click.option("--allow-findings", is_flag=True, help="Import despite anonymity findings (needs --reason; recorded).")
@click.option("--reason", metavar="TEXT", help="Why the anonymity findings are acceptable (recorded with each transcript).")
@click.option("--backend", type=click.Choice(["local", "dask"]), help="Where files are read and checked (default: [execution] in qualkit.toml).")
@click.option("--workers", type=click.IntRange(min=1), help="Dask: start a local cluster with N workers.")
@click.option("--scheduler", metavar="ADDRESS", help="Dask: connect to an existing scheduler.")
@json_option
@click.pass_context
@handle_errors
def import_command(
    ctx: click.Context, paths: tuple[str, ...], allow_findings: bool, reason: str | None, backend: str | None,
    workers: int | None, scheduler: str | None, as_json: bool, **params: Any,
) -> None:
    """Validate transcript files and store them all, or nothing if any file fails.

    PATH may be files, folders or globs; with none, the study's [transcripts] sources.
    An unchanged file is not stored again; a changed one becomes a new version.
    """
    if allow_findings and not (reason and reason.strip()):
        raise click.UsageError("--allow-findings needs --reason TEXT (it is recorded with the transcripts)")
    if reason and not allow_findings:
        raise click.UsageError("--reason goes with --allow-findings")
    study = get_study(ctx)
    command = _command(params, paths, allow_findings, reason)
    from ..execution.backends import backend_for_study

    if (workers or scheduler) and backend is None:
        backend = "dask"
    executor = backend_for_study(study, backend, workers, scheduler)
    try:
        with _progress(_count_inputs(paths), "Importing", not as_json) as progress:
            result = import_configured(
                study, paths, command=command, progress=progress, backend=None if executor.name == "local" else executor,
            )
    finally:
        executor.close()
    if as_json:
        echo_json(result.as_dict())
        return
    for item in result.files:
        colour = {"new": "green", "new-version": "yellow"}.get(item.status)
        flag = f"  (anonymity override: {item.findings} finding(s))" if item.override else ""
        dropped = [f"{n} {what}" for n, what in ((item.empty_turns, "empty turn(s)"), (item.boilerplate, "tool footer/header line(s)")) if n]
        flag += f"  (dropped {', '.join(dropped)})" if dropped else ""
        click.echo(
            click.style(f"{item.status:<12}", fg=colour)
            + f"{item.transcript_id} v{item.version}  {item.turns} turns, {item.words:,} words  {item.file}{flag}"
        )
    if len(result.groups) > 1 or any(group["rules"] for group in result.groups):
        for group in result.groups:
            rules = "; ".join(f"[[transcripts.files]] entry {rule}" for rule in group["rules"]) or "[transcripts] only"
            click.echo(f"  {len(group['files'])} file(s) read with {rules}")
    if result.reports:
        click.echo(
            f"  anonymity check: name lists and context, plus NER model {', '.join(result.ner_models)}" if result.ner_models
            else "  anonymity check: name lists and context (no NER model used)"
        )
    run = f" (run {result.run_id})" if len(result.run_ids) <= 1 and result.run_id else (f" (runs {', '.join(map(str, result.run_ids))})" if result.run_ids else "")
    click.secho(
        f"Imported {result.count('new')} new, {result.count('new-version')} new version(s), {result.count('unchanged')} unchanged{run}",
        bold=True,
    )


@transcripts.command("list")
@click.option("--all-versions", is_flag=True, help="Also list earlier versions.")
@json_option
@click.pass_context
@handle_errors
def list_command(ctx: click.Context, all_versions: bool, as_json: bool) -> None:
    """List the study's transcripts."""
    rows = list_transcripts(get_study(ctx), all_versions=all_versions)
    if as_json:
        echo_json([{**row.__dict__} for row in rows])
        return
    if not rows:
        click.echo("No transcripts yet: run `qualkit transcripts import PATH...`")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "version", "participant", "format", "turns", "words", "imported", "source", "override")
    for row in rows:
        table.add_row(
            row.id, str(row.version), row.participant_id or "", row.source_format, str(row.turn_count), f"{row.word_count:,}",
            row.imported_at, row.source_path or "", "yes" if row.anonymity_override else "",
        )
    Console(width=160).print(table)


@transcripts.command("show")
@click.argument("transcript_id", metavar="ID")
@click.option("--version", "version", type=int, help="A stored version (default: the current one).")
@json_option
@click.pass_context
@handle_errors
def show_command(ctx: click.Context, transcript_id: str, version: int | None, as_json: bool) -> None:
    """Show one transcript's participant, metadata and turns."""
    transcript = get_transcript(get_study(ctx), transcript_id, version)
    if as_json:
        echo_json(transcript.to_json_dict())
        return
    person = transcript.participant
    attributes = ", ".join(
        f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}"
        for key, value in (("role", person.role), ("company size", person.company_size), ("sector", person.sector), ("years", person.years_experience))
        if value is not None
    )
    click.secho(f"{transcript.id}  participant {person.id}" + (f" ({attributes})" if attributes else ""), bold=True)
    meta = transcript.metadata
    click.echo(
        f"{len(transcript.turns)} turns, {transcript.word_count:,} words; from {meta.source_file or '?'} ({meta.source_format})"
        + (f"; interviewed {meta.date}" if meta.date else "")
        + (f", {meta.duration_minutes:g} min" if meta.duration_minutes is not None else "")
    )
    for index, turn in enumerate(transcript.turns, start=1):
        clock = f" {_clock(turn.start)}" if turn.start is not None else ""
        click.echo(f"\n[{index}] {click.style(turn.speaker, bold=True)} ({turn.role.value}){clock}")
        click.echo(turn.text)


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _register_pseudonymize() -> None:
    """Add ``pseudonymize`` from ``cli/_pseudonymize.py`` when that module exists."""
    try:
        module = importlib.import_module(f"{__package__}._pseudonymize")
    except ModuleNotFoundError as error:
        if error.name == f"{__package__}._pseudonymize":
            return
        raise
    command = getattr(module, "pseudonymize", None) or getattr(module, "pseudonymize_command", None)
    if isinstance(command, click.Command):
        transcripts.add_command(command, "pseudonymize")


_register_pseudonymize()

__all__ = ["transcripts"]
