"""The bundled default codebook (``codebook/data/default.yaml``): structure, lint, and behaviour.

The probe sentences are invented, written the way ML engineers talk in interviews. Each positive
probe must get its code from the rules pass; each negative probe is an everyday use of a word a
rule relies on, and must not get the code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from qualkit.codebook import load_codebook
from qualkit.codebook.lint import lint_codebook
from qualkit.coding.rules import RuleCoder

DEFAULT = Path(__file__).resolve().parents[1] / "src" / "qualkit" / "codebook" / "data" / "default.yaml"
SAMPLE = Path(__file__).resolve().parents[1] / "src" / "qualkit" / "sample_study" / "transcripts"

#: The tree the report's theme sections rely on: code id -> parent id (None: a root).
EXPECTED_PARENTS = {
    "three-vs": None,
    "velocity": "three-vs",
    "validation": "three-vs",
    "versioning": "three-vs",
    "mlops-stages": None,
    "data-collection-labeling": "mlops-stages",
    "experimentation": "mlops-stages",
    "evaluation-deployment": "mlops-stages",
    "monitoring-response": "mlops-stages",
    "practices": None,
    "ideas-from-collaborators": "practices-experimentation",
    "iterate-on-data": "practices-experimentation",
    "diminishing-returns": "practices-experimentation",
    "small-config-changes": "practices-experimentation",
    "dynamic-validation-sets": "practices-evaluation",
    "standardized-validation": "practices-evaluation",
    "staged-deployment": "practices-evaluation",
    "product-metrics": "practices-evaluation",
    "frequent-retraining": "practices-sustaining",
    "fallback-models": "practices-sustaining",
    "heuristic-layers": "practices-sustaining",
    "data-validation": "practices-sustaining",
    "keep-it-simple": "practices-sustaining",
    "on-call-and-bug-queues": "practices-sustaining",
    "pain-points": None,
    "dev-prod-mismatch": "pain-points",
    "data-leakage": "dev-prod-mismatch",
    "notebooks": "dev-prod-mismatch",
    "code-quality": "dev-prod-mismatch",
    "data-errors": "pain-points",
    "alert-fatigue": "data-errors",
    "feedback-delays": "data-errors",
    "natural-drift": "data-errors",
    "unnatural-drift": "data-errors",
    "pipeline-bugs": "pain-points",
    "slow-deployments": "pain-points",
    "anti-patterns": None,
    "industry-classroom-mismatch": "anti-patterns",
    "keeping-gpus-warm": "anti-patterns",
    "retrofitting-explanations": "anti-patterns",
    "tribal-knowledge": "anti-patterns",
    "tool-stack": None,
    "run-layer": "tool-stack",
    "pipeline-layer": "tool-stack",
    "component-layer": "tool-stack",
    "infrastructure-layer": "tool-stack",
}

POSITIVE = [
    ("velocity", "Honestly we can go from idea to a trained model in an afternoon now."),
    ("validation", "The whole point is to catch problems early, before customers see anything."),
    ("versioning", "Every model we ship is versioned, with the data snapshot it was trained on."),
    ("data-collection-labeling", "We send a few thousand examples a week to our labeling vendor."),
    ("experimentation", "Most of my week is feature engineering and a bit of hyperparameter tuning."),
    ("evaluation-deployment", "It has to beat the current model on the holdout before we deploy it."),
    ("monitoring-response", "I check the dashboard every morning for anything weird."),
    ("ideas-from-collaborators", "The best idea we had came from a domain expert in our Slack channel."),
    ("iterate-on-data", "We kept the model fixed and just added a new feature for refund history."),
    ("diminishing-returns", "The offline gains shrink at every stage, so we killed that idea early."),
    ("small-config-changes", "Most experiments are a one-line change in a YAML config."),
    ("dynamic-validation-sets", "Every production failure gets added to the eval set the same week."),
    ("standardized-validation", "Now there is one standard eval script and it gates every merge."),
    ("staged-deployment", "It ran in shadow mode for two weeks, then went to 1% of traffic."),
    ("product-metrics", "Nobody cares about recall if the click-through rate goes down."),
    ("frequent-retraining", "We retrain every week on the latest data."),
    ("frequent-retraining", "The ranker gets trained every 6 hours by a scheduled job."),
    ("fallback-models", "When the new one misbehaved we just rolled it back to the previous version."),
    ("heuristic-layers", "There is a blocklist and a confidence threshold on top of the model."),
    ("data-validation", "Every feature has a null rate check and column bounds."),
    ("keep-it-simple", "We keep it simple, a gradient boosted tree with default hyperparameters."),
    ("on-call-and-bug-queues", "I got paged at 3am during my on-call week and wrote a postmortem."),
    ("dev-prod-mismatch", "It worked fine offline and then there was train-serve skew in production."),
    ("data-leakage", "The offline number was too good to be true, it was target leakage."),
    ("notebooks", "It worked in my Jupyter notebook but the scheduled job did something else."),
    ("code-quality", "Code review is basically a rubber stamp, there are no unit tests."),
    ("data-errors", "Somebody swapped two columns in the export, classic bad data."),
    ("alert-fatigue", "We had so many false alarms that people started to ignore the alerts."),
    ("feedback-delays", "The labels come in months later, so we only know how we did next quarter."),
    ("natural-drift", "There is strong seasonality, every holiday season the data drifts."),
    ("unnatural-drift", "An upstream team did a schema change and the feed broke overnight."),
    ("pipeline-bugs", "It was a silent bug, somebody forgot to set the random seed."),
    ("slicing-and-dicing", "We sliced the metrics by region and one country was at zero."),
    ("debugging-paranoia", "After that incident I'm honestly paranoid, I never trust the numbers."),
    ("slow-deployments", "The whole release process takes forever, it took six months to launch."),
    ("industry-classroom-mismatch", "In grad school the dataset never changed; in industry it changes every week."),
    ("keeping-gpus-warm", "People launch a giant grid search just to keep the GPUs busy."),
    ("retrofitting-explanations", "We ship what works and come up with a nice story after the fact."),
    ("tribal-knowledge", "Nobody knows how it works, the person who wrote it left the company."),
    ("run-layer", "Every run gets logged to MLflow or Weights and Biases."),
    ("pipeline-layer", "The whole thing is an Airflow DAG that runs nightly."),
    ("component-layer", "The training step is PyTorch and the features are computed in Spark."),
    ("infrastructure-layer", "Everything runs in Docker on Kubernetes in AWS."),
]

NEGATIVE = [
    ("industry-classroom-mismatch", "Of course we looked at that first."),
    ("infrastructure-layer", "For instance, the holdout was too small."),
    ("data-leakage", "The service had a memory leak, so it kept restarting."),
    ("feedback-delays", "We use lag features and calendar features in the forecast."),
    ("staged-deployment", "At this stage of the project we were still exploring."),
    ("slicing-and-dicing", "It went to a small slice of traffic first."),
    ("evaluation-deployment", "I launched a training run over the weekend."),
    ("pipeline-bugs", "We got seed funding last year."),
]


@pytest.fixture(scope="module")
def coder() -> RuleCoder:
    return RuleCoder(load_codebook("default"))


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(DEFAULT.read_text(encoding="utf-8"))


def _codes_of(coder: RuleCoder, text: str) -> set[str]:
    return {match.code_id for match in coder.code_text(text)}


def test_default_codebook_lints_clean() -> None:
    problems = lint_codebook("default")
    assert [f"{p.severity}: {p.message}" for p in problems] == []


def test_default_codebook_header(raw: dict) -> None:
    assert raw["name"] == "mlops-interview-study"
    assert raw["version"] == "1.0"
    assert "2209.09125" in raw["description"] and "Shankar" in raw["description"]


def test_default_codebook_has_the_papers_tree() -> None:
    codebook = load_codebook("default")
    for code_id, parent in EXPECTED_PARENTS.items():
        assert code_id in codebook, code_id
        assert codebook.get(code_id).parent == parent, code_id
    assert set(codebook.roots()) == {k for k, v in EXPECTED_PARENTS.items() if v is None}


def test_every_code_is_documented(raw: dict) -> None:
    parents = {code.get("parent") for code in raw["codes"]}
    for code in raw["codes"]:
        assert re.search(r"\(§[0-9](\.[0-9]+)*", code["definition"]), code["id"]
        assert code.get("inclusion") and code.get("exclusion"), code["id"]
        if code["id"] not in parents:  # a leaf: the codes the rules pass applies
            assert len(code.get("examples") or []) >= 2, code["id"]
            rules = code.get("rules") or {}
            assert rules.get("phrases") or rules.get("patterns"), code["id"]


def test_rules_are_rich(raw: dict) -> None:
    phrases = sum(len((code.get("rules") or {}).get("phrases") or []) for code in raw["codes"])
    patterns = sum(len((code.get("rules") or {}).get("patterns") or []) for code in raw["codes"])
    assert phrases >= 400 and patterns >= 20


def test_leaves_out_the_theme_left_for_the_topic_model() -> None:
    # The sample study plants a theme (privacy and regulation) for the topic model to discover;
    # the codebook must not encode it anywhere, rules or prose.
    text = DEFAULT.read_text(encoding="utf-8").lower()
    for word in ("privacy", "gdpr", "pii", "consent", "complian", "audit", "regulat", "legal", "retention"):
        assert word not in text, word


@pytest.mark.parametrize(("code_id", "text"), POSITIVE, ids=[f"{c}-{i}" for i, (c, _) in enumerate(POSITIVE)])
def test_probe_sentence_gets_its_code(coder: RuleCoder, code_id: str, text: str) -> None:
    assert code_id in _codes_of(coder, text)


@pytest.mark.parametrize(("code_id", "text"), NEGATIVE, ids=[c for c, _ in NEGATIVE])
def test_everyday_use_does_not_get_the_code(coder: RuleCoder, code_id: str, text: str) -> None:
    assert code_id not in _codes_of(coder, text)


def test_every_leaf_has_a_probe(raw: dict) -> None:
    parents = {code.get("parent") for code in raw["codes"]}
    leaves = {code["id"] for code in raw["codes"] if code["id"] not in parents}
    assert leaves <= {code_id for code_id, _ in POSITIVE}


def test_sample_study_exercises_every_code_with_rules(coder: RuleCoder, raw: dict) -> None:
    from qualkit.transcripts_schema.importing import read_transcript
    from qualkit.transcripts_schema.options import ImportOptions

    files = sorted(SAMPLE.glob("P*.*"))
    assert len(files) == 10
    options = ImportOptions(interviewers=("Interviewer", "Interviewer 1", "Interviewer 2"))
    texts = [
        turn.text
        for path in files
        for turn in read_transcript(path, options=options).turns
        if turn.role.value == "participant"
    ]
    found = {code_id for matches in coder.code_texts(texts) for code_id in {m.code_id for m in matches}}
    with_rules = {code["id"] for code in raw["codes"] if code.get("rules")}
    assert with_rules - found == set(), "codes the sample study never exercises"
