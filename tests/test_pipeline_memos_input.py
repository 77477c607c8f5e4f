"""Memos are an input of the steps that show them: with `[report] memos = true` a new memo makes
`qualkit run` rebuild the report (its appendix), and a QDPX export (memos as REFI-QDA notes) too."""

from __future__ import annotations

import zipfile
from pathlib import Path

from cli_fixture import invoke_ok
from test_pipeline_config import BASE, PANEL_RULE, panel  # noqa: F401  (fixture)


def test_a_new_memo_rebuilds_the_report_appendix_and_the_qdpx_export(panel: Path):  # noqa: F811
    config = BASE.replace("[topics]", '[report]\nmemos = true\n\n[export]\nformats = ["qdpx"]\n\n[topics]') + PANEL_RULE
    (panel / "qualkit.toml").write_text(config, encoding="utf-8")
    invoke_ok(panel, "run")
    assert "Everything is up to date." in invoke_ok(panel, "run").output
    invoke_ok(panel, "memos", "add", "Nightly retraining looks like a cargo cult here", "--coder", "alice", "--code", "retraining")
    ran = invoke_ok(panel, "run").output
    assert "ran   report" in ran and "ran   export" in ran and "memos" in ran
    assert "cargo cult" in (panel / "reports" / "report.md").read_text(encoding="utf-8")
    project = next((panel / "reports" / "exports").glob("*.qdpx"))
    with zipfile.ZipFile(project) as archive:
        assert "cargo cult" in archive.read("project.qde").decode("utf-8")
    assert "Everything is up to date." in invoke_ok(panel, "run").output


def test_memos_are_no_input_where_nothing_shows_them(panel: Path):  # noqa: F811
    (panel / "qualkit.toml").write_text(BASE + PANEL_RULE, encoding="utf-8")
    invoke_ok(panel, "run")
    invoke_ok(panel, "memos", "add", "A memo the report does not show", "--coder", "alice")
    assert "Everything is up to date." in invoke_ok(panel, "run").output
