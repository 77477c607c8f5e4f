"""Validity: per code and pass against a human coder, only on the units that coder coded."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from learned_fixture import learned_study  # noqa: F401  (fixture)
from qualkit.analysis.validity import bootstrap_kappa, measure_validity, verdict
from qualkit.cli import main
from qualkit.errors import InputError
from qualkit.transcripts_schema.model import InterviewMetadata, Participant, Transcript, Turn


def _rows(result):
    return {(row["code_id"], row["pass"]): row for row in result.rows}


def test_verdicts_follow_kappa_and_examples():
    assert verdict(0.61, 20, 8)[0] == "trusted"
    assert verdict(0.6, 20, 8)[0] == "trusted"
    assert verdict(0.5, 20, 8)[0] == "review"
    assert verdict(0.39, 20, 8)[0] == "do not use"
    assert verdict(0.95, 3, 8) == ("do not use", "3 human examples, needs 8")
    assert verdict(float("nan"), 20, 8)[0] == "do not use"


def test_bootstrap_interval_is_seeded_and_brackets_kappa():
    rng = np.random.default_rng(1)
    truth = rng.random(80) < 0.3
    predicted = truth ^ (rng.random(80) < 0.15)
    low, high = bootstrap_kappa(truth, predicted, n=300, seed=4)
    assert (low, high) == bootstrap_kappa(truth, predicted, n=300, seed=4)
    from qualkit.coding.learned.model import binary_metrics

    kappa = binary_metrics(truth, predicted)["kappa"]
    assert low < kappa < high


def test_validity_per_code_and_pass(learned_study):
    result = measure_validity(learned_study, bootstrap=100)
    rows = _rows(result)
    assert result.coders == ["alice"] and result.n_units == 37 and result.folds == 5
    assert "only on the 37 turn units that alice coded" in result.unit_note
    # the learned pass (cross-validated) beats the rules, which only know the phrase "iterate"
    assert rows[("drift", "learned")]["kappa"] > 0.6 and rows[("drift", "learned")]["verdict"] == "trusted"
    assert rows[("drift", "rules")]["predicted"] == 0 and rows[("drift", "rules")]["verdict"] == "do not use"
    assert rows[("velocity", "union")]["recall"] >= rows[("velocity", "rules")]["recall"]
    tooling = rows[("tooling", "learned")]
    assert tooling["n_examples"] == 3 and tooling["verdict"] == "do not use" and "needs 8" in tooling["reason"]
    for row in result.rows:
        if not math.isnan(row["kappa"]):
            assert row["kappa_low"] <= row["kappa"] + 1e-9 and row["kappa"] <= row["kappa_high"] + 1e-9


def test_validity_counts_only_the_coders_units(learned_study):
    before = measure_validity(learned_study, passes=["rules"], bootstrap=50)
    # a new interview nobody coded, full of the rules' phrase: it must not change anything
    learned_study.store.store_transcript(Transcript(
        id="P9", participant=Participant(id="P9"), metadata=InterviewMetadata(language="en"),
        turns=[Turn(speaker="P9", role="participant", text="We iterate and iterate, then iterate again.")] * 1,
    ))
    after = measure_validity(learned_study, passes=["rules"], bootstrap=50)
    assert json.dumps(before.as_dict()["rows"]) == json.dumps(after.as_dict()["rows"]) and after.n_units == 37


def test_validity_is_deterministic_and_checks_input(learned_study):
    first = measure_validity(learned_study, passes=["learned"], bootstrap=50, seed=2)
    second = measure_validity(learned_study, passes=["learned"], bootstrap=50, seed=2)
    assert json.dumps(first.as_dict(), sort_keys=True) == json.dumps(second.as_dict(), sort_keys=True)
    with pytest.raises(InputError):
        measure_validity(learned_study, passes=["magic"])


def test_cli_validity(learned_study):
    runner = CliRunner()
    root = str(learned_study.root)
    out = runner.invoke(main, ["--study", root, "validity", "--bootstrap", "50", "--passes", "rules,learned"])
    assert out.exit_code == 0, out.output
    assert "only on the 37 turn units that alice coded" in out.output
    assert "trusted" in out.output and "do not use (3 human examples, needs 8)" in out.output
    data = json.loads(runner.invoke(main, ["--study", root, "validity", "--json", "--bootstrap", "20", "--passes", "rules"]).output)
    assert data["ok"] and {row["pass"] for row in data["rows"]} == {"rules"}
    assert data["thresholds"] == {"trusted": 0.6, "review": 0.4}
    bad = runner.invoke(main, ["--study", root, "validity", "--coder", "nobody"])
    assert bad.exit_code == 1 and "no human coder 'nobody'" in bad.output
