"""Reading transcript files safely: a size limit checked before reading, and strict decoding.

Accepted encodings: UTF-8, UTF-8 with a byte-order mark, UTF-16 and UTF-32 with a
byte-order mark. Anything else is refused with the byte offset (and line) of every
invalid sequence, never guessed. UTF-16 or UTF-32 without a byte-order mark is recognised
by its pattern of NUL bytes and refused with that diagnosis; NUL characters in otherwise
valid text are refused with their byte offset, line and column.
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

from ..errors import InputError, Problem, display_path

#: Byte-order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE mark).
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

#: At most this many invalid byte sequences are listed in one error.
MAX_REPORTED = 10

_TEXT_FORMATS = "plain text (.txt), WebVTT (.vtt), SubRip (.srt), Word (.docx), Markdown, CSV or qualkit JSON"

_READ_FIX = "check the path: it must name a file (not a folder) that you can read"

#: Binary files people give by mistake: (leading bytes, what it is, how to fix it).
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF", "a PDF document", f"qualkit does not read PDFs: export the transcript as {_TEXT_FORMATS}"),
    (b"PK\x03\x04", "a ZIP archive", "if it is a Word document, give it the .docx extension (or pass --format docx)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file (Word .doc)", "save it as .docx from Word or LibreOffice"),
    (b"{\\rtf", "an RTF document", "save it as .docx or plain text from Word or LibreOffice"),
)


def check_size(path: Path, max_mb: float) -> int:
    """Return the file's size in bytes; refuse it (without reading it) when over ``max_mb``."""
    shown = display_path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise InputError(f"cannot read {shown}: {error.strerror}", problems=[Problem(error.strerror or "cannot read", shown, "", _READ_FIX)]) from error
    limit = int(max_mb * 1024 * 1024)
    if size > limit:
        raise InputError(
            f"{shown} is {size / 1024 / 1024:.1f} MB, over the limit of {max_mb:g} MB",
            problems=[
                Problem(
                    f"file is {size / 1024 / 1024:.1f} MB, over the limit of {max_mb:g} MB",
                    shown,
                    "whole file",
                    "split the file, or raise [transcripts] max_file_mb in qualkit.toml (or pass --max-mb)",
                )
            ],
        )
    return size


def read_limited(path: Path, max_mb: float) -> bytes:
    """Read a file's bytes after checking its size against ``max_mb``."""
    check_size(path, max_mb)
    shown = display_path(path)
    limit = int(max_mb * 1024 * 1024)
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)  # the file may have grown since stat()
    except OSError as error:
        raise InputError(f"cannot read {shown}: {error.strerror}", problems=[Problem(error.strerror or "cannot read", shown, "", _READ_FIX)]) from error
    if len(data) > limit:
        raise InputError(
            f"{shown} is over the limit of {max_mb:g} MB",
            problems=[Problem(f"file is over the limit of {max_mb:g} MB", shown, "whole file", "raise --max-mb")],
        )
    return data


def decode_bytes(data: bytes, file: str = "") -> str:
    """Decode transcript bytes to text with normalised newlines.

    UTF-8 (with or without BOM) and UTF-16/UTF-32 with a BOM are accepted; invalid
    bytes raise :class:`InputError` listing each bad sequence's byte offset and line.
    """
    encoding = "utf-8"
    skip = 0
    for bom, name in BOMS:
        if data.startswith(bom):
            encoding, skip = name, len(bom)
            break
    body = data[skip:]
    if not skip:
        known = _signature_error(data, file)  # a PDF or .doc is named as such, not taken for UTF-16
        wide = known or _bomless_utf16(data, file)
        if wide is not None:
            raise wide
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        raise (_binary_error(data, file) if not skip else None) or _decode_error(data, skip, encoding, file) from None
    if "\x00" in text:
        raise _nul_error(data, text, skip, encoding, file)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _bomless_utf16(data: bytes, file: str) -> InputError | None:
    """The error for UTF-16/UTF-32 text saved without a byte-order mark, or None.

    Text in those encodings has a NUL byte in (nearly) every second (or fourth) position
    when its characters are mostly ASCII; UTF-8 text and binary files do not.
    """
    head = data[:8192]
    if len(head) < 4:
        return None
    # the share of NUL bytes at each position modulo 4
    share = [head[offset::4].count(0) / max(1, len(head[offset::4])) for offset in range(4)]
    order = None
    if share[0] <= 0.1 and min(share[1:]) >= 0.9 or share[3] <= 0.1 and min(share[:3]) >= 0.9:
        order = "UTF-32"  # three NULs in every four bytes
    elif max(share[0], share[2]) <= 0.1 and min(share[1], share[3]) >= 0.6:
        order = "little-endian"
    elif max(share[1], share[3]) <= 0.1 and min(share[0], share[2]) >= 0.6:
        order = "big-endian"
    if order is None:
        return None
    shown = file or "input"
    what = "UTF-32" if order == "UTF-32" else f"UTF-16 ({order})"
    codec = {"little-endian": "UTF-16LE", "big-endian": "UTF-16BE"}.get(order, "UTF-32")
    return InputError(
        f"{shown} looks like {what} text without a byte-order mark",
        problems=[
            Problem(
                f"this file looks {what.split(' ')[0]} without a BOM (a NUL byte in every "
                f"{'fourth' if order == 'UTF-32' else 'second'} position)",
                file,
                "byte 0",
                f"re-save it as UTF-8 (for example: iconv -f {codec} -t UTF-8 IN > OUT), or with a BOM",
            )
        ],
        hint="qualkit reads UTF-8, or UTF-16/UTF-32 with a byte-order mark",
    )


def _nul_error(data: bytes, text: str, skip: int, encoding: str, file: str) -> InputError:
    """NUL characters in otherwise valid text: each one's byte offset, line and column."""
    problems: list[Problem] = []
    index = text.find("\x00")
    count = text.count("\x00")
    while index >= 0 and len(problems) < MAX_REPORTED:
        line = text.count("\n", 0, index) + 1
        column = index - (text.rfind("\n", 0, index) + 1) + 1
        offset = skip + len(text[:index].encode(encoding)) if encoding == "utf-8" else None
        where = (f"byte {offset}, " if offset is not None else "") + f"line {line}, column {column}"
        problems.append(Problem("NUL character (U+0000) in the text", file, where, "delete it (a damaged or partly binary file?), then import again"))
        index = text.find("\x00", index + 1)
    message = f"{file or 'input'} contains {count} NUL character(s)"
    if count > MAX_REPORTED:
        message += f" (first {MAX_REPORTED} shown)"
    return InputError(message, problems=problems, hint="a transcript is plain text: NUL bytes are never part of it")


#: ``csv`` refuses a cell larger than its field limit (131,072 characters by default).
_CSV_FIELD_CAP = 2**31 - 1


def allow_csv_fields(size: int) -> None:
    """Raise the ``csv`` module's field limit to at least ``size`` characters.

    A cell can never be longer than the file it comes from, so readers pass the text's
    length: a long cell is then read (and judged by its content), never a ``_csv.Error``.
    """
    wanted = min(max(size + 1, 131_072), _CSV_FIELD_CAP)
    if csv.field_size_limit() < wanted:
        csv.field_size_limit(wanted)


def _signature_error(data: bytes, file: str) -> InputError | None:
    """An error naming a known binary format (PDF, ZIP, .doc, RTF) by its first bytes, or None."""
    shown = file or "input"
    for signature, what, fix in SIGNATURES:
        if data.startswith(signature):
            return InputError(
                f"{shown} is {what}, not a text file",
                problems=[Problem(f"{what} (it starts with {data[:len(signature)]!r})", file, "byte 0", fix)],
            )
    return None


def _binary_error(data: bytes, file: str) -> InputError | None:
    """An error saying what a binary file is (PDF, ZIP, .doc, NUL bytes), or None for mis-encoded text."""
    shown = file or "input"
    known = _signature_error(data, file)
    if known is not None:
        return known
    nul = data.find(b"\x00", 0, 8192)
    if nul >= 0:
        return InputError(
            f"{shown} is a binary file, not a text file",
            problems=[
                Problem(
                    "binary content (a NUL byte)",
                    file,
                    f"byte {nul}",
                    f"give a transcript as {_TEXT_FORMATS}; UTF-16 text needs a byte-order mark (or save it as UTF-8)",
                )
            ],
        )
    return None


def _decode_error(data: bytes, skip: int, encoding: str, file: str) -> InputError:
    decoder_name = encoding
    problems: list[Problem] = []
    position = skip
    body_end = len(data)
    more = False
    while position < body_end:
        try:
            data[position:].decode(decoder_name)
            break
        except UnicodeDecodeError as error:
            start = position + error.start
            end = position + max(error.end, error.start + 1)
            if len(problems) >= MAX_REPORTED:
                more = True
                break
            line = data.count(b"\n", 0, start) + 1 if encoding == "utf-8" else None
            where = f"byte {start}" + (f" (line {line})" if line else "")
            problems.append(
                Problem(
                    f"invalid {encoding.upper()} byte(s) {data[start:end].hex(' ')}",
                    file,
                    where,
                    "save the file as UTF-8 (for example: iconv -f cp1252 -t utf-8 IN > OUT)",
                )
            )
            position = end
    message = f"{file or 'input'} is not valid {encoding.upper()}"
    if more:
        message += f" (first {MAX_REPORTED} problems shown)"
    return InputError(message, problems=problems, hint="qualkit reads UTF-8, or UTF-16/UTF-32 with a byte-order mark")


__all__ = ["BOMS", "allow_csv_fields", "check_size", "decode_bytes", "read_limited"]
