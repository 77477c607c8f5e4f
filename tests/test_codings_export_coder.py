"""A codings CSV exported from a run names its coder `run:N`: imported back with --coder NAME the
codings belong to NAME (not to a human coder called "run-N"), on the same turns; without --coder
the rows are refused with that reason. `human:NAME` cells are read as NAME."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from qualkit.cli import main
from qualkit.study import Study

from test_pipeline_config import panel  # noqa: F401  (fixture)
from test_turn_numbering import _human, _study


def _cli(root: Path, *args: str):
    return CliRunner().invoke(main, ["--study", str(root), *args], catch_exceptions=False)


def _run_codings(root: Path) -> list[tuple[str, int, int, int, str]]:
    study = Study(root)
    try:
        run = study.store.latest_run("rules")["id"]
        rows = study.store.query(
            """SELECT t.id, u.idx, ca.start_char, ca.end_char, ca.code_id FROM code_applications ca
               JOIN segments s ON s.pk = ca.segment_pk JOIN transcripts t ON t.pk = s.transcript_pk
               JOIN turns u ON u.pk = s.turn_pk WHERE ca.run_id = ?""", (run,),
        )
        return sorted(tuple(row) for row in rows)
    finally:
        study.close()


def test_a_runs_exported_table_imports_as_the_named_coder(panel: Path):  # noqa: F811
    _study(panel)
    table = panel / "reports" / "exports" / "segments_codes.csv"
    assert ",run:" in table.read_text(encoding="utf-8")
    refused = _cli(panel, "codings", "import", str(table))
    assert refused.exit_code == 1 and "is an automatic run, not a person" in refused.output and "--coder" in refused.output
    imported = _cli(panel, "codings", "import", str(table), "--coder", "bob")
    assert imported.exit_code == 0, imported.output
    assert "human:bob" in imported.output and "run-" not in imported.output
    assert "run-" not in _cli(panel, "codings", "list").output
    assert _human(panel, "bob") == _run_codings(panel)


def test_an_exported_human_coder_comes_back_under_the_same_name(panel: Path):  # noqa: F811
    _study(panel)
    out = panel / "alice-export"
    assert _cli(panel, "export", "--coder", "human:alice", "--format", "csv", "--out", str(out)).exit_code == 0
    alice = _human(panel, "alice")
    imported = _cli(panel, "codings", "import", str(out / "segments_codes.csv"))
    assert imported.exit_code == 0, imported.output
    assert "human:alice" in imported.output and "human-alice" not in _cli(panel, "codings", "list").output
    assert _human(panel, "alice") == alice
