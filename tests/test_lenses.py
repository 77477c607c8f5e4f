"""The lens analysis: direct and reached passages per lens, tensions and synergies between lenses."""

from __future__ import annotations

import pandas as pd

from qualkit.analysis.lenses import lens_analysis, lens_quotes, lens_ties
from qualkit.analysis.codetree import tree_from_resolved

BOOK = {
    "name": "lens-book",
    "codes": [
        {"id": "velocity", "label": "Velocity"},
        {"id": "validation", "label": "Validation", "relations": [{"type": "tension-with", "code": "velocity", "note": "gates"}]},
        {"id": "versioning", "label": "Versioning"},
        {"id": "notebooks", "label": "Notebooks"},
        {"id": "staged", "label": "Staged rollout"},
        {"id": "retrain", "label": "Retraining", "relations": [{"type": "see-also", "code": "versioning"}]},
        {"id": "leak", "label": "Leakage", "parent": "notebooks"},
    ],
    "relations": [
        {"from": "notebooks", "type": "serves", "to": "velocity", "note": "fast"},
        {"from": "notebooks", "type": "hinders", "to": "validation"},
        {"from": "staged", "type": "serves", "to": "validation"},
        {"from": "staged", "type": "hinders", "to": "velocity"},
        {"from": "retrain", "type": "serves", "to": "versioning"},
    ],
}

# (segment, participant, transcript, turn, codes)
SEGMENTS = [
    (1, "P1", "P1", 1, ["velocity", "notebooks"]),
    (2, "P1", "P1", 2, ["leak"]),
    (3, "P2", "P2", 1, ["staged", "retrain"]),
    (4, "P2", "P2", 2, ["validation"]),
    (5, "P3", "P3", 1, ["retrain", "versioning"]),
    (6, "P3", "P3", 2, ["retrain"]),
]


def codings() -> pd.DataFrame:
    rows = []
    for pk, person, transcript, turn, codes in SEGMENTS:
        text = f"Segment {pk} says something about {' and '.join(codes)} in a sentence of some length."
        for code in codes:
            rows.append(
                {"segment_pk": pk, "transcript_id": transcript, "participant_id": person, "turn_idx": turn, "code_id": code,
                 "start_char": 0, "end_char": 7, "text": text, "score": 1.0, "segment_start": 0}
            )
    return pd.DataFrame(rows)


def test_lenses_are_the_targets_of_serves_and_hinders_ties():
    tree = tree_from_resolved(BOOK)
    lenses, ties, between = lens_ties(tree)
    assert lenses == ["velocity", "validation", "versioning"]
    assert {(t.code_id, t.kind, t.lens) for t in ties} == {
        ("notebooks", "serves", "velocity"), ("notebooks", "hinders", "validation"),
        ("staged", "serves", "validation"), ("staged", "hinders", "velocity"), ("retrain", "serves", "versioning"),
    }
    assert between == [("validation", "tension-with", "velocity", "gates")]


def test_direct_and_reached_passages_are_kept_apart():
    result = lens_analysis(codings(), BOOK)
    views = {view.lens: view for view in result.lenses}
    velocity = views["velocity"]
    assert list(velocity.direct["segment_pk"]) == [1]
    assert list(velocity.reached["segment_pk"]) == [2, 3]  # 2 through leak's parent notebooks
    assert list(velocity.reached["via"]) == [("notebooks",), ("staged",)]
    assert list(velocity.reached["signs"]) == ["+", "-"]
    assert list(views["validation"].direct["segment_pk"]) == [4]
    assert list(views["validation"].reached["segment_pk"]) == [1, 2, 3]
    assert list(views["versioning"].direct["segment_pk"]) == [5]
    assert list(views["versioning"].reached["segment_pk"]) == [3, 6]
    assert views["versioning"].reached_participants == ("P2", "P3")
    notebooks = next(c for c in velocity.ties if c.tie.code_id == "notebooks")
    assert (notebooks.n_segments, notebooks.n_reached, notebooks.n_turns_together) == (2, 1, 1)
    assert notebooks.participants_together == ("P1",)
    retrain = next(c for c in views["versioning"].ties if c.tie.code_id == "retrain")
    assert (retrain.n_segments, retrain.n_reached, retrain.n_turns_together, retrain.participants_together) == (3, 2, 1, ("P3",))


def test_tensions_and_synergies_between_lenses_in_turns():
    result = lens_analysis(codings(), BOOK)
    pairs = {(p.a, p.b, p.kind): p for p in result.pairs}
    tension = pairs[("velocity", "validation", "tension")]
    assert tension.n_turns == 3 and tension.participants == ("P1", "P2")
    assert tension.carriers() == [("notebooks", 2), ("staged", 1)]
    assert "tension: Validation tension-with Velocity (gates)" in tension.stated
    assert any("Notebooks serves one and hinders the other" in line for line in tension.stated)
    assert ("velocity", "validation", "synergy") not in pairs
    assert pairs[("velocity", "versioning", "tension")].n_turns == 1
    synergy = pairs[("validation", "versioning", "synergy")]
    assert synergy.n_turns == 1 and synergy.carriers() == [("retrain", 1), ("staged", 1)]
    assert result.as_dict()["pairs"][0]["kind"] == "tension"


def test_lens_quotes_label_reached_passages():
    result = lens_analysis(codings(), BOOK)
    view = next(v for v in result.lenses if v.lens == "velocity")
    direct, reached = lens_quotes(codings(), view, 3, tree=result.tree)
    assert list(direct["segment_pk"]) == [1]
    assert sorted(zip(reached["segment_pk"], reached["via"])) == [(2, ("notebooks",)), (3, ("staged",))]


def test_no_ties_no_lenses_and_empty_codings():
    plain = {"name": "plain", "codes": [{"id": "a", "label": "A"}]}
    assert lens_analysis(codings(), plain).lenses == []
    empty = codings().iloc[0:0]
    result = lens_analysis(empty, BOOK)
    assert [len(v.direct) + len(v.reached) for v in result.lenses] == [0, 0, 0]
    assert [p.kind for p in result.pairs] == ["tension"]  # only what the codebook states


def test_explicit_ties_win_over_looser_relations_to_the_same_lens():
    book = {
        "name": "mixed",
        "codes": [
            {"id": "velocity", "label": "Velocity"},
            {"id": "mismatch", "label": "Mismatch", "relations": [
                {"type": "tension-with", "code": "velocity"}, {"type": "synergy-with", "code": "velocity"}]},
            {"id": "tracker", "label": "Tracker", "relations": [{"type": "synergy-with", "code": "velocity", "note": "loose"}]},
        ],
        "relations": [
            {"from": "mismatch", "type": "serves", "to": "velocity", "note": "explicit"},
            {"from": "tracker", "type": "serves", "to": "velocity", "note": "explicit too"},
        ],
    }
    _, ties, _ = lens_ties(tree_from_resolved(book))
    assert sorted((t.code_id, t.kind, t.note) for t in ties) == [("mismatch", "serves", "explicit"), ("tracker", "serves", "explicit too")]
