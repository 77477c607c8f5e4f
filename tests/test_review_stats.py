"""Agreement at a glance: a reviewing coder's decisions on a run's suggestions, per code."""

from __future__ import annotations

import json

import pytest
from analysis_fixture import build_tiny_study
from click.testing import CliRunner

from qualkit.cli import main
from qualkit.errors import InputError, NotFoundError
from qualkit.store import utcnow
from qualkit.workbench.review_stats import review_stats


@pytest.fixture
def tiny(study):
    return build_tiny_study(study)


def _suggestions(study, run_id):
    return study.store.query(
        """SELECT ca.pk, ca.code_id, s.transcript_pk, s.turn_pk, ca.start_char, ca.end_char
           FROM code_applications ca JOIN segments s ON s.pk = ca.segment_pk WHERE ca.run_id = ? ORDER BY ca.pk""",
        (run_id,),
    )


def _decide(study, coder, suggestion, decision, run_id, *, code=None):
    with study.store.transaction() as conn:
        conn.execute(
            """INSERT INTO human_codings (coder, transcript_pk, turn_pk, start_char, end_char, code_id, created_at,
                                          decision, suggestion_pk, suggestion_run_id, origin)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'workbench')""",
            (coder, suggestion["transcript_pk"], suggestion["turn_pk"], suggestion["start_char"], suggestion["end_char"],
             code or suggestion["code_id"], utcnow(), decision, suggestion["pk"], run_id),
        )


@pytest.fixture
def reviewed(tiny):
    """carol reviews five of run 1's nine suggestions (velocity x5, validation x2, debugging x2)."""
    items = _suggestions(tiny.study, tiny.run1)
    by_code = {}
    for item in items:
        by_code.setdefault(item["code_id"], []).append(item)
    v, va, d = by_code["velocity"], by_code["validation"], by_code["debugging"]
    _decide(tiny.study, "carol", v[0], "accepted", tiny.run1)
    _decide(tiny.study, "carol", v[1], "adjusted", tiny.run1)
    _decide(tiny.study, "carol", va[0], "rejected", tiny.run1)
    _decide(tiny.study, "carol", va[1], "replaced", tiny.run1, code="debugging")
    _decide(tiny.study, "carol", d[0], "accepted", tiny.run1)
    # a second decision on the same suggestion counts once, by the latest
    _decide(tiny.study, "carol", v[2], "accepted", tiny.run1)
    _decide(tiny.study, "carol", v[2], "rejected", tiny.run1)
    # another coder's decisions and another run's are not carol's review of run 1
    _decide(tiny.study, "dave", v[3], "rejected", tiny.run1)
    return tiny


def test_counts_and_precision_per_code(reviewed):
    stats = review_stats(reviewed.study, coder="carol", run_id=reviewed.run1)
    rows = {row.code_id: row for row in stats.codes}
    assert [row.code_id for row in stats.codes] == ["velocity", "validation", "debugging"]  # codebook order
    velocity, validation, debugging = rows["velocity"], rows["validation"], rows["debugging"]
    assert (velocity.suggestions, velocity.accepted, velocity.adjusted, velocity.rejected, velocity.pending) == (5, 1, 1, 1, 2)
    assert velocity.precision == pytest.approx(2 / 3) and velocity.strict_precision == pytest.approx(1 / 3)
    assert (validation.rejected, validation.replaced, validation.pending, validation.precision) == (1, 1, 0, 0.0)
    assert validation.replaced_by == {"debugging": 1}
    assert (debugging.accepted, debugging.pending, debugging.precision) == (1, 1, 1.0)
    total = stats.total
    assert (total.suggestions, total.reviewed, total.pending) == (9, 6, 3)
    assert total.precision == pytest.approx(3 / 6)


def test_default_run_is_the_newest_reviewed_and_errors_are_clear(reviewed):
    assert review_stats(reviewed.study, coder="human:carol").run_id == reviewed.run1
    # run 2 repeats some of run 1's suggestions (same code on the same span): carol's decisions on those carry over
    fresh = review_stats(reviewed.study, coder="carol", run_id=reviewed.run2)
    again = {(s["turn_pk"], s["start_char"], s["end_char"], s["code_id"]) for s in _suggestions(reviewed.study, reviewed.run2)}
    decided = reviewed.study.store.query(
        "SELECT DISTINCT suggestion_pk, turn_pk, start_char, end_char, code_id FROM human_codings WHERE coder = 'carol'")
    originals = {row["pk"]: row for row in _suggestions(reviewed.study, reviewed.run1)}
    carried = {key for key in again for row in decided
               if (originals[row["suggestion_pk"]]["turn_pk"], originals[row["suggestion_pk"]]["start_char"],
                   originals[row["suggestion_pk"]]["end_char"], originals[row["suggestion_pk"]]["code_id"]) == key}
    assert 0 < fresh.total.reviewed == len(carried) < fresh.total.suggestions
    newcomer = review_stats(reviewed.study, coder="erin")  # reviewed nothing yet: the latest run, all pending
    assert newcomer.run_id == reviewed.run2 and newcomer.total.reviewed == 0
    with pytest.raises(NotFoundError, match="no run 99"):
        review_stats(reviewed.study, coder="carol", run_id=99)
    with pytest.raises(InputError, match="not a human coder"):
        review_stats(reviewed.study, coder="run:1")


def test_cli_review_stats(reviewed):
    runner = CliRunner()
    root = str(reviewed.study.root)
    result = runner.invoke(main, ["--study", root, "codings", "review-stats", "--coder", "carol"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"Review of run {reviewed.run1} by carol" in result.output
    velocity_line = next(line for line in result.output.splitlines() if line.startswith("velocity"))
    assert velocity_line.split() == ["velocity", "5", "1", "1", "0", "1", "2", "67%"]
    assert "replaced by debugging (1)" in result.output
    data = json.loads(runner.invoke(main, ["--study", root, "codings", "review-stats", "--coder", "carol", "--json"]).output)
    assert data["total"]["reviewed"] == 6 and data["codes"][1]["replaced_by"] == {"debugging": 1}
    bad = runner.invoke(main, ["--study", root, "codings", "review-stats", "--coder", "carol", "--run", "99"])
    assert bad.exit_code == 1 and "no run 99" in bad.output


def test_a_study_without_runs_has_nothing_to_review(study):
    build_tiny_study(study, runs=False)
    with pytest.raises(NotFoundError, match="no rules run"):
        review_stats(study, coder="carol")


def test_cli_coder_defaults_to_qualkit_coder(reviewed, monkeypatch):
    monkeypatch.setenv("QUALKIT_CODER", "carol")
    result = CliRunner().invoke(main, ["--study", str(reviewed.study.root), "codings", "review-stats"], catch_exceptions=False)
    assert f"Review of run {reviewed.run1} by carol" in result.output
