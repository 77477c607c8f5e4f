"""Export a whole qualkit study as a REFI-QDA project (``.qdpx``).

:func:`export_qdpx` writes each current transcript as one UTF-8 text source (the layout of
:func:`qualkit.interop.qdpx_layout.render_source`, with each turn's speaker, role and span in the
source's Description for re-import), the codebook, one case per participant with their attributes
as variables, and every coding of the human coders and the latest rules run as
``PlainTextSelection``s, one user per coder; memos become REFI-QDA notes. GUIDs are uuid5 of stable
keys, so exporting the same study twice gives the same GUIDs (and the same bytes).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any, Iterable

from .. import __version__
from ..errors import InteropError, display_path
from ..outputs import ensure_parent_folder, write_atomic
from ..transcripts_schema.stored import stored_participants
from ._refi import PROJECT_NS, code_guid, stable_guid
from .notes import memo_guid, memo_rows, note_element
from .qdpx_layout import LAYOUT_PREFIX, render_source


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

    people = stored_participants(store)
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


__all__ = ["export_qdpx", "study_codebook"]
