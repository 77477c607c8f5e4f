"""Mutually exclusive codes learned by one multinomial model (coding/learned/group.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from learned_fixture import PARTICIPANTS, make_learned_study, turn_plan
from qualkit.coding.learned import run_learned
from qualkit.coding.learned.group import MIN_GROUP_POSITIVES, exclusive_group
from qualkit.coding.learned.model import MIN_POSITIVES, fit_learned
from qualkit.interop.codings import import_codings

TOPICS = {
    "cats": ["the cat sat on the mat {i}", "my cat chases mice at night {i}", "a kitten purrs on the sofa {i}"],
    "stocks": ["stock prices fell on day {i}", "the market rallied and shares rose {i}", "investors sold bonds and stock {i}"],
    "rain": ["heavy rain flooded the street {i}", "it rained all week, umbrellas everywhere {i}", "storm clouds and rain again {i}"],
}


def _corpus(counts: dict[str, int]) -> tuple[list[str], dict[str, np.ndarray]]:
    """Single-label texts: ``counts[topic]`` texts per topic, labels 1/0 (every unit decided)."""
    texts, topics = [], []
    for topic, n in counts.items():
        for i in range(n):
            texts.append(TOPICS[topic][i % 3].format(i=i))
            topics.append(topic)
    return texts, {topic: np.array([t == topic for t in topics], dtype=np.int8) for topic in counts}


def test_exclusive_group_is_detected_from_the_labels_alone():
    texts, labels = _corpus({"cats": 10, "stocks": 10, "rain": 4})
    # Every unit carries one code: a group only where every unit to be coded is coded too ...
    assert exclusive_group(labels) is None
    codes, rows = exclusive_group(labels, require_none=False)
    assert codes == ["cats", "rain", "stocks"] and len(rows) == len(texts)
    # ... or where units decided to carry none of them teach the model that "none" is an answer.
    with_none = {code: np.concatenate([vector, np.zeros(5, dtype=np.int8)]) for code, vector in labels.items()}
    codes_none, rows_none = exclusive_group(with_none)
    assert codes_none == codes and len(rows_none) == len(texts) + 5
    shared = dict(labels)
    shared["rain"] = labels["rain"].copy()
    shared["rain"][:2] = 1  # two cat units also coded rain: 2 of 24 units carry two codes (> 2%)
    assert exclusive_group(shared, require_none=False) is None
    undecided = {code: vector.copy() for code, vector in labels.items()}
    undecided["stocks"][:5] = -1  # 5 of 24 units say nothing about stocks (> 10%)
    assert exclusive_group(undecided, require_none=False) is None
    assert exclusive_group({"cats": labels["cats"]}) is None  # one code is no group


def test_a_group_applies_a_code_with_few_examples_and_says_so():
    texts, labels = _corpus({"cats": 12, "stocks": 12, "rain": 4})
    assert 4 < MIN_POSITIVES and 4 >= MIN_GROUP_POSITIVES
    models = fit_learned(texts, labels, seed=1, every_unit_coded=True)
    assert set(models.models) == {"cats", "rain", "stocks"}
    assert any(note.startswith("rain: only 4 human examples (fewer than 8)") for note in models.notes)
    group = models.parameters["exclusive_groups"][0]
    assert group["codes"] == ["cats", "rain", "stocks"] and group["none_class"] is False
    assert models.models["rain"].summary()["few_examples"] is True
    new = ["rain and a storm flooded the street", "my kitten sat on the mat", "shares and stock fell"]
    scores = models.predict(new)
    decisions = models.decide(scores)
    assert [code for code in sorted(decisions) if decisions[code][0]] == ["rain"]
    assert decisions["cats"][1] and decisions["stocks"][2]
    for code, values in scores.items():
        assert np.all((values >= 0) & (values <= 1))
    # Without the group, the same code has too few examples and says so.
    per_code = fit_learned(texts, labels, seed=1, exclusive=False)
    assert "rain" not in per_code.models
    assert [s.reason for s in per_code.skipped] == ["rain: 4 human examples, needs 8"]
    assert "exclusive_groups" not in per_code.parameters and per_code.parameters["exclusive"] is False


def test_group_codes_below_the_group_minimum_are_named_and_at_most_one_code_applies():
    texts, labels = _corpus({"cats": 12, "stocks": 12, "rain": 2})
    models = fit_learned(texts, labels, seed=0, every_unit_coded=True)
    assert [s.reason for s in models.skipped] == [
        f"rain: 2 human examples, needs {MIN_GROUP_POSITIVES} (in its group of mutually exclusive codes)"]
    decisions = models.decide(models.predict(texts + ["nothing about anything"]))
    grouped = [code for code, model in models.models.items() if model.summary().get("model", "").startswith("exclusive")]
    assert sorted(grouped) == ["cats", "stocks"]  # else the sum below is over nothing and cannot fail
    applied = np.sum([decisions[code] for code in grouped], axis=0)
    assert applied.max() <= 1


def test_group_fits_are_deterministic():
    texts, labels = _corpus({"cats": 9, "stocks": 11, "rain": 5})
    first, second = fit_learned(texts, labels, seed=3, every_unit_coded=True), fit_learned(texts, labels, seed=3, every_unit_coded=True)
    assert first.parameters["exclusive_groups"]
    probe = ["a cat and a storm", "rain on the market"]
    for code in first.models:
        assert np.array_equal(first.predict(probe)[code], second.predict(probe)[code])
        assert first.models[code].threshold == second.models[code].threshold
    assert first.parameters == second.parameters


def _exclusive_study(tmp_path: Path, *, everything: bool):
    """The tiny study with alice coding each theme turn with exactly one code: of P1-P3 only, or
    (``everything``) every participant turn of every transcript, the "other" turns as tooling."""
    study = make_learned_study(tmp_path / "study", codings=False)
    lines = ["transcript,turn,code"]
    for pid in (PARTICIPANTS if everything else ("P1", "P2", "P3")):
        for i, (theme, _) in enumerate(turn_plan(pid)):
            if theme != "other" or everything:
                lines.append(f"{pid},{2 * i + 2},{theme if theme != 'other' else 'tooling'}")
    path = tmp_path / "alice.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_codings(study, path, coder="alice")
    return study


@pytest.fixture
def exclusive_study(tmp_path: Path):
    study = _exclusive_study(tmp_path, everything=True)
    yield study
    study.close()


def test_a_partly_coded_study_with_no_none_units_forms_no_group(tmp_path: Path):
    """alice coded only passages (every decided unit has a code): a group model would give one of
    its codes to every segment of the study, so the codes keep their own yes/no models."""
    study = _exclusive_study(tmp_path, everything=False)
    try:
        summary = run_learned(study)
        parameters = json.loads(study.store.run(summary.run_id)["parameters"])
        assert parameters["model"]["every_unit_coded"] is False
        assert "exclusive_groups" not in parameters["model"]
        assert summary.codes_learned == ["drift", "validation", "velocity"]
    finally:
        study.close()


def test_run_records_the_group_and_applies_one_code_per_segment(exclusive_study):
    summary = run_learned(exclusive_study)
    assert summary.codes_learned == ["drift", "tooling", "validation", "velocity"]
    run = exclusive_study.store.run(summary.run_id)
    parameters = json.loads(run["parameters"])
    assert parameters["model"]["every_unit_coded"] is True
    assert parameters["model"]["exclusive_groups"][0]["codes"] == ["drift", "tooling", "validation", "velocity"]
    assert "multinomial" in parameters["model"]["group_classifier"]
    choice = parameters["model"]["exclusive_groups"][0]["model_per_code"]
    grouped = sorted(code for code, model in choice.items() if model == "group")
    assert set(choice) == {"drift", "tooling", "validation", "velocity"} and grouped  # the group model won somewhere
    marks = ",".join("?" for _ in grouped)
    rows = exclusive_study.store.query(
        f"SELECT segment_pk, COUNT(*) AS n FROM code_applications WHERE run_id = ? AND code_id IN ({marks}) GROUP BY segment_pk",
        (summary.run_id, *grouped))
    assert rows and max(row["n"] for row in rows) == 1  # codes of the group model: at most one per segment
    again = run_learned(exclusive_study)
    assert again.training_hash == summary.training_hash and again.code_counts == summary.code_counts
