"""One turn numbering everywhere people see turns: turns count from 1 in `transcripts show`,
`code explain`, the report, the exports and the codings CSV; the store's index stays 0-based.
Export -> import round trips (CSV and QDPX) keep every coding on its turn."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from qualkit.study import Study

from cli_fixture import invoke_ok
from test_pipeline_config import BASE, PANEL_RULE, panel  # noqa: F401  (fixture)


def _human(root: Path, coder: str) -> list[tuple[str, int, int, int, str]]:
    """(transcript, stored turn idx, start, end, code) of a human coder, sorted."""
    study = Study(root)
    try:
        rows = study.store.query(
            """SELECT t.id, u.idx, h.start_char, h.end_char, h.code_id FROM human_codings h
               JOIN transcripts t ON t.pk = h.transcript_pk JOIN turns u ON u.pk = h.turn_pk WHERE h.coder = ?""",
            (coder,),
        )
        return sorted(tuple(row) for row in rows)
    finally:
        study.close()


def _study(root: Path) -> None:
    (root / "qualkit.toml").write_text(BASE.replace("[topics]", '[export]\nformats = ["csv", "qdpx"]\n\n[topics]') + PANEL_RULE, encoding="utf-8")
    invoke_ok(root, "run")
    # alice codes P1's second turn ("We retrain every week ...") by its 1-based number
    (root / "alice.csv").write_text("transcript,turn,code,coder\nP1,2,retraining,alice\npanel-1,4,retraining,alice\n", encoding="utf-8")
    invoke_ok(root, "codings", "import", str(root / "alice.csv"))
    invoke_ok(root, "run")


def test_every_place_numbers_turns_from_one(panel: Path):  # noqa: F811
    _study(panel)
    p1_turn = "We retrain every week, honestly it is just a cron job."
    p4_turn = "Only when the data drifts."
    assert _human(panel, "alice") == [("P1", 1, 0, len(p1_turn), "retraining"), ("panel-1", 3, 0, len(p4_turn), "retraining")]
    # transcripts show
    shown = invoke_ok(panel, "transcripts", "show", "P1").output
    assert re.search(r"\[2\] P1 \(participant\)\nWe retrain every week", shown)
    # code explain
    study = Study(panel)
    try:
        segment = study.store.query(
            "SELECT s.pk FROM segments s JOIN turns u ON u.pk = s.turn_pk JOIN transcripts t ON t.pk = s.transcript_pk "
            "WHERE t.id = 'P1' AND u.idx = 1"
        )[0]["pk"]
    finally:
        study.close()
    explained = invoke_ok(panel, "code", "explain", str(segment)).output
    assert "turn 2, P1 (participant)" in explained
    assert json.loads(invoke_ok(panel, "code", "explain", str(segment), "--json").output)["turn"] == 2
    # the report (Markdown and HTML appendix of quoted turns)
    md = (panel / "reports" / "report.md").read_text(encoding="utf-8")
    assert "**P1** (turn 2): We retrain every week" in md
    html = (panel / "reports" / "index.html").read_text(encoding="utf-8")
    assert re.search(r"P1 · turn 2</div>\s*<div class=\"text\" dir=\"auto\"><bdi>We retrain every week", html)
    # the table export
    with (panel / "reports" / "exports" / "segments_codes.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert "turn_idx" not in rows[0]
    p1 = [row for row in rows if row["transcript_id"] == "P1" and row["code_id"] == "retraining"]
    assert [row["turn"] for row in p1] == ["2"]


def test_csv_export_then_import_keeps_codings_on_their_turns(panel: Path):  # noqa: F811
    _study(panel)
    out = panel / "alice-export"
    invoke_ok(panel, "export", "--coder", "human:alice", "--format", "csv", "--out", str(out))
    # the exported table names its coder (human:alice); import it under another name
    table = (out / "segments_codes.csv").read_text(encoding="utf-8").replace("human:alice", "bob")
    (out / "bob.csv").write_text(table, encoding="utf-8")
    invoke_ok(panel, "codings", "import", str(out / "bob.csv"))
    assert _human(panel, "bob") == _human(panel, "alice")


def test_qdpx_export_then_import_keeps_codings_on_their_turns(panel: Path):  # noqa: F811
    _study(panel)
    project = panel / "reports" / "exports" / "panel.qdpx"
    assert project.is_file()
    invoke_ok(panel, "codings", "import", str(project), "--coder", "carol")
    carol = _human(panel, "carol")
    alice = _human(panel, "alice")
    assert set(alice) <= set(carol)  # carol also holds the run's codings of the same project
