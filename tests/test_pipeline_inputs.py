"""Human codings and the codebook are inputs of the steps that read them."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from qualkit.cli import main
from qualkit.study import Study

from test_pipeline_config import BASE, CODEBOOK, PANEL_RULE, panel  # noqa: F401  (fixture)

OTHER_CODEBOOK = """\
name: other
version: "1"
codes:
  - id: cron
    label: Cron
    definition: Scheduling by cron.
    rules:
      phrases: [cron job]
"""


def _cli(root: Path, *args: str):
    return CliRunner().invoke(main, ["--study", str(root), *args], catch_exceptions=False)


def test_a_codings_import_makes_run_rebuild_the_report_with_agreement(panel: Path):  # noqa: F811
    (panel / "qualkit.toml").write_text(BASE + PANEL_RULE, encoding="utf-8")
    assert _cli(panel, "run").exit_code == 0
    assert "Intercoder agreement" not in (panel / "reports" / "report.md").read_text(encoding="utf-8")
    (panel / "alice.csv").write_text("transcript,turn,code,coder\nP1,2,retraining,alice\n", encoding="utf-8")
    imported = _cli(panel, "codings", "import", str(panel / "alice.csv"))
    assert imported.exit_code == 0, imported.output
    result = _cli(panel, "run")
    assert result.exit_code == 0, result.output
    assert "Everything is up to date" not in result.output
    assert "ran   analyse" in result.output and "ran   report" in result.output and "human_codings" in result.output
    assert "ran   code" not in result.output  # the automatic coding does not read human codings
    assert "Intercoder agreement" in (panel / "reports" / "report.md").read_text(encoding="utf-8")
    assert "Everything is up to date." in _cli(panel, "run").output


def test_a_one_off_codebook_run_does_not_become_the_study_default(panel: Path):  # noqa: F811
    (panel / "qualkit.toml").write_text(BASE.replace("[topics]", '[export]\nformats = ["csv"]\n\n[topics]') + PANEL_RULE, encoding="utf-8")
    assert _cli(panel, "run").exit_code == 0
    study = Study(panel)
    declared = study.store.latest_run("rules")["id"]
    study.close()
    (panel / "codebook" / "other.yaml").write_text(OTHER_CODEBOOK, encoding="utf-8")
    one_off = _cli(panel, "code", "--codebook", str(panel / "codebook" / "other.yaml"))
    assert one_off.exit_code == 0, one_off.output
    study = Study(panel)
    try:
        assert study.store.latest_run("rules")["id"] > declared  # the one-off run is the newest
    finally:
        study.close()
    out = panel / "adhoc"
    built = _cli(panel, "report", "build", "--out", str(out), "--format", "md")
    assert built.exit_code == 0, built.output
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "Retraining" in report and "Cron" not in report
    exported = _cli(panel, "export", "--format", "csv", "--out", str(panel / "adhoc-export"))
    assert exported.exit_code == 0, exported.output
    segments = (panel / "adhoc-export" / "segments_codes.csv").read_text(encoding="utf-8")
    assert ",retraining," in segments and ",cron," not in segments and f"run:{declared}" in segments
    # and `qualkit run` keeps using (and reporting) the declared codebook's run: nothing to redo
    assert "Everything is up to date." in _cli(panel, "run").output
