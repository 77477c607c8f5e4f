"""A transcript imported by hand from outside [transcripts] sources is part of the study:
`qualkit run` codes and reports it instead of saying "Everything is up to date"."""

from __future__ import annotations

from pathlib import Path

from cli_fixture import invoke_ok
from test_pipeline_config import BASE, PANEL_RULE, panel  # noqa: F401  (fixture)

OUTSIDE = """\
Interviewer: How often do you retrain?
P9: We retrain whenever the drift alarm fires.
"""


def test_run_codes_a_transcript_imported_from_outside_the_sources(panel: Path, tmp_path: Path):  # noqa: F811
    (panel / "qualkit.toml").write_text(BASE + PANEL_RULE, encoding="utf-8")
    invoke_ok(panel, "run")
    assert "Everything is up to date." in invoke_ok(panel, "run").output
    outside = tmp_path / "elsewhere" / "P9.txt"
    outside.parent.mkdir()
    outside.write_text(OUTSIDE, encoding="utf-8")
    invoke_ok(panel, "transcripts", "import", str(outside))
    planned = invoke_ok(panel, "run", "--dry-run").output
    assert "would run code     (inputs changed: transcripts)" in planned
    ran = invoke_ok(panel, "run").output
    assert "ran   code" in ran and "ran   report" in ran
    assert "P9" in (panel / "reports" / "report.md").read_text(encoding="utf-8")
    assert "Everything is up to date." in invoke_ok(panel, "run").output
