"""Memos in the REFI-QDA export: ``Notes`` with ``NoteRef`` from the code, source, turn or coding they are about."""

from __future__ import annotations

import json
import zipfile

import pytest
import yaml
from analysis_fixture import CODEBOOK, build_tiny_study
from lxml import etree

from qualkit.interop.qdpx import export_qdpx
from qualkit.store import utcnow
from qualkit.study import Study
from qualkit.workbench.memos import add_memo
from qualkit.transcripts_schema.stored import load_transcript

NS = {"q": "urn:QDA-XML:project:1.0"}


def own_codebook(study):
    """The study configured with the tiny codebook as YAML (not the bundled default)."""
    (study.root / "codebook" / "tiny.yaml").write_text(yaml.safe_dump(CODEBOOK, sort_keys=False), encoding="utf-8")
    config = study.root / "qualkit.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('path = "default"', 'path = "codebook/tiny.yaml"'), encoding="utf-8")
    study.close()
    return Study(study.root)


@pytest.fixture
def noted(study):
    tiny = build_tiny_study(study)
    study = tiny.study = own_codebook(study)
    coding_pk = study.store.conn.execute("SELECT pk FROM human_codings WHERE code_id = 'velocity'").fetchone()[0]
    memos = {
        "code": add_memo(study, coder="alice", text="Speed as morale.", title="Velocity", code="velocity"),
        "transcript": add_memo(study, coder="bob", text="A short interview.", transcript="P10"),
        "turn": add_memo(study, coder="alice", text='Says <b>"never"</b> & means it.', transcript="P2", turn_idx=3),
        "coding": add_memo(study, coder="alice", text="Only the first words.", coding=coding_pk),
        "study": add_memo(study, coder="alice", text="Saturation after P10?"),
    }
    return tiny, memos


def _root(path):
    with zipfile.ZipFile(path) as archive:
        return etree.fromstring(archive.read("project.qde"))


def _ref_holder(root, guid):
    [ref] = root.xpath(".//q:NoteRef[@targetGUID=$g]", namespaces=NS, g=guid)
    return ref.getparent()


def test_memos_become_notes_referenced_from_their_targets(noted, shared_data, tmp_path):
    tiny, memos = noted
    out = export_qdpx(tiny.study, tmp_path / "study.qdpx", coders=["human:alice", f"run:{tiny.run1}"])
    root = _root(out)
    schema = etree.XMLSchema(etree.parse(str(shared_data / "refi" / "refi-qda-project.xsd")))
    assert schema.validate(root), schema.error_log

    notes = {note.get("guid"): note for note in root.iterfind("q:Notes/q:Note", NS)}
    assert len(notes) == 5
    users = {u.get("guid"): u.get("name") for u in root.iterfind("q:Users/q:User", NS)}
    assert "bob" in users.values()  # a memo author who coded nothing is still a user
    by_text = {note.findtext("q:PlainTextContent", namespaces=NS): note for note in notes.values()}
    turn_note = by_text['Says <b>"never"</b> & means it.']  # stored verbatim, escaped by the XML writer
    assert json.loads(turn_note.findtext("q:Description", namespaces=NS).split(" ", 3)[3]) == {
        "target_kind": "turn", "transcript_id": "P2", "turn_idx": 3}
    assert users[turn_note.get("creatingUser")] == "alice"

    guid = {kind: by_text[memo.text].get("guid") for kind, memo in memos.items()}
    code = _ref_holder(root, guid["code"])
    assert code.tag.endswith("Code") and code.get("name") == "Velocity"
    source = _ref_holder(root, guid["transcript"])
    assert source.tag.endswith("TextSource") and source.get("name") == "P10"
    turn_sel = _ref_holder(root, guid["turn"])
    assert turn_sel.tag.endswith("PlainTextSelection") and turn_sel.getparent().get("name") == "P2"
    assert turn_sel.find("q:Coding", NS) is None  # a selection for the note, not a coding
    with zipfile.ZipFile(out) as archive:
        member = "sources/" + turn_sel.getparent().get("plainTextPath").removeprefix("internal://")
        text = archive.read(member).decode("utf-8")
    assert text[int(turn_sel.get("startPosition")):int(turn_sel.get("endPosition"))] == load_transcript(tiny.study.store, "P2").turns[3].text
    coding_sel = _ref_holder(root, guid["coding"])
    assert coding_sel.tag.endswith("PlainTextSelection") and coding_sel.get("name") == "Speed matt"
    assert _ref_holder(root, guid["study"]) is root
    assert export_qdpx(tiny.study, tmp_path / "again.qdpx", coders=["human:alice", f"run:{tiny.run1}"]).read_bytes() == out.read_bytes()


def test_rejected_suggestions_are_not_exported_as_codings(study, tmp_path):
    tiny = build_tiny_study(study)
    study = own_codebook(study)
    app = study.store.conn.execute(
        "SELECT ca.pk, s.transcript_pk, s.turn_pk FROM code_applications ca JOIN segments s ON s.pk = ca.segment_pk "
        "WHERE ca.run_id = ? AND ca.code_id = 'validation' LIMIT 1", (tiny.run1,)).fetchone()
    with study.store.transaction() as conn:
        conn.execute(
            """INSERT INTO human_codings (coder, transcript_pk, turn_pk, start_char, end_char, code_id, created_at, decision,
                                          suggestion_pk, suggestion_run_id, origin)
               VALUES ('carol', ?, ?, 0, 5, 'validation', ?, 'rejected', ?, ?, 'workbench')""",
            (app["transcript_pk"], app["turn_pk"], utcnow(), app["pk"], tiny.run1))
        conn.execute(
            """INSERT INTO human_codings (coder, transcript_pk, turn_pk, start_char, end_char, code_id, created_at, decision, origin)
               VALUES ('carol', ?, ?, 0, 5, 'velocity', ?, 'coded', 'workbench')""",
            (app["transcript_pk"], app["turn_pk"], utcnow()))
    root = _root(export_qdpx(study, tmp_path / "c.qdpx", coders=["human:carol"]))
    codes = {c.get("guid"): c.get("name") for c in root.iter("{urn:QDA-XML:project:1.0}Code")}
    coded = [codes[ref.get("targetGUID")] for ref in root.iterfind(".//q:Coding/q:CodeRef", NS)]
    assert coded == ["Velocity"]


def test_notes_read_back_as_memos(noted, tmp_path):
    from qualkit.interop.codings import import_codings
    from qualkit.study import init_study
    from qualkit.workbench.memos import list_memos

    tiny, memos = noted
    out = export_qdpx(tiny.study, tmp_path / "study.qdpx", coders=["human:alice"])
    # into the same study: the import replaces alice's imported codings (their memos go with them, by
    # cascade) and brings the coding memo back on the new coding; the other memos are not written twice
    again = import_codings(tiny.study, out)
    assert again.memos == 1 and len(list_memos(tiny.study)) == 5
    [coding_memo] = list_memos(tiny.study, kind="coding")
    assert tiny.study.store.conn.execute("SELECT run_id FROM human_codings WHERE pk = ?", (coding_memo.coding_pk,)).fetchone()[0] == again.run_id

    fresh = own_codebook(init_study(tmp_path / "fresh", name="Fresh"))
    result = import_codings(fresh, out, import_sources=True, allow_findings=True, reason="invented test text")
    assert result.memos == 5
    got = {(m.coder, m.target_kind, m.code_id, m.transcript_id, m.turn_idx, m.title, m.text) for m in list_memos(fresh)}
    assert got == {
        ("alice", "code", "velocity", None, None, "Velocity", "Speed as morale."),
        ("bob", "transcript", None, "P10", None, "", "A short interview."),
        ("alice", "turn", None, "P2", 3, "", 'Says <b>"never"</b> & means it.'),
        ("alice", "coding", None, "P1", 1, "", "Only the first words."),
        ("alice", "study", None, None, None, "", "Saturation after P10?"),
    }
    coding_memo = next(m for m in list_memos(fresh) if m.target_kind == "coding")
    coded = fresh.store.conn.execute("SELECT code_id, text FROM human_codings WHERE pk = ?", (coding_memo.coding_pk,)).fetchone()
    assert tuple(coded) == ("velocity", "Speed matt")
    fresh.close()
