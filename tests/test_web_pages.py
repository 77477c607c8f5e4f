"""The workbench's memos, search and agreement pages in-process (Flask's test client)."""

from __future__ import annotations

import pytest

from qualkit.store import utcnow
from qualkit.workbench.memos import add_memo, list_memos
from web_fixture import soup as _soup
from workbench_fixture import build_workbench_study, human_rows


@pytest.fixture
def tiny(study):
    return build_workbench_study(study)


def test_pages_need_the_token_and_posts_need_csrf(app, client, study):
    anonymous = app.test_client()
    for path in ("/memos", "/search?q=iteration", "/review/stats", "/api/memos"):
        assert anonymous.get(path).status_code == 403, path
    assert client.post("/memos", data={"text": "no csrf"}).status_code == 403
    assert list_memos(study) == []


def test_write_search_edit_and_delete_a_memo(client, csrf, study):
    response = client.post("/memos", data={"csrf": csrf, "text": 'She said <script>alert("x")</script>', "title": "Odd <b>",
                                           "transcript": "P2", "turn": "2"})
    assert response.status_code == 303 and response.headers["Location"].startswith("/memos#memo-")
    [memo] = list_memos(study)
    assert (memo.coder, memo.target_kind, memo.transcript_id, memo.turn_idx) == ("reviewer", "turn", "P2", 1)
    page = _soup(client.get("/memos"))
    card = page.find(id=f"memo-{memo.pk}")
    assert card.find(class_="memo-text").get_text() == 'She said <script>alert("x")</script>'
    assert card.find("h2").get_text() == "Odd <b>" and card.find("script") is None
    assert card.find("a")["href"] == "/transcripts/P2?turn=2#turn-2"  # pages count turns from 1 (turn_idx 1)
    assert _soup(client.get("/memos?q=alert")).find(id=f"memo-{memo.pk}") is not None
    assert _soup(client.get("/memos?q=absent")).find(id=f"memo-{memo.pk}") is None
    client.post(f"/memos/{memo.pk}/edit", data={"csrf": csrf, "text": "Plain now.", "title": ""})
    assert list_memos(study)[0].text == "Plain now."
    client.post(f"/memos/{memo.pk}/delete", data={"csrf": csrf})
    assert list_memos(study) == []


def test_bad_memo_input_is_a_clear_message_and_changes_nothing(client, csrf, study):
    response = client.post("/memos", data={"csrf": csrf, "text": "x", "transcript": "P1", "turn": "9"})
    assert response.status_code == 400
    assert "no turn 9: its turns are numbered 1 to 4" in _soup(response).find(class_="problem").get_text()
    response = client.post("/memos", data={"csrf": csrf, "text": "x", "code": "velo"})
    assert response.status_code == 404 and "did you mean 'velocity'" in _soup(response).get_text()
    assert list_memos(study) == []


def test_only_the_author_edits_a_memo(client, csrf, study):
    other = add_memo(study, coder="alice", text="Alice's thought.", code="velocity")
    page = _soup(client.get("/memos"))
    assert page.find(id=f"memo-{other.pk}").find("form") is None  # no edit form on someone else's memo
    response = client.post(f"/memos/{other.pk}/delete", data={"csrf": csrf})
    assert response.status_code == 400 and "only its author" in response.get_data(as_text=True)
    assert [m.pk for m in list_memos(study)] == [other.pk]


def test_memos_api(client, csrf, study):
    response = client.post("/api/memos", json={"text": "On the code.", "code": "Velocity"}, headers={"X-CSRF-Token": csrf})
    assert response.get_json()["memo"]["code_id"] == "velocity"
    listed = client.get("/api/memos?kind=code").get_json()["memos"]
    assert [m["text"] for m in listed] == ["On the code."]


def test_kwic_page_shows_lemma_matches_and_counts(client):
    page = _soup(client.get("/search?q=validated"))
    hits = page.select("tr.hit")
    assert [h.find(class_="match").get_text() for h in hits] == ["validate", "validate"]
    assert [(h["data-transcript"], h["data-turn"]) for h in hits] == [("P1", "1"), ("P2", "1")]
    counts = {row["data-participant"]: row.find(class_="hits").get_text() for row in page.select("#participant-counts tbody tr")}
    assert counts == {"P1": "1", "P2": "1", "P10": "0"}
    filtered = _soup(client.get("/search?q=validated&where_sector=health"))
    assert [h["data-transcript"] for h in filtered.select("tr.hit")] == ["P2"]


def test_code_search_page_and_errors(client, tiny):
    page = _soup(client.get(f"/search?mode=codes&q=velocity+NOT+validation&coder=run:{tiny.run1}"))
    hits = page.select("article.hit")
    assert [(h["data-transcript"], h["data-turn"]) for h in hits] == [("P1", "3"), ("P10", "1"), ("P10", "3")]
    assert [m.get_text() for m in hits[0].select("mark.coded")] == ["Fast iteration"]
    nasty = _soup(client.get(f"/search?mode=codes&q=debugging&coder=run:{tiny.run1}"))
    assert nasty.find("script", string=lambda s: s and "alert" in s) is None  # the turn's <script> is text
    assert '<script>alert("x")</script>' in nasty.select("article.hit")[0].find(class_="text").get_text()
    response = client.get("/search?mode=codes&q=velocity+AND")
    assert response.status_code == 400
    problem = _soup(response).find(id="search-problem")
    assert "ends too early" in problem.get_text()
    assert _soup(response).find(id="search-q")["value"] == "velocity AND"  # the query is kept for correcting


def test_review_stats_page(client, study, tiny):
    app = study.store.query(
        "SELECT ca.pk, ca.code_id, s.transcript_pk, s.turn_pk FROM code_applications ca JOIN segments s ON s.pk = ca.segment_pk "
        "WHERE ca.run_id = ? ORDER BY ca.pk", (tiny.run1,))
    with study.store.transaction() as conn:
        for row, decision in zip(app, ("accepted", "rejected")):
            conn.execute(
                """INSERT INTO human_codings (coder, transcript_pk, turn_pk, start_char, end_char, code_id, created_at, decision,
                                              suggestion_pk, suggestion_run_id, origin)
                   VALUES ('reviewer', ?, ?, 0, 3, ?, ?, ?, ?, ?, 'workbench')""",
                (row["transcript_pk"], row["turn_pk"], row["code_id"], utcnow(), decision, row["pk"], tiny.run1))
    page = _soup(client.get("/review/stats"))
    assert f"run {tiny.run1}" in page.find("h1").get_text()
    rows = {tr["data-code"]: [td.get_text(strip=True) for td in tr.find_all("td")] for tr in page.select("#review-stats tr[data-code]")}
    assert rows["velocity"][1:8] == ["5", "1", "0", "0", "0", "4", "100%"]
    assert rows["validation"][1:8] == ["2", "0", "0", "0", "1", "1", "0%"]
    assert rows["*"][7] == "50%"
    assert human_rows(study)[0]["decision"] == "accepted"  # the page changed nothing


def test_transcript_view_shows_memos_and_links_to_write_one(client, study):
    add_memo(study, coder="alice", text="<script>alert(1)</script> hedges", transcript="P2", turn_idx=1)
    add_memo(study, coder="bob", text="Whole interview is short.", transcript="P2")
    add_memo(study, coder="bob", text="Elsewhere.", transcript="P1", turn_idx=1)
    page = _soup(client.get("/transcripts/P2"))
    turn = page.find(id="turn-2")
    [memo] = turn.select("ul.turn-memos li")
    assert "<script>alert(1)</script> hedges" in memo.get_text() and memo.find("script") is None
    assert page.find(id="turn-4").select("ul.turn-memos li") == []  # only the turn's own memos
    assert "Whole interview is short." in page.select_one("ul.transcript-memos").get_text()
    link = turn.find("a", class_="memo-link")["href"]
    assert link == "/memos?new_transcript=P2&new_turn=2&back=/transcripts/P2?turn%3D2#new-memo"  # back to the turn after saving
    form = _soup(client.get(link.split("#")[0])).find(id="new-memo")
    assert form.has_attr("open")
    assert form.find("input", attrs={"name": "transcript"})["value"] == "P2" and form.find("input", attrs={"name": "turn"})["value"] == "2"
