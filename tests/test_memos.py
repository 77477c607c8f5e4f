"""Memos: library and CLI on the tiny study (tests/analysis_fixture.py)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from analysis_fixture import build_tiny_study
from click.testing import CliRunner

from qualkit.cli import main
from qualkit.errors import InputError, NotFoundError
from qualkit.workbench import memos as M


@pytest.fixture
def tiny(study):
    return build_tiny_study(study)


def _count(study) -> int:
    return int(study.store.conn.execute("SELECT COUNT(*) FROM memos").fetchone()[0])


def test_memos_on_every_kind_of_target(tiny):
    study = tiny.study
    on_code = M.add_memo(study, coder="alice", text="Speed is framed as morale.", title="Velocity", code="Velocity")
    on_turn = M.add_memo(study, coder="alice", text="Hedges a lot here.", transcript="P2", turn_idx=1)
    on_transcript = M.add_memo(study, coder="bob", text="Short interview.", transcript="P10")
    coding_pk = study.store.conn.execute("SELECT pk FROM human_codings WHERE code_id = 'velocity'").fetchone()[0]
    on_coding = M.add_memo(study, coder="bob", text="Only the first words.", coding=coding_pk)
    on_study = M.add_memo(study, coder="alice", text="Saturation after P10?")

    assert on_code.target_kind == "code" and on_code.code_id == "velocity"  # the label was resolved
    assert (on_turn.target_kind, on_turn.transcript_id, on_turn.turn_idx, on_turn.target) == ("turn", "P2", 1, "P2 turn 2")
    assert on_transcript.target == "transcript P10"
    assert (on_coding.target_kind, on_coding.coding_pk, on_coding.transcript_id, on_coding.turn_idx) == ("coding", coding_pk, "P1", 1)
    assert on_study.target == "study"

    listed = M.list_memos(study)
    assert [m.target_kind for m in listed] == ["study", "code", "transcript", "turn", "coding"]
    assert [m.pk for m in M.list_memos(study, transcript="P2")] == [on_turn.pk]
    assert [m.pk for m in M.list_memos(study, coder="bob")] == [on_transcript.pk, on_coding.pk]
    assert [m.pk for m in M.list_memos(study, kind="code", code="velocity")] == [on_code.pk]


def test_edit_search_delete(tiny):
    study = tiny.study
    memo = M.add_memo(study, coder="alice", text="Speed is framed as MORALE here.", code="velocity")
    M.add_memo(study, coder="alice", text="Nothing about it.", transcript="P1")
    assert [m.pk for m in M.search_memos(study, "morale speed")] == [memo.pk]  # every word, any case, any order
    assert M.search_memos(study, "morale absent") == []
    assert [m.pk for m in M.search_memos(study, "velocity")] == [memo.pk]  # the target is searched too

    edited = M.edit_memo(study, memo.pk, text="Speed is framed as craft.", title="Craft")
    assert (edited.text, edited.title, edited.code_id) == ("Speed is framed as craft.", "Craft", "velocity")
    assert edited.updated_at >= memo.updated_at
    assert M.search_memos(study, "morale") == []

    deleted = M.delete_memo(study, memo.pk)
    assert deleted.pk == memo.pk
    with pytest.raises(NotFoundError):
        M.get_memo(study, memo.pk)
    assert _count(study) == 1


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"code": "velo"}, NotFoundError, "did you mean 'velocity'"),
        ({"transcript": "P99"}, NotFoundError, "P99"),
        ({"transcript": "P2", "turn_idx": 4}, InputError, "has no turn 5: its turns are numbered 1 to 4"),
        ({"turn_idx": 1}, InputError, "give the transcript too"),
        ({"coding": 999}, NotFoundError, "no human coding 999"),
        ({"code": "velocity", "transcript": "P1"}, InputError, "one target"),
        ({"text": "   "}, InputError, "needs some text"),
        ({"coder": ""}, InputError, "author"),
    ],
)
def test_bad_targets_change_nothing(tiny, kwargs, error, words):
    args = {"coder": "alice", "text": "A memo.", **kwargs}
    with pytest.raises(error) as raised:
        M.add_memo(tiny.study, **args)
    assert words in raised.value.render()
    assert _count(tiny.study) == 0


def test_memo_text_is_stored_verbatim_and_exported_as_csv(tiny, tmp_path):
    study = tiny.study
    nasty = 'She said "<script>alert(1)</script>", then, a comma\nand a new line.'
    M.add_memo(study, coder="alice", text=nasty, transcript="P1", turn_idx=3)
    out, count = M.export_memos(study, tmp_path / "out" / "memos.csv")
    assert count == 1
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows[0]["text"] == nasty
    assert (rows[0]["target"], rows[0]["transcript"], rows[0]["turn"]) == ("turn", "P1", "4")  # turns 1-based


def test_deleting_a_coding_deletes_its_memos(tiny):
    study = tiny.study
    coding_pk = study.store.conn.execute("SELECT pk FROM human_codings LIMIT 1").fetchone()[0]
    M.add_memo(study, coder="alice", text="On the coding.", coding=coding_pk)
    with study.store.transaction() as conn:
        conn.execute("DELETE FROM human_codings WHERE pk = ?", (coding_pk,))
    assert M.list_memos(study) == []


def _run(study, *args):
    return CliRunner().invoke(main, ["--study", str(study.root), *args], catch_exceptions=False)


def test_cli_add_list_search_export(tiny, tmp_path):
    study = tiny.study
    result = _run(study, "memos", "add", "Speed as morale", "--coder", "alice", "--code", "velocity", "--title", "Morale")
    assert result.exit_code == 0, result.output
    assert "Memo #1 on code velocity by alice" in result.output
    result = _run(study, "memos", "add", "Long pause", "--coder", "bob", "--transcript", "P2", "--turn", "2", "--json")
    assert json.loads(result.output)["memo"]["turn_idx"] == 1
    listed = _run(study, "memos", "list")
    assert "#1 [code velocity] by alice" in listed.output and "#2 [P2 turn 2] by bob" in listed.output
    found = json.loads(_run(study, "memos", "search", "pause", "--json").output)
    assert [m["pk"] for m in found] == [2]
    exported = _run(study, "memos", "export")
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    assert [(r["memo"], r["coder"], r["target"]) for r in rows] == [("1", "alice", "code"), ("2", "bob", "turn")]
    result = _run(study, "memos", "export", "--out", str(tmp_path / "m.csv"))
    assert "Wrote 2 memo(s)" in result.output and (tmp_path / "m.csv").is_file()
    assert _run(study, "memos", "edit", "1", "--text", "Speed as craft").exit_code == 0
    assert "craft" in _run(study, "memos", "list", "--code", "velocity").output
    assert _run(study, "memos", "delete", "2").exit_code == 0
    assert "#2" not in _run(study, "memos", "list").output


def test_cli_errors_are_clean(tiny):
    study = tiny.study
    result = _run(study, "memos", "add", "x", "--coder", "alice", "--transcript", "P1", "--turn", "9")
    assert result.exit_code == 1
    assert "transcript P1 has no turn 9" in result.output and "Traceback" not in result.output
    result = _run(study, "memos", "delete", "42")
    assert result.exit_code == 1 and "no memo 42" in result.output
    assert _count(study) == 0
