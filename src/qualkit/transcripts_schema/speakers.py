"""Speaker roles and ids: which label is the interviewer, which the participant.

Roles come, in this order, from ``speaker_roles`` (``--speaker-role LABEL=ROLE`` or
``[transcripts] speaker_roles``), ``interviewers`` (``--interviewer NAME`` or
``[transcripts] interviewers``), a role stated in the source (CSV role column), and the
defaults: labels starting with "Interviewer" are interviewers, "Interviewee" is the
participant. An interview has one participant: a single unmapped label is the
participant; several unmapped labels are an error unless ``multi_party`` is set.

Keys of ``speaker_roles`` and entries of ``interviewers`` may be glob patterns (``A*``,
``Speaker ?``), matched case-insensitively; an exact label wins over a pattern, and patterns
apply in the order given.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from ..errors import InputError, Problem
from .importers._base import RawTurn
from .model import SpeakerRole
from .options import ROLES, ImportOptions

#: A label that is already a pseudonymous participant id: P3, Lg2, ML-07.
PSEUDONYM = re.compile(r"^[A-Za-z]{1,4}[-_]?\d{1,4}$")


def label_key(label: str) -> str:
    """Labels compare case-insensitively with collapsed spaces."""
    return " ".join(label.split()).casefold()


def is_pattern(label: str) -> bool:
    """True when a configured label is a glob pattern (``A*``, ``Speaker ?``, ``P[12]``)."""
    return any(char in label for char in "*?[")


def _pattern_match(key: str, patterns: list[tuple[str, SpeakerRole]]) -> SpeakerRole | None:
    for pattern, role in patterns:
        if fnmatch.fnmatchcase(key, pattern):
            return role
    return None


@dataclass(frozen=True)
class SpeakerInfo:
    """One speaker label of a transcript: its role, where it first speaks, and how much."""

    label: str
    role: SpeakerRole
    first_location: str
    turns: int
    words: int
    source: str  # how the role was decided: mapping, interviewers, file, default, single, multi-party

    def as_dict(self) -> dict[str, object]:
        return {"label": self.label, "role": self.role.value, "turns": self.turns, "words": self.words, "role_from": self.source}


def assign_roles(turns: list[RawTurn], options: ImportOptions, file: str) -> dict[str, SpeakerInfo]:
    """Decide the role of every speaker label; unknown speakers raise with the fix."""
    mapping: dict[str, SpeakerRole] = {}
    patterns: list[tuple[str, SpeakerRole]] = []
    problems: list[Problem] = []
    for label, role in options.speaker_roles.items():
        if role not in ROLES:
            problems.append(
                Problem(f"role {role!r} for speaker {label!r} is not one of {', '.join(ROLES)}", file, "speaker_roles", "use interviewer, participant or other")
            )
            continue
        mapping[label_key(label)] = SpeakerRole(role)  # exact first: "[NAME]" is a label, not only a pattern
        if is_pattern(label):
            patterns.append((label_key(label), SpeakerRole(role)))
    if problems:
        raise InputError(f"{file}: bad speaker role mapping", problems=problems)
    interviewers = {label_key(name) for name in options.interviewers}
    interviewer_patterns = [(label_key(name), SpeakerRole.interviewer) for name in options.interviewers if is_pattern(name)]

    order: list[str] = []
    first: dict[str, RawTurn] = {}
    counts: dict[str, list[int]] = {}
    stated: dict[str, str] = {}
    for turn in turns:
        if turn.speaker not in first:
            order.append(turn.speaker)
            first[turn.speaker] = turn
            counts[turn.speaker] = [0, 0]
        counts[turn.speaker][0] += 1
        counts[turn.speaker][1] += len(turn.text.split())
        if turn.role and turn.speaker not in stated:
            stated[turn.speaker] = turn.role

    decided: dict[str, tuple[SpeakerRole, str]] = {}
    unmapped: list[str] = []
    for label in order:
        key = label_key(label)
        if key in mapping:
            decided[label] = (mapping[key], "mapping")
        elif (matched := _pattern_match(key, patterns)) is not None:
            decided[label] = (matched, "mapping")
        elif key in interviewers or _pattern_match(key, interviewer_patterns) is not None:
            decided[label] = (SpeakerRole.interviewer, "interviewers")
        elif label in stated:
            decided[label] = (SpeakerRole(stated[label]), "file")
        elif key.startswith("interviewer"):
            decided[label] = (SpeakerRole.interviewer, "default")
        elif key.startswith("interviewee"):
            decided[label] = (SpeakerRole.participant, "default")
        else:
            unmapped.append(label)
    has_participant = any(role is SpeakerRole.participant for role, _ in decided.values())
    if options.multi_party:
        for label in unmapped:
            decided[label] = (SpeakerRole.participant, "multi-party")
    elif len(unmapped) == 1 and not has_participant:
        decided[unmapped[0]] = (SpeakerRole.participant, "single")
    elif unmapped:
        known = [f"{label} = {role.value}" for label, (role, _) in decided.items()]
        raise InputError(
            f"{file}: {len(unmapped)} speaker(s) with no role"
            + (f" (known: {'; '.join(known)})" if known else "")
            + "; an interview has one participant speaker",
            problems=[
                Problem(
                    f"unknown speaker {label!r} ({counts[label][0]} turn(s))",
                    file,
                    first[label].location,
                    _mapping_fix(label),
                )
                for label in unmapped
            ],
        )
    return {
        label: SpeakerInfo(label, decided[label][0], first[label].location, counts[label][0], counts[label][1], decided[label][1])
        for label in order
    }


def _mapping_fix(label: str) -> str:
    """How to map an unknown label: both roles offered, and a pattern for Otter-style labels (P1, A1)."""
    fix = f"map it: --interviewer '{label}' if it is the interviewer, or --speaker-role '{label}=participant' (or '{label}=other')"
    prefix = re.match(r"^([A-Za-z]{1,4})[-_ ]?\d{1,4}$", label.strip())
    if prefix:
        glob = f"{prefix.group(1)}*"
        choices = [f'interviewers = ["{glob}"]', f'speaker_roles = {{ "{glob}" = "participant" }}']
        if prefix.group(1).upper().startswith("P"):  # P1, P2: most likely participants
            choices.reverse()
        fix += f"; in qualkit.toml a pattern maps every label like it: [transcripts] {choices[0]} or {choices[1]}"
    else:
        fix += "; or [transcripts] interviewers / speaker_roles in qualkit.toml (glob patterns such as 'A*' allowed)"
    return fix + "; --multi-party accepts several participants"


def sanitize_id(value: str, *, participant: bool = False) -> str:
    """Turn a file stem into a valid id: letters, digits, ``_ . -``; a participant id starts with a letter."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", value).strip("-._") or "transcript"
    if participant and not cleaned[0].isalpha():
        cleaned = "T" + cleaned
    return cleaned


__all__ = ["PSEUDONYM", "SpeakerInfo", "assign_roles", "is_pattern", "label_key", "sanitize_id"]
