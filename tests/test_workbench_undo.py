"""Undo history kept in the store (table ``workbench_changes``, migration 0004): it survives a
restart of ``qualkit serve``, is per coder, keeps the last few changes, and an undo that a later
edit made impossible changes nothing."""

from __future__ import annotations

import pytest

from qualkit.errors import ConflictError, InputError
from qualkit.study import Study
from qualkit.web import create_app
from qualkit.workbench import add_coding, decide, remember, remove_coding, respan_coding, suggestions, undo_last
from workbench_fixture import build_workbench_study, human_rows


@pytest.fixture
def tiny(study):
    return build_workbench_study(study)


def _history(study) -> list[tuple[str, str]]:
    return [tuple(row) for row in study.store.query("SELECT coder, action FROM workbench_changes ORDER BY pk")]


def test_undo_survives_reopening_the_study(study, tiny):
    item = suggestions(study, tiny.run2, "reviewer")[0]
    remember(study, decide(study, "reviewer", item.pk, "accept"))
    remember(study, decide(study, "reviewer", item.pk, "reject"))  # a second decision replaces the first
    remember(study, add_coding(study, "reviewer", "P1", 1, 0, 10, ["velocity"]))
    pk = human_rows(study)[-1]["pk"]
    remember(study, respan_coding(study, "reviewer", pk, 0, 5))
    remember(study, remove_coding(study, "reviewer", pk))
    assert _history(study) == [("reviewer", a) for a in ("decide", "decide", "code", "respan", "remove")]
    study.close()

    reopened = Study(study.root)  # as after a restart of the server
    try:
        assert "removed" in undo_last(reopened, "reviewer")
        assert [r["text"] for r in human_rows(reopened)][-1] == "Speed"
        assert "moved" in undo_last(reopened, "reviewer")
        assert human_rows(reopened)[-1]["text"] == "Speed matt"
        assert "coded" in undo_last(reopened, "reviewer")
        assert [(r["suggestion_pk"], r["decision"]) for r in human_rows(reopened)] == [(item.pk, "rejected")]
        assert "rejected" in undo_last(reopened, "reviewer")  # the first decision comes back
        assert [(r["suggestion_pk"], r["decision"]) for r in human_rows(reopened)] == [(item.pk, "accepted")]
        assert "accepted" in undo_last(reopened, "reviewer")
        assert human_rows(reopened) == [] and _history(reopened) == []
        with pytest.raises(InputError, match="nothing to undo"):
            undo_last(reopened, "reviewer")
    finally:
        reopened.close()


def test_undo_is_per_coder_and_keeps_the_last_changes(study, tiny):
    for start in range(4):
        remember(study, add_coding(study, "reviewer", "P1", 1, start, 10, ["velocity"]), depth=3)
    remember(study, add_coding(study, "carol", "P1", 1, 0, 4, ["velocity"]))
    assert _history(study) == [("reviewer", "code")] * 3 + [("carol", "code")]
    undo_last(study, "carol")
    assert human_rows(study, "carol") == [] and len(human_rows(study)) == 4
    for _ in range(3):
        undo_last(study, "reviewer")
    assert [r["start_char"] for r in human_rows(study)] == [0]  # the oldest change fell out of the history
    with pytest.raises(InputError, match="nothing to undo"):
        undo_last(study, "reviewer")


def test_an_impossible_undo_changes_nothing_and_stays_in_the_history(study, tiny):
    remember(study, add_coding(study, "reviewer", "P1", 1, 0, 10, ["velocity"]))
    pk = human_rows(study)[0]["pk"]
    with study.store.transaction() as conn:  # removed behind the workbench's back
        conn.execute("DELETE FROM human_codings WHERE pk = ?", (pk,))
    with pytest.raises(ConflictError, match="was removed since"):
        undo_last(study, "reviewer")
    assert _history(study) == [("reviewer", "code")]


def test_the_web_app_undoes_a_decision_made_before_a_restart(study, tiny):
    item = suggestions(study, tiny.run2, "reviewer")[0]
    first = create_app(study.root, coder="reviewer", token="one")
    client = first.test_client()
    client.get("/?token=one")
    response = client.post("/review/decide", data={
        "csrf": first.config["WORKBENCH"].csrf, "pk": item.pk, "run": tiny.run2, "order": "document", "action": "accept"})
    assert response.status_code == 303 and [r["decision"] for r in human_rows(study)] == ["accepted"]

    second = create_app(study.root, coder="reviewer", token="two")  # a new `qualkit serve`
    client = second.test_client()
    client.get("/?token=two")
    undone = client.post("/api/undo", json={}, headers={"X-CSRF-Token": second.config["WORKBENCH"].csrf})
    assert undone.status_code == 200 and "accepted suggestion" in undone.json["message"]
    assert human_rows(study) == []
    again = client.post("/api/undo", json={}, headers={"X-CSRF-Token": second.config["WORKBENCH"].csrf})
    assert again.status_code == 400 and again.json["error"]["message"] == "nothing to undo"
