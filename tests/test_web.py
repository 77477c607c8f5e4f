"""The workbench web app in-process (Flask's test client): token, CSRF, host, escaping, pages, API."""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from qualkit.cli import main
from qualkit.web import create_app
from qualkit.workbench import ServeLock, suggestions
from web_fixture import TOKEN
from workbench_fixture import build_workbench_study, human_rows


@pytest.fixture
def tiny(study):
    return build_workbench_study(study)


def test_every_request_needs_the_token(app):
    anonymous = app.test_client()
    for path in ("/", "/transcripts/P1", "/review", "/api/codes", "/static/workbench.js"):
        assert anonymous.get(path).status_code == 403, path
    assert anonymous.get("/?token=wrong").status_code == 403
    assert anonymous.get("/", headers={"Authorization": f"token {TOKEN}"}).status_code == 200
    response = anonymous.get(f"/transcripts/P1?token={TOKEN}&run=none")
    assert response.status_code == 303 and response.headers["Location"] == "/transcripts/P1?run=none"
    assert "HttpOnly" in response.headers["Set-Cookie"] and "SameSite=Lax" in response.headers["Set-Cookie"]
    assert anonymous.get("/transcripts/P1").status_code == 200  # the cookie now


def test_post_needs_csrf_and_same_origin(client, csrf, study):
    body = {"transcript": "P1", "turn_idx": 1, "start": 0, "end": 5, "codes": ["velocity"]}
    assert client.post("/api/codings", json=body).status_code == 403
    assert client.post("/api/codings", json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    evil = client.post("/api/codings", json=body, headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
    assert evil.status_code == 403
    assert human_rows(study) == []
    assert client.get("/api/codings").status_code == 405  # state changes are POST only
    ok = client.post("/api/codings", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and ok.json["ok"]
    assert len(human_rows(study)) == 1


def test_unknown_host_is_refused(client):
    assert client.get("/", headers={"Host": "attacker.example"}).status_code == 400
    assert client.get("/", headers={"Host": "localhost:8421"}).status_code == 200


def test_transcript_page_escapes_text_and_shows_highlights(client):
    html = client.get("/transcripts/P2").get_data(as_text=True)
    assert "<script>alert" not in html
    soup = BeautifulSoup(html, "html.parser")
    turn = soup.select_one("#turn-2 .text")
    assert '<script>alert("x")</script>' in turn.get_text()  # shown as text
    assert not [s for s in soup.find_all("script") if "alert" in s.get_text() and s.get("type") != "application/json"]
    highlights = soup.select("#turn-2 .hl")
    assert {h.get_text() for h in soup.select("#turn-2 .hl.auto")} >= {"validate", "Debugging"}
    assert highlights
    assert soup.select("#turn-4 .hl.human")  # alice's coding of the whole turn
    assert "Content-Security-Policy" in client.get("/transcripts/P2").headers


def test_review_accept_and_reject_through_forms(client, csrf, study, tiny):
    page = client.get(f"/review?run={tiny.run2}").get_data(as_text=True)
    first = int(re.search(r'name="pk" value="(\d+)"', page).group(1))
    response = client.post("/review/decide", data={"csrf": csrf, "pk": first, "action": "accept", "run": tiny.run2})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    second = int(re.search(r'name="pk" value="(\d+)"', page).group(1))
    assert second != first
    client.post("/review/decide", data={"csrf": csrf, "pk": second, "action": "reject", "run": tiny.run2})
    assert [(r["suggestion_pk"], r["decision"]) for r in human_rows(study)] == [(first, "accepted"), (second, "rejected")]
    page = client.get(f"/review?run={tiny.run2}").get_data(as_text=True)
    assert "<b>2</b> / 9 decided" in page
    undone = client.post("/api/undo", headers={"X-CSRF-Token": csrf})
    assert undone.json["ok"] and [r["decision"] for r in human_rows(study)] == ["accepted"]


def test_bad_input_gets_a_clear_message_and_changes_nothing(client, csrf, study):
    headers = {"X-CSRF-Token": csrf}
    outside = client.post("/api/codings", json={"transcript": "P1", "turn_idx": 1, "start": 0, "end": 99999, "codes": ["velocity"]}, headers=headers)
    assert outside.status_code == 400 and "outside turn 2 of P1" in outside.json["error"]["message"]
    unknown = client.post("/api/codings", json={"transcript": "P1", "turn_idx": 1, "start": 0, "end": 5, "codes": ["nope"]}, headers=headers)
    assert unknown.status_code == 404 and "unknown code" in unknown.json["error"]["message"]
    stale = client.post("/api/codings", json={"transcript": "P1", "transcript_pk": 999, "turn_idx": 1, "start": 0, "end": 5,
                                              "codes": ["velocity"]}, headers=headers)
    assert stale.status_code == 409 and "reload" in stale.json["error"]["hint"]
    assert human_rows(study) == []
    missing = client.get("/transcripts/P99")
    assert missing.status_code == 404 and "no transcript" in missing.get_data(as_text=True)


def test_a_json_body_that_is_no_object_is_a_clear_error_on_every_api(client, csrf, study):
    headers = {"X-CSRF-Token": csrf}
    for path in ("/api/codings", "/api/memos", "/review/decide"):
        response = client.post(path, json=[1, 2], headers=headers)
        assert response.status_code == 400, path
        assert "not a JSON object" in response.json["error"]["message"], path
    assert human_rows(study) == [] and study.store.query("SELECT COUNT(*) AS n FROM memos")[0]["n"] == 0


def test_new_code_through_the_api(client, csrf, study):
    response = client.post("/api/codes", json={"id": "privacy", "label": "Privacy <b>", "definition": "Legal."},
                           headers={"X-CSRF-Token": csrf})
    assert response.json["ok"]
    codes = {c["id"]: c for c in client.get("/api/codes").json["codes"]}
    assert codes["privacy"]["label"] == "Privacy <b>"


def test_open_links_and_the_served_report(client, study):
    response = client.get("/open?transcript=P1&turn=2")  # turns count from 1, as people see them
    assert response.status_code == 303 and response.headers["Location"] == "/transcripts/P1?turn=2#turn-2"
    page = client.get("/transcripts/P1?turn=2").get_data(as_text=True)
    soup = BeautifulSoup(page, "html.parser")
    assert soup.select_one("#transcript")["data-focus"] == "2"
    assert "focus" in soup.select_one("#turn-2")["class"] and soup.select_one("#turn-2")["data-turn"] == "1"
    assert client.get("/report/").status_code == 400  # no report yet: a clear message
    out = study.root / "reports"
    out.mkdir(exist_ok=True)
    (out / "index.html").write_text('<html><body><a data-transcript="P1" data-turn="3" href="#t">q</a></body></html>', encoding="utf-8")
    served = client.get("/report/").get_data(as_text=True)
    assert 'src="/static/report-links.js"' in served


def test_cli_serve_refuses_a_second_server_and_bad_coder(study, tiny):
    with ServeLock(study.root) as lock:
        lock.acquire(host="127.0.0.1", port=9)
        (study.root / ".qualkit" / "serve.lock").write_text('{"pid": 1, "host": "127.0.0.1", "port": 9}', encoding="utf-8")
        result = CliRunner().invoke(main, ["--study", str(study.root), "serve", "--coder", "reviewer", "--port", "0"])
        assert result.exit_code == 1 and "already served by process 1" in result.output
    result = CliRunner().invoke(main, ["--study", str(study.root), "serve", "--coder", "bad name!"])
    assert result.exit_code == 1 and "not a usable coder name" in result.output


def test_review_of_an_empty_queue_and_bad_run(client, study, tiny):
    for item in suggestions(study, tiny.run2, "reviewer"):
        from qualkit.workbench import decide

        decide(study, "reviewer", item.pk, "accept")
    page = client.get(f"/review?run={tiny.run2}").get_data(as_text=True)
    assert "Every suggestion of run" in page
    assert client.get("/review?run=999").status_code == 404
    assert client.get("/review?run=abc").status_code == 400


def test_qualkit_serve_prints_a_token_url_serves_it_and_refuses_a_second_server(study, tiny):
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "qualkit", "--study", str(study.root), "serve", "--port", "0", "--coder", "reviewer"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            match = re.search(r"(http://127\.0\.0\.1:\d+/\?token=\S+)", line)
            url = match.group(1) if match else None
        assert url, process.stderr.read()
        base = url.split("/?", 1)[0]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base + "/transcripts/P1", timeout=10)
        assert refused.value.code == 403
        token = url.split("token=", 1)[1]
        request = urllib.request.Request(base + "/transcripts/P1", headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200 and b"is the whole game" in response.read()
        second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        assert second.returncode == 1 and f"already served by process {process.pid}" in second.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert not (study.root / ".qualkit" / "serve.lock").exists()


def test_the_cli_and_the_workbench_share_the_store(client, csrf, study, monkeypatch):
    """While another process holds a write transaction, pages still read (WAL) and a change
    waits, then says the store is locked and stores nothing; afterwards it goes through."""
    import qualkit.store as store_module
    from qualkit.store import Store

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.2)
    other = Store(study.store_path)  # as a CLI command would
    other.conn.execute("BEGIN IMMEDIATE")
    try:
        assert client.get("/transcripts/P1").status_code == 200
        body = {"transcript": "P1", "turn_idx": 1, "start": 0, "end": 5, "codes": ["velocity"]}
        locked = client.post("/api/codings", json=body, headers={"X-CSRF-Token": csrf})
        assert locked.status_code == 400 and "locked" in locked.json["error"]["message"]
    finally:
        other.conn.execute("ROLLBACK")
        other.close()
    assert human_rows(study) == []
    assert client.post("/api/codings", json=body, headers={"X-CSRF-Token": csrf}).json["ok"]
    assert len(human_rows(study)) == 1


def test_serve_warns_before_binding_another_host(study, tiny, monkeypatch):
    import qualkit.web.server as server

    calls = []
    monkeypatch.setattr(server, "serve", lambda root, **kwargs: calls.append((root, kwargs)))
    monkeypatch.setenv("QUALKIT_CODER", "carol")
    result = CliRunner().invoke(main, ["--study", str(study.root), "serve", "--host", "0.0.0.0", "--port", "9999"])
    assert result.exit_code == 0, result.output
    assert "reachable from other machines" in result.output
    (root, kwargs), = calls
    assert root == study.root and (kwargs["coder"], kwargs["host"], kwargs["port"]) == ("carol", "0.0.0.0", 9999)
    calls.clear()
    result = CliRunner().invoke(main, ["--study", str(study.root), "serve"])
    assert "reachable" not in result.output and calls[0][1]["host"] == "127.0.0.1"


def test_a_network_address_accepts_other_host_names_but_still_needs_the_token(study, tiny):
    app = create_app(study.root, coder="reviewer", token=TOKEN, host="0.0.0.0")
    client = app.test_client()
    assert client.get("/", headers={"Host": "192.168.1.20:8421"}).status_code == 403
    assert client.get("/", headers={"Host": "192.168.1.20:8421", "Authorization": f"token {TOKEN}"}).status_code == 200


def test_review_page_offers_active_learning_and_says_what_each_code_needs(client, study, tiny):
    from bs4 import BeautifulSoup

    from qualkit.coding.learned.active import decisions_needed

    page = client.get(f"/review?run={tiny.run2}&order=uncertainty")
    assert page.status_code == 200
    soup = BeautifulSoup(page.get_data(as_text=True), "html.parser")
    assert "uncertainty" in [option.get("value") or option.get_text() for option in soup.select("option")]
    needs = decisions_needed(study, coder="reviewer")
    cells = [cell for cell in soup.select("td[title]") if "needs" in cell.get("title", "") or "enough" in cell.get("title", "")]
    assert cells, "no per-code 'to learn' cells"
    for cell in cells:
        code_id = cell["title"].split(":", 1)[0]
        expected = f"{needs[code_id].needed} more" if needs[code_id].needed else "enough"
        assert cell.get_text(strip=True) == expected
