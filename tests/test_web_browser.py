"""The workbench end to end in headless Chromium (Playwright's Python package driving the
system's browser: nothing is downloaded). Skipped, with the reason, where either is missing;
`.ci/run` installs Debian's chromium so CI runs them."""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path

import pytest

from qualkit.web import create_app
from workbench_fixture import build_workbench_study, human_rows

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (pip install -e '.[dev]')")
expect = sync_api.expect

CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
]
SCREENSHOTS = os.environ.get("QUALKIT_SCREENSHOTS")  # a folder: save screenshots of the pages there


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium found on PATH (Debian: apt-get install -y chromium); .ci/run installs it")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def served(study):
    """The tiny study served on a free port in this process; yields (base url, token, study, tiny)."""
    from waitress import create_server

    tiny = build_workbench_study(study)
    app = create_app(study.root, coder="reviewer", token="browser-token")
    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}", "browser-token", study, tiny
    finally:
        server.close()
        thread.join(timeout=5)


@pytest.fixture
def page(browser, served):
    base, token, _study, _tiny = served
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/?token={token}")
    yield page
    context.close()


def _shot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name))


def test_without_the_token_nothing_is_shown(browser, served):
    base = served[0]
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(f"{base}/transcripts/P1")
    assert response.status == 403
    assert "access token" in page.text_content("h1")
    context.close()


def test_transcript_shows_highlights_and_details(page, served):
    base = served[0]
    page.goto(f"{base}/transcripts/P1")
    assert page.url.endswith("/transcripts/P1")  # the token left the address bar
    auto = page.locator("#turn-2 .hl.auto")
    human = page.locator("#turn-2 .hl.human")
    assert auto.count() >= 2 and human.count() >= 1
    page.locator("#turn-2 .hl.auto", has_text="validate").first.click()
    pop = page.locator("#pop")
    pop.wait_for(state="visible")
    assert "Validation" in pop.text_content() and "validation#phrase:0" in pop.text_content()
    assert "Testing changes early." in pop.text_content()  # the definition
    _shot(page, "transcript.png")


def test_xss_payload_stays_text(page, served):
    base = served[0]
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{base}/transcripts/P2")
    text = page.locator("#turn-2 .text").text_content()
    assert '<script>alert("x")</script>' in text
    assert page.locator("#turn-2 .text script").count() == 0
    page.locator("#turn-2 .hl.auto").first.click()
    assert dialogs == []


def test_review_accept_one_reject_one_with_the_keyboard(page, served):
    base, _token, study, tiny = served
    page.goto(f"{base}/review?run={tiny.run2}")
    first = int(page.locator("#suggestion").get_attribute("data-pk"))
    _shot(page, "review.png")
    page.keyboard.press("a")
    page.wait_for_url("**/review?*after=*")
    second = int(page.locator("#suggestion").get_attribute("data-pk"))
    assert second != first
    page.keyboard.press("r")
    expect(page.locator("#suggestion")).not_to_have_attribute("data-pk", str(second))
    page.wait_for_load_state("load")  # the keys' script runs at the end of the page: wait for it before pressing c
    rows = human_rows(study)
    assert [(r["suggestion_pk"], r["decision"], r["origin"]) for r in rows] == [
        (first, "accepted", "workbench"), (second, "rejected", "workbench")]
    assert "2 / 9 decided" in page.locator(".progress").text_content().replace("\n", " ").replace("  ", " ")
    page.keyboard.press("c")  # replace the third suggestion's code through the type-ahead
    page.locator("#replace-search").fill("debugg")
    page.locator("#replace-options li", has_text="Debugging").first.wait_for()
    page.keyboard.press("Enter")
    expect(page.locator(".progress b")).to_have_text("3")
    assert human_rows(study)[-1]["decision"] == "replaced"
    page.wait_for_load_state("load")
    page.keyboard.press("u")  # undo the replacement
    expect(page.locator(".progress b")).to_have_text("2")
    assert [r["decision"] for r in human_rows(study)] == ["accepted", "rejected"]


def _select(page, selector: str, start: int, end: int) -> None:
    """Select characters [start, end) of an element's text (as a user dragging would)."""
    page.evaluate(
        """([selector, start, end]) => {
            const box = document.querySelector(selector);
            const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
            let node, seen = 0, range = document.createRange(), a = null, b = null;
            while ((node = walker.nextNode())) {
                const len = node.textContent.length;
                if (a === null && start <= seen + len) { range.setStart(node, start - seen); a = true; }
                if (b === null && end <= seen + len) { range.setEnd(node, end - seen); b = true; break; }
                seen += len;
            }
            const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
            box.dispatchEvent(new MouseEvent("mouseup", {bubbles: true}));
        }""",
        [selector, start, end],
    )


def _select_phrase(page, selector: str, phrase: str) -> tuple[int, int]:
    """Select the first occurrence of ``phrase`` in the element's text; its (start, end) characters."""
    start = page.locator(selector).text_content().index(phrase)
    _select(page, selector, start, start + len(phrase))
    return start, start + len(phrase)


def test_code_a_span_by_hand_and_add_a_new_code(page, served):
    base, _token, study, _tiny = served
    page.goto(f"{base}/transcripts/P1")
    start, end = _select_phrase(page, "#turn-4 .text", "If an experiment takes a week")
    page.locator("#panel").wait_for(state="visible")
    page.locator("#panel-search").fill("veloc")
    page.locator("#panel-options li", has_text="Velocity").first.wait_for()
    page.keyboard.press("Enter")
    page.locator("#panel-new-toggle").click()
    page.fill("#panel-new input[name=id]", "boredom")
    page.fill("#panel-new input[name=label]", "Boredom")
    page.fill("#panel-new textarea[name=definition]", "Losing interest in slow work.")
    page.locator("#panel-new button[type=submit]").click()
    page.locator("#panel-chosen .chip", has_text="Boredom").wait_for()
    page.locator("#panel-save").click()
    page.wait_for_load_state("load")
    page.locator("#turn-4 .hl.human").first.wait_for()
    rows = human_rows(study)
    assert sorted((r["code_id"], r["start_char"], r["end_char"], r["text"]) for r in rows) == [
        ("boredom", start, end, "If an experiment takes a week"), ("velocity", start, end, "If an experiment takes a week")]
    assert "boredom" in (study.root / "codebook" / "imported-codes.yaml").read_text(encoding="utf-8")


def test_a_report_quote_opens_the_transcript_at_its_turn(page, served):
    from qualkit.reports import build_report

    base, _token, study, tiny = served
    build_report(study, coder=f"run:{tiny.run2}", formats=("html",))
    page.goto(f"{base}/report/")
    link = page.locator("blockquote.quote footer a[data-transcript]").first
    transcript, turn = link.get_attribute("data-transcript"), link.get_attribute("data-turn")
    assert link.get_attribute("href") == f"/open?transcript={transcript}&turn={turn}"
    link.click()
    page.wait_for_url(f"**/transcripts/{transcript}?turn={turn}*")
    expect(page.locator(f"#turn-{turn}")).to_have_class(re.compile(r"\bfocus\b"))


def test_review_adjusts_the_span_to_a_selection(page, served):
    base, _token, study, tiny = served
    page.goto(f"{base}/review?run={tiny.run2}")
    start, end = _select_phrase(page, "#turntext", "We can go from an idea")
    page.keyboard.press("e")
    expect(page.locator(".progress b")).to_have_text("1")
    row = human_rows(study)[-1]
    assert (row["decision"], row["start_char"], row["end_char"], row["text"]) == ("adjusted", start, end, "We can go from an idea")


def test_remove_a_coding_from_its_details_and_undo(page, served):
    from qualkit.workbench import add_coding

    base, _token, study, _tiny = served
    add_coding(study, "reviewer", "P1", 3, 0, 14, ["velocity"])  # "Fast iteration"
    page.goto(f"{base}/transcripts/P1")
    page.locator("#turn-4 .chip.human").first.click()
    page.locator("#pop button[data-action=remove]").click()
    expect(page.locator("#turn-4 .chip.human")).to_have_count(0)
    assert human_rows(study) == []
    page.keyboard.press("u")
    expect(page.locator("#turn-4 .chip.human")).to_have_count(1)
    assert [r["text"] for r in human_rows(study)] == ["Fast iteration"]
