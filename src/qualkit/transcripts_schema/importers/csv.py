"""CSV (or TSV) with one turn per row; columns named by options (default speaker, text, start, end, role)."""

from __future__ import annotations

import csv as _csv
from typing import TYPE_CHECKING

from ...errors import InputError, Problem
from ..decoding import allow_csv_fields
from ._base import Parsed, RawTurn, Source, parse_seconds

if TYPE_CHECKING:
    from ..options import ImportOptions

NAME = "csv"
EXTENSIONS = (".csv", ".tsv")
ROLES = {"interviewer", "participant", "other"}


def sniff(head: bytes) -> bool:
    """A CSV transcript's header row names a speaker and a text column."""
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].lower()
    return b"," in first and b"speaker" in first and b"text" in first


def read(source: Source, options: "ImportOptions") -> Parsed:
    """One turn per row; every bad row is collected before failing."""
    text = source.text.lstrip("\ufeff")
    if not text.strip():
        raise source.error("file is empty", "whole file", "export the transcript again")
    delimiter = "\t" if source.path.suffix.lower() == ".tsv" else ","
    allow_csv_fields(len(text))
    try:
        rows = list(_csv.reader(text.splitlines(), delimiter=delimiter))
    except _csv.Error as error:  # e.g. a NUL or a broken quote the reader cannot recover from
        raise source.error(f"not readable as CSV: {error}", "whole file", "save it again as CSV (UTF-8) from a spreadsheet") from None
    reader = iter(rows)
    header = next(reader)
    lookup = {name.strip().lower(): index for index, name in enumerate(header)}
    columns = options.csv_columns
    problems: list[Problem] = []
    index: dict[str, int | None] = {}
    for key in ("speaker", "text", "start", "end", "role"):
        wanted = columns.get(key, key)
        index[key] = lookup.get(wanted.strip().lower()) if wanted else None
        if index[key] is None and key in ("speaker", "text"):
            problems.append(
                Problem(
                    f"no {key} column {wanted!r} (columns: {', '.join(header)})",
                    source.shown,
                    "line 1",
                    f"name the column with --csv-{key} COLUMN",
                )
            )
    if problems:
        raise InputError(f"{source.shown}: missing CSV column(s)", problems=problems)
    parsed = Parsed(format=NAME)

    def cell(row: list[str], key: str) -> str:
        position = index[key]
        return row[position].strip() if position is not None and position < len(row) else ""

    for line, row in enumerate(reader, start=2):
        if not any(value.strip() for value in row):
            continue
        where = f"line {line}"
        parsed.units += 1
        speaker, spoken = cell(row, "speaker"), cell(row, "text")
        if not speaker:
            problems.append(Problem("row has no speaker", source.shown, where, "fill in the speaker column"))
            continue
        # a row with a speaker and no text is an empty turn: kept here, dropped and counted by the shared tidy-up
        times: dict[str, float | None] = {}
        for key in ("start", "end"):
            value = cell(row, key)
            try:
                times[key] = parse_seconds(value) if value else None
            except ValueError:
                problems.append(Problem(f"{key} {value!r} is not seconds or hh:mm:ss", source.shown, where, "write e.g. 62.5 or 00:01:02"))
                times[key] = None
        role = cell(row, "role").lower() or None
        if role is not None and role not in ROLES:
            problems.append(Problem(f"role {role!r} is not interviewer, participant or other", source.shown, where, "fix the role column"))
            role = None
        parsed.turns.append(RawTurn(speaker=speaker, text=spoken, location=where, start=times["start"], end=times["end"], role=role))
    if problems:
        raise InputError(f"{source.shown}: {len(problems)} bad row(s)", problems=problems)
    if not parsed.turns:
        raise source.error("no rows after the header", "line 2", "add one row per turn")
    return parsed
