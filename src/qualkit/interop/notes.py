"""Memos as REFI-QDA notes: written into a QDPX export, read back as memos when a project is imported.

Export: every memo is a ``Note`` (its text inline, its target in the description), referred to
(``NoteRef``) from its code, its transcript's source, a selection of its turn, or its coding's
selection; a memo on the study from the project. :func:`export_qdpx` places the references.

Import: a ``Note`` becomes one memo per object that refers to it (``NoteRef``): on the project, a study
memo; on a code, a memo on the code it was mapped to; on a text source, a memo on the transcript;
on a selection, a memo on the human coding imported from that selection (when the selection is
coded), else on the turn where the selection starts. A note nothing refers to is a study memo.
Memos already in the study (same author, target and text) are not written twice, so importing a
qualkit export back into its own study adds nothing.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import Element

from ..store import utcnow
from ._refi import child_text, children, local, stable_guid

if TYPE_CHECKING:  # qdpx imports this module
    from .qdpx import QdpxProject

MEMO_PREFIX = "qualkit memo on"


@dataclass
class QdpxNote:
    """A REFI-QDA ``Note`` and what refers to it (``NoteRef``): ``(kind, guid, source guid)`` with kind
    ``project``, ``code``, ``source`` or ``selection`` (a selection's source guid is the third item)."""

    guid: str
    name: str
    text: str
    user_guid: str | None = None
    created: str = ""
    description: str = ""
    targets: list[tuple[str, str, str]] = field(default_factory=list)


def memo_rows(study: Any) -> list[dict[str, Any]]:
    """The study's memos (``qualkit.workbench.memos``), oldest first."""
    return [dict(row) for row in study.store.query("SELECT * FROM memos ORDER BY pk")]


def note_element(etree: Any, q: Any, memo: dict[str, Any], user_guid: str) -> Any:
    """A REFI-QDA ``Note`` (a text source with its content inline) for one memo."""
    target = {key: memo[key] for key in ("target_kind", "code_id", "transcript_id", "turn_idx", "coding_pk") if memo[key] is not None}
    note = etree.Element(q("Note"), guid=memo_guid(memo), name=memo["title"] or memo["text"].splitlines()[0][:60],
                         creatingUser=user_guid, creationDateTime=memo["created_at"], modifiedDateTime=memo["updated_at"])
    etree.SubElement(note, q("Description")).text = f"{MEMO_PREFIX} " + json.dumps(target, sort_keys=True)
    etree.SubElement(note, q("PlainTextContent")).text = memo["text"]
    return note


def memo_guid(memo: dict[str, Any]) -> str:
    return stable_guid("memo", memo["pk"], memo["created_at"])


def read_notes(root: Element, reader: Any) -> list[QdpxNote]:
    """The project's notes (text inline or in the archive) with every ``NoteRef`` that points at them."""
    from .qdpx import QdpxSource, _guid

    notes: dict[str, QdpxNote] = {}
    for notes_el in children(root, "Notes"):
        for element in children(notes_el, "Note"):
            guid = _guid(element.get("guid"))
            text = child_text(element, "PlainTextContent")
            path = element.get("plainTextPath")
            if not text and path:
                stub = QdpxSource(guid=guid, name=element.get("name") or guid, kind="text")
                problems = len(reader.problems)
                member = reader._member_for(path, stub)
                del reader.problems[problems:]  # an unreadable note is skipped, never fatal
                if member is not None:
                    text = reader._decode(reader.archive.read(member), member) or ""
                    del reader.problems[problems:]
            notes[guid] = QdpxNote(guid=guid, name=element.get("name") or "", text=(text or "").strip(),
                                   user_guid=_guid(element.get("creatingUser")) or None,
                                   created=element.get("creationDateTime") or "", description=child_text(element, "Description"))
    if not notes:
        return []

    def refer(holder: Element, kind: str, guid: str, source_guid: str = "") -> None:
        for ref in children(holder, "NoteRef"):
            note = notes.get(_guid(ref.get("targetGUID")))
            if note is not None:
                note.targets.append((kind, guid, source_guid))

    refer(root, "project", "")
    for element in root.iter():
        if isinstance(element.tag, str) and local(element.tag) == "Code":
            refer(element, "code", _guid(element.get("guid")))
    for sources_el in children(root, "Sources"):
        for source in children(sources_el, "TextSource"):
            source_guid = _guid(source.get("guid"))
            refer(source, "source", source_guid)
            for selection in children(source, "PlainTextSelection"):
                refer(selection, "selection", _guid(selection.get("guid")), source_guid)
    return list(notes.values())




def _memo_exists(conn: sqlite3.Connection, values: dict[str, Any]) -> bool:
    row = conn.execute(
        """SELECT 1 FROM memos WHERE coder = :coder AND target_kind = :target_kind AND text = :text
             AND code_id IS :code_id AND transcript_id IS :transcript_id AND turn_idx IS :turn_idx AND coding_pk IS :coding_pk""",
        values,
    ).fetchone()
    return row is not None


def import_notes(
    conn: sqlite3.Connection,
    project: QdpxProject,
    *,
    file_name: str,
    run_id: int,
    coder: str | None,
    code_ids: dict[str, str],
    source_transcripts: dict[str, str],
) -> tuple[int, list[str]]:
    """Write the project's notes as memos inside the import's transaction; returns (memos written, warnings).

    ``code_ids`` maps code GUIDs to study code ids; ``source_transcripts`` source GUIDs to transcript ids.
    """
    from .codings_common import coder_name
    from .qdpx_layout import locate_turns, render_source, split_span

    sources = {source.guid: source for source in project.text_sources}
    selections = {sel.guid: (source, sel) for source in project.text_sources for sel in source.selections}
    turn_spans: dict[str, tuple[str, list[tuple[int, int]]] | None] = {}
    written, skipped = 0, 0
    now = utcnow()

    def spans_of(source_guid: str) -> tuple[str, list[tuple[int, int]]] | None:
        if source_guid not in turn_spans:
            transcript_id = source_transcripts.get(source_guid)
            source = sources.get(source_guid)
            found = None
            if transcript_id is not None and source is not None:
                turns = [row[0] for row in conn.execute(
                    """SELECT tu.text FROM turns tu JOIN transcripts t ON t.pk = tu.transcript_pk
                       WHERE t.id = ? AND t.is_current = 1 ORDER BY tu.idx""", (transcript_id,))]
                _text, spans = render_source([("", text) for text in turns])
                located = locate_turns(source.text or "", turns)
                found = (transcript_id, located if located is not None else spans)
            turn_spans[source_guid] = found
        return turn_spans[source_guid]

    for note in project.notes:
        if not note.text:
            continue
        author = coder_name(coder) if coder else coder_name(project.users.get(note.user_guid or "", "") or "imported")
        for kind, guid, source_guid in note.targets or [("project", "", "")]:
            target: dict[str, Any] = {"target_kind": "study", "code_id": None, "transcript_id": None, "turn_idx": None, "coding_pk": None}
            if kind == "code":
                if guid not in code_ids:
                    skipped += 1
                    continue
                target.update(target_kind="code", code_id=code_ids[guid])
            elif kind == "source":
                if guid not in source_transcripts:
                    skipped += 1
                    continue
                target.update(target_kind="transcript", transcript_id=source_transcripts[guid])
            elif kind == "selection":
                located = spans_of(source_guid)
                pair = selections.get(guid)
                if located is None or pair is None:
                    skipped += 1
                    continue
                transcript_id, spans = located
                _source, selection = pair
                coded = None
                for coding in selection.codings:
                    coded = conn.execute(
                        "SELECT pk FROM human_codings WHERE run_id = ? AND source = ? ORDER BY pk LIMIT 1",
                        (run_id, f"{file_name}#{coding.guid}"),
                    ).fetchone()
                    if coded is not None:
                        break
                pieces = split_span(selection.start, selection.end, spans)
                if coded is not None:
                    turn = conn.execute("SELECT tu.idx FROM human_codings hc JOIN turns tu ON tu.pk = hc.turn_pk WHERE hc.pk = ?",
                                        (coded[0],)).fetchone()
                    target.update(target_kind="coding", coding_pk=int(coded[0]), transcript_id=transcript_id,
                                  turn_idx=turn[0] if turn is not None else None)
                elif pieces:
                    target.update(target_kind="turn", transcript_id=transcript_id, turn_idx=pieces[0][0])
                else:
                    skipped += 1
                    continue
            values = {**target, "coder": author, "text": note.text, "title": note.name if note.name != note.text.splitlines()[0][:60] else ""}
            if _memo_exists(conn, values):
                continue
            created = note.created or now
            conn.execute(
                """INSERT INTO memos (coder, target_kind, code_id, transcript_id, turn_idx, coding_pk, title, text, created_at, updated_at)
                   VALUES (:coder, :target_kind, :code_id, :transcript_id, :turn_idx, :coding_pk, :title, :text, :created, :created)""",
                {**values, "created": created},
            )
            written += 1
    warnings = [f"{skipped} note reference(s) point at codes, sources or selections that were not imported; those memos were skipped"] if skipped else []
    return written, warnings


__all__ = ["MEMO_PREFIX", "QdpxNote", "import_notes", "memo_guid", "memo_rows", "note_element", "read_notes"]
