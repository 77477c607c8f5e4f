"""Word DOCX (python-docx): speaker-labelled paragraphs, and tables with speaker | text columns."""

from __future__ import annotations

import io
import re
import zipfile
from typing import TYPE_CHECKING

from ._base import PARAGRAPH, TIMESTAMP, Parsed, RawTurn, Source, join_text, no_labels_error, parse_clock
from .text import LABEL_LINE, OTTER_HEADER

if TYPE_CHECKING:
    from ..options import ImportOptions

NAME = "docx"
EXTENSIONS = (".docx",)
_HEADER_SPEAKER = {"speaker", "name", "who", "speaker id"}
_HEADER_TEXT = {"text", "utterance", "transcript", "speech", "what was said"}
_CLOCK = re.compile(rf"^[\[(]?({TIMESTAMP})[\])]?$")
#: Uncompressed document.xml may be this many times the file limit before it is refused.
_XML_FACTOR = 10


def sniff(head: bytes) -> bool:
    """A DOCX is a ZIP archive (``PK`` signature) with word/document.xml inside."""
    return head.startswith(b"PK\x03\x04") and b"word/" in head[:2048]


def read(source: Source, options: "ImportOptions") -> Parsed:
    """Read paragraphs and two-column tables in document order."""
    _check_package(source, options)
    import docx  # python-docx

    try:
        document = docx.Document(io.BytesIO(source.data))
    except Exception as error:  # python-docx raises several kinds for broken packages
        raise source.error(f"cannot open the Word document: {error}", "whole file", "open and save it again in Word or LibreOffice") from None
    parsed = Parsed(format=NAME)
    current: RawTurn | None = None
    parts: list[str] = []
    skipped = 0

    def flush() -> None:  # an empty turn is kept here and dropped (and counted) by the shared tidy-up
        if current is not None:
            current.text = join_text(parts)
            parsed.turns.append(current)

    paragraph_no = 0
    table_no = 0
    for block in _blocks(source, document):
        if isinstance(block, list):
            table_no += 1
            for row_no, cells in enumerate(block, start=1):
                time, speaker, spoken = cells
                if row_no == 1 and speaker.lower() in _HEADER_SPEAKER and spoken.lower() in _HEADER_TEXT:
                    continue
                parsed.units += 1
                if speaker:
                    flush()
                    current = RawTurn(speaker, "", f"table {table_no} row {row_no}", start=parse_clock(time) if time else None)
                    parts = [spoken]
                elif current is not None:
                    parts.extend([PARAGRAPH, spoken])
                else:
                    skipped += 1
            continue
        paragraph_no += 1
        line = block.strip()
        if not line:
            continue
        match = LABEL_LINE.match(line) or OTTER_HEADER.match(line)
        if match:
            flush()
            stamp = match.group("ts") or match.groupdict().get("ts2")
            current = RawTurn(match.group("label").strip(), "", f"paragraph {paragraph_no}", start=parse_clock(stamp) if stamp else None)
            first = match.groupdict().get("text") or ""
            parts = [first] if first.strip() else []
            parsed.units += 1
        elif current is not None:
            parts.extend([PARAGRAPH, line])
            parsed.units += 1
        else:
            skipped += 1
    flush()
    if not parsed.turns:
        raise no_labels_error(source, "Word document", "paragraphs starting 'P3: ...', or a table with speaker | text columns")
    if skipped:
        parsed.notes.append(f"skipped {skipped} paragraph(s) or row(s) before the first speaker label")
    return parsed


def _blocks(source: Source, document: object) -> list["str | list[tuple[str, str, str]]"]:
    """The document's paragraphs (text) and tables (rows) in order; a damaged body is a clear error."""
    from docx.table import Table

    try:
        return [
            _table_rows(block) if isinstance(block, Table) else block.text
            for block in document.iter_inner_content()  # type: ignore[attr-defined]
        ]
    except (AttributeError, KeyError, IndexError, LookupError, TypeError, ValueError) as error:
        raise source.error(
            f"cannot read the Word document's content ({type(error).__name__}: {error})",
            "word/document.xml",
            "open and save it again in Word or LibreOffice",
        ) from None


def _check_package(source: Source, options: "ImportOptions") -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(source.data))
    except zipfile.BadZipFile:
        raise source.error(
            "not a Word document: not a ZIP archive (every .docx file is one)",
            "whole file",
            "save it as .docx from Word or LibreOffice, or choose the right importer with --format",
        ) from None
    names = archive.namelist()
    if "word/document.xml" not in names:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise source.error(
            f"a ZIP archive but not a Word document (no word/document.xml; it holds {shown or 'nothing'})",
            "whole file",
            "export the transcript as .docx from Word or LibreOffice",
        )
    size = archive.getinfo("word/document.xml").file_size
    if size > options.max_mb * _XML_FACTOR * 1024 * 1024:
        raise source.error(
            f"word/document.xml unpacks to {size / 1024 / 1024:.0f} MB, too large for a transcript",
            "word/document.xml",
            "split the document, or raise --max-mb",
        )


def _table_rows(table: object) -> list[tuple[str, str, str]]:
    """(time, speaker, text) for each row of a 2-column (speaker|text) or 3-column (time|speaker|text) table."""
    rows = []
    for row in table.rows:  # type: ignore[attr-defined]
        cells: list[str] = []
        previous = None
        for cell in row.cells:  # a merged cell is returned once per grid column: keep it once
            if cell._tc is not previous:
                cells.append(cell.text.strip())
            previous = cell._tc
        if len(cells) >= 3 and _CLOCK.match(cells[0]):
            time = _CLOCK.match(cells[0]).group(1)  # type: ignore[union-attr]
            rows.append((time, cells[1].rstrip(":"), " ".join(cells[2:]).strip()))
        elif len(cells) >= 2:
            rows.append(("", cells[0].rstrip(":").strip(), " ".join(cells[1:]).strip()))
    return rows
