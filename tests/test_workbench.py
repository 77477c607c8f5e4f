"""The workbench library: review decisions, manual codings, undo, new codes, the serve lock."""

from __future__ import annotations

import os

import pytest

from qualkit.analysis.codings import load_codings
from qualkit.codebook import lint_codebook, load_codebook
from qualkit.errors import ConflictError, InputError, NotFoundError
from qualkit.study import Study
from qualkit.transcripts_schema.model import Participant, Transcript, Turn
from qualkit.workbench import (
    EXTENSION_FILE,
    ServeLock,
    UndoStack,
    add_code,
    add_coding,
    decide,
    queue_position,
    register_ordering,
    remove_coding,
    respan_coding,
    review_decisions,
    review_progress,
    suggestions,
    transcript_view,
    undo,
)
from workbench_fixture import application_rows, build_workbench_study, human_rows


@pytest.fixture
def tiny(study):
    return build_workbench_study(study)


def _first(study, run_id, code=None):
    items = suggestions(study, run_id, "reviewer")
    return next(item for item in items if code is None or item.code_id == code)


def test_queue_is_in_document_order_with_orderings_registry(study, tiny):
    items = suggestions(study, tiny.run2, "reviewer")
    assert [item.transcript_id for item in items][:1] == ["P1"]
    assert [item.transcript_id for item in items][-1] == "P10"  # P10 after P2
    assert len(items) == 9
    register_ordering("reverse-test", lambda _study, found: list(reversed(found)))
    reversed_items = suggestions(study, tiny.run2, "reviewer", order="reverse-test")
    assert [i.pk for i in reversed_items] == [i.pk for i in reversed(items)]
    with pytest.raises(InputError, match="unknown review order"):
        suggestions(study, tiny.run2, "reviewer", order="nope")


def test_accept_and_reject_are_stored_as_human_codings_and_run_untouched(study, tiny):
    before = application_rows(study)
    first, second = suggestions(study, tiny.run2, "reviewer")[:2]
    decide(study, "reviewer", first.pk, "accept")
    decide(study, "reviewer", second.pk, "reject")
    rows = human_rows(study)
    assert [(r["decision"], r["suggestion_pk"], r["suggestion_run_id"], r["origin"]) for r in rows] == [
        ("accepted", first.pk, tiny.run2, "workbench"),
        ("rejected", second.pk, tiny.run2, "workbench"),
    ]
    assert rows[0]["code_id"] == first.code_id and rows[0]["start_char"] == first.start_char
    assert rows[0]["text"] == first.turn_text[first.start_char:first.end_char]
    assert rows[0]["created_at"]
    assert application_rows(study) == before
    # a rejection is not a coding of the text, but it is evidence
    codings = load_codings(study, "human:reviewer")
    assert list(codings["code_id"]) == [first.code_id]
    decisions = review_decisions(study, "reviewer")
    assert [d["decision"] for d in decisions] == ["accepted", "rejected"]
    assert decisions[1]["suggested_code_id"] == second.code_id
    progress = review_progress(study, tiny.run2, "reviewer")
    assert (progress.total, progress.decided, progress.counts["accepted"], progress.counts["rejected"]) == (9, 2, 1, 1)
    assert sum(row.decided for row in progress.per_transcript) == 2
    position = queue_position(study, tiny.run2, "reviewer")
    assert position.current.pk not in (first.pk, second.pk) and position.decided == 2


def test_adjust_to_sentence_and_turn_and_replace(study, tiny):
    item = _first(study, tiny.run2, "validation")  # P1 turn 1: "We also validate every change ..."
    decide(study, "reviewer", item.pk, "sentence")
    row = human_rows(study)[-1]
    assert row["decision"] == "adjusted"
    assert row["text"] == "We also validate every change against a holdout set before anyone sees it."
    decide(study, "reviewer", item.pk, "turn")  # a second decision replaces the first
    rows = human_rows(study)
    assert len(rows) == 1 and (rows[0]["start_char"], rows[0]["end_char"]) == (0, len(item.turn_text))
    decide(study, "reviewer", item.pk, "replace", code_id="debugging")
    rows = human_rows(study)
    assert len(rows) == 1 and (rows[0]["decision"], rows[0]["code_id"]) == ("replaced", "debugging")
    with pytest.raises(NotFoundError, match="unknown code"):
        decide(study, "reviewer", item.pk, "replace", code_id="no-such-code")
    with pytest.raises(InputError, match="unknown review action"):
        decide(study, "reviewer", item.pk, "maybe")
    assert len(human_rows(study)) == 1


def test_manual_coding_checks_span_codes_and_version(study, tiny):
    change = add_coding(study, "reviewer", "P1", 1, 0, 10, ["velocity", "validation"])
    rows = human_rows(study)
    assert [(r["code_id"], r["text"], r["decision"], r["origin"]) for r in rows] == [
        ("velocity", "Speed matt", "coded", "workbench"), ("validation", "Speed matt", "coded", "workbench")]
    assert change.inserted == [r["pk"] for r in rows]
    pk = study.store.transcript_pk("P1")
    with pytest.raises(InputError, match="outside turn 2 of P1"):
        add_coding(study, "reviewer", "P1", 1, 5, 100000, ["velocity"])
    with pytest.raises(NotFoundError, match="unknown code"):
        add_coding(study, "reviewer", "P1", 1, 0, 5, ["Velocity"])
    with pytest.raises(ConflictError, match="changed since this page was loaded"):
        add_coding(study, "reviewer", "P1", 1, 0, 5, ["velocity"], transcript_pk=pk + 999)
    with pytest.raises(NotFoundError, match="no turn 100"):
        add_coding(study, "reviewer", "P1", 99, 0, 5, ["velocity"])
    assert len(human_rows(study)) == 2


def test_stale_page_after_a_new_transcript_version(study, tiny):
    old_pk = study.store.transcript_pk("P1")
    item = _first(study, tiny.run2)
    person = Participant(id="P1")
    study.store.store_transcript(Transcript(id="P1", participant=person, turns=[Turn(speaker="P1", role="participant", text="new text")]))
    with pytest.raises(ConflictError, match="changed since"):
        add_coding(study, "reviewer", "P1", 0, 0, 3, ["velocity"], transcript_pk=old_pk)
    with pytest.raises(ConflictError, match="changed after run"):
        decide(study, "reviewer", item.pk, "accept")
    assert human_rows(study) == []
    assert all(s.transcript_id != "P1" for s in suggestions(study, tiny.run2, "reviewer"))


def test_remove_respan_undo(study, tiny):
    stack = UndoStack()
    stack.push(add_coding(study, "reviewer", "P1", 1, 0, 10, ["velocity"]))
    pk = human_rows(study)[0]["pk"]
    stack.push(respan_coding(study, "reviewer", pk, 0, 5))
    assert human_rows(study)[0]["text"] == "Speed"
    stack.push(remove_coding(study, "reviewer", pk))
    assert human_rows(study) == []
    assert "removed" in stack.undo_last(study, "reviewer")
    assert human_rows(study)[0]["text"] == "Speed"
    stack.undo_last(study, "reviewer")
    assert human_rows(study)[0]["text"] == "Speed matt"
    stack.undo_last(study, "reviewer")
    assert human_rows(study) == []
    with pytest.raises(InputError, match="nothing to undo"):
        stack.undo_last(study, "reviewer")
    alice = human_rows(study, "alice")[0]["pk"]
    with pytest.raises(InputError, match="belongs to human:alice"):
        remove_coding(study, "reviewer", alice)
    with pytest.raises(InputError, match="outside turn"):
        add_coding(study, "reviewer", "P1", 1, 3, 3, ["velocity"])


def test_undo_of_a_decision_restores_the_earlier_one(study, tiny):
    item = _first(study, tiny.run2)
    decide(study, "reviewer", item.pk, "accept")
    second = decide(study, "reviewer", item.pk, "reject")
    undo(study, second)
    assert [r["decision"] for r in human_rows(study)] == ["accepted"]


def test_add_code_writes_the_extension_and_changes_the_hash(study, tiny):
    before = load_codebook(study.config.codebook.path, base_dir=study.root)
    info = add_code(study, "privacy-compliance", "Privacy and compliance", definition="Legal duties.", parent="pain-points")
    assert info.id == "privacy-compliance"
    assert study.config.codebook.path == EXTENSION_FILE
    reloaded = Study(study.root)
    assert reloaded.config.codebook.path == EXTENSION_FILE
    after = load_codebook(reloaded.config.codebook.path, base_dir=study.root)
    assert "privacy-compliance" in after and "velocity" in after
    assert after.hash != before.hash
    errors = [p for p in lint_codebook(study.root / EXTENSION_FILE) if p.severity == "error"]
    assert errors == []
    add_coding(study, "reviewer", "P1", 1, 0, 5, ["privacy-compliance"])
    with pytest.raises(InputError, match="already has a code"):
        add_code(study, "velocity", "Another")
    with pytest.raises(InputError, match="already used"):
        add_code(study, "speed", "velocity")
    with pytest.raises(InputError, match="not a valid code id"):
        add_code(study, "Bad Id", "Bad")
    with pytest.raises(NotFoundError, match="unknown parent"):
        add_code(study, "orphan", "Orphan", parent="nope")
    text = (study.root / EXTENSION_FILE).read_text(encoding="utf-8")
    assert text.count("- id:") == 1


def test_transcript_view_marks_auto_and_human(study, tiny):
    item = _first(study, tiny.run2)
    decide(study, "reviewer", item.pk, "reject")
    view = transcript_view(study, "P1")
    turn = view.turns[1]
    kinds = {(m.kind, m.code_id) for m in turn.marks}
    assert ("auto", "velocity") in kinds and ("human", "velocity") in kinds  # alice's coding
    rejected = next(m for m in turn.marks if m.kind == "auto" and m.pk == item.pk)
    assert rejected.reviews == {"reviewer": "rejected"}
    assert not any(m.kind == "human" and m.coder == "reviewer" for m in turn.marks)
    assert "".join(piece.text for piece in turn.pieces) == turn.text
    only = transcript_view(study, "P1", run="none", coder="alice")
    assert {m.kind for t in only.turns for m in t.marks} == {"human"}
    filtered = transcript_view(study, "P1", code="pain-points")
    assert {m.code_id for t in filtered.turns for m in t.marks} <= {"debugging", "pain-points"}
    assert view.participant["sector"] == "fintech"


def test_serve_lock_refuses_a_second_server(study):
    first = ServeLock(study.root)
    first.acquire(host="127.0.0.1", port=1234)
    try:
        lock_path = study.root / ".qualkit" / "serve.lock"
        # pretend another live process holds it: our parent is alive
        lock_path.write_text('{"pid": %d, "host": "127.0.0.1", "port": 1234}' % os.getppid(), encoding="utf-8")
        with pytest.raises(ConflictError, match="already served by process"):
            ServeLock(study.root).acquire(host="127.0.0.1", port=1235)
        # a lock of a dead process is taken over
        lock_path.write_text('{"pid": 999999999, "host": "127.0.0.1", "port": 1234}', encoding="utf-8")
        second = ServeLock(study.root)
        second.acquire(host="127.0.0.1", port=1236)
        second.release()
    finally:
        first.release()
    assert not (study.root / ".qualkit" / "serve.lock").exists()


def test_import_keeps_workbench_codings_and_list_skips_rejections(study, tiny, tmp_path):
    from qualkit.interop.codings import import_codings, list_codings

    items = suggestions(study, tiny.run2, "reviewer")
    decide(study, "reviewer", items[0].pk, "accept")
    decide(study, "reviewer", items[1].pk, "reject")
    add_coding(study, "reviewer", "P2", 1, 0, 6, ["validation"])
    csv_path = tmp_path / "codings.csv"
    csv_path.write_text("transcript,turn,code,coder\nP10,2,debugging,reviewer\n", encoding="utf-8")
    result = import_codings(study, csv_path)
    assert result.replaced == {}
    assert [(r["origin"], r["decision"]) for r in human_rows(study)] == [
        ("workbench", "accepted"), ("workbench", "rejected"), ("workbench", "coded"), ("import", "coded")]
    again = import_codings(study, csv_path)  # replaces the imported coding only
    assert again.replaced == {"reviewer": 1} and len(human_rows(study)) == 4
    row = next(r for r in list_codings(study) if r["coder"] == "human:reviewer")
    assert (row["codings"], row["rejected"], row["workbench"]) == (3, 1, 2)


def test_qdpx_export_leaves_out_rejections(study, tiny, tmp_path):
    import zipfile

    from qualkit.interop.qdpx import export_qdpx

    item = suggestions(study, tiny.run2, "reviewer")[0]
    decide(study, "reviewer", item.pk, "reject")  # reviewer has only a rejection: no codings at all
    out = export_qdpx(study, tmp_path / "study.qdpx")
    with zipfile.ZipFile(out) as archive:
        project = archive.read("project.qde").decode("utf-8")
    assert 'name="reviewer"' not in project and 'name="alice"' in project


def test_decisions_reach_agree_through_the_cli(study, tiny):
    import json

    from click.testing import CliRunner

    from qualkit.cli import main

    items = suggestions(study, tiny.run2, "reviewer")
    for item in items[:4]:
        decide(study, "reviewer", item.pk, "accept")
    for item in items[4:]:
        decide(study, "reviewer", item.pk, "reject")
    result = CliRunner().invoke(main, ["--study", str(study.root), "agree", "human:reviewer", f"run:{tiny.run2}", "--json"])
    assert result.exit_code == 0, result.output
    overall = json.loads(result.output)["overall"]
    assert overall["a_count"] == 4  # the accepted suggestions, not the rejected ones
    assert overall["n_units"] == 5 and overall["recall"] == 1.0 and overall["precision"] < 1.0
    listed = CliRunner().invoke(main, ["--study", str(study.root), "codings", "list"])
    assert "human:reviewer: 4 coding(s)" in listed.output and "5 review rejection(s)" in listed.output


def test_chips_sum_up_the_marks_of_a_turn(study, tiny):
    view = transcript_view(study, "P10")
    turn = view.turns[1]  # run 2 codes velocity twice here
    velocity = [chip for chip in turn.chips if chip.code_id == "velocity" and chip.kind == "auto"]
    assert len(velocity) == 1 and velocity[0].count == 2 and len(velocity[0].keys) == 2


def test_add_code_to_a_study_on_the_bundled_codebook(study):
    import yaml

    assert study.config.codebook.path == "default"
    before = load_codebook("default").hash
    add_code(study, "on-call-burnout", "On-call burnout", definition="Fatigue from pager duty.", parent="pain-points")
    data = yaml.safe_load((study.root / EXTENSION_FILE).read_text(encoding="utf-8"))
    assert data["extends"] == "default" and data["codes"][0]["id"] == "on-call-burnout"
    config_text = (study.root / "qualkit.toml").read_text(encoding="utf-8")
    assert f'path = "{EXTENSION_FILE}"' in config_text and "[codebook]" in config_text
    after = load_codebook(Study(study.root).config.codebook.path, base_dir=study.root)
    assert "on-call-burnout" in after and after.hash != before
