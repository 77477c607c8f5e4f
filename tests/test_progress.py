"""Progress: passes report stages with counts through a callback; faces decide how to show them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from qualkit.execution.progress import current_progress, reporting, stage_progress


def test_stage_progress_draws_each_stage_with_counts_and_rates_on_a_terminal() -> None:
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    with stage_progress(unit="segments", console=console) as on_progress:
        on_progress("lemmatizing", 256, 512, 4000)
        on_progress("lemmatizing", 512, 512, 4000)
        on_progress("fitting topics", 0, 300)
        on_progress("fitting topics", 300, 300)
    text = out.getvalue()
    assert "lemmatizing" in text and "512/512" in text and "words/s" in text
    assert "fitting topics" in text and "300/300" in text and "segments/s" in text


def test_stage_progress_is_silent_off_a_terminal() -> None:
    from rich.console import Console

    out = io.StringIO()
    with stage_progress(console=Console(file=out, force_terminal=False)) as on_progress:
        on_progress("lemmatizing", 1, 2)
    assert out.getvalue() == ""


def test_reporting_sets_the_callback_for_the_block_only() -> None:
    calls: list[tuple] = []
    assert current_progress() is None
    with reporting(lambda *args: calls.append(args)):
        callback = current_progress()
        assert callback is not None
        callback("x", 1, 2, 0)
    assert current_progress() is None and calls == [("x", 1, 2, 0)]


def test_topic_fit_reports_every_stage_with_segment_counts(tmp_path: Path) -> None:
    pytest.importorskip("bertopic")
    from test_topics import _params, _write_study

    from qualkit.coding.topics import fit_topics

    study = _write_study(tmp_path / "study")
    calls: list[tuple[str, int, int | None, int]] = []
    summary = fit_topics(study, _params(), on_progress=lambda *args: calls.append(args))
    assert summary.status == "ok"
    stages = list(dict.fromkeys(stage for stage, *_ in calls))
    assert stages == ["loading the topic model", "lemmatizing", "embedding", "fitting topics",
                      "aligning topics with the codebook", "storing"]
    n = summary.n_segments
    for stage in stages:
        last = [call for call in calls if call[0] == stage][-1]
        assert last[1] == last[2] and last[2] is not None and last[2] > 0, last  # every stage ends done
    assert [call for call in calls if call[0] == "lemmatizing"][-1][1:3] == (n, n)
    assert sum(call[3] for call in calls if call[0] == "lemmatizing") > n  # words were counted
    study.close()


def test_report_build_reports_its_stages_with_counts(tmp_path: Path) -> None:
    from qualkit.execution.rules_run import run_rules
    from qualkit.demo import copy_sample_study
    from qualkit.pipeline import run_pipeline
    from qualkit.pipeline.steps import ImportStep
    from qualkit.reports import build_report
    from qualkit.study import Study

    study = Study(copy_sample_study(tmp_path / "sample"))
    run_pipeline(study, steps=[ImportStep()])
    run_rules(study, progress=False)
    calls: list[tuple] = []
    build_report(study, formats=("html", "md"), out=tmp_path / "out", on_progress=lambda *args: calls.append(args))
    stages = list(dict.fromkeys(call[0] for call in calls))
    assert stages[0] == "report: codings and tables" and stages[-1] == "report: rendering"
    assert "report: codes and quotes" in stages and "report: charts" in stages
    codes = [call for call in calls if call[0] == "report: codes and quotes"]
    assert codes[-1][1] == codes[-1][2] > 10 and codes[-1][4] == "codes"
    assert [call[1:3] for call in calls if call[0] == "report: rendering"] == [(1, 2), (2, 2)]
    study.close()
