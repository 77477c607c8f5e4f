"""The workbench defaults to the run reports use: the latest rules run of the study's declared codebook."""

from __future__ import annotations

import pytest

from qualkit.analysis.codings import declared_codebook_hash, latest_rules_run
from qualkit.workbench import list_transcripts, transcript_view
from qualkit.workbench.review_stats import review_stats
from qualkit.workbench.review import review_run
from workbench_fixture import build_workbench_study


@pytest.fixture
def one_off(study):
    """The tiny study whose two runs used the declared codebook, then a newer one-off run of another codebook."""
    tiny = build_workbench_study(study)
    declared = declared_codebook_hash(study)
    assert declared is not None
    with study.store.transaction() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO codebooks (hash, name, resolved, created_at) SELECT ?, name, resolved, created_at FROM codebooks WHERE hash = ?",
            (declared, tiny.codebook_hash),
        )
        conn.execute("UPDATE runs SET codebook_hash = ? WHERE id IN (?, ?)", (declared, tiny.run1, tiny.run2))
        resolved = '{"name": "other", "codes": [{"id": "cron", "label": "Cron", "definition": "Scheduling by cron."}]}'
        conn.execute("INSERT INTO codebooks (hash, name, resolved, created_at) VALUES ('other', 'other', ?, '2026-02-04')", (resolved,))
        cursor = conn.execute(
            "INSERT INTO runs (kind, status, parameters, codebook_hash, qualkit_version, started_at, finished_at) "
            "VALUES ('rules', 'ok', '{\"unit\": \"turn\"}', 'other', '0.1.0', '2026-02-04', '2026-02-04')"
        )
        other = int(cursor.lastrowid)
        segment = conn.execute(
            "SELECT s.pk FROM segments s JOIN transcripts t ON t.pk = s.transcript_pk WHERE t.id = 'P1' ORDER BY s.pk LIMIT 1"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO code_applications (run_id, segment_pk, code_id, start_char, end_char, matched_text, rule, score) "
            "VALUES (?, ?, 'cron', 0, 4, 'xxxx', 'cron#phrase:0', 1.0)", (other, segment),
        )
    assert study.store.latest_run("rules")["id"] == other  # the one-off run is the newest
    return tiny, other


def test_review_queue_stats_and_transcripts_default_to_the_declared_codebooks_run(study, one_off):
    tiny, other = one_off
    assert latest_rules_run(study)["id"] == tiny.run2
    assert review_run(study) == tiny.run2
    assert review_stats(study, coder="reviewer").run_id == tiny.run2
    assert {row["run_id"] for row in list_transcripts(study)} == {tiny.run2}
    view = transcript_view(study, "P1")
    assert view.run_id == tiny.run2
    assert "cron" not in {mark.code_id for turn in view.turns for mark in turn.marks}
    # the one-off run is still there to choose by name
    chosen = transcript_view(study, "P1", run=other)
    assert "cron" in {mark.code_id for turn in chosen.turns for mark in turn.marks}
    assert review_run(study, other) == other
