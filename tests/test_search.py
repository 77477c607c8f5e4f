"""Search and retrieval (keyword in context, code queries) on the tiny study (tests/analysis_fixture.py)."""

from __future__ import annotations

import json

import pytest
from analysis_fixture import TEXTS, build_tiny_study
from click.testing import CliRunner

from qualkit.analysis import code_query as Q
from qualkit.analysis import lemma_index
from qualkit.analysis import search as S
from qualkit.cli import main
from qualkit.errors import InputError, NotFoundError
from qualkit.store import canonical_json
from qualkit.transcripts_schema.model import InterviewMetadata, Participant, Transcript, Turn
from qualkit.transcripts_schema.stored import load_transcript


@pytest.fixture
def tiny(study):
    return build_tiny_study(study)


def _add_versioning_interview(study) -> None:
    person = Participant(id="P3", role="Data scientist", company_size="small", sector="finance", years_experience=2)
    turns = [
        Turn(speaker="Interviewer", role="interviewer", text="Do you version your models?"),
        Turn(speaker="P3", role="participant", text="Everything is versioned: data, code and models. Versioning saved us twice."),
        Turn(speaker="P3", role="participant", text="We keep three versions of each model registry entry."),
    ]
    study.store.store_transcript(Transcript(id="P3", participant=person, metadata=InterviewMetadata(), turns=turns))


def test_kwic_is_lemma_aware_with_counts_per_participant(tiny):
    study = tiny.study
    _add_versioning_interview(study)
    result = S.kwic(study, "version")
    assert result.pattern == ["version"]
    assert [h.matched for h in result.hits] == ["versioned", "Versioning", "versions"]
    assert {(c.participant_id, c.hits, c.turns) for c in result.counts} == {("P1", 0, 0), ("P2", 0, 0), ("P10", 0, 0), ("P3", 3, 2)}
    # the interviewer's "version" is not participant speech
    assert all(h.speaker == "P3" for h in result.hits)
    assert S.kwic(study, "version", include_interviewer=True).total == 4
    # the query is lemmatized too: "versioned" finds every form
    assert [h.matched for h in S.kwic(study, "versioned").hits] == ["versioned", "Versioning", "versions"]
    hit = result.hits[0]
    text = load_transcript(study.store, "P3").turns[1].text
    assert text[hit.start_char : hit.end_char] == "versioned" and hit.turn_idx == 1
    assert hit.left.endswith("Everything is ") and hit.right.startswith(": data")


def test_kwic_phrases_prefixes_and_context(tiny):
    study = tiny.study
    phrase = S.kwic(study, "fast iterations")
    assert [(h.transcript_id, h.matched) for h in phrase.hits] == [("P1", "Fast iteration"), ("P10", "Fast iteration")]
    prefix = S.kwic(study, "debug*")
    assert [(h.transcript_id, h.matched) for h in prefix.hits] == [("P2", "Debugging"), ("P10", "Debugging")]
    short = S.kwic(study, "validate", width=12)
    assert short.hits[0].left.startswith("…") and short.hits[0].right.endswith("…")
    assert S.kwic(study, "zeppelin").total == 0
    limited = S.kwic(study, "iteration", limit=1)
    assert len(limited.hits) == 1 and limited.total == 4  # counts cover every hit


def test_kwic_filters_participants_by_attribute(tiny):
    study = tiny.study
    result = S.kwic(study, "iteration", where=S.parse_where(["company_size=LARGE", "sector=ads,fintech"]))
    assert [c.participant_id for c in result.counts] == ["P1", "P10"]
    assert {h.transcript_id for h in result.hits} == {"P1", "P10"}
    only_p1 = S.kwic(study, "iteration", where={"sector": ["fintech"]})
    assert [(c.participant_id, c.hits) for c in only_p1.counts] == [("P1", 1)]
    words = len(TEXTS[("P1", 1)].split()) + len(TEXTS[("P1", 3)].split())
    assert only_p1.counts[0].words == words and only_p1.counts[0].per_1000_words == pytest.approx(1000 / words)
    with pytest.raises(InputError, match="no participant attribute 'sectr'"):
        S.kwic(study, "iteration", where={"sectr": ["ads"]})
    with pytest.raises(InputError) as raised:
        S.kwic(study, "iteration", where={"sector": ["finance"]})
    assert "ads, fintech, health" in raised.value.hint
    with pytest.raises(InputError, match="cannot read the filter"):
        S.parse_where(["sector"])


def test_the_lemma_index_is_cached_per_transcript_version(tiny, monkeypatch):
    study = tiny.study
    S.forget_lemma_indexes()
    S.kwic(study, "iteration")
    cache = study.cache_dir / "lemmas"
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 3
    # the next search reads the files (or memory), never lemmatizing again
    S.forget_lemma_indexes()
    monkeypatch.setattr(lemma_index, "_tokenize", lambda texts: pytest.fail("lemmatized although cached"))
    assert S.kwic(study, "iteration").total == 4
    monkeypatch.undo()
    # a damaged cache file is rebuilt, never trusted
    S.forget_lemma_indexes()
    (cache / files[0]).write_text("not json", encoding="utf-8")
    assert S.kwic(study, "iteration").total == 4
    assert (cache / files[0]).read_text(encoding="utf-8").startswith("[[")
    # a new version of a transcript: its old version's file goes at the next search
    _add_versioning_interview(study)
    S.kwic(study, "version")
    assert len(list(cache.iterdir())) == 4
    person = load_transcript(study.store, "P3")
    person.turns[1].text = "Nothing is versioned any more."
    study.store.store_transcript(person)
    assert S.kwic(study, "version").total == 2
    names = {path.name.split("-")[0] for path in cache.iterdir()}
    assert names == {row.content_hash for row in study.store.transcripts()} and len(names) == 4
    hashes = {row.content_hash for row in study.store.transcripts()}
    assert {path.name.split("-")[0] for path in cache.iterdir()} == hashes


def test_code_queries(tiny):
    study = tiny.study
    run1 = f"run:{tiny.run1}"

    def turns(query, **kw):
        return [(h.transcript_id, h.turn_idx) for h in Q.code_query(study, query, coder=run1, **kw).hits]

    assert turns("velocity") == [("P1", 1), ("P1", 3), ("P10", 1), ("P10", 3)]
    assert turns("velocity AND validation") == [("P1", 1)]
    assert turns("velocity NOT validation") == [("P1", 3), ("P10", 1), ("P10", 3)]
    assert turns("velocity AND NOT debugging") == [("P1", 1), ("P1", 3), ("P10", 1)]
    assert turns("NOT velocity") == [("P2", 1), ("P2", 3)]
    assert turns("debugging OR (velocity AND validation)") == [("P1", 1), ("P2", 1), ("P10", 3)]
    # a parent stands for its children
    assert turns("three-vs NOT velocity") == [("P2", 1)]
    assert turns("velocity", where={"sector": ["ads"]}) == [("P10", 1), ("P10", 3)]


def test_code_query_spans_and_text(tiny):
    study = tiny.study
    result = Q.code_query(study, "velocity and validation", coder=f"run:{tiny.run1}")
    assert result.query == "velocity AND validation"
    [hit] = result.hits
    assert [(s.code_id, s.text) for s in hit.spans] == [("velocity", "idea to a trained model"), ("validation", "validate")]
    assert hit.text.startswith("Speed matters most")
    parent = Q.code_query(study, "three-vs", coder=f"run:{tiny.run1}")
    assert {s.query_code for h in parent.hits for s in h.spans} == {"three-vs"}
    assert {s.code_id for h in parent.hits for s in h.spans} == {"velocity", "validation"}
    human = Q.code_query(study, "velocity OR debugging", coder="human:alice")
    assert [(h.transcript_id, h.turn_idx, [(s.code_id, s.text) for s in h.spans]) for h in human.hits] == [
        ("P1", 1, [("velocity", "Speed matt")]),
        ("P2", 3, [("debugging", "We mostly use gradient boosted trees and nothing fancy.")]),
    ]
    assert [(c.participant_id, c.turns) for c in human.counts] == [("P1", 1), ("P2", 1), ("P10", 0)]


@pytest.mark.parametrize(
    "query, error, words",
    [
        ("velocity AND", InputError, "ends too early"),
        ("(velocity", InputError, "parenthesis"),
        ("velocity validation", InputError, "unexpected 'validation'"),
        ("", InputError, "empty"),
        ("velo", NotFoundError, "did you mean 'velocity'"),
    ],
)
def test_bad_code_queries(tiny, query, error, words):
    with pytest.raises(error) as raised:
        Q.code_query(tiny.study, query, coder=f"run:{tiny.run1}")
    assert words in raised.value.render()


def _run(study, *args):
    return CliRunner().invoke(main, ["--study", str(study.root), *args], catch_exceptions=False)


def test_cli_kwic_and_codes(tiny):
    study = tiny.study
    result = _run(study, "search", "kwic", "iterations", "--where", "sector=ads")
    assert result.exit_code == 0, result.output
    assert "3 hit(s) of 'iteration'" in result.output and "P10:2" in result.output
    assert "Per participant: P10 3 (" in result.output
    data = json.loads(_run(study, "search", "kwic", "validated", "--json").output)
    assert [(h["transcript_id"], h["matched"]) for h in data["hits"]] == [("P1", "validate"), ("P2", "validate")]
    assert {c["participant_id"]: c["hits"] for c in data["counts"]} == {"P1": 1, "P2": 1, "P10": 0}
    result = _run(study, "search", "codes", "velocity NOT validation", "--coder", f"run:{tiny.run1}")
    assert "3 turn(s) of 6 where velocity AND NOT validation" in result.output
    assert "[velocity] Fast iteration" in result.output
    data = json.loads(_run(study, "search", "codes", "debugging", "--coder", "human:alice", "--json").output)
    assert [(h["transcript_id"], h["turn_idx"]) for h in data["hits"]] == [("P2", 3)]
    bad = _run(study, "search", "codes", "velocity AND", "--coder", f"run:{tiny.run1}")
    assert bad.exit_code == 1 and "ends too early" in bad.output and "Traceback" not in bad.output
    bad = _run(study, "search", "kwic", "x", "--where", "nope=1")
    assert bad.exit_code == 1 and "no participant attribute 'nope'" in bad.output


def test_parameters_json_is_stable():
    # parse_where keeps the order of values and merges repeated keys
    assert canonical_json(S.parse_where(["sector=a,b", "sector=c", "role=x"])) == '{"role":["x"],"sector":["a","b","c"]}'
