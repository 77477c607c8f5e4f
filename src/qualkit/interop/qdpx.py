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

Exporting (:func:`export_qdpx`) writes each current transcript as one UTF-8 text source
(turns joined as ``Speaker: text`` paragraphs; :func:`render_source` is the one place that
defines the layout and returns where each turn's text starts), the codebook, one case per
participant with their attributes as variables, and every coding of the human coders and
the latest rules run as ``PlainTextSelection``s, one user per coder. GUIDs are uuid5 of
stable keys, so exporting the same study twice gives the same GUIDs (and the same bytes).
"""

from __future__ import annotations

import bisect
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence
from xml.etree.ElementTree import Element

from .. import __version__
from ..errors import InteropError, Problem, display_path
from ..outputs import ensure_parent_folder, write_atomic
from ._refi import PROJECT_NS, RefiCode, child, child_text, children, code_guid, local, parse_codes, stable_guid
from .notes import QdpxNote, memo_guid, memo_rows, note_element, read_notes
from .safezip import Limits, SafeArchive, parse_xml

Units = Literal["auto", "codepoint", "utf16"]
LAYOUT_PREFIX = "qualkit transcript"
Ends = Literal["exclusive", "inclusive"]

SOURCE_KINDS = {
    "TextSource": "text",
    "PDFSource": "pdf",
    "PictureSource": "picture",
    "AudioSource": "audio",
    "VideoSource": "video",
}
SELECTION_TAGS = ("PlainTextSelection", "PDFSelection", "PictureSelection", "AudioSelection", "VideoSelection", "TranscriptSelection")


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


# --------------------------------------------------------------------------- the export layout


@dataclass(frozen=True)
class TurnSpan:
    """Where a turn's text sits in the rendered source text (code points, end exclusive)."""

    turn_pk: int | None
    idx: int
    start: int
    end: int


def render_source(turns: Sequence[tuple[str, str]]) -> tuple[str, list[tuple[int, int]]]:
    """The plain text qualkit exports for a transcript, and each turn's text span in it.

    ``turns`` are ``(speaker, text)`` pairs; paragraphs are ``Speaker: text`` joined by a blank
    line. The span of turn *i* covers exactly its text (not the speaker label).
    """
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    offset = 0
    for index, (speaker, text) in enumerate(turns):
        if index:
            parts.append("\n\n")
            offset += 2
        label = f"{speaker}: "
        parts.append(label + text)
        spans.append((offset + len(label), offset + len(label) + len(text)))
        offset += len(label) + len(text)
    return "".join(parts), spans


def qualkit_layout(description: str) -> dict[str, Any] | None:
    """The turn layout qualkit writes into a source's Description on export, or None."""
    if not description.startswith(LAYOUT_PREFIX):
        return None
    _, _, payload = description.partition("\n")
    try:
        data = json.loads(payload)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
        return None
    return data


def locate_turns(source_text: str, turn_texts: Sequence[str]) -> list[tuple[int, int]] | None:
    """Each turn's span in ``source_text``, found in order; ``None`` when a turn is not there."""
    spans = []
    cursor = 0
    for text in turn_texts:
        found = source_text.find(text, cursor)
        if found < 0:
            return None
        spans.append((found, found + len(text)))
        cursor = found + len(text)
    return spans


def split_span(start: int, end: int, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """The parts of ``[start, end)`` inside turn spans, as ``(turn index, start, end)`` offsets into the turn."""
    starts = [span[0] for span in spans]
    index = max(bisect.bisect_right(starts, start) - 1, 0)
    pieces = []
    while index < len(spans) and spans[index][0] < max(end, start + 1):
        t_start, t_end = spans[index]
        lo, hi = max(start, t_start), min(end, t_end)
        if lo < hi or (start == end and t_start <= start <= t_end):
            pieces.append((index, lo - t_start, hi - t_start))
        index += 1
    return pieces


# --------------------------------------------------------------------------- export


def _coders_to_export(study: Any, coders: Iterable[str] | None) -> list[str]:
    store = study.store
    if coders is not None:  # unions (run:3+human:alice) become one user per part; a bare number is a run
        parts = [part.strip() for coder in coders for part in coder.split("+") if part.strip()]
        return list(dict.fromkeys(f"run:{part}" if part.isdigit() else part for part in parts))
    names = [f"human:{row['coder']}" for row in store.query(
        "SELECT DISTINCT coder FROM human_codings WHERE decision != 'rejected' ORDER BY coder")]  # rejections are not codings
    from ..analysis.codings import latest_rules_run

    latest = latest_rules_run(study)  # of the study's declared codebook, not a one-off run
    if latest is not None:
        names.append(f"run:{latest['id']}")
    return names


def _coder_rows(study: Any, coder: str) -> list[dict[str, Any]]:
    """Codings of one coder as ``transcript_pk, turn_pk, start, end, code_id, memo`` (offsets into the turn)."""
    store = study.store
    kind, _, value = coder.partition(":")
    if kind == "human":
        rows = store.query(
            """SELECT hc.transcript_pk, hc.turn_pk, hc.start_char, hc.end_char, hc.code_id, hc.memo,
                      LENGTH(tu.text) AS turn_len, hc.pk AS coding_pk
               FROM human_codings hc LEFT JOIN turns tu ON tu.pk = hc.turn_pk
               WHERE hc.coder = ? AND hc.decision != 'rejected' ORDER BY hc.pk""",
            (value,),
        )
        if not rows:
            raise InteropError(f"no human coder {value!r} in this study", hint="`qualkit codings list` shows the coders")
    elif kind == "run" and value.isdigit():
        store.run(int(value))  # NotFoundError when absent
        rows = store.query(
            """SELECT s.transcript_pk, s.turn_pk, ca.start_char, ca.end_char, ca.code_id, NULL AS memo,
                      LENGTH(tu.text) AS turn_len, NULL AS coding_pk
               FROM code_applications ca JOIN segments s ON s.pk = ca.segment_pk JOIN turns tu ON tu.pk = s.turn_pk
               WHERE ca.run_id = ? ORDER BY ca.pk""",
            (int(value),),
        )
    else:
        raise InteropError(f"unknown coder {coder!r}", hint="write coders as run:ID or human:NAME")
    return [dict(row) for row in rows]


def _user_name(study: Any, coder: str) -> str:
    kind, _, value = coder.partition(":")
    if kind == "human":
        return value
    return f"qualkit run {value}"


def study_codebook(study: Any) -> Any | None:
    """The study's resolved codebook, or None when it cannot be loaded (reported by the caller)."""
    from ..codebook import load_codebook

    return load_codebook(study.config.codebook.path, base_dir=study.root)


def export_qdpx(study: Any, out_path: str | Path, *, coders: Iterable[str] | None = None) -> Path:
    """Write the whole study as a REFI-QDA project archive; returns the path written.

    ``coders`` (``human:NAME`` / ``run:ID``) default to every human coder and the latest
    successful rules run. The archive is deterministic: the same study gives the same bytes.
    """
    from lxml import etree

    from .qdc import build_code_elements, code_records

    store = study.store
    out_path = Path(out_path)
    ns = PROJECT_NS
    q = lambda name: f"{{{ns}}}{name}"  # noqa: E731

    coder_names = _coders_to_export(study, coders)
    codebook = study_codebook(study)
    records = code_records(codebook) if codebook is not None else []
    known_ids = {record["id"] for record in records}
    coder_rows = {coder: _coder_rows(study, coder) for coder in coder_names}
    memos = memo_rows(study)
    for rows in [*coder_rows.values(), [m for m in memos if m["code_id"] is not None]]:
        for row in rows:
            if row["code_id"] not in known_ids:
                known_ids.add(row["code_id"])
                records.append({"id": row["code_id"], "label": row["code_id"], "parent": None, "definition": None,
                                "inclusion": None, "exclusion": None, "examples": []})

    study_name = study.config.study.name
    root = etree.Element(q("Project"), nsmap={None: ns}, name=study_name, origin=f"qualkit {__version__}")
    users = {coder: stable_guid("user", coder) for coder in coder_names}
    for memo in memos:  # memo authors are users too
        users.setdefault(f"human:{memo['coder']}", stable_guid("user", f"human:{memo['coder']}"))
    if users:
        users_el = etree.SubElement(root, q("Users"))
        for coder, guid in users.items():
            etree.SubElement(users_el, q("User"), guid=guid, name=_user_name(study, coder))
    if records:
        book = etree.SubElement(root, q("CodeBook"))
        build_code_elements(etree.SubElement(book, q("Codes")), records, ns)
        code_elements = {element.get("guid"): element for element in book.iter(q("Code"))}
        for memo in memos:
            if memo["target_kind"] == "code" and code_guid(memo["code_id"]) in code_elements:
                element = code_elements[code_guid(memo["code_id"])]
                position = 1 if len(element) and element[0].tag == q("Description") else 0
                position += sum(1 for child in element if child.tag == q("NoteRef"))
                element.insert(position, etree.Element(q("NoteRef"), targetGUID=memo_guid(memo)))

    people = store.participants()
    transcripts = store.transcripts()
    var_names: list[tuple[str, str]] = []  # (name, type)
    for person in people:
        for key, kind in (("role", "Text"), ("company_size", "Text"), ("sector", "Text"), ("years_experience", "Float")):
            if getattr(person, key) is not None and (key, kind) not in var_names:
                var_names.append((key, kind))
        for key in person.attributes:
            if (key, "Text") not in var_names and key not in {name for name, _ in var_names}:
                var_names.append((key, "Text"))
    if var_names:
        vars_el = etree.SubElement(root, q("Variables"))
        for name, kind in var_names:
            etree.SubElement(vars_el, q("Variable"), guid=stable_guid("variable", name), name=name, typeOfVariable=kind)
    source_guid = {row.pk: stable_guid("source", row.id) for row in transcripts}
    by_participant: dict[str, list[str]] = {}
    for row in transcripts:
        if row.participant_id:
            by_participant.setdefault(row.participant_id, []).append(source_guid[row.pk])
    if people:
        cases_el = etree.SubElement(root, q("Cases"))
        kinds = dict(var_names)
        for person in people:
            case = etree.SubElement(cases_el, q("Case"), guid=stable_guid("case", person.id), name=person.id)
            values = {key: getattr(person, key) for key in ("role", "company_size", "sector", "years_experience")}
            values.update(person.attributes)
            for name, _ in var_names:
                value = values.get(name)
                if value is None:
                    continue
                vv = etree.SubElement(case, q("VariableValue"))
                etree.SubElement(vv, q("VariableRef"), targetGUID=stable_guid("variable", name))
                if kinds[name] == "Float":
                    etree.SubElement(vv, q("FloatValue")).text = repr(float(value))
                else:
                    etree.SubElement(vv, q("TextValue")).text = str(value)
            for guid in by_participant.get(person.id, []):
                etree.SubElement(case, q("SourceRef"), targetGUID=guid)

    files: list[tuple[str, bytes]] = []
    noted_codings: dict[int, list[dict[str, Any]]] = {}
    noted_turns: dict[tuple[int, int], list[dict[str, Any]]] = {}
    noted_sources: dict[int, list[dict[str, Any]]] = {}
    if transcripts:
        sources_el = etree.SubElement(root, q("Sources"))
        for row in transcripts:
            turns = store.query(
                "SELECT pk, idx, speaker, role, text, start_s, end_s FROM turns WHERE transcript_pk = ? ORDER BY idx", (row.pk,)
            )
            text, spans = render_source([(t["speaker"], t["text"]) for t in turns])
            turn_span = {t["pk"]: spans[i] for i, t in enumerate(turns)}
            guid = source_guid[row.pk]
            files.append((f"sources/{guid}.txt", text.encode("utf-8")))
            source_el = etree.SubElement(sources_el, q("TextSource"), guid=guid, name=row.id,
                                         plainTextPath=f"internal://{guid}.txt")
            meta_row = store.conn.execute("SELECT metadata FROM transcripts WHERE pk = ?", (row.pk,)).fetchone()
            layout = {
                "transcript": row.id,
                "participant": row.participant_id,
                "metadata": json.loads(meta_row["metadata"]),
                "turns": [[t["speaker"], t["role"], *spans[i], t["start_s"], t["end_s"]] for i, t in enumerate(turns)],
            }
            etree.SubElement(source_el, q("Description")).text = (
                f"{LAYOUT_PREFIX} {row.id} (speaker, role and span of each turn, for re-import):\n"
                + json.dumps(layout, sort_keys=True, ensure_ascii=False)
            )
            selections = []
            for coder in coder_names:
                for n, coding in enumerate(coder_rows[coder]):
                    if coding["transcript_pk"] != row.pk:
                        continue
                    if coding["turn_pk"] is not None and coding["turn_pk"] in turn_span:
                        base = turn_span[coding["turn_pk"]][0]
                        start = base + (coding["start_char"] or 0)
                        end = base + (coding["end_char"] if coding["end_char"] is not None else coding["turn_len"])
                    else:
                        start = coding["start_char"] or 0
                        end = coding["end_char"] if coding["end_char"] is not None else len(text)
                    selections.append((start, end, coder, coding["code_id"], coding["memo"] or "", n, coding["coding_pk"]))
            selections.sort(key=lambda item: (item[0], item[1], item[2], item[3], item[5]))
            exported_codings = {item[6] for item in selections if item[6] is not None}
            source_memos = [m for m in memos if m["transcript_id"] == row.id and m["target_kind"] != "code"]
            for memo in source_memos:
                if memo["target_kind"] == "coding" and memo["coding_pk"] in exported_codings:
                    noted_codings.setdefault(memo["coding_pk"], []).append(memo)
                elif memo["target_kind"] in ("turn", "coding") and memo["turn_idx"] is not None and memo["turn_idx"] < len(spans):
                    noted_turns.setdefault((row.pk, memo["turn_idx"]), []).append(memo)
                else:
                    noted_sources.setdefault(row.pk, []).append(memo)
            for start, end, coder, code_id, memo, n, coding_pk in selections:
                key = (row.id, coder, code_id, start, end, n)
                sel = etree.SubElement(source_el, q("PlainTextSelection"), guid=stable_guid("selection", *key),
                                       name=text[start:end][:60], startPosition=str(start), endPosition=str(end),
                                       creatingUser=users[coder])
                if memo:
                    etree.SubElement(sel, q("Description")).text = memo
                coding_el = etree.SubElement(sel, q("Coding"), guid=stable_guid("coding", *key), creatingUser=users[coder])
                etree.SubElement(coding_el, q("CodeRef"), targetGUID=code_guid(code_id))
                for note in noted_codings.get(coding_pk, []) if coding_pk is not None else []:
                    etree.SubElement(sel, q("NoteRef"), targetGUID=memo_guid(note))
            for idx, t in enumerate(turns):  # a memo on a turn: a selection of the turn with the note
                turn_memos = noted_turns.get((row.pk, idx), [])
                if not turn_memos:
                    continue
                start, end = spans[idx]
                sel = etree.SubElement(source_el, q("PlainTextSelection"), guid=stable_guid("turn-selection", row.id, idx),
                                       name=f"{t['speaker']}, turn {idx + 1}", startPosition=str(start), endPosition=str(end))
                for note in turn_memos:
                    etree.SubElement(sel, q("NoteRef"), targetGUID=memo_guid(note))
            for note in noted_sources.get(row.pk, []):
                etree.SubElement(source_el, q("NoteRef"), targetGUID=memo_guid(note))
    if memos:
        notes_el = etree.SubElement(root, q("Notes"))
        for memo in memos:
            notes_el.append(note_element(etree, q, memo, users[f"human:{memo['coder']}"]))
    description = study.config.study.description
    if description:
        etree.SubElement(root, q("Description")).text = description
    placed = {m["pk"] for group in (*noted_codings.values(), *noted_turns.values(), *noted_sources.values()) for m in group}
    placed |= {m["pk"] for m in memos if m["target_kind"] == "code"}
    for memo in memos:  # memos on the study, and any whose target is not in this export
        if memo["pk"] not in placed:
            etree.SubElement(root, q("NoteRef"), targetGUID=memo_guid(memo))
    xml = etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
    ensure_parent_folder(out_path, option="--out or [export] out")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in [("project.qde", xml), *files]:
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    try:
        write_atomic(out_path, buffer.getvalue())  # temporary file, then rename
    except OSError as error:
        raise InteropError(f"cannot write {display_path(out_path)}: {error.strerror}", hint="check the folder exists and is writable") from error
    return out_path


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
