"""Memos, search and agreement pages end to end in headless Chromium (skipped without Chromium or Playwright)."""

from __future__ import annotations

import pytest

from test_web_browser import _select, _shot, browser, page, served  # noqa: F401  (shared fixtures)
from workbench_fixture import human_rows

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (pip install -e '.[dev]')")
expect = sync_api.expect


def test_write_a_memo_and_see_it_listed(page, served):
    base, _token, study, _tiny = served
    page.goto(f"{base}/memos")
    if page.locator("#new-memo").get_attribute("open") is None:  # the form is open while there are no memos
        page.locator("#new-memo summary").click()
    form = page.locator("#new-memo form")
    form.locator("input[name=transcript]").fill("P2")
    form.locator("input[name=turn]").fill("2")
    form.locator("input[name=title]").fill("Hedging")
    form.locator("textarea[name=text]").fill('Says <script>alert("m")</script> twice.\nAsk again.')
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    form.locator("button[type=submit]").click()
    card = page.locator("article.memo").first
    expect(card.locator(".memo-title")).to_have_text("Hedging")
    expect(card.locator(".memo-text")).to_have_text('Says <script>alert("m")</script> twice.\nAsk again.')
    expect(card.locator(".where a")).to_have_text("P2 turn 2")
    assert dialogs == []
    rows = study.store.query("SELECT coder, target_kind, transcript_id, turn_idx, title FROM memos")
    assert [tuple(r) for r in rows] == [("reviewer", "turn", "P2", 1, "Hedging")]
    page.fill("#memo-q", "twice")
    page.keyboard.press("Enter")
    expect(page.locator("article.memo")).to_have_count(1)
    page.fill("#memo-q", "nowhere")
    page.keyboard.press("Enter")
    expect(page.locator("article.memo")).to_have_count(0)
    page.goto(f"{base}/memos")
    _shot(page, "memos.png")


def test_kwic_search_shows_lemma_matches_and_counts(page, served):
    base = served[0]
    page.goto(f"{base}/search")
    page.fill("#search-q", "validating")
    page.keyboard.press("Enter")
    expect(page.locator("tr.hit")).to_have_count(2)
    assert page.locator("tr.hit .match").all_text_contents() == ["validate", "validate"]  # lemma match
    assert "2 hits of validate" in " ".join(page.locator("#counts h2").text_content().split())
    counts = {row.get_attribute("data-participant"): row.locator("td.hits").text_content()
              for row in page.locator("#participant-counts tbody tr").all()}
    assert counts == {"P1": "1", "P2": "1", "P10": "0"}
    page.select_option("select[name=where_sector]", "health")
    page.locator("#search-form button[type=submit]").click()
    expect(page.locator("tr.hit")).to_have_count(1)
    page.goto(f"{base}/search?q=iterations")
    _shot(page, "search-kwic.png")


def test_code_a_search_result_in_place(page, served):
    base, _token, study, _tiny = served
    page.goto(f"{base}/search?q=iteration")
    row = page.locator("tr.hit").first
    start, end = int(row.get_attribute("data-start")), int(row.get_attribute("data-end"))
    row.locator(".code-hit").click()
    page.locator("#panel").wait_for(state="visible")
    page.locator("#panel-search").fill("valid")
    page.locator("#panel-options li", has_text="Validation").first.wait_for()
    page.keyboard.press("Enter")
    _shot(page, "search-code-panel.png")
    page.locator("#panel-save").click()
    expect(row.locator(".done")).to_contain_text("coded Validation")
    [coding] = human_rows(study)
    assert (coding["code_id"], coding["start_char"], coding["end_char"], coding["text"]) == ("validation", start, end, "iteration")
    assert coding["origin"] == "workbench" and coding["decision"] == "coded"
    # the whole turn of a code-search result
    page.goto(f"{base}/search?mode=codes&q=debugging")
    hit = page.locator("article.hit").first
    turn_length = int(hit.get_attribute("data-turn-length"))
    hit.locator(".code-hit").click()
    page.locator("input[name=scope][value=turn]").check()
    page.locator("#panel-search").fill("veloc")
    page.locator("#panel-options li", has_text="Velocity").first.wait_for()
    page.keyboard.press("Enter")
    page.locator("#panel-save").click()
    expect(hit.locator(".done")).to_contain_text("coded Velocity")
    last = human_rows(study)[-1]
    assert (last["code_id"], last["start_char"], last["end_char"]) == ("velocity", 0, turn_length)


def test_code_text_selected_in_a_code_search_result(page, served):
    base, _token, study, _tiny = served
    page.goto(f"{base}/search?mode=codes&q=velocity")
    hit = page.locator("article.hit").nth(1)
    index = hit.get_attribute("data-transcript"), int(hit.get_attribute("data-turn"))
    text = hit.locator(".text").text_content()
    start = text.index("If an experiment")  # plain text after a highlighted span
    end = start + len("If an experiment takes a week")
    _select(page, f"article.hit:nth-of-type(2) .text", start, end)
    hit.locator(".code-hit").click()
    expect(page.locator("#panel-text")).to_have_text("If an experiment takes a week")
    page.locator("#panel-search").fill("debug")
    page.locator("#panel-options li", has_text="Debugging").first.wait_for()
    page.keyboard.press("Enter")
    page.locator("#panel-save").click()
    expect(hit.locator(".done")).to_contain_text("coded Debugging")
    [coding] = human_rows(study)
    turn_idx = study.store.conn.execute("SELECT idx FROM turns WHERE pk = ?", (coding["turn_pk"],)).fetchone()[0]
    assert (index, coding["start_char"], coding["end_char"], coding["text"]) == (
        ("P1", turn_idx), start, end, "If an experiment takes a week")


def test_agreement_page(page, served):
    base, _token, _study, tiny = served
    page.goto(f"{base}/review?run={tiny.run2}")
    page.keyboard.press("a")
    page.wait_for_url("**/review?*after=*")
    second = page.locator("#suggestion").get_attribute("data-pk")
    page.keyboard.press("r")
    expect(page.locator("#suggestion")).not_to_have_attribute("data-pk", second)  # the rejection is stored
    page.goto(f"{base}/review/stats")
    total = page.locator("#review-stats tr.total td")
    assert total.nth(2).text_content() == "1" and total.nth(5).text_content() == "1"  # accepted, rejected
    assert total.nth(7).text_content() == "50%"
    _shot(page, "agreement.png")
