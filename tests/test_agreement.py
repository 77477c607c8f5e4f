"""Agreement metrics against the literature's worked examples, and compare_coders on a tiny study."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from _interop_fixtures import add_rules_run, make_study, write
from qualkit.analysis.agreement import (
    cohen_kappa,
    compare_coders,
    krippendorff_alpha,
    percent_agreement,
    precision_recall_f1,
)
from qualkit.cli import main
from qualkit.errors import InputError, NotFoundError
from qualkit.interop.codings import import_codings

N = None
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
# 12 units, values 1..5, with missing data. Published: nominal 0.743, interval 0.849.
KRIPPENDORFF_C = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]
# Section A: binary data, two observers, no missing data. Published: alpha = 0.095.
KRIPPENDORFF_A = [
    [0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
    [1, 1, 1, 0, 0, 1, 0, 0, 0, 0],
]


def test_alpha_matches_krippendorffs_worked_examples():
    assert round(krippendorff_alpha(KRIPPENDORFF_C), 3) == 0.743
    assert round(krippendorff_alpha(KRIPPENDORFF_C, level="interval"), 3) == 0.849
    assert round(krippendorff_alpha(KRIPPENDORFF_A), 3) == 0.095


def test_alpha_edge_cases():
    assert krippendorff_alpha([[1, 1, 2], [1, 1, 2]]) == 1.0
    assert math.isnan(krippendorff_alpha([[1, 1], [1, 1]]))  # no variation: undefined
    assert math.isnan(krippendorff_alpha([[1, N], [N, 2]]))  # nothing pairable
    with pytest.raises(InputError):
        krippendorff_alpha([[1, 2], [1]])


def test_kappa_textbook_example():
    # The classic 2x2 example (50 proposals, two readers): yes/yes 20, yes/no 5, no/yes 10, no/no 15.
    # p_o = 0.70, p_e = 0.50, kappa = 0.40.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert percent_agreement(a, b) == pytest.approx(0.70)
    assert cohen_kappa(a, b) == pytest.approx(0.40)


def test_kappa_agrees_with_scikit_learn_on_random_data():
    from sklearn.metrics import cohen_kappa_score

    rng = random.Random(7)
    for _ in range(5):
        a = [rng.choice("abc") for _ in range(60)]
        b = [x if rng.random() < 0.6 else rng.choice("abc") for x in a]
        assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))


def test_kappa_undefined_and_precision_recall():
    assert math.isnan(cohen_kappa([True, True], [True, True]))
    p, r, f1 = precision_recall_f1([True, True, False, False], [True, False, True, False])
    assert (p, r, f1) == (0.5, 0.5, 0.5)
    p, r, f1 = precision_recall_f1([False, False], [False, False])
    assert math.isnan(p) and math.isnan(r) and math.isnan(f1)


@pytest.fixture
def coded(tmp_path: Path):
    """P1/P2 with human coder alice and a rules run (whole-turn codings)."""
    study = make_study(tmp_path / "study")
    write(
        tmp_path / "alice.csv",
        "transcript,turn,code\n"
        "P1,2,velocity\n"   # run agrees
        "P1,4,drift\n"      # run agrees
        "P2,2,drift\n"      # run misses
        "P2,3,validation\n",  # run says velocity instead
    )
    import_codings(study, tmp_path / "alice.csv", coder="alice")
    run_id = add_rules_run(study, [("P1", 1, "velocity"), ("P1", 3, "drift"), ("P2", 2, "velocity"), ("P2", 3, "velocity")])
    yield study, run_id
    study.close()


def test_compare_coders_per_code_overall_and_disagreements(coded):
    study, run_id = coded
    result = compare_coders(study, "human:alice", f"run:{run_id}", unit="turn", uncoded_sample=0, scope="either")
    # coded turns: P1#1, P1#3, P2#1, P2#2, P2#3 -> 5 units, no uncoded sample
    assert result.overall["n_units"] == 5 and result.overall["n_uncoded_sampled"] == 0
    per = result.per_code.set_index("code_id")
    assert list(per.index) == ["drift", "validation", "velocity"]
    # drift: A = {P1#3, P2#1}, B = {P1#3}
    assert per.loc["drift", "a_count"] == 2 and per.loc["drift", "b_count"] == 1
    assert per.loc["drift", "percent_agreement"] == pytest.approx(4 / 5)
    assert per.loc["drift", "precision"] == 1.0 and per.loc["drift", "recall"] == 0.5
    assert per.loc["drift", "kappa"] == pytest.approx(cohen_kappa([0, 1, 1, 0, 0], [0, 1, 0, 0, 0]))
    assert per.loc["drift", "alpha"] == pytest.approx(krippendorff_alpha([[0, 1, 1, 0, 0], [0, 1, 0, 0, 0]]))
    # velocity: A = {P1#1}, B = {P1#1, P2#2, P2#3}
    assert per.loc["velocity", "precision"] == pytest.approx(1 / 3) and per.loc["velocity", "recall"] == 1.0
    assert result.overall["n_decisions"] == 15
    # 4 disagreements: drift P2#1 (A only), validation P2#3 (A only), velocity P2#2 and P2#3 (B only)
    d = result.disagreements
    assert len(d) == 4
    assert set(zip(d["code_id"], d["coder_a"], d["coder_b"])) == {
        ("drift", True, False), ("validation", True, False), ("velocity", False, True),
    }
    assert "Validation takes forever here." in set(d["text"])
    assert "5" in result.unit_note and "seed 0" in result.unit_note


def test_uncoded_sample_is_seeded_and_limited(coded):
    study, run_id = coded
    # participant turns nobody coded: P1#4 ("Lunch was nice.") and none in P2 -> 1 available
    first = compare_coders(study, "human:alice", f"run:{run_id}", unit="turn", uncoded_sample=1.0, seed=3, scope="either")
    again = compare_coders(study, "human:alice", f"run:{run_id}", unit="turn", uncoded_sample=1.0, seed=3, scope="either")
    assert first.overall["n_uncoded_available"] == 1 and first.overall["n_uncoded_sampled"] == 1
    assert first.overall["n_units"] == 6
    assert first.per_code.equals(again.per_code)
    # the interviewer's turns are never sampled
    assert first.overall["n_units"] < 9


def test_codes_option_limits_the_comparison(coded):
    study, run_id = coded
    result = compare_coders(study, "human:alice", f"run:{run_id}", unit="turn", codes=["drift"], uncoded_sample=0,
                            scope="either")
    assert list(result.per_code["code_id"]) == ["drift"]
    assert result.overall["n_units"] == 2  # only units coded with drift
    with pytest.raises(NotFoundError, match="unknown code 'unused'"):  # a code no codebook or coding knows: a typo
        compare_coders(study, "human:alice", f"run:{run_id}", unit="turn", codes=["drift", "unused"], scope="either")


def test_cli_agree_json_and_text(coded):
    study, run_id = coded
    runner = CliRunner()
    out = runner.invoke(main, ["--study", str(study.root), "agree", "human:alice", f"run:{run_id}", "--unit", "turn", "--scope", "either", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["overall"]["n_codes"] == 3 and data["n_disagreements"] == 4
    assert {row["code_id"] for row in data["per_code"]} == {"drift", "validation", "velocity"}
    text = runner.invoke(main, ["--study", str(study.root), "agree", "human:alice", f"run:{run_id}", "--unit", "turn", "--scope", "either"])
    assert text.exit_code == 0 and "kappa" in text.output and "Validation takes forever" in text.output
    bad = runner.invoke(main, ["--study", str(study.root), "agree", "human:alice", "human:nobody"])
    assert bad.exit_code == 1 and "nobody" in bad.output


def test_default_scope_is_the_human_coders_units(coded):
    """A run is judged only where the human coded: P2's last turn, which alice never coded, does not count."""
    study, run_id = coded
    result = compare_coders(study, "human:alice", f"run:{run_id}", unit="turn")
    assert result.scope == "coded-by-a" and "only the 4 turn segments that human:alice coded" in result.unit_note
    assert result.overall["n_units"] == 4 and result.overall["n_uncoded_sampled"] == 0
    per = result.per_code.set_index("code_id")
    assert per.loc["velocity", "b_count"] == 2  # P1#1 and P2#2; the run's P2#3 is out of scope
    swapped = compare_coders(study, f"run:{run_id}", "human:alice", unit="turn")
    assert swapped.scope == "coded-by-b" and swapped.overall["n_units"] == 4
    everything = compare_coders(study, "human:alice", f"run:{run_id}", unit="turn", scope="all")
    assert everything.overall["n_units"] == 6  # every participant turn of P1 and P2
    with pytest.raises(InputError):
        compare_coders(study, "human:alice", f"run:{run_id}", scope="mine")


def test_cli_agree_states_the_scope(coded):
    study, run_id = coded
    out = CliRunner().invoke(main, ["--study", str(study.root), "agree", "human:alice", f"run:{run_id}", "--unit", "turn"])
    assert out.exit_code == 0, out.output
    assert "scope coded-by-a" in out.output and "that human:alice coded" in out.output
    from qualkit.analysis.agreement import SCOPES
    from qualkit.cli.agree import SCOPES as CLI_SCOPES

    assert SCOPES == CLI_SCOPES
