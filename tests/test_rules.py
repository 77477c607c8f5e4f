"""The rules pass: matching semantics of RuleCoder, and run_rules over a tiny study."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qualkit.codebook import load_codebook
from qualkit.coding import rules as rules_module
from qualkit.coding.rules import RuleCoder, compile_codebook
from qualkit.execution.rules_run import run_rules
from qualkit.errors import CodebookError
from qualkit.transcripts_schema.model import Participant, Transcript, Turn

CODEBOOK = """\
name: tiny
version: "0.1"
codes:
  - id: three-vs
    label: Three Vs
  - id: versioning
    label: Versioning
    parent: three-vs
    definition: Versions of data and models.
    rules:
      phrases: [version, model registry]
  - id: rollback
    label: Rollback
    definition: Undoing a deployment.
    rules:
      patterns:
        - [{LEMMA: roll}, {OP: "?"}, {OP: "?"}, {LOWER: back}]
      regex: ['\\bA/B[- ]tests?\\b']
      weight: 0.5
  - id: acronyms
    label: Acronyms
    definition: Case-sensitive words.
    rules:
      phrase_attr: LOWER
      phrases: [data]
  - id: retraining
    label: Retraining
    definition: Retraining models.
    rules:
      phrases: [retrain]
      requires: [model]
      excludes: [course]
  - id: registry-versioning
    label: Registry with versioning
    definition: Registry talk that also mentions versioning.
    rules:
      phrases: [registry]
      requires: [versioning]
"""


@pytest.fixture
def codebook_path(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(CODEBOOK, encoding="utf-8")
    return path


@pytest.fixture
def coder(codebook_path: Path) -> RuleCoder:
    return RuleCoder(load_codebook(codebook_path))


def codes_in(coder: RuleCoder, text: str) -> list[tuple[str, str]]:
    return [(m.code_id, m.text) for m in coder.code_text(text)]


def test_phrases_match_lowercased_lemmas_in_any_inflection(coder):
    for text, expected in [
        ("Versioning matters.", "Versioning"),
        ("we versioned it", "versioned"),
        ("all the versions", "versions"),
        ("VERSION one", "VERSION"),
    ]:
        assert codes_in(coder, text) == [("versioning", expected)]


def test_multi_word_phrases_and_offsets(coder):
    [match] = [m for m in coder.code_text("Our Model Registries are fine.") if m.code_id == "versioning"]
    assert (match.start, match.end, match.text, match.rule) == (4, 20, "Model Registries", "versioning#phrase:1")


def test_patterns_regex_and_weight(coder):
    matches = coder.code_text("We rolled it back after the A/B test.")
    assert [(m.code_id, m.text, m.rule, m.score) for m in matches] == [
        ("rollback", "rolled it back", "rollback#pattern:0", 0.5),
        ("rollback", "A/B test", "rollback#regex:0", 0.5),
    ]


def test_lower_attr_does_not_lemmatize(coder):
    assert codes_in(coder, "the data is here") == [("acronyms", "data")]
    assert codes_in(coder, "one datum") == []


def test_requires_and_excludes_context(coder):
    assert codes_in(coder, "we retrain often") == []
    assert codes_in(coder, "we retrain the models often") == [("retraining", "retrain")]
    assert codes_in(coder, "we retrain the model in the course") == []
    # a code id as context: the other code must match in the same segment
    assert codes_in(coder, "the registry") == []
    assert ("registry-versioning", "registry") in codes_in(coder, "the registry keeps versions")


def test_overlapping_matches_are_all_kept(coder):
    found = codes_in(coder, "the model registry with versions")
    assert ("versioning", "model registry") in found
    assert ("registry-versioning", "registry") in found
    assert ("versioning", "versions") in found


def test_code_texts_streams_one_list_per_text(coder):
    results = list(coder.code_texts(["versions", "", "nothing here", "rolled back"]))
    assert [[m.code_id for m in r] for r in results] == [["versioning"], [], [], ["rollback"]]


def test_compiled_matchers_are_cached_per_hash(codebook_path):
    book = load_codebook(codebook_path)
    assert compile_codebook(book) is compile_codebook(load_codebook(codebook_path))


# -- run_rules over a study ------------------------------------------------------------------------


def add_transcripts(study) -> None:
    for tid, text in [
        ("P1", "We version every dataset. We rolled it back after the A/B test."),
        ("P2", "We retrain the model every week and keep a model registry."),
    ]:
        study.store.store_transcript(
            Transcript(
                id=tid,
                participant=Participant(id=tid, role="MLE"),
                turns=[
                    Turn(speaker="Interviewer", role="interviewer", text="Do you version your models? Any rollback?"),
                    Turn(speaker=tid, role="participant", text=text),
                ],
            )
        )


def table_counts(store) -> dict[str, int]:
    return {t: store.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("codebooks", "runs", "segments", "code_applications")}


def test_run_rules_stores_a_run_with_applications_and_manifest(study, codebook_path):
    add_transcripts(study)
    summary = run_rules(study, codebook=codebook_path, progress=False)
    store = study.store
    run = store.run(summary.run_id)
    assert run["status"] == "ok" and run["kind"] == "rules"
    assert json.loads(run["parameters"]) == {"unit": "turn", "include_interviewer": False, "codebook": str(codebook_path)}
    assert run["codebook_hash"] == load_codebook(codebook_path).hash
    manifest = json.loads(run["manifest"])
    assert manifest["segments_coded"] == summary.segments_coded == 2  # participants only
    assert manifest["applications"] == summary.applications
    assert manifest["versions"]["spacy"]
    rows = store.query(
        """SELECT a.*, u.text AS turn_text, u.role FROM code_applications a
           JOIN segments s ON s.pk = a.segment_pk JOIN turns u ON u.pk = s.turn_pk WHERE run_id = ?""",
        (summary.run_id,),
    )
    assert {row["role"] for row in rows} == {"participant"}
    assert all(row["turn_text"][row["start_char"]:row["end_char"]] == row["matched_text"] for row in rows)
    assert sorted({row["code_id"] for row in rows}) == ["registry-versioning", "retraining", "rollback", "versioning"]
    assert summary.codes_used == 4
    assert summary.code_counts["versioning"] == 2  # "version", "model registry"


def test_sentence_unit_offsets_are_into_the_turn(study, codebook_path):
    add_transcripts(study)
    summary = run_rules(study, codebook=codebook_path, unit="sentence", progress=False)
    rows = study.store.query(
        """SELECT a.start_char, a.end_char, a.matched_text, u.text, s.start_char AS seg_start FROM code_applications a
           JOIN segments s ON s.pk = a.segment_pk JOIN turns u ON u.pk = s.turn_pk WHERE a.run_id = ?""",
        (summary.run_id,),
    )
    assert any(row["seg_start"] > 0 for row in rows)
    assert all(row["text"][row["start_char"]:row["end_char"]] == row["matched_text"] for row in rows)


def test_include_interviewer_and_config_defaults(study, codebook_path):
    add_transcripts(study)
    (study.root / "codebook" / "tiny.yaml").write_text(CODEBOOK, encoding="utf-8")
    study.config.codebook.path = "codebook/tiny.yaml"  # relative to the study folder
    summary = run_rules(study, include_interviewer=True, progress=False)
    assert summary.segments_coded == 4
    roles = study.store.query(
        "SELECT DISTINCT u.role FROM code_applications a JOIN segments s ON s.pk = a.segment_pk JOIN turns u ON u.pk = s.turn_pk WHERE a.run_id = ?",
        (summary.run_id,),
    )
    assert {row["role"] for row in roles} == {"participant", "interviewer"}


def test_failure_during_coding_marks_the_run_failed_and_removes_applications(study, codebook_path, monkeypatch):
    add_transcripts(study)

    def exploding(self, items):
        for index, (text, context) in enumerate(items):
            if index == 1:
                raise RuntimeError("boom")
            yield self._match(self.nlp(text), text), context

    monkeypatch.setattr(rules_module, "INSERT_BATCH", 1)  # the first segment's rows are written before the failure
    monkeypatch.setattr(RuleCoder, "code_with_context", exploding)
    with pytest.raises(RuntimeError):
        run_rules(study, codebook=codebook_path, progress=False)
    run = study.store.query("SELECT * FROM runs ORDER BY id DESC LIMIT 1")[0]
    assert run["status"] == "failed" and "boom" in run["error"]
    assert study.store.query("SELECT COUNT(*) FROM code_applications")[0][0] == 0


@pytest.mark.parametrize(
    "text",
    [
        "name: x\ncodes:\n  - id: a\n    label: [oops\n",  # YAML syntax error
        "name: x\ncodes:\n  - label: A\n",  # code without id
        "name: x\ncodes:\n  - id: a\n    label: A\n    definition: d\n    rules:\n      patterns: [[{NOPE: a}]]\n",
        "name: x\ncodes:\n  - id: a\n    label: A\n    definition: d\n    rules:\n      regex: ['[']\n",
        "name: x\nextends: tiny-self.yaml\ncodes: []\n",  # extends cycle (itself)
        b"name: \xff\ncodes: []\n",  # not UTF-8
    ],
)
def test_bad_codebook_stores_nothing(study, tmp_path, text):
    add_transcripts(study)
    path = tmp_path / "tiny-self.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    before = table_counts(study.store)
    with pytest.raises(CodebookError):
        run_rules(study, codebook=path, progress=False)
    assert table_counts(study.store) == before


def test_bad_unit_stores_nothing(study, codebook_path):
    from qualkit.errors import ConfigError

    add_transcripts(study)
    before = table_counts(study.store)
    with pytest.raises(ConfigError):
        run_rules(study, codebook=codebook_path, unit="paragraph", progress=False)
    assert table_counts(study.store) == before


@pytest.mark.parametrize(
    "expression, literals",
    [
        (r"\bA/B[- ]test", {"test"}),
        (r"(?i)\b(hundreds|thousands) of (runs|jobs)", {"hundreds", "thousands"}),
        (r"(foo|bar)+baz", {"baz"}),
        (r"abc|de", None),  # a branch too short to help
        (r"x*", None),
        (r"caf\u00e9 time", None),  # non-ASCII literals: case folding is not a simple lower()
    ],
)
def test_regex_prefilter_literals(expression, literals):
    import re

    from qualkit.coding.rules import required_literals

    found = required_literals(re.compile(expression))
    assert (set(found) if found is not None else None) == literals


def test_regex_prefilter_never_changes_the_matches(tmp_path):
    import re

    expressions = [r"(?i)\b(hundreds|thousands) of (runs|jobs)\b", r"\bA/B[- ]tests?\b", r"(?i)until (a|one|two) weeks? later"]
    texts = ["We ran THOUSANDS of jobs.", "hundreds of runs, then thousands of jobs", "an A/B test", "a/b test",
             "nothing here", "until one week later", "UNTIL TWO WEEKS LATER", "Until a week \u017fater", "thou\u017fands of runs"]
    rules = "\n".join(f"        - '{expression}'" for expression in expressions)
    path = tmp_path / "re.yaml"
    path.write_text(f"name: re\ncodes:\n  - id: a\n    label: A\n    definition: d\n    rules:\n      regex:\n{rules}\n", encoding="utf-8")
    coder = RuleCoder(load_codebook(path))
    for text in texts:
        expected = sorted((m.start(), m.end()) for e in expressions for m in re.finditer(e, text))
        assert sorted((m.start, m.end) for m in coder.code_text(text)) == expected, text


def test_anchored_patterns_find_what_a_plain_matcher_finds(tmp_path):
    from spacy.matcher import Matcher

    from qualkit.coding.nlp import get_nlp

    patterns = [
        [{"LEMMA": "roll"}, {"OP": "?"}, {"OP": "?"}, {"LOWER": "back"}],
        [{"LOWER": {"IN": ["gpus", "gpu"]}}, {"LOWER": "warm"}],
        [{"ORTH": "On"}, {"ORTH": "-"}, {"LOWER": "call"}],
        [{"LEMMA": "page"}, {"IS_PUNCT": True, "OP": "*"}, {"LOWER": "again"}],
        [{"LIKE_NUM": True}, {"LOWER": "percent"}],
        [{"IS_TITLE": True}, {"IS_TITLE": True}],  # no anchor: runs everywhere
        [{"LOWER": "not"}, {"LEMMA": "ship", "OP": "!"}, {"LOWER": "yet"}],
    ]
    texts = [
        "We rolled it back. Then ROLL BACK again, and rolled back.",
        "Keep the GPUs warm, keep a GPU warm.",
        "The On-call engineer got paged, paged... again!",
        "Ten percent of traffic, 5 percent later.",
        "not yet, not ship yet",
        "",
    ]
    path = tmp_path / "p.yaml"
    import yaml

    path.write_text(yaml.safe_dump({"name": "p", "codes": [{"id": "a", "label": "A", "definition": "d", "rules": {"patterns": patterns}}]}))
    coder = RuleCoder(load_codebook(path))
    nlp = get_nlp()
    plain = Matcher(nlp.vocab)
    for index, pattern in enumerate(patterns):
        plain.add(f"a#pattern:{index}", [pattern])
    for text in texts:
        doc = nlp(text)
        expected = sorted({(nlp.vocab.strings[key], doc[s:e].start_char, doc[s:e].end_char) for key, s, e in plain(doc)})
        assert sorted((m.rule, m.start, m.end) for m in coder.code_text(text)) == expected, text


def test_run_rules_on_a_study_without_transcripts_stores_nothing(study, codebook_path):
    from qualkit.errors import NotFoundError

    before = table_counts(study.store)
    with pytest.raises(NotFoundError):
        run_rules(study, codebook=codebook_path, progress=False)
    assert table_counts(study.store) == before
