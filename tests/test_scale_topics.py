"""Topics at scale: fit on a seeded sample, every segment assigned, reproducible, cost recorded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("bertopic")

from qualkit.coding.topics.model import TopicParameters, participant_segments  # noqa: E402
from qualkit.coding.topics.scale import CentroidAssigner, fit_topics_sampled, seeded_sample  # noqa: E402
from qualkit.study import Study  # noqa: E402
from qualkit.transcripts_schema import import_files  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "qualkit" / "sample_study"


def test_seeded_sample_is_reproducible_sorted_and_complete_when_small() -> None:
    first = seeded_sample(1000, 50, seed=7)
    assert np.array_equal(first, seeded_sample(1000, 50, seed=7))
    assert not np.array_equal(first, seeded_sample(1000, 50, seed=8))
    assert len(set(first.tolist())) == 50 and np.all(np.diff(first) > 0)
    assert np.array_equal(seeded_sample(30, 50, seed=7), np.arange(30))


def test_centroid_assigner_reproduces_clear_clusters_and_flags_far_points() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 5.0]])
    points = np.vstack([centre + rng.normal(0, 0.3, (20, 3)) for centre in centres])
    labels = np.repeat([0, 1, 2], 20)
    assigner = CentroidAssigner(points, labels)
    topics, scores = assigner.assign(points)
    assert np.array_equal(topics, labels) and np.all((scores > 0) & (scores <= 1))
    with_outliers = labels.copy()
    with_outliers[:2] = -1
    flagged, _ = CentroidAssigner(points, with_outliers).assign(np.array([[0.0, 0.0, 0.0], centres[1]]))
    assert flagged.tolist() == [-1, 1]  # the origin is far from every centre


@pytest.mark.slow
def test_fit_on_a_sample_assigns_every_segment(tmp_path: Path) -> None:
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root)
    study = Study(root)
    try:
        import_files(study)
        params = TopicParameters(embedding="tfidf", seed=3, unit="sentence", min_topic_size=3)
        segments = participant_segments(study, "sentence")
        size = len(segments) // 2
        summary = fit_topics_sampled(study, params, sample_size=size)
        assert summary.status == "ok" and summary.n_segments == len(segments)
        rows = study.store.query("SELECT segment_pk, topic FROM segment_topics WHERE run_id = ?", (summary.run_id,))
        assert sorted(row["segment_pk"] for row in rows) == sorted(segment["pk"] for segment in segments)
        sizes = study.store.query("SELECT SUM(size) AS n FROM topics WHERE run_id = ?", (summary.run_id,))[0]["n"]
        assert sizes == len(segments)
        manifest = json.loads(study.store.run(summary.run_id)["manifest"])
        assert manifest["sample"]["size"] == size and manifest["sample"]["of"] == len(segments)
        assert manifest["sample"]["agreement_on_sample"] >= 0.9  # the approximation's cost, measured
        again = fit_topics_sampled(study, TopicParameters(embedding="tfidf", seed=3, unit="sentence", min_topic_size=3), sample_size=size)
        rows_again = study.store.query("SELECT segment_pk, topic FROM segment_topics WHERE run_id = ?", (again.run_id,))
        assert sorted(map(tuple, rows_again)) == sorted(map(tuple, rows))  # same seed, same result
    finally:
        study.close()
