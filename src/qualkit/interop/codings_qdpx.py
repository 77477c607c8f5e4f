"""Human codings from a REFI-QDA project: each source matched to a study transcript (by qualkit's
GUID, then by name) or, with ``import_sources``, rebuilt as a new transcript that passes the
anonymity gate; selections mapped onto turns."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import AnonymityError, InteropError, Problem, display_path
from ..store import utcnow
from ._refi import stable_guid
from .code_mapping import ForeignCode
from .codings_common import PendingCoding, coder_name, current_transcripts, transcript_turns
from .qdpx import QdpxProject, read_qdpx
from .qdpx_layout import locate_turns, qualkit_layout, render_source, split_span


def source_transcript(project: QdpxProject, source: Any, transcripts: dict[str, int]) -> str | None:
    """The study transcript a source stands for: by qualkit's source GUID, then by name."""
    for transcript_id in transcripts:
        if stable_guid("source", transcript_id) == source.guid:
            return transcript_id
    names = [source.name, re.sub(r"\.(txt|docx?|rtf|pdf)$", "", source.name, flags=re.I)]
    lowered = {tid.lower(): tid for tid in transcripts}
    for name in names:
        if name in transcripts:
            return name
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


_PERSON_FIELDS = ("role", "company_size", "sector", "years_experience")


def _transcript_from_layout(project: QdpxProject, source: Any, layout: dict[str, Any]) -> tuple[Any, list[tuple[int, int]]] | None:
    """Rebuild a transcript qualkit exported, from the turn layout in the source's Description."""
    from pydantic import ValidationError

    from ..transcripts_schema.model import InterviewMetadata, Participant, Transcript, Turn

    text = source.text or ""
    try:
        spans = [(int(item[2]), int(item[3])) for item in layout["turns"]]
        turns = [
            Turn(speaker=item[0], role=item[1], text=text[a:b], start=item[4], end=item[5])
            for item, (a, b) in zip(layout["turns"], spans)
        ]
        participant_id = str(layout.get("participant") or layout["transcript"])
        fields: dict[str, Any] = {}
        attributes: dict[str, str] = {}
        for case in project.cases:
            if source.guid in case.source_guids or case.name == participant_id:
                for key, value in case.variables.items():
                    if key in _PERSON_FIELDS:
                        fields[key] = float(value) if key == "years_experience" else value
                    else:
                        attributes[key] = value
                break
        transcript = Transcript(
            id=str(layout["transcript"]),
            participant=Participant(id=participant_id, attributes=attributes, **fields),
            metadata=InterviewMetadata.model_validate(layout.get("metadata") or {}),
            turns=turns,
        )
    except (KeyError, IndexError, TypeError, ValueError, ValidationError):
        return None
    return transcript, spans


def _transcript_from_source(project: QdpxProject, source: Any, taken: set[str]) -> Any:
    """A Transcript from a text source: one participant turn per non-blank paragraph (line)."""
    from ..transcripts_schema.model import InterviewMetadata, Participant, Transcript, Turn

    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", source.name).strip("-.") or "source"
    if not base[0].isalpha():
        base = f"S{base}"
    transcript_id, n = base, 2
    while transcript_id in taken:
        transcript_id = f"{base}-{n}"
        n += 1
    taken.add(transcript_id)
    participant_id = transcript_id
    attributes: dict[str, str] = {}
    for case in project.cases:
        if source.guid in case.source_guids:
            candidate = re.sub(r"[^A-Za-z0-9_.-]+", "-", case.name).strip("-.")
            if candidate and candidate[0].isalpha():
                participant_id = candidate
            attributes = {key: value for key, value in case.variables.items() if value}
            break
    paragraphs = [line for line in re.split(r"\r\n|\r|\n|\u2029", source.text or "") if line.strip()]
    if not paragraphs:
        return None
    return Transcript(
        id=transcript_id,
        participant=Participant(id=participant_id, attributes=attributes),
        metadata=InterviewMetadata(source_format="qdpx", source_file=project.path.name),
        turns=[Turn(speaker=participant_id, role="participant", text=text) for text in paragraphs],
    )


def read_qdpx_codings(
    study: Any,
    path: Path,
    coder: str | None,
    *,
    import_sources: bool,
    allow_findings: bool,
    reason: str | None,
    units: str,
    ends: str,
) -> tuple[list[PendingCoding], list[ForeignCode], list[str], list[tuple[Any, dict[str, Any] | None]], QdpxProject]:
    shown = display_path(path)
    project = read_qdpx(path, units=units, ends=ends)  # type: ignore[arg-type]
    warnings = list(project.warnings)
    transcripts = current_transcripts(study)
    taken = set(transcripts)
    problems: list[Problem] = []
    findings: list[Problem] = []
    to_create: list[tuple[Any, dict[str, Any] | None]] = []
    # source guid -> (turn references, turn texts, spans of the turn texts in the source text)
    layouts: dict[str, tuple[list[int | tuple[str, str, int]], list[str], list[tuple[int, int]]]] = {}
    checker = None
    for source in project.text_sources:
        transcript_id = source_transcript(project, source, transcripts)
        if transcript_id is not None:
            pk = transcripts[transcript_id]
            turns = transcript_turns(study, pk)
            text, spans = render_source([(t["speaker"], t["text"]) for t in turns])
            if text != source.text:
                located = locate_turns(source.text or "", [t["text"] for t in turns])
                if located is None:
                    if source.selections:
                        problems.append(
                            Problem(
                                f"source {source.name!r} matches transcript {transcript_id!r} by name, but the transcript's turns are not in its text",
                                shown,
                                f"source {source.guid}",
                                "the texts differ: import the codings into a study holding the same text, or rename the transcript",
                            )
                        )
                    continue
                spans = located
            layouts[source.guid] = ([t["pk"] for t in turns], [t["text"] for t in turns], spans)
        elif import_sources:
            layout = qualkit_layout(source.description)
            rebuilt = _transcript_from_layout(project, source, layout) if layout is not None else None
            if layout is not None and rebuilt is None:
                warnings.append(f"source {source.name!r}: its qualkit turn layout is damaged; read it as one turn per paragraph")
            if rebuilt is not None and rebuilt[0].id not in taken:
                transcript, qualkit_spans = rebuilt
                taken.add(transcript.id)
            else:
                transcript, qualkit_spans = _transcript_from_source(project, source, taken), None
            if transcript is None:
                warnings.append(f"source {source.name!r} has no text; not imported")
                continue
            if checker is None:
                from ..transcripts_schema.importing import study_anonymity_checker

                checker = study_anonymity_checker(study)
            report = checker.check(transcript)
            override = None
            if report.findings:
                if not allow_findings:
                    for finding in report.findings[:20]:
                        findings.append(finding.as_problem(f"{shown}:{source.name}"))
                    if len(report.findings) > 20:
                        findings.append(Problem(f"... and {len(report.findings) - 20} more finding(s)", f"{shown}:{source.name}"))
                    continue
                override = {
                    "reason": (reason or "").strip(),
                    "at": utcnow(),
                    "findings": report.counts_by_kind(),
                    "total": len(report.findings),
                    "ner_model": report.ner_model,
                }
            to_create.append((transcript, override))
            spans = qualkit_spans or locate_turns(source.text or "", [turn.text for turn in transcript.turns])
            assert spans is not None  # the turns were cut from this text
            layouts[source.guid] = (
                [("new", transcript.id, i) for i in range(len(transcript.turns))],
                [turn.text for turn in transcript.turns],
                spans,
            )
        elif source.selections:
            problems.append(
                Problem(
                    f"source {source.name!r} has {source.coding_count} coding(s) but the study has no transcript {source.name!r}",
                    shown,
                    f"source {source.guid}",
                    "import the transcript under that id first, or pass --import-sources to create it from the project's text",
                )
            )
    if problems:
        raise InteropError(f"{shown}: {len(problems)} problem(s); nothing was stored", problems=problems + findings)
    if findings:
        raise AnonymityError(
            f"{shown}: the project's sources are not anonymized; nothing was stored",
            problems=findings,
            hint="pseudonymize the sources in their tool, or override explicitly with --allow-findings --reason TEXT",
        )
    # codes
    used = {coding.code_guid for source in project.text_sources for sel in source.selections for coding in sel.codings}
    foreign = [
        ForeignCode(
            key=code.guid,
            label=code.name,
            aliases=(code.guid, code.path),
            explicit_id=code.fields.get("id"),
            parent_key=code.parent_guid,
            fields=code.fields,
            used=code.guid in used,
        )
        for code in project.codes
    ]
    # codings
    pending: list[PendingCoding] = []
    dropped = 0
    missing_user: list[str] = []
    for source in project.text_sources:
        if source.guid not in layouts:
            continue
        refs, texts, spans = layouts[source.guid]
        for selection in source.selections:
            pieces = split_span(selection.start, selection.end, spans)
            if not pieces:
                dropped += len(selection.codings)
                continue
            for coding in selection.codings:
                user = coding.user_guid or selection.user_guid
                if coder:
                    name = coder_name(coder)
                elif user and user in project.users:
                    name = coder_name(project.users[user])
                else:
                    missing_user.append(coding.guid)
                    continue
                for index, a, b in pieces:
                    pending.append(
                        PendingCoding(
                            name, -1, refs[index], a, b, coding.code_guid, texts[index][a:b],
                            selection.memo, f"{path.name}#{coding.guid}",
                        )
                    )
    if missing_user:
        raise InteropError(
            f"{shown}: {len(missing_user)} coding(s) name no known user, so their coder is unknown; nothing was stored",
            hint="pass --coder NAME to store every coding of the project under one coder",
        )
    if dropped:
        warnings.append(f"{dropped} coding(s) cover only speaker labels or blank lines (no turn text) and were not stored")
    return pending, foreign, warnings, to_create, project


__all__ = ["read_qdpx_codings", "source_transcript"]
