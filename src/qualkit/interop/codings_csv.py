"""Human codings from a CSV (or TSV) file: each row checked against the study, then held as pending
codings (the columns are described in :mod:`qualkit.interop.codings`)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem, display_path
from ..transcripts_schema.decoding import allow_csv_fields, decode_bytes
from .code_mapping import ForeignCode, codebook_codes
from .codings_common import AUTOMATIC_CODER, PendingCoding, coder_name, current_transcripts, transcript_turns
from .qdpx_layout import render_source, split_span

MAX_CSV_BYTES = 200 * 1024 * 1024


_CSV_ALIASES = {
    "transcript": ("transcript", "transcript_id"),
    "turn": ("turn",),
    "turn_idx": ("turn_idx", "turn_index"),
    "start": ("start", "start_char"),
    "end": ("end", "end_char"),
    "code": ("code", "code_id", "label", "code_label"),
    "coder": ("coder",),
    "memo": ("memo", "note", "comment"),
    "text": ("text",),
}


def read_csv_codings(study: Any, path: Path, coder: str | None) -> tuple[list[PendingCoding], list[ForeignCode], list[str]]:
    shown = display_path(path)
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise InputError(f"{shown} is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB", hint="split the file")
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {shown}: {error.strerror}", hint="check the path") from error
    # UTF-8 or UTF-16/32 with a BOM (Excel's "Unicode text"); bad bytes, BOM-less UTF-16 and NULs located
    raw = decode_bytes(data, shown)
    try:
        dialect = csv.Sniffer().sniff(raw[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    allow_csv_fields(len(raw))
    try:
        reader = iter(list(csv.reader(io.StringIO(raw), dialect)))
    except csv.Error as error:
        raise InputError(
            f"{shown} is not readable as CSV ({error})",
            problems=[Problem(f"not readable as CSV: {error}", shown, "whole file", "save it again as CSV (UTF-8) from a spreadsheet")],
        ) from None
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{shown} is empty", hint="write a header row: transcript,turn,code,coder") from None
    lowered = [cell.strip().lower() for cell in header]
    columns: dict[str, int] = {}
    for key, names in _CSV_ALIASES.items():
        for name in names:
            if name in lowered:
                columns[key] = lowered.index(name)
                break
    missing = [name for name in ("transcript", "code") if name not in columns]
    if missing:
        raise InputError(
            f"{shown} lacks the column(s) {', '.join(missing)}",
            problems=[Problem(f"header is {header!r}", shown, "line 1", "columns: transcript, turn (or start,end), code, coder, memo")],
        )
    transcripts = current_transcripts(study)
    turn_cache: dict[int, list[Any]] = {}
    layout_cache: dict[int, tuple[str, list[tuple[int, int]]]] = {}
    known_codes, _ = codebook_codes(study)
    foreign: dict[str, ForeignCode] = {}
    pending: list[PendingCoding] = []
    problems: list[Problem] = []

    def cell(row: list[str], key: str) -> str:
        index = columns.get(key)
        return row[index].strip() if index is not None and index < len(row) else ""

    def number(row: list[str], key: str, where: str) -> int | None:
        value = cell(row, key)
        if not value:
            return None
        try:
            return int(value)
        except ValueError:
            problems.append(Problem(f"{key} {value!r} is not a whole number", shown, where, f"write {key} as a whole number, e.g. 3"))
            raise

    for line, row in enumerate(reader, start=2):
        if not row or all(not value.strip() for value in row):
            continue
        where = f"line {line}"
        transcript_id = cell(row, "transcript")
        code = cell(row, "code")
        raw_coder = cell(row, "coder").strip()
        automatic = bool(AUTOMATIC_CODER.match(raw_coder))  # run:N from `qualkit export`: not a human's name
        row_coder = ("" if automatic else coder_name(raw_coder.removeprefix("human:"))) or (coder_name(coder) if coder else "")
        if not row_coder:
            problems.append(
                Problem(f"no coder: the row's coder {raw_coder!r} is an automatic run, not a person, and --coder was not given", shown, where, "pass --coder NAME")
                if automatic else Problem("no coder: the row has no coder and --coder was not given", shown, where, "pass --coder NAME")
            )
        if not code:
            problems.append(Problem("empty code", shown, where, "name a code id or label"))
        if transcript_id not in transcripts:
            known = ", ".join(sorted(transcripts)[:10]) or "none yet"
            problems.append(Problem(f"no transcript {transcript_id!r} in this study", shown, where, f"known transcripts: {known}"))
            continue
        try:
            turn1, turn0 = number(row, "turn", where), number(row, "turn_idx", where)
            start, end = number(row, "start", where), number(row, "end", where)
        except ValueError:
            continue
        pk = transcripts[transcript_id]
        turns = turn_cache.setdefault(pk, transcript_turns(study, pk))
        pieces: list[tuple[Any, int, int]] = []
        if turn1 is not None or turn0 is not None:
            idx = turn0 if turn0 is not None else turn1 - 1  # type: ignore[operator]
            if not 0 <= idx < len(turns):
                label = f"turn_idx {turn0}" if turn0 is not None else f"turn {turn1}"
                problems.append(Problem(f"{label} is not in transcript {transcript_id!r} ({len(turns)} turns)", shown, where,
                                        "turn counts from 1 (turn_idx from 0)"))
                continue
            text = turns[idx]["text"]
            s = 0 if start is None else start
            e = len(text) if end is None else end
            if not 0 <= s < e <= len(text):
                problems.append(Problem(f"span [{s}, {e}) is not inside the turn's {len(text)} characters", shown, where,
                                        "offsets are code points into the turn, end exclusive"))
                continue
            pieces.append((turns[idx], s, e))
        elif start is not None and end is not None:
            text, spans = layout_cache.setdefault(pk, render_source([(t["speaker"], t["text"]) for t in turns]))
            if not 0 <= start < end <= len(text):
                problems.append(Problem(f"span [{start}, {end}) is outside the transcript's {len(text)} characters", shown, where,
                                        f"start and end are code points into the whole transcript, 0 <= start < end <= {len(text)}; "
                                        "or give the turn (1-based) instead"))
                continue
            parts = split_span(start, end, spans)
            if not parts:
                problems.append(Problem(f"span [{start}, {end}) covers only speaker labels", shown, where,
                                        "move the span onto the spoken text, or give the turn (1-based) instead"))
                continue
            pieces.extend((turns[i], a, b) for i, a, b in parts)
        else:
            problems.append(Problem("neither a turn nor a start/end span", shown, where, "give turn (1-based) or start and end"))
            continue
        expected = cell(row, "text")
        if expected:
            got = "\n\n".join(turn["text"][a:b] for turn, a, b in pieces)
            if " ".join(got.split()) != " ".join(expected.split()):
                problems.append(Problem(f"text {expected[:40]!r} does not match the coded span {got[:40]!r}", shown, where,
                                        "check the offsets (code points, end exclusive) and the turn number"))
                continue
        if code and row_coder:
            if code not in foreign:
                is_id = code in known_codes
                foreign[code] = ForeignCode(key=code, label=known_codes.get(code, code) if is_id else code)
            foreign[code].used = True
            for turn, a, b in pieces:
                pending.append(PendingCoding(row_coder, pk, turn["pk"], a, b, code, turn["text"][a:b], cell(row, "memo"),
                                             f"{path.name}:{where}"))
    if problems:
        raise InputError(f"{shown} has {len(problems)} problem(s); nothing was stored", problems=problems)
    if not pending:
        raise InputError(f"{shown} has no codings", hint="add rows: transcript,turn,code")
    return pending, list(foreign.values()), []


__all__ = ["MAX_CSV_BYTES", "read_csv_codings"]
