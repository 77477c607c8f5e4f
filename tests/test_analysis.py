"""Analysis tables checked against values computed by hand on the tiny study (tests/analysis_fixture.py).

Run 1 codes six turn segments:

    S1 P1 t1  velocity, validation        S4 P2  t3  -
    S2 P1 t3  velocity                    S5 P10 t1  velocity (x2)
    S3 P2 t1  validation, debugging       S6 P10 t3  debugging, velocity
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from analysis_fixture import CODEBOOK, build_tiny_study

from qualkit import analysis as A
from qualkit.analysis import tables
from qualkit.errors import InputError, NotFoundError


@pytest.fixture
def tiny(study):
    return build_tiny_study(study)


@pytest.fixture
def run1(tiny):
    return A.load_codings(tiny.study, f"run:{tiny.run1}")


@pytest.fixture
def tree(tiny):
    return A.run_codebook(tiny.study, tiny.run1)


@pytest.fixture
def people(tiny):
    return A.participants_frame(tiny.study)


def seg(tiny, key):
    return tiny.segments[key]


# -- coders ---------------------------------------------------------------------------------


def test_load_codings_has_the_contract_columns_and_one_row_per_application(tiny, run1):
    assert list(run1.columns[: len(A.CODING_COLUMNS)]) == A.CODING_COLUMNS
    # 2 + 1 + 2 + 2 + 2 applications (S5 has velocity twice)
    assert len(run1) == 9
    s5 = run1[run1["segment_pk"] == seg(tiny, ("P10", 1))]
    assert list(s5["code_id"]) == ["velocity", "velocity"]
    # offsets are into the turn; the segment is the whole turn, so text[start:end] is the match
    row = run1[(run1["segment_pk"] == seg(tiny, ("P1", 1))) & (run1["code_id"] == "validation")].iloc[0]
    assert row["text"][row["start_char"] : row["end_char"]] == "validate"
    assert row["participant_id"] == "P1" and row["turn_idx"] == 1
    # participant order: P1, P2, P10 (P2 before P10)
    assert list(dict.fromkeys(run1["transcript_id"])) == ["P1", "P2", "P10"]
    assert run1.attrs == {"coder": f"run:{tiny.run1}", "unit": "turn"}


def test_default_coder_is_the_latest_ok_rules_run(tiny):
    assert A.default_coder(tiny.study) == f"run:{tiny.run2}"
    assert A.load_codings(tiny.study).attrs["coder"] == f"run:{tiny.run2}"
    assert A.coders(tiny.study) == [f"run:{tiny.run1}", f"run:{tiny.run2}", "human:alice"]


def test_human_codings_map_onto_segments_by_overlap(tiny):
    human = A.load_codings(tiny.study, "human:alice")
    # velocity on chars 0-10 of P1 turn 1 -> S1; debugging on the whole of P2 turn 3 -> S4
    assert sorted(zip(human["segment_pk"], human["code_id"])) == sorted(
        [(seg(tiny, ("P1", 1)), "velocity"), (seg(tiny, ("P2", 3)), "debugging")]
    )
    whole = human[human["code_id"] == "debugging"].iloc[0]
    assert (whole["start_char"], whole["end_char"]) == (0, len(whole["text"]))


def test_union_of_coders_concatenates_their_codings(tiny, run1):
    union = A.load_codings(tiny.study, f"run:{tiny.run1}+human:alice")
    assert len(union) == len(run1) + 2
    assert set(union["coder"]) == {f"run:{tiny.run1}", "human:alice"}


@pytest.mark.parametrize("name, error", [("robot:1", InputError), ("run:x", InputError), ("run:99", NotFoundError), ("human:bob", NotFoundError)])
def test_bad_coders_are_clear_errors(tiny, name, error):
    with pytest.raises(error) as info:
        A.load_codings(tiny.study, name)
    assert info.value.hint


def test_no_rules_run_is_a_clear_error(study):
    build_tiny_study(study, runs=False)
    with pytest.raises(NotFoundError, match="no successful rules run"):
        A.load_codings(study)


# -- prevalence ---------------------------------------------------------------------------------


def test_prevalence_matches_hand_counts(run1, tree, people):
    prev = tables.prevalence(run1, tree, people).set_index("code_id")
    # velocity: S1, S2, S5, S6 -> 4 segments; P1 and P10
    assert prev.loc["velocity", ["n_segments", "n_participants"]].tolist() == [4, 2]
    assert prev.loc["velocity", "participant_list"] == "(P1, P10)"
    # validation: S1, S3; debugging: S3, S6
    assert prev.loc["validation", "participant_list"] == "(P1, P2)"
    assert prev.loc["debugging", ["n_segments", "n_participants"]].tolist() == [2, 2]
    # the parent three-vs rolls up S1, S2, S3, S5, S6 (S1 counted once) -> 5, everyone
    assert prev.loc["three-vs", ["n_segments", "n_segments_direct", "n_participants"]].tolist() == [5, 0, 3]
    assert prev.loc["three-vs", "participant_list"] == "(P1, P2, P10)"  # P2 before P10
    # nobody mentions versioning: present, zero, empty list
    assert prev.loc["versioning", ["n_segments", "n_participants", "participant_list"]].tolist() == [0, 0, ""]
    assert math.isclose(prev.loc["velocity", "share_participants"], 2 / 3)
    assert list(prev.index) == ["three-vs", "velocity", "validation", "versioning", "pain-points", "debugging"]


def test_code_frequency_orders_codes_and_skips_container_parents(run1, tree, people):
    freq = tables.code_frequency(run1, tree, people)
    # velocity 4; validation 2 (2 people, earlier in the codebook) before debugging 2; versioning 0
    assert freq["code_id"].tolist() == ["velocity", "validation", "debugging", "versioning"]
    assert freq["rank"].tolist() == [1, 2, 3, 4]
    assert freq["n_segments"].tolist() == [4, 2, 2, 0]
    assert freq["share_participants"].round(3).tolist() == [0.667, 0.667, 0.667, 0.0]


def test_participant_code_matrix_counts_and_presence(run1, tree, people):
    counts = tables.participant_code_matrix(run1, tree, people)
    assert counts.index.tolist() == ["P1", "P2", "P10"]
    assert counts.loc["P1", ["velocity", "validation", "debugging"]].tolist() == [2, 1, 0]
    assert counts.loc["P10", ["velocity", "validation", "debugging"]].tolist() == [2, 0, 1]  # S5 twice counts once
    presence = tables.participant_code_matrix(run1, tree, people, value="presence")
    assert presence.loc["P2"].tolist() == [0, 0, 1, 0, 0, 1]
    rolled = tables.participant_code_matrix(run1, tree, people, rollup=True)
    assert rolled.loc["P1", "three-vs"] == 2  # S1 and S2


def test_by_attribute_gives_group_sizes(run1, tree, people):
    table = tables.by_attribute(run1, tree, people, "company_size").set_index(["code_id", "group"])
    # large = P1, P10 (2); small = P2 (1)
    assert table.loc[("velocity", "large"), "phrase"] == "2 of 2"
    assert table.loc[("velocity", "small"), "phrase"] == "0 of 1"
    assert table.loc[("validation", "large"), "phrase"] == "1 of 2"
    assert table.loc[("debugging", "small"), ["n_participants", "group_size"]].tolist() == [1, 1]
    with pytest.raises(KeyError):
        tables.by_attribute(run1, tree, people, "shoe_size")


# -- co-occurrence --------------------------------------------------------------------------------


def test_cooccurrence_within_a_segment(run1, tree):
    pairs = tables.cooccurrence(run1, tree).set_index(["code_a", "code_b"])
    # n(vel)=4, n(val)=2, n(dbg)=2; each pair shares one segment (S1, S6, S3)
    # Jaccard vel-val = 1/(4+2-1) = 0.2, cosine = 1/sqrt(8); val-dbg = 1/(2+2-1), cosine 1/2
    assert pairs.loc[("velocity", "validation"), ["n", "n_a", "n_b"]].tolist() == [1, 4, 2]
    assert math.isclose(pairs.loc[("velocity", "validation"), "jaccard"], 0.2)
    assert math.isclose(pairs.loc[("velocity", "validation"), "cosine"], 1 / math.sqrt(8))
    assert math.isclose(pairs.loc[("validation", "debugging"), "jaccard"], 1 / 3)
    assert math.isclose(pairs.loc[("validation", "debugging"), "cosine"], 0.5)
    assert len(pairs) == 3
    matrix = tables.cooccurrence_matrix(run1, tree)
    assert [matrix.loc[c, c] for c in ("velocity", "validation", "debugging")] == [4, 2, 2]


def test_cooccurrence_within_a_window_of_turns(run1, tree):
    # window 2 joins turns 1 and 3 of one interview: neighbourhoods
    # S1,S2 {vel,val}; S3 {val,dbg}; S5,S6 {vel,dbg}
    # n(vel)=4, n(val)=3, n(dbg)=3; vel-val 2 -> 2/(4+3-2)=0.4; vel-dbg 2 -> 0.4; val-dbg 1 -> 1/5
    pairs = tables.cooccurrence(run1, tree, window_turns=2).set_index(["code_a", "code_b"])
    assert pairs.loc[("velocity", "validation"), ["n", "n_a", "n_b"]].tolist() == [2, 4, 3]
    assert math.isclose(pairs.loc[("velocity", "debugging"), "jaccard"], 0.4)
    assert math.isclose(pairs.loc[("validation", "debugging"), "jaccard"], 0.2)
    # a window of 1 does not reach from turn 1 to turn 3: same as within a segment
    assert tables.cooccurrence(run1, tree, window_turns=1)["n"].tolist() == tables.cooccurrence(run1, tree)["n"].tolist()


def test_top_pairs_have_example_segments(tiny, run1, tree):
    top = tables.top_pairs(run1, tree, n=2, by="jaccard")
    assert (top.loc[0, "code_a"], top.loc[0, "code_b"]) == ("validation", "debugging")
    example = top.loc[0, "examples"][0]
    assert example["segment_pk"] == seg(tiny, ("P2", 1)) and example["anchor"] == "t-P2-1"
    assert len(top) == 2


# -- saturation ----------------------------------------------------------------------------------


def test_saturation_in_interview_date_order(tiny, run1):
    transcripts = A.transcripts_frame(tiny.study)
    # order by date: P10 (01-05) adds velocity+debugging, P1 (01-10) adds validation, P2 (01-20) nothing
    sat = tables.saturation(run1, transcripts, k=1)
    assert sat["transcript_id"].tolist() == ["P10", "P1", "P2"]
    assert sat["new_codes"].tolist() == [2, 1, 0]
    assert sat["cumulative"].tolist() == [2, 3, 3]
    assert sat.loc[1, "new_code_ids"] == ("validation",)
    assert sat.attrs["saturation_at"] == "P1" and sat["saturated"].tolist() == [False, True, False]
    # k=2 needs two empty interviews after the point: not reached
    assert tables.saturation(run1, transcripts, k=2).attrs["saturation_at"] is None


def test_saturation_orders_by_id_without_dates(run1):
    transcripts = pd.DataFrame({"transcript_id": ["P10", "P2", "P1"], "participant_id": ["P10", "P2", "P1"]})
    # by id: P1 adds velocity+validation, P2 adds debugging, P10 nothing
    sat = tables.saturation(run1, transcripts, k=1)
    assert sat["transcript_id"].tolist() == ["P1", "P2", "P10"]
    assert sat["new_codes"].tolist() == [2, 1, 0]
    assert sat.attrs["saturation_at"] == "P2"


# -- exemplar quotes -------------------------------------------------------------------------------


def test_exemplar_quotes_strongest_first_and_spread_across_participants(tiny, run1, tree):
    quotes = tables.exemplar_quotes(run1, "velocity", n=3)
    # S5 (P10) matched twice: strongest; then P1's best before P10's second
    assert quotes["participant_id"].tolist()[:2] == ["P10", "P1"]
    assert quotes.loc[0, "segment_pk"] == seg(tiny, ("P10", 1))
    assert quotes.loc[0, "anchor"] == "t-P10-1"
    assert all(q.rstrip(" …").endswith((".", "?", "!")) for q in quotes["quote"])
    # the parent's quotes include its children's segments, one per participant first
    parent = tables.exemplar_quotes(run1, "three-vs", n=3, codebook=tree)
    assert sorted(parent["participant_id"]) == ["P1", "P10", "P2"]
    assert tables.exemplar_quotes(run1, "versioning").empty


def test_trim_quote_keeps_sentences_around_the_match():
    sentences = [f"Sentence number {i} has exactly seven words." for i in range(10)]
    text = " ".join(sentences)
    start = text.index("number 5")
    quote = tables.trim_quote(text, start, start + 8, min_words=25, max_words=60)
    words = len(quote.replace("…", "").split())
    assert 25 <= words <= 60
    assert "Sentence number 5" in quote and quote.startswith("…") and quote.endswith("…")
    # a single very long sentence is cut to a window of words around the match
    long = " ".join(f"w{i}" for i in range(200)) + "."
    cut = tables.trim_quote(long, long.index("w120"), long.index("w120") + 4, max_words=40)
    assert "w120" in cut and len(cut.replace("…", "").split()) == 40


# -- run comparison --------------------------------------------------------------------------------


def test_compare_runs(tiny):
    result = A.compare_runs(tiny.study, tiny.run1, tiny.run2)
    # run 2 adds validation on S2 and drops debugging from S6
    assert list(zip(result.appeared["segment_pk"], result.appeared["code_id"])) == [(seg(tiny, ("P1", 3)), "validation")]
    assert list(zip(result.disappeared["segment_pk"], result.disappeared["code_id"])) == [(seg(tiny, ("P10", 3)), "debugging")]
    per = result.per_code.set_index("code_id")
    assert per.loc["validation", ["n_segments_a", "n_segments_b", "delta_segments"]].tolist() == [2, 3, 1]
    assert per.loc["debugging", ["delta_segments", "delta_participants"]].tolist() == [-1, -1]
    assert per.loc["debugging", "participants_removed"] == ("P10",)
    assert per.loc["three-vs", "delta_segments"] == 0  # S2 was already under three-vs via velocity


# -- codebooks -------------------------------------------------------------------------------------


def test_a_real_codebook_object_works_as_the_tree(tiny, run1, tmp_path):
    from qualkit import codebook
    path = tmp_path / "tiny.yaml"
    path.write_text(
        """name: tiny
version: "1"
codes:
  - id: three-vs
    label: Three Vs
    definition: The three Vs.
  - id: velocity
    label: Velocity
    parent: three-vs
    definition: Going fast.
  - id: validation
    label: Validation
    parent: three-vs
    definition: Testing early.
  - id: debugging
    label: Debugging
    definition: Fixing bugs.
""",
        encoding="utf-8",
    )
    book = codebook.load_codebook(path)
    prev = tables.prevalence(run1, book).set_index("code_id")
    assert prev.loc["three-vs", "n_segments"] == 5
    assert prev.loc["debugging", "theme"] == "debugging"
    assert A.as_tree(book).hash == book.hash


def test_empty_codings_give_empty_tables(study):
    tiny = build_tiny_study(study, runs=False)
    empty = A.codings.empty_codings()
    tree = A.tree_from_resolved(CODEBOOK)
    prev = tables.prevalence(empty, tree, A.participants_frame(tiny.study))
    assert prev["n_segments"].sum() == 0 and len(prev) == 6
    assert tables.cooccurrence(empty, tree).empty
    assert tables.participant_code_matrix(empty, tree, A.participants_frame(tiny.study)).to_numpy().sum() == 0
    sat = tables.saturation(empty, A.transcripts_frame(tiny.study))
    assert sat["new_codes"].tolist() == [0, 0, 0] and sat.attrs["saturation_at"] is None
