"""One transcript file into a validated :class:`Transcript`: the importer the format names, the shared
tidy-up, then speaker roles, ids and participants.csv attributes (or, for qualkit JSON, id overrides
and participants.csv)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import InputError, Problem, display_path
from .anonymity import count_redactions
from .decoding import read_limited
from .importers import Parsed, Source, detect_format, get_importer
from .importers._tidy import tidy_parsed
from .model import InterviewMetadata, SpeakerRole, Transcript, Turn
from .options import ImportOptions
from .participants import ParticipantRecord
from .speakers import PSEUDONYM, SpeakerInfo, assign_roles, sanitize_id


@dataclass
class ReadResult:
    """A file read into a transcript, with what was learned on the way."""

    transcript: Transcript
    format: str
    speakers: dict[str, SpeakerInfo]
    units: int
    notes: list[str]
    source_hash: str
    dropped: dict[str, int] = field(default_factory=dict)  # empty_turns, boilerplate lines


def read_transcript(
    path: str | Path,
    *,
    format: str | None = None,
    options: ImportOptions | None = None,
    participants: dict[str, ParticipantRecord] | None = None,
) -> Transcript:
    """Read one transcript file of any supported format into a validated :class:`Transcript`."""
    options = options or ImportOptions()
    return read_file(Path(path), format=format or options.format, options=options, participants=participants).transcript


def read_file(
    path: Path,
    *,
    format: str | None = None,
    options: ImportOptions,
    participants: dict[str, ParticipantRecord] | None = None,
) -> ReadResult:
    """Like :func:`read_transcript`, also returning the format, speakers, notes and source hash."""
    shown = display_path(path)
    if not path.is_file():
        raise InputError(
            f"{shown}: no such file",
            problems=[Problem("no such file" if not path.exists() else "not a file", shown, "", "check the path")],
        )
    data = read_limited(path, options.max_mb)
    return read_data(path, data, format=format, options=options, participants=participants, shown=shown)


def read_data(
    path: Path,
    data: bytes,
    *,
    format: str | None = None,
    options: ImportOptions,
    participants: dict[str, ParticipantRecord] | None = None,
    shown: str | None = None,
) -> ReadResult:
    """:func:`read_file` on bytes already read (``path`` names the file for detection and messages)."""
    source = Source(path=path, data=data, shown=shown if shown is not None else display_path(path))
    if not data.strip() or (not data.startswith(b"PK") and _blank_text(source)):
        raise source.error("file is empty", "whole file", "export the transcript again, or remove the file")
    name = format or options.format or detect_format(path, data[:4096])
    importer = get_importer(name)
    parsed = importer.read(source, options)
    tidy_parsed(parsed, source)  # one rule for every importer: boilerplate and empty turns dropped, counted
    speakers: dict[str, SpeakerInfo]
    if parsed.transcript is not None:
        transcript = _finish_json(parsed.transcript, path, options, participants)
        speakers = _speakers_of(transcript)
    else:
        transcript, speakers = build_transcript(parsed, source, options, participants)
    dropped = {"empty_turns": parsed.empty_turns, "boilerplate": sum(parsed.boilerplate.values())}
    return ReadResult(transcript, parsed.format, speakers, parsed.units, parsed.notes, hashlib.sha256(data).hexdigest(), dropped)


def _blank_text(source: Source) -> bool:
    """True when the file decodes to whitespace only; undecodable bytes are left to the importer to report."""
    try:
        return not source.text.strip()
    except InputError:
        return False


def build_transcript(
    parsed: Parsed,
    source: Source,
    options: ImportOptions,
    participants: dict[str, ParticipantRecord] | None = None,
) -> tuple[Transcript, dict[str, SpeakerInfo]]:
    """Assign roles and ids to raw turns and build the validated transcript."""
    speakers = assign_roles(parsed.turns, options, source.shown)
    participant_labels = [info.label for info in speakers.values() if info.role is SpeakerRole.participant]
    if not participant_labels and options.multi_party:
        parsed.notes.append("no participant speaker: every speaker is an interviewer or other (allowed with --multi-party)")
    elif not participant_labels and not options.participant_id:
        raise InputError(
            f"{source.shown}: no participant speaker",
            problems=[
                Problem(
                    "every speaker is an interviewer or other: "
                    + ", ".join(f"{info.label}={info.role.value}" for info in speakers.values()),
                    source.shown,
                    "whole file",
                    "map the participant's label with --speaker-role LABEL=participant (or pass --multi-party to accept it)",
                )
            ],
        )
    stem_id = sanitize_id(source.path.stem)
    single = participant_labels[0] if len(participant_labels) == 1 else None
    pseudonym = single if single and PSEUDONYM.match(single) else None
    participant_id = options.participant_id or pseudonym or sanitize_id(source.path.stem, participant=True)
    transcript_id = options.transcript_id or options.participant_id or pseudonym or stem_id
    record = (participants or {}).get(participant_id)
    problems: list[Problem] = []
    turns: list[Turn] = []
    for index, raw in enumerate(parsed.turns):
        try:
            turns.append(Turn(speaker=raw.speaker, role=speakers[raw.speaker].role, text=raw.text, start=raw.start, end=raw.end))
        except ValidationError as error:  # report with the turn's place
            message = "; ".join(item["msg"] for item in error.errors())
            problems.append(Problem(message, source.shown, f"turn {index + 1} ({raw.location})", "fix the turn in the source file"))
    if problems:
        raise InputError(f"{source.shown}: {len(problems)} bad turn(s)", problems=problems)
    metadata = InterviewMetadata(
        date=record.interview_date if record else None,
        duration_minutes=record.duration_minutes if record else None,
        language=options.language,
        interviewers=[info.label for info in speakers.values() if info.role is SpeakerRole.interviewer],
        source_format=parsed.format,
        source_file=source.path.name,
        redaction_count=sum(count_redactions(turn.text) for turn in turns),
    )
    participant = record.participant if record else None
    try:
        transcript = Transcript(
            id=transcript_id,
            participant=participant.model_dump() if participant else {"id": participant_id},
            metadata=metadata,
            turns=turns,
        )
    except ValidationError as error:
        from .importers.json import json_path

        problems = [
            Problem(item["msg"], source.shown, json_path(tuple(item["loc"])), "pass --id / --participant with a valid id")
            for item in error.errors()
        ]
        raise InputError(f"{source.shown}: the transcript is not valid", problems=problems) from None
    return transcript, speakers


def _finish_json(
    transcript: Transcript, path: Path, options: ImportOptions, participants: dict[str, ParticipantRecord] | None
) -> Transcript:
    """Apply id overrides and participants.csv to a transcript read from qualkit JSON."""
    participant = transcript.participant
    if options.participant_id:
        participant = participant.model_copy(update={"id": options.participant_id})
    record = (participants or {}).get(participant.id)
    metadata = transcript.metadata.model_copy(update={"source_file": path.name})
    if record is not None:
        known = record.participant
        participant = participant.model_copy(
            update={
                key: getattr(known, key)
                for key in ("role", "company_size", "sector", "years_experience")
                if getattr(participant, key) is None
            }
            | {"attributes": {**known.attributes, **participant.attributes}}
        )
        metadata = metadata.model_copy(
            update={
                "date": metadata.date or record.interview_date,
                "duration_minutes": metadata.duration_minutes if metadata.duration_minutes is not None else record.duration_minutes,
            }
        )
    update: dict[str, Any] = {"participant": participant, "metadata": metadata}
    if options.transcript_id or options.participant_id:
        update["id"] = options.transcript_id or options.participant_id
    return Transcript.model_validate(transcript.model_copy(update=update).model_dump())


def _speakers_of(transcript: Transcript) -> dict[str, SpeakerInfo]:
    speakers: dict[str, SpeakerInfo] = {}
    for index, turn in enumerate(transcript.turns):
        info = speakers.get(turn.speaker)
        words = len(turn.text.split())
        if info is None:
            speakers[turn.speaker] = SpeakerInfo(turn.speaker, turn.role, f"turns[{index}]", 1, words, "file")
        else:
            speakers[turn.speaker] = SpeakerInfo(info.label, info.role, info.first_location, info.turns + 1, info.words + words, "file")
    return speakers


__all__ = ["ReadResult", "build_transcript", "read_data", "read_file", "read_transcript"]
