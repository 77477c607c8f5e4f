"""A study's ``participants.csv``: participant attributes and interview metadata by participant id.

Columns: ``id`` (required), ``role``, ``company_size``, ``sector``, ``years_experience``,
``interview_date`` (ISO date), ``duration_minutes``; any other column becomes a free-form
attribute. Every bad cell is reported with its line and column before failing.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, Problem, display_path
from .decoding import allow_csv_fields, decode_bytes, read_limited
from .model import Participant

KNOWN_COLUMNS = ("id", "role", "company_size", "sector", "years_experience", "interview_date", "duration_minutes")
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ParticipantRecord:
    """One row of participants.csv: the participant, and metadata for their interview."""

    participant: Participant
    interview_date: dt.date | None = None
    duration_minutes: float | None = None
    line: int = 0


def load_participants(path: str | Path, *, max_mb: float = 20.0) -> dict[str, ParticipantRecord]:
    """Read participants.csv into records by participant id; every problem is listed with its place."""
    path = Path(path)
    shown = display_path(path)
    return parse_participants(read_limited(path, max_mb), shown)


def parse_participants(data: bytes, shown: str = "participants.csv") -> dict[str, ParticipantRecord]:
    """:func:`load_participants` on the bytes of a participants.csv (``shown`` names it in messages)."""
    text = decode_bytes(data, shown).lstrip("\ufeff")
    allow_csv_fields(len(text))
    try:
        rows = list(csv.reader(text.splitlines()))
    except csv.Error as error:
        raise InputError(
            f"{shown} is not readable as CSV ({error})",
            problems=[Problem(f"not readable as CSV: {error}", shown, "whole file", "save it again as CSV (UTF-8) from a spreadsheet")],
        ) from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InputError(f"{shown} is empty", problems=[Problem("no header row", shown, "line 1", "start with: " + ",".join(KNOWN_COLUMNS))])
    header = [name.strip().lower() for name in rows[0]]
    if "id" not in header:
        raise InputError(
            f"{shown} has no id column",
            problems=[Problem(f"no 'id' column (columns: {', '.join(header)})", shown, "line 1", "name the participant id column 'id'")],
        )
    problems: list[Problem] = []
    records: dict[str, ParticipantRecord] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        values = {name: (row[index].strip() if index < len(row) else "") for index, name in enumerate(header)}
        if len(row) > len(header):
            problems.append(Problem(f"row has {len(row)} cells but the header has {len(header)}", shown, f"line {line}", "quote cells that contain commas"))
            continue
        pid = values["id"]
        if not _ID.match(pid):
            problems.append(Problem(f"participant id {pid!r} is not a pseudonym like P3", shown, f"line {line}, column id", "use ids of letters, digits, _ . -"))
            continue
        if pid in records:
            problems.append(Problem(f"participant {pid} appears twice (first on line {records[pid].line})", shown, f"line {line}, column id", "keep one row per participant"))
            continue
        numbers: dict[str, float | None] = {}
        for column in ("years_experience", "duration_minutes"):
            raw = values.get(column, "")
            try:
                numbers[column] = float(raw) if raw else None
                if numbers[column] is not None and not (math.isfinite(numbers[column]) and numbers[column] >= 0):  # type: ignore[arg-type,operator]
                    raise ValueError  # negative, NaN or infinite
            except ValueError:
                problems.append(Problem(f"{column} {raw!r} is not a non-negative number", shown, f"line {line}, column {column}", "write a number such as 4 or 4.5"))
                numbers[column] = None
        date: dt.date | None = None
        raw_date = values.get("interview_date", "")
        if raw_date:
            try:
                date = dt.date.fromisoformat(raw_date)
            except ValueError:
                problems.append(Problem(f"interview_date {raw_date!r} is not an ISO date", shown, f"line {line}, column interview_date", "write YYYY-MM-DD"))
        attributes = {name: value for name, value in values.items() if name not in KNOWN_COLUMNS and name and value}
        participant = Participant(
            id=pid,
            role=values.get("role") or None,
            company_size=values.get("company_size") or None,
            sector=values.get("sector") or None,
            years_experience=numbers["years_experience"],
            attributes=attributes,
        )
        records[pid] = ParticipantRecord(participant, date, numbers["duration_minutes"], line)
    if problems:
        raise InputError(f"{shown} has {len(problems)} problem(s)", problems=problems)
    return records


__all__ = ["KNOWN_COLUMNS", "ParticipantRecord", "load_participants", "parse_participants"]
