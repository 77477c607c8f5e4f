"""Table exports (csv, xlsx, parquet) and the `qualkit export` command."""

from __future__ import annotations

import pandas as pd
import pytest
from analysis_fixture import build_tiny_study
from click.testing import CliRunner

from qualkit.cli import main
from qualkit.errors import InputError
from qualkit.reports import export_tables


@pytest.fixture
def tiny(study):
    return build_tiny_study(study)


def test_csv_tables_hold_the_hand_computed_numbers(tiny, tmp_path):
    paths = export_tables(tiny.study, ["csv"], tmp_path, coder=f"run:{tiny.run1}")
    names = sorted(p.name for p in paths)
    assert names == sorted(
        ["segments_codes.csv", "participant_code_counts.csv", "participant_code_presence.csv", "prevalence.csv",
         "code_frequency.csv", "prevalence_by_company_size.csv"]
    )
    segments = pd.read_csv(tmp_path / "segments_codes.csv")
    assert len(segments) == 9 and {"code_label", "segment_text", "participant_id"} <= set(segments.columns)
    counts = pd.read_csv(tmp_path / "participant_code_counts.csv").set_index("participant_id")
    assert counts.loc["P1", "velocity"] == 2 and counts.loc["P10", "debugging"] == 1
    presence = pd.read_csv(tmp_path / "participant_code_presence.csv").set_index("participant_id")
    assert presence.loc["P1", "velocity"] == 1 and set(presence.to_numpy().ravel()) <= {0, 1}
    prevalence = pd.read_csv(tmp_path / "prevalence.csv").set_index("code_id")
    assert prevalence.loc["three-vs", "n_segments"] == 5
    assert prevalence.loc["velocity", "participant_list"] == "(P1, P10)"


def test_xlsx_and_parquet(tiny, tmp_path):
    paths = export_tables(tiny.study, ["xlsx", "parquet"], tmp_path, coder=f"run:{tiny.run1}")
    workbook = next(p for p in paths if p.suffix == ".xlsx")
    sheets = pd.read_excel(workbook, sheet_name=None)
    assert "prevalence" in sheets and len(sheets["segments_codes"]) == 9
    frame = pd.read_parquet(tmp_path / "participant_code_counts.parquet")
    assert frame.set_index("participant_id").loc["P2", "validation"] == 1


def test_unknown_format_is_a_clear_error(tiny, tmp_path):
    with pytest.raises(InputError, match="unknown export format"):
        export_tables(tiny.study, ["sav"], tmp_path)


def test_cli_export(tiny, tmp_path):
    runner = CliRunner()
    out = tmp_path / "exports"
    result = runner.invoke(main, ["--study", str(tiny.study.root), "export", "--format", "csv", "--out", str(out), "--coder", "human:alice"])
    assert result.exit_code == 0, result.output
    segments = pd.read_csv(out / "segments_codes.csv")
    assert sorted(segments["code_id"]) == ["debugging", "velocity"]
    usage = runner.invoke(main, ["--study", str(tiny.study.root), "export", "--format", "sav"])
    assert usage.exit_code == 2
    missing = runner.invoke(main, ["--study", str(tiny.study.root), "export", "--coder", "human:nobody", "--out", str(out)])
    assert missing.exit_code == 1 and "no human coder" in missing.output


def test_cli_export_qdpx(tiny, tmp_path):
    out = tmp_path / "q"
    result = CliRunner().invoke(main, ["--study", str(tiny.study.root), "export", "--format", "qdpx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "study.qdpx").is_file() and (out / "study.qdpx").stat().st_size > 0
