"""Rough edges found by trying the workbench as a researcher (in-process, Flask's test client):
a memo refused for a bad target comes back as typed, a missing page links home, the agreement
page of a coder who has decided nothing says so, a decided suggestion shows what was decided."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from qualkit.web import create_app
from qualkit.workbench import suggestions
from workbench_fixture import build_workbench_study

TOKEN = "qa-token"


@pytest.fixture
def client(study):
    tiny = build_workbench_study(study)
    app = create_app(study.root, coder="reviewer", token=TOKEN)
    client = app.test_client()
    client.get(f"/?token={TOKEN}")
    client.csrf = app.config["WORKBENCH"].csrf
    client.tiny = tiny
    return client


def _soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def test_a_refused_memo_comes_back_as_typed_with_the_problem(client, study):
    text = "A long thought about P1 <and> its hedging,\nwritten before noticing the typo in the transcript id."
    response = client.post("/memos", data={
        "csrf": client.csrf, "transcript": "P99", "turn": "2", "title": "Hedging & doubt", "text": text})
    assert response.status_code == 404
    soup = _soup(response)
    assert "no transcript 'P99'" in soup.select_one("#memo-problem").get_text()
    form = soup.select_one("#new-memo")
    assert form.has_attr("open")
    assert form.select_one("textarea[name=text]").get_text() == text  # nothing the researcher wrote is lost
    assert form.select_one("input[name=title]")["value"] == "Hedging & doubt"
    assert form.select_one("input[name=transcript]")["value"] == "P99"
    assert form.select_one("input[name=turn]")["value"] == "2"
    assert study.store.query("SELECT COUNT(*) FROM memos")[0][0] == 0
    bad_turn = client.post("/memos", data={"csrf": client.csrf, "transcript": "P1", "turn": "two", "text": "x"})
    assert bad_turn.status_code == 400 and "is not a number" in _soup(bad_turn).select_one("#memo-problem").get_text()


def test_a_missing_page_links_home_only_for_the_token_holder(client, study):
    response = client.get("/agreement")
    assert response.status_code == 404
    soup = _soup(response)
    assert "no page /agreement" in soup.h1.get_text()
    assert soup.select_one("main a[href='/']") is not None
    assert soup.select_one("link[rel=icon]")["href"] == "data:,"  # no request for /favicon.ico
    stranger = create_app(study.root, coder="reviewer", token=TOKEN).test_client()
    refused = stranger.get("/agreement")
    assert refused.status_code == 403 and _soup(refused).select_one("main a[href='/']") is None


def test_agreement_page_of_a_coder_without_decisions(client):
    soup = _soup(client.get("/review/stats?coder=bob"))
    assert soup.select_one("select[name=coder] option[selected]")["value"] == "bob"
    note = soup.select_one("#nothing-reviewed").get_text(" ", strip=True)
    assert "human:bob has not decided on any suggestion" in note and "human:reviewer" in note
    own = _soup(client.get("/review/stats"))
    assert own.select_one("select[name=coder] option[selected]")["value"] == "reviewer"
    assert own.select_one("#nothing-reviewed") is not None


def test_a_decided_suggestion_shows_the_span_and_code_decided(client, study):
    run = client.tiny.run2
    first, second = suggestions(study, run, "reviewer")[:2]
    assert client.get(f"/review?run={run}&pk={first.pk}").status_code == 200
    assert _soup(client.get(f"/review?run={run}&pk={first.pk}")).select_one("#your-decision") is None
    start = first.turn_text.index("We can go")
    form = {"csrf": client.csrf, "run": run, "order": "document"}
    client.post("/review/decide", data={**form, "pk": first.pk, "action": "span", "start": start, "end": start + 9})
    note = _soup(client.get(f"/review?run={run}&pk={first.pk}")).select_one("#your-decision").get_text(" ", strip=True)
    assert note.startswith("You adjusted this") and "“We can go”" in note
    client.post("/review/decide", data={**form, "pk": second.pk, "action": "replace", "code": "debugging"})
    note = _soup(client.get(f"/review?run={run}&pk={second.pk}")).select_one("#your-decision").get_text(" ", strip=True)
    assert note.startswith("You replaced this with Debugging debugging")


def test_a_memo_written_from_a_turn_returns_to_that_turn(client, study):
    page = _soup(client.get("/transcripts/P1"))
    link = page.select_one("#turn-2 a.memo-link")["href"]
    form = _soup(client.get(link)).select_one("#new-memo form")
    back = form.select_one("input[name=back]")["value"]
    assert back == "/transcripts/P1?turn=2"
    assert form.select_one("#memo-back")["href"] == back
    data = {field["name"]: field.get("value", "") for field in form.select("input[name]")}
    response = client.post("/memos", data={**data, "csrf": client.csrf, "text": "Hedges twice."})
    assert response.status_code == 303 and response.headers["Location"] == "/transcripts/P1?turn=2"
    turn = _soup(client.get(response.headers["Location"])).select_one("#turn-2")
    assert "Hedges twice." in turn.select_one(".turn-memos").get_text()
    for foreign in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        response = client.post("/memos", data={"csrf": client.csrf, "back": foreign, "text": "x"})
        assert response.status_code == 303 and response.headers["Location"].startswith("/memos#memo-"), foreign
    assert "back" not in str(_soup(client.get("/memos?back=//evil.example")).select_one("#new-memo form"))


def test_review_one_code_or_one_transcript_at_a_time(client, study):
    run = client.tiny.run2
    velocity = [s for s in suggestions(study, run, "reviewer") if s.code_id == "velocity"]
    assert 1 < len(velocity) < len(suggestions(study, run, "reviewer"))
    page = _soup(client.get(f"/review?run={run}&code=velocity"))
    assert page.select_one("#only-code option[selected]")["value"] == "velocity"
    for item in velocity:
        assert int(page.select_one("#suggestion")["data-pk"]) == item.pk
        assert "Velocity" in page.select_one("h1.code").get_text()
        data = {field["name"]: field.get("value", "") for field in page.select("#decide input[name]")}
        response = client.post("/review/decide", data={**data, "action": "accept"})
        assert response.status_code == 303 and "code=velocity" in response.headers["Location"]
        page = _soup(client.get(response.headers["Location"]))
    done = page.select_one("section.done h1").get_text(" ", strip=True)
    assert done == f"Every suggestion of run {run} shown here is decided."
    assert page.select_one("#review-rest")["href"] == f"/review?run={run}&order=document"
    assert page.select_one(".progress b").get_text() == str(len(velocity))  # progress stays the whole run's
    p1 = _soup(client.get(f"/review?run={run}&transcript=P1"))  # its velocity suggestions are decided: validation is left
    pk = int(p1.select_one("#suggestion")["data-pk"])
    shown = next(s for s in suggestions(study, run, "reviewer") if s.pk == pk)
    assert (shown.transcript_id, shown.code_id) == ("P1", "validation")
    nothing = _soup(client.get(f"/review?run={run}&code=nonexistent"))
    assert "made no suggestions of nonexistent" in nothing.select_one("section.done h1").get_text()


def test_review_run_choice_says_what_each_run_is(client, study):
    run = client.tiny.run2
    options = {int(o["value"]): o.get_text() for o in _soup(client.get(f"/review?run={run}")).select("select[name=run] option")}
    assert set(options) == {client.tiny.run1, run}
    assert options[run] == f"run {run} · rules · 2026-02-02 · {len(suggestions(study, run, 'reviewer'))} suggestions"
