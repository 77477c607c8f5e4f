"""REFI-QDA projects (``.qdpx``): read any tool's export, and export a whole qualkit study.

Reading (:func:`read_qdpx`) goes through :class:`~qualkit.interop.safezip.SafeArchive` and
defusedxml. Positions are normalised to qualkit's convention, Unicode code points from 0
with the end exclusive, and every convention that differs from the specification is
reported in :attr:`QdpxProject.warnings`, never applied silently:

- the project file named ``Project.qde`` (or in another case) instead of ``project.qde``;
- the sources folder written ``Sources/`` instead of ``sources/``;
- ``plainTextPath`` without the ``internal://`` prefix;
- NVivo counts positions in UTF-16 code units (as .NET strings do), not code points: with
  ``units="auto"`` a project whose ``origin`` names NVivo is converted, and the warning says
  how many selections moved (only text outside the Basic Multilingual Plane, such as emoji,
  makes the two differ);
- ``ends="inclusive"`` for tools that store the last character's position as the end.

Exporting (:func:`export_qdpx`) lives in :mod:`qualkit.interop.qdpx_export`, and the text
layout both sides share (:func:`render_source`, :func:`split_span`, ...) in
:mod:`qualkit.interop.qdpx_layout`; both are re-exported here, where callers import them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from xml.etree.ElementTree import Element

from ..errors import InteropError, Problem, display_path
from ._refi import PROJECT_NS, RefiCode, child, child_text, children, local, parse_codes
from .notes import QdpxNote, read_notes
from .qdpx_export import export_qdpx, study_codebook
from .qdpx_layout import TurnSpan, locate_turns, render_source, split_span
from .safezip import Limits, SafeArchive, parse_xml

Units = Literal["auto", "codepoint", "utf16"]
Ends = Literal["exclusive", "inclusive"]

SOURCE_KINDS = {
    "TextSource": "text",
    "PDFSource": "pdf",
    "PictureSource": "picture",
    "AudioSource": "audio",
    "VideoSource": "video",
}


# --------------------------------------------------------------------------- the read model


@dataclass
class QdpxCoding:
    """One Coding of a selection: which code, and who applied it."""

    guid: str
    code_guid: str
    user_guid: str | None


@dataclass
class QdpxSelection:
    """A coded span of a text source, in code points, end exclusive (after normalisation)."""

    guid: str
    start: int
    end: int
    raw_start: int
    raw_end: int
    text: str
    codings: list[QdpxCoding]
    user_guid: str | None = None
    memo: str = ""


@dataclass
class QdpxSource:
    """A source of the project. Only text sources carry ``text`` and ``selections``."""

    guid: str
    name: str
    kind: str
    text: str | None = None
    member: str | None = None
    selections: list[QdpxSelection] = field(default_factory=list)
    other_codings: int = 0  # codings on non-text selections (PDF regions, pictures, media)
    description: str = ""

    @property
    def coding_count(self) -> int:
        return sum(len(selection.codings) for selection in self.selections)


@dataclass
class QdpxCase:
    guid: str
    name: str
    description: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    source_guids: list[str] = field(default_factory=list)


@dataclass
class QdpxProject:
    """Everything qualkit reads from a QDPX project, with the conventions it had to handle."""

    path: Path
    name: str
    origin: str
    users: dict[str, str]
    codes: list[RefiCode]
    sources: list[QdpxSource]
    cases: list[QdpxCase]
    warnings: list[str] = field(default_factory=list)
    units: str = "codepoint"
    notes: list[QdpxNote] = field(default_factory=list)  # see interop/notes.py

    @property
    def text_sources(self) -> list[QdpxSource]:
        return [source for source in self.sources if source.kind == "text"]

    @property
    def text_coding_count(self) -> int:
        return sum(source.coding_count for source in self.text_sources)

    @property
    def coding_count(self) -> int:
        """Every coding in the project, on any kind of source."""
        return self.text_coding_count + sum(source.other_codings for source in self.sources)

    def code(self, guid: str) -> RefiCode | None:
        for code in self.codes:
            if code.guid == guid:
                return code
        return None

    def summary(self) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        for source in self.sources:
            kinds[source.kind] = kinds.get(source.kind, 0) + 1
        return {
            "name": self.name,
            "origin": self.origin,
            "users": len(self.users),
            "codes": len(self.codes),
            "sources": kinds,
            "codings": self.coding_count,
            "text_codings": self.text_coding_count,
            "cases": len(self.cases),
            "units": self.units,
            "warnings": list(self.warnings),
        }


def _guid(value: str | None) -> str:
    return (value or "").strip().strip("{}").lower()


# --------------------------------------------------------------------------- reading


def read_qdpx(
    path: str | Path,
    *,
    units: Units = "auto",
    ends: Ends = "exclusive",
    limits: Limits = Limits(),
) -> QdpxProject:
    """Read a REFI-QDA project archive. Every problem is collected; any problem raises InteropError.

    ``units``: ``auto`` (code points, except UTF-16 code units for NVivo, reported),
    ``codepoint`` or ``utf16``. ``ends``: ``exclusive`` (the specification) or ``inclusive``.
    """
    path = Path(path)
    shown = display_path(path)
    warnings: list[str] = []
    problems: list[Problem] = []
    with SafeArchive(path, limits=limits) as archive:
        member, exact = archive.find("project.qde")
        if member is None:
            qde = [name for name in archive.names if name.lower().endswith(".qde") and "/" not in name.strip("/")]
            if len(qde) == 1:
                member = qde[0]
                warnings.append(f"the project file is named {member!r}, not 'project.qde' (read it anyway)")
            else:
                raise InteropError(
                    f"{shown} has no project.qde",
                    hint="a .qdpx must contain project.qde at its top level; is this a REFI-QDA project export?",
                )
        elif not exact:
            warnings.append(f"the project file is named {member!r}, not 'project.qde' (file name case differs; read it anyway)")
        where = f"{shown}:{member}"
        with archive.open_capped(member) as stream:  # streamed into the parser, capped at Limits.max_xml_bytes
            root = parse_xml(stream, where)
        if local(root.tag) != "Project":
            raise InteropError(
                f"{where} is not a REFI-QDA project (root element <{local(root.tag)}>, expected <Project>)",
                hint="export the project as REFI-QDA (.qdpx) from its tool",
            )
        if not root.tag.startswith(f"{{{PROJECT_NS}}}"):
            warnings.append(f"the project uses namespace {root.tag.split('}')[0].lstrip('{') or 'none'!r}, not {PROJECT_NS!r}")
        origin = root.get("origin") or "unknown tool"
        chosen_units = units
        if units == "auto":
            chosen_units = "utf16" if "nvivo" in origin.lower() else "codepoint"
        users = {
            _guid(user.get("guid")): (user.get("name") or user.get("id") or _guid(user.get("guid")))
            for users_el in children(root, "Users")
            for user in children(users_el, "User")
        }
        book = child(root, "CodeBook")
        codes = parse_codes(child(book, "Codes") if book is not None else None, file=where)
        code_guids = {code.guid for code in codes}
        variables = {
            _guid(var.get("guid")): var.get("name") or ""
            for vars_el in children(root, "Variables")
            for var in children(vars_el, "Variable")
        }
        cases = [_read_case(case, variables) for cases_el in children(root, "Cases") for case in children(cases_el, "Case")]
        sources: list[QdpxSource] = []
        reader = _SourceReader(archive, shown, warnings, problems)
        for sources_el in children(root, "Sources"):
            for element in sources_el:
                if not isinstance(element.tag, str):
                    continue
                kind = SOURCE_KINDS.get(local(element.tag))
                if kind is None:
                    continue
                source = QdpxSource(
                    guid=_guid(element.get("guid")),
                    name=element.get("name") or _guid(element.get("guid")),
                    kind=kind,
                    description=child_text(element, "Description"),
                )
                if kind == "text":
                    reader.read_text(element, source, chosen_units, ends)
                else:
                    source.other_codings = sum(1 for _ in element.iter() if isinstance(_.tag, str) and local(_.tag) == "Coding")
                sources.append(source)
        notes = read_notes(root, reader)
    # codings that name codes the codebook lacks
    for source in sources:
        for selection in source.selections:
            for coding in selection.codings:
                if coding.code_guid not in code_guids:
                    problems.append(
                        Problem(
                            f"coding {coding.guid} refers to code {coding.code_guid}, which is not in the CodeBook",
                            shown,
                            f"source {source.name!r}, selection {selection.guid}",
                            "export the project again with its codebook",
                        )
                    )
    other = sum(source.other_codings for source in sources)
    if other:
        kinds = sorted({source.kind for source in sources if source.other_codings})
        warnings.append(f"{other} coding(s) on {'/'.join(kinds)} sources were not imported: qualkit reads text sources only")
    if chosen_units == "utf16" and units == "auto":
        shift = 1 if ends == "inclusive" else 0
        moved = sum(1 for s in sources for sel in s.selections if (sel.start, sel.end) != (sel.raw_start, sel.raw_end + shift))
        warnings.append(
            f"{origin} counts positions in UTF-16 code units, not Unicode code points as the REFI-QDA specification says; "
            f"positions were converted ({moved} selection(s) moved; pass units='codepoint' to read them as written)"
        )
    if ends == "inclusive":
        warnings.append("selection ends were read as inclusive (the last character's position) and made exclusive")
    if problems:
        raise InteropError(f"{shown} has {len(problems)} problem(s)", problems=problems)
    return QdpxProject(
        path=path,
        name=root.get("name") or path.stem,
        origin=origin,
        users=users,
        codes=codes,
        sources=sources,
        cases=cases,
        warnings=warnings,
        units=chosen_units,
        notes=notes,
    )


def _read_case(element: Element, variables: dict[str, str]) -> QdpxCase:
    case = QdpxCase(
        guid=_guid(element.get("guid")),
        name=element.get("name") or _guid(element.get("guid")),
        description=child_text(element, "Description"),
    )
    for value in children(element, "VariableValue"):
        ref = child(value, "VariableRef")
        name = variables.get(_guid(ref.get("targetGUID")) if ref is not None else "", "")
        for item in value:
            if isinstance(item.tag, str) and local(item.tag).endswith("Value") and local(item.tag) != "VariableRef":
                if name:
                    case.variables[name] = (item.text or "").strip()
    case.source_guids = [_guid(ref.get("targetGUID")) for ref in children(element, "SourceRef")]
    return case


class _SourceReader:
    """Finds and decodes a text source's plain text and normalises its selections."""

    def __init__(self, archive: SafeArchive, shown: str, warnings: list[str], problems: list[Problem]) -> None:
        self.archive = archive
        self.shown = shown
        self.warnings = warnings
        self.problems = problems
        self._noted: set[str] = set()

    def _note(self, key: str, message: str) -> None:
        if key not in self._noted:
            self._noted.add(key)
            self.warnings.append(message)

    def _member_for(self, raw: str, source: QdpxSource) -> str | None:
        value = raw.strip()
        if value.lower().startswith("internal://"):
            name = value[len("internal://"):]
        elif value.lower().startswith(("relative://", "absolute://", "file://")) or value.startswith("/") or (len(value) > 2 and value[1] == ":"):
            self.problems.append(
                Problem(
                    f"text source {source.name!r} points outside the archive ({value!r}); its text cannot be read",
                    self.shown,
                    f"source {source.guid}",
                    "export the project with its sources embedded",
                )
            )
            return None
        else:
            name = value
            self._note("prefix", f"plainTextPath {value!r} has no 'internal://' prefix; read it from the archive's sources/ folder")
        for candidate in (f"sources/{name}", name):
            member, exact = self.archive.find(candidate)
            if member is not None:
                if candidate == name and "/" not in member:
                    self._note("root", "the archive stores sources at its top level rather than in 'sources/' (read them anyway)")
                elif not exact:
                    self._note(
                        "case",
                        f"the archive stores sources under {member.rsplit('/', 1)[0] + '/' if '/' in member else 'its top level'!r} "
                        "rather than 'sources/' (file name case differs; read it anyway)",
                    )
                return member
        self.problems.append(
            Problem(
                f"text source {source.name!r}: {value!r} is not in the archive",
                self.shown,
                f"source {source.guid}",
                "export the project again; the archive is incomplete",
            )
        )
        return None

    def _decode(self, data: bytes, member: str) -> str | None:
        try:
            if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
                self._note("utf16", f"{member} is UTF-16, not UTF-8 as REFI-QDA requires (decoded anyway)")
                text = data.decode("utf-16")
            else:
                text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            self.problems.append(
                Problem(f"{member} is not valid {error.encoding.upper()} (byte {error.start})", self.shown, member, "export the sources as UTF-8")
            )
            return None
        nul = text.find("\x00")
        if nul >= 0:
            self.problems.append(
                Problem(
                    f"{member} contains {text.count(chr(0))} NUL character(s), the first at character {nul}",
                    self.shown,
                    member,
                    "remove them from the source in its tool and export the project again",
                )
            )
            return None
        return text

    def read_text(self, element: Element, source: QdpxSource, units: str, ends: str) -> None:
        content = child(element, "PlainTextContent")
        path = element.get("plainTextPath")
        if content is not None and content.text is not None:
            source.text = content.text
        elif path:
            member = self._member_for(path, source)
            if member is not None:
                source.member = member
                source.text = self._decode(self.archive.read(member), member)
        else:
            rich = element.get("richTextPath") or ""
            self.problems.append(
                Problem(
                    f"text source {source.name!r} has neither PlainTextContent nor plainTextPath"
                    + (f" (only {rich!r}, a rich-text rendition qualkit does not read)" if rich else ""),
                    self.shown,
                    f"source {source.guid}",
                    "export with plain-text renditions of the sources",
                )
            )
        selections = list(children(element, "PlainTextSelection"))
        whole = list(children(element, "Coding"))
        if source.text is None:
            if selections or whole:
                count = sum(len(list(children(sel, "Coding"))) for sel in selections) + len(whole)
                self.problems.append(
                    Problem(f"{count} coding(s) of source {source.name!r} cannot be placed: its text is missing", self.shown, f"source {source.guid}")
                )
            return
        text = source.text
        to_cp = _utf16_to_codepoint(text) if units == "utf16" else None
        for sel in selections:
            guid = _guid(sel.get("guid"))
            try:
                raw_start = int(sel.get("startPosition", ""))
                raw_end = int(sel.get("endPosition", ""))
            except ValueError:
                self.problems.append(Problem("startPosition/endPosition is not a number", self.shown, f"source {source.name!r}, selection {guid}"))
                continue
            start, end = raw_start, raw_end + (1 if ends == "inclusive" else 0)
            if to_cp is not None:
                start, end = to_cp(start), to_cp(end)
            if start is None or end is None or not 0 <= start <= end <= len(text):
                self.problems.append(
                    Problem(
                        f"selection [{raw_start}, {raw_end}) lies outside the source text ({len(text)} characters)"
                        + (" or splits a UTF-16 surrogate pair" if to_cp is not None else ""),
                        self.shown,
                        f"source {source.name!r}, selection {guid}",
                        "check the position convention (units='utf16' / ends='inclusive')",
                    )
                )
                continue
            codings = [
                QdpxCoding(_guid(c.get("guid")), _guid(ref.get("targetGUID")), _guid(c.get("creatingUser")) or None)
                for c in children(sel, "Coding")
                if (ref := child(c, "CodeRef")) is not None
            ]
            source.selections.append(
                QdpxSelection(
                    guid=guid,
                    start=start,
                    end=end,
                    raw_start=raw_start,
                    raw_end=raw_end,
                    text=text[start:end],
                    codings=codings,
                    user_guid=_guid(sel.get("creatingUser")) or None,
                    memo=child_text(sel, "Description").strip(),
                )
            )
        if whole:
            codings = [
                QdpxCoding(_guid(c.get("guid")), _guid(ref.get("targetGUID")), _guid(c.get("creatingUser")) or None)
                for c in whole
                if (ref := child(c, "CodeRef")) is not None
            ]
            source.selections.append(
                QdpxSelection(guid=source.guid, start=0, end=len(text), raw_start=0, raw_end=len(text), text=text, codings=codings)
            )


def _utf16_to_codepoint(text: str):  # type: ignore[no-untyped-def]
    """A function mapping UTF-16 code-unit offsets of ``text`` to code-point offsets (None inside a pair)."""
    if all(ord(ch) < 0x10000 for ch in text):
        return lambda offset: offset
    # cumulative UTF-16 length before each code point
    boundaries = [0]
    for ch in text:
        boundaries.append(boundaries[-1] + (2 if ord(ch) >= 0x10000 else 1))

    def convert(offset: int) -> int | None:
        index = bisect.bisect_left(boundaries, offset)
        if index < len(boundaries) and boundaries[index] == offset:
            return index
        return None if 0 <= offset <= boundaries[-1] else len(text) + 1

    return convert


__all__ = [
    "QdpxCase",
    "QdpxCoding",
    "QdpxNote",
    "QdpxProject",
    "QdpxSelection",
    "QdpxSource",
    "TurnSpan",
    "export_qdpx",
    "locate_turns",
    "read_qdpx",
    "render_source",
    "split_span",
    "study_codebook",
]
