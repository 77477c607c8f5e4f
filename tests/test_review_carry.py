"""A re-run of the pipeline makes the same suggestions again: the coder's decisions carry over to
the new run (queue, progress, agreement at a glance), a new decision replaces the carried one
(never two codings of one judgement), and undo brings the earlier decision back."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from qualkit.web import create_app
from qualkit.workbench import decide, review_progress, suggestions, undo
from qualkit.workbench.review_stats import review_stats
from workbench_fixture import build_workbench_study, human_rows


@pytest.fixture
def tiny(study):
    return build_workbench_study(study)


def _key(item):
    return (item.transcript_id, item.turn_idx, item.start_char, item.end_char, item.code_id)


def test_decisions_carry_over_to_the_same_suggestions_of_a_later_run(study, tiny):
    old = suggestions(study, tiny.run1, "reviewer")
    new = {_key(item): item for item in suggestions(study, tiny.run2, "reviewer")}
    repeated = [item for item in old if _key(item) in new]
    only_old = [item for item in old if _key(item) not in new]
    assert len(repeated) >= 2 and only_old  # the fixture's run 2 repeats some of run 1's suggestions, not all
    decide(study, "reviewer", repeated[0].pk, "accept")
    decide(study, "reviewer", repeated[1].pk, "replace", code_id="debugging")
    decide(study, "reviewer", only_old[0].pk, "reject")
    decide(study, "alice", repeated[1].pk, "reject")  # another coder's decisions stay theirs

    queue = {_key(item): item for item in suggestions(study, tiny.run2, "reviewer")}
    first, second = queue[_key(repeated[0])], queue[_key(repeated[1])]
    assert (first.decision, first.carried_from_run) == ("accepted", tiny.run1)
    assert (second.decision, second.decided_code_id, second.carried_from_run) == ("replaced", "debugging", tiny.run1)
    assert sum(item.decision is not None for item in queue.values()) == 2
    progress = review_progress(study, tiny.run2, "reviewer")
    assert (progress.decided, progress.counts["accepted"], progress.counts["replaced"]) == (2, 1, 1)
    stats = review_stats(study, coder="reviewer", run_id=tiny.run2)
    assert (stats.total.accepted, stats.total.replaced, stats.total.rejected) == (1, 1, 0)
    assert {row.code_id: row.replaced_by for row in stats.codes}[repeated[1].code_id] == {"debugging": 1}
    alice = {_key(item): item.decision for item in suggestions(study, tiny.run2, "alice")}
    assert (alice[_key(repeated[0])], alice[_key(repeated[1])]) == (None, "rejected")

    before = human_rows(study)
    change = decide(study, "reviewer", first.pk, "reject")  # deciding again on the new run replaces the carried decision
    rows = [r for r in human_rows(study) if (r["turn_pk"], r["start_char"], r["end_char"]) == (first.turn_pk, first.start_char, first.end_char)
            and r["code_id"] == first.code_id]
    assert [(r["decision"], r["suggestion_run_id"]) for r in rows] == [("rejected", tiny.run2)]
    undo(study, change)
    assert human_rows(study) == before


def test_the_review_page_says_where_a_carried_decision_was_made(study, tiny):
    old = suggestions(study, tiny.run1, "reviewer")
    new = {_key(item): item for item in suggestions(study, tiny.run2, "reviewer")}
    item = next(item for item in old if _key(item) in new)
    decide(study, "reviewer", item.pk, "accept")
    app = create_app(study.root, coder="reviewer", token="carry")
    client = app.test_client()
    client.get("/?token=carry")
    page = BeautifulSoup(client.get(f"/review?run={tiny.run2}&pk={new[_key(item)].pk}").get_data(as_text=True), "html.parser")
    assert f"(on the same suggestion of run {tiny.run1})" in page.select_one("#your-decision").get_text(" ", strip=True)
    fresh = BeautifulSoup(client.get(f"/review?run={tiny.run2}").get_data(as_text=True), "html.parser")
    assert int(fresh.select_one("#suggestion")["data-pk"]) != new[_key(item)].pk  # the queue skips it


def test_the_agreement_page_of_a_run_with_carried_decisions_only(study, tiny):
    old = suggestions(study, tiny.run1, "reviewer")
    new = {_key(item) for item in suggestions(study, tiny.run2, "reviewer")}
    decide(study, "reviewer", next(item for item in old if _key(item) in new).pk, "accept")
    app = create_app(study.root, coder="reviewer", token="carry")
    client = app.test_client()
    client.get("/?token=carry")
    page = BeautifulSoup(client.get(f"/review/stats?run={tiny.run2}").get_data(as_text=True), "html.parser")
    chosen = page.select_one("select[name=run] option[selected]").get_text()
    assert chosen == f"run {tiny.run2} (decisions carried over from earlier runs)"
    assert page.select_one("tr.total").select("td")[2].get_text() == "1"  # accepted
    assert page.select_one("#nothing-reviewed") is None


def test_a_reviewed_learned_run_has_an_agreement_page(study, tiny):
    with study.store.transaction() as conn:  # a learned run suggesting what run 2 suggested
        cursor = conn.execute(
            """INSERT INTO runs (kind, status, parameters, codebook_hash, qualkit_version, started_at, finished_at)
               SELECT 'learned', 'ok', parameters, codebook_hash, qualkit_version, '2026-02-03T10:00:00+00:00',
                      '2026-02-03T10:00:00+00:00' FROM runs WHERE id = ?""", (tiny.run2,))
        learned = int(cursor.lastrowid)
        conn.execute(
            """INSERT INTO code_applications (run_id, segment_pk, code_id, start_char, end_char, matched_text, rule, score)
               SELECT ?, segment_pk, code_id, start_char, end_char, matched_text, 'learned', 0.7 FROM code_applications
               WHERE run_id = ?""", (learned, tiny.run2))
    item = next(s for s in suggestions(study, learned, "reviewer") if s.decision is None)
    decide(study, "reviewer", item.pk, "reject")
    stats = review_stats(study, coder="reviewer")  # the newest run reviewed is the learned one
    assert stats.run_id == learned and stats.total.rejected == 1
    app = create_app(study.root, coder="reviewer", token="carry")
    client = app.test_client()
    client.get("/?token=carry")
    assert client.get("/review/stats").status_code == 200
