"""``qualkit transcripts pseudonymize``: rewrite names to stable pseudonyms.

Registered by the ``transcripts`` command group (``transcripts.add_command(pseudonymize_command)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..config import CONFIG_NAME
from ..errors import display_path
from ..study import Study
from ..transcripts_schema.anonymity import load_deny_list
from ..transcripts_schema.model import Transcript
from ..transcripts_schema.pseudonymize import DEFAULT_MAPPING, PseudonymizeSummary, pseudonymize_files
from ._common import StudyContext, echo_json, get_study, handle_errors, json_option


def _optional_study(ctx: click.Context) -> Study | None:
    """The study when one is named (--study, $QUALKIT_STUDY) or found upwards, else ``None``."""
    obj = ctx.find_object(StudyContext)
    if obj is None or obj.study_path is None:
        start = Path.cwd()
        if not any((folder / CONFIG_NAME).is_file() for folder in (start, *start.resolve().parents)):
            return None
    return get_study(ctx)


def _reader(study: Study | None, fmt: str, interviewers: tuple[str, ...]) -> Any:
    from ..transcripts_schema import read_transcript  # the importers
    from ..transcripts_schema.file_options import CommandOptions, resolve_file_options

    # each file's options as `transcripts import` reads it ([transcripts], [[transcripts.files]]), flags on top
    command = CommandOptions({"format": fmt, "interviewers": interviewers or None, "multi_party": True})

    def read(path: Path) -> Transcript:
        return read_transcript(path, options=resolve_file_options(study, path, command=command).options)

    return read


@click.command("pseudonymize")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the pseudonymized qualkit JSON transcripts.")
@click.option("--deny-list", "deny_list", type=click.Path(exists=True, dir_okay=False), help="Names and terms to replace, one a line (`Name = CATEGORY` optional); added to the study's [anonymity] deny_list.")
@click.option("--mapping", "mapping_path", type=click.Path(dir_okay=False), help="Private JSON mapping of names to pseudonyms, read and extended (default: .qualkit/pseudonyms.json in the study).")
@click.option("--format", "fmt", default="auto", show_default=True, help="Importer for the source files (auto detects by extension and content).")
@click.option("--interviewer", "interviewers", multiple=True, help="A speaker label that is an interviewer (repeatable).")
@click.option("--show-mapping", is_flag=True, help="Also print the real names behind the new pseudonyms.")
@json_option
@click.pass_context
@handle_errors
def pseudonymize_command(
    ctx: click.Context,
    paths: tuple[str, ...],
    out_dir: str,
    deny_list: str | None,
    mapping_path: str | None,
    fmt: str,
    interviewers: tuple[str, ...],
    show_mapping: bool,
    as_json: bool,
) -> None:
    """Rewrite speaker labels, deny-listed terms, e-mails, phones and URLs in PATH... to stable
    pseudonyms (P1, Interviewer 1, [COMPANY-1], [EMAIL] ...) and write qualkit JSON transcripts
    to --out. The mapping file is extended, so the same name gets the same pseudonym next time;
    it re-identifies people, so keep it private (it is never written into reports)."""
    study = _optional_study(ctx)
    terms: list[str] = []
    if study is not None and study.config.anonymity.deny_list:
        terms.extend(load_deny_list(study.path(study.config.anonymity.deny_list)))
    if deny_list:
        terms.extend(load_deny_list(deny_list))
    if mapping_path is None:
        if study is None:
            raise click.UsageError("outside a study, pass --mapping FILE (a private file outside --out)")
        mapping = study.root / DEFAULT_MAPPING
    else:
        mapping = Path(mapping_path)
    forbidden = [study.path(study.config.report.out)] if study is not None else []
    allowed = load_deny_list(study.path(study.config.anonymity.allow_list)) if study is not None and study.config.anonymity.allow_list else []
    summary = pseudonymize_files(
        [Path(p) for p in paths],
        out_dir,
        reader=_reader(study, fmt, interviewers),
        deny_terms=terms,
        mapping_path=mapping,
        forbidden_dirs=forbidden,
        allow_terms=allowed,
    )
    if as_json:
        echo_json({"ok": True, **summary.as_dict(show_mapping=show_mapping)})
        return
    _print_summary(summary, show_mapping)


def _describe(counts: dict[str, int]) -> str:
    """``2 speaker labels, 1 email, 3 speaker name`` (speaker labels first, then by kind)."""
    order = sorted(counts, key=lambda kind: (kind != "speaker labels", kind))
    return ", ".join(f"{counts[kind]} {kind}" for kind in order if counts[kind]) or "nothing replaced"


def _print_summary(summary: PseudonymizeSummary, show_mapping: bool) -> None:
    for item in summary.files:
        counts = {"speaker labels": item.stats.speakers, **item.stats.replacements}
        click.echo(f"{display_path(item.source)} -> {display_path(item.output)}: {_describe(counts)}")
    totals = summary.totals()
    click.echo(f"Pseudonymized {len(summary.files)} transcript(s): {_describe(dict(totals))}")
    click.echo(
        f"Mapping: {display_path(summary.mapping_path)} ({len(summary.new_entries)} new pseudonym(s), "
        f"{len(summary.mapping)} in all). It re-identifies people: keep it private."
    )
    if show_mapping and summary.new_entries:
        click.echo("New pseudonyms:")
        for entry in summary.new_entries:
            click.echo(f"  {entry['pseudonym']} = {entry['original']}")


__all__ = ["pseudonymize_command"]
