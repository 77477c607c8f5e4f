"""Browser behaviour found by trying the workbench as a researcher, in headless Chromium (skipped
without Chromium or Playwright): a suggestion deep in a long turn is scrolled into view, the new
code form's id pattern is a pattern the browser applies, narrow windows do not scroll sideways,
pages load without failed requests."""

from __future__ import annotations

import threading

import pytest

import analysis_fixture
from qualkit.web import create_app
from qualkit.workbench import suggestions
from test_web_browser import _select, browser, page, served  # noqa: F401  (shared fixtures)
from workbench_fixture import build_workbench_study

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (pip install -e '.[dev]')")
expect = sync_api.expect

FILLER = " ".join(f"Paragraph {n} is about the weather, the team and the coffee machine, nothing more." for n in range(40))


@pytest.fixture
def long_served(study, monkeypatch):
    """The tiny study with P10's third turn made long (a podcast-length turn); the suggestion sits at its end."""
    from waitress import create_server

    key = ("P10", 3)
    monkeypatch.setitem(analysis_fixture.TEXTS, key, FILLER + "\n\n" + analysis_fixture.TEXTS[key])
    tiny = build_workbench_study(study)
    app = create_app(study.root, coder="reviewer", token="qa-token")
    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}", study, tiny
    finally:
        server.close()
        thread.join(timeout=5)


def test_review_scrolls_a_long_turn_to_its_suggestion(browser, long_served):
    base, study, tiny = long_served
    target = next(s for s in suggestions(study, tiny.run2, "reviewer") if s.transcript_id == "P10" and s.turn_idx == 3)
    assert target.start_char > len(FILLER)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/review?run={tiny.run2}&pk={target.pk}&token=qa-token")
    box = page.locator("#turntext")
    assert box.evaluate("b => b.scrollHeight > b.clientHeight")  # the turn is taller than its box
    inside = page.evaluate("""() => {
        const box = document.getElementById('turntext').getBoundingClientRect();
        const mark = document.querySelector('#turntext mark.suggested').getBoundingClientRect();
        return mark.top >= box.top && mark.bottom <= box.bottom;
    }""")
    assert inside, "the suggested span must be visible without scrolling the turn"
    context.close()


def test_new_code_id_pattern_is_applied_by_the_browser(page, served):
    base = served[0]
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{base}/transcripts/P1")
    _select(page, "#turn-4 .text", 0, 14)
    page.locator("#panel-new-toggle").click()
    field = page.locator("#panel-new input[name=id]")
    field.fill("Bad Id")
    assert field.evaluate("f => f.validity.patternMismatch")
    field.fill("privacy-compliance")
    assert not field.evaluate("f => f.validity.patternMismatch")
    assert not [e for e in errors if "pattern" in e.lower()]


@pytest.mark.parametrize("path", ["/", "/transcripts/P2", "/review", "/review/stats", "/memos", "/search?q=validate",
                                  "/search?mode=codes&q=velocity"])
def test_a_narrow_window_does_not_scroll_sideways_and_nothing_fails_to_load(browser, served, path):
    base, token = served[0], served[1]
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    failed: list[str] = []
    page.on("console", lambda message: failed.append(message.text) if "Failed to load" in message.text else None)
    page.goto(f"{base}{path}{'&' if '?' in path else '?'}token={token}")
    page.wait_for_load_state("load")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{path} is {width}px wide in a 390px window"
    nav = page.locator(".topbar nav a", has_text="Memos")
    assert nav.bounding_box()["x"] + nav.bounding_box()["width"] <= 390  # every page stays reachable
    assert failed == []
    context.close()


def test_a_quick_second_key_does_not_change_the_decision_just_sent(page, served):
    from workbench_fixture import human_rows

    base, _token, study, tiny = served
    page.goto(f"{base}/review?run={tiny.run2}")
    first = int(page.locator("#suggestion").get_attribute("data-pk"))
    page.keyboard.press("a")
    page.keyboard.press("r")  # pressed before the next suggestion is shown
    page.wait_for_url("**/review?*after=*")
    expect(page.locator(".progress b")).to_have_text("1")
    assert [(r["suggestion_pk"], r["decision"]) for r in human_rows(study)] == [(first, "accepted")]
    assert int(page.locator("#suggestion").get_attribute("data-pk")) != first


def test_escape_closes_the_coding_panel_and_the_replace_box_from_their_search_fields(page, served):
    base, _token, _study, tiny = served
    page.goto(f"{base}/transcripts/P1")
    _select(page, "#turn-4 .text", 0, 14)
    page.locator("#panel").wait_for(state="visible")
    expect(page.locator("#panel-search")).to_be_focused()
    page.keyboard.type("veloc")
    page.keyboard.press("Escape")
    expect(page.locator("#panel")).to_be_hidden()
    page.goto(f"{base}/review?run={tiny.run2}")
    page.keyboard.press("c")
    expect(page.locator("#replace-search")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#replace-box")).to_be_hidden()


def test_a_memo_on_a_coding_from_its_details(page, served):
    from qualkit.workbench import add_coding

    base, _token, study, _tiny = served
    change = add_coding(study, "reviewer", "P1", 3, 0, 14, ["velocity"])  # "Fast iteration"
    page.goto(f"{base}/transcripts/P1")
    page.locator("#turn-4 .chip.human").first.click()
    page.locator("#pop a[data-action=memo]").click()
    page.wait_for_url("**/memos?*")
    form = page.locator("#new-memo form")
    expect(form.locator("input[name=coding]")).to_have_value(str(change.inserted[0]))
    form.locator("textarea[name=text]").fill("Speed as identity, not as a metric.")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/transcripts/P1?turn=4*")
    expect(page.locator("#turn-4 .turn-memos")).to_contain_text(f"on coding {change.inserted[0]}")
    rows = study.store.query("SELECT target_kind, coding_pk, transcript_id, turn_idx FROM memos")
    assert [tuple(r) for r in rows] == [("coding", change.inserted[0], "P1", 3)]
