"""The report's trust table, marks on codes below the bar, and exemplars chosen by evidence."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from learned_fixture import make_learned_study
from qualkit.analysis import tables
from qualkit.coding.learned import run_learned
from qualkit.execution.rules_run import run_rules
from qualkit.reports import build_report
from qualkit.reports.build import build_context


@pytest.fixture
def coded_study(tmp_path: Path):
    study = make_learned_study(tmp_path / "study")
    run_rules(study, progress=False)
    yield study
    study.close()


def test_rules_report_has_a_trust_table_and_marks(coded_study):
    context = build_context(coded_study)
    trust = context.trust
    assert trust is not None and trust.pass_name == "rules" and trust.coders == "human:alice"
    assert "only on the 37 turn units that alice coded" in trust.unit_note
    verdicts = {row.code_id: row for row in trust.rows}
    # the rules know one velocity phrase only: far below the bar; tooling has 3 human examples
    assert verdicts["velocity"].verdict == "do not use" and verdicts["velocity"].below_bar
    assert verdicts["tooling"].reason.startswith("3 human examples")
    assert [entry.anchor for entry in context.toc][:2] == ["summary", "trust"]
    velocity = next(code for theme in context.themes for code in theme.codes if code.id == "velocity")
    assert velocity.trust == "do not use" and velocity.quotes and all(q.untrusted for q in velocity.quotes)
    assert next(row for row in context.frequency if row.code_id == "velocity").trust == "do not use"
    assert next(entry for entry in context.codebook if entry.id == "velocity").trust == "do not use"
    assert any("below the validity bar" in note for note in context.notes)


def test_learned_report_trusts_what_cross_validation_supports(coded_study, tmp_path):
    run_id = run_learned(coded_study).run_id
    context = build_context(coded_study, coder=f"run:{run_id}")
    verdicts = {row.code_id: row.verdict for row in context.trust.rows}
    assert context.trust.pass_name == "learned" and verdicts["drift"] == "trusted"
    drift = next(code for theme in context.themes for code in theme.codes if code.id == "drift")
    assert drift.quotes and not any(q.untrusted for q in drift.quotes)
    assert all("score" in q.evidence for q in drift.quotes)
    files = build_report(coded_study, coder=f"run:{run_id}", formats=("html", "md"), out=tmp_path / "out")
    html = next(Path(f) for f in files if str(f).endswith(".html")).read_text(encoding="utf-8")
    md = next(Path(f) for f in files if str(f).endswith(".md")).read_text(encoding="utf-8")
    for text in (html, md):
        assert "How far to trust each code" in text and "3 human examples, needs 8" in text
        summary = f"{context.trust.n_trusted} code(s) trusted, {context.trust.n_below} below the bar"
        assert summary in text and "Not measured" not in text
    assert md.index("How far to trust each code") < md.index("## Participants")


def test_no_human_codings_no_trust_table(tmp_path):
    study = make_learned_study(tmp_path / "study", codings=False)
    try:
        run_rules(study, progress=False)
        context = build_context(study)
        assert context.trust is None and all(code.trust == "" for theme in context.themes for code in theme.codes)
        reports = [p for p in build_report(study, formats=("html", "md"), out=tmp_path / "out") if str(p).endswith((".html", ".md"))]
        assert len(reports) == 2
        for path in reports:
            text = Path(path).read_text(encoding="utf-8")  # the summary says validity was not measured
            assert "Not measured: no human coding to measure this run against" in text
            assert "How far to trust each code" not in text
    finally:
        study.close()


def test_exemplars_prefer_agreeing_signals_over_a_higher_score():
    rows = pd.DataFrame({
        "segment_pk": [1, 2, 3], "transcript_id": ["P1", "P2", "P3"], "participant_id": ["P1", "P2", "P3"],
        "turn_idx": [1, 1, 1], "code_id": ["c", "c", "c"], "start_char": [0, 0, 0], "end_char": [5, 5, 5],
        "text": ["one two three"] * 3, "score": [3.0, 1.0, 2.0], "segment_start": [0, 0, 0], "signals": [1, 3, 2],
    })
    chosen = tables.exemplar_quotes(rows, "c", n=3)
    assert list(chosen["segment_pk"]) == [2, 3, 1] and list(chosen["signals"]) == [3, 2, 1]
    plain = tables.exemplar_quotes(rows.drop(columns="signals"), "c", n=3)
    assert list(plain["segment_pk"]) == [1, 3, 2]  # without signals: the strongest score first
