"""Lenses: codes read through the ties a codebook states (the paper's three Vs as a lens).

A codebook ties codes to each other with relations (``serves``, ``hinders``, ...). A code that is
the target of a ``serves`` or ``hinders`` tie is a **lens** (velocity, validation, versioning in
the default codebook). For each lens this module keeps two sets of passages apart:

* **direct**: segments coded with the lens itself (or a code below it), the lens's own coding;
* **reached**: segments not coded with the lens but coded with a code tied to it, each labelled
  with the codes that carry it there and how (serves or hinders).

Tie polarity: ``serves``, ``synergy-with`` and ``part-of`` serve a lens (+); ``hinders`` and
``tension-with`` hinder it (-); ``see-also`` is not a tie. Where a code has a ``serves`` or
``hinders`` tie to a lens, its other relations to that lens are not read (the explicit tie wins);
one tie per code, lens and direction is kept. Ties from a parent code also hold for
its children (a segment coded with a child is coded with the parent, as everywhere in analysis).

Between two lenses, a **turn** (all segments of one turn together) shows a *tension* when
something in it serves one lens and something hinders the other, and a *synergy* when something
serves both and nothing sets them against each other; the codes in the turn that carry the tie
are listed. Relations stated between two lenses themselves (``velocity tension-with validation``)
are reported as what the codebook states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import pandas as pd

from ..store import participant_sort_key
from .codetree import CodeTree, as_tree
from .tables import _pairs, exemplar_quotes, format_participant_list

SERVES = frozenset({"serves", "synergy-with", "part-of"})
HINDERS = frozenset({"hinders", "tension-with"})
LENS_TYPES = frozenset({"serves", "hinders"})
SYMMETRIC = frozenset({"synergy-with", "tension-with"})


@dataclass(frozen=True)
class LensTie:
    """One code tied to a lens."""

    code_id: str
    lens: str
    kind: str  # the relation type as written: serves, hinders, synergy-with, ...
    note: str = ""

    @property
    def sign(self) -> str:
        return "+" if self.kind in SERVES else "-"


@dataclass
class TieCount:
    """How one tie shows in the data."""

    tie: LensTie
    n_segments: int  # segments coded with the tied code
    n_reached: int  # of those, segments not coded with the lens directly
    n_turns_together: int  # turns coded with both the tied code and the lens directly
    participants_together: tuple[str, ...] = ()


@dataclass
class LensView:
    """One lens: its direct passages and, apart, the passages reached through tied codes."""

    lens: str
    label: str
    direct: pd.DataFrame  # segment_pk, transcript_id, participant_id, turn_idx
    reached: pd.DataFrame  # same columns plus via (tuple of code ids) and signs ("+", "-", "+-")
    ties: list[TieCount] = field(default_factory=list)

    @property
    def direct_participants(self) -> tuple[str, ...]:
        return _people(self.direct)

    @property
    def reached_participants(self) -> tuple[str, ...]:
        return _people(self.reached)


@dataclass
class LensPair:
    """Two lenses found together in turns: tensions and synergies in the data."""

    a: str
    b: str
    kind: str  # tension | synergy
    turns: pd.DataFrame  # transcript_id, turn_idx, participant_id, carriers (tuple of code ids)
    stated: list[str] = field(default_factory=list)  # what the codebook says about the pair

    @property
    def n_turns(self) -> int:
        return int(len(self.turns))

    @property
    def participants(self) -> tuple[str, ...]:
        return _people(self.turns)

    def carriers(self, n: int = 5) -> list[tuple[str, int]]:
        """The codes that carry the tension or synergy most often, with their turn counts."""
        counts: dict[str, int] = {}
        for carriers in self.turns["carriers"]:
            for code_id in carriers:
                counts[code_id] = counts.get(code_id, 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]


@dataclass
class LensAnalysis:
    """Every lens of a codebook with its passages, and the lens pairs found in the data."""

    lenses: list[LensView]
    pairs: list[LensPair]
    ties: list[LensTie]
    tree: CodeTree

    def as_dict(self) -> dict[str, Any]:
        return {
            "lenses": [
                {
                    "lens": view.lens,
                    "label": view.label,
                    "direct": {"segments": int(len(view.direct)), "participants": list(view.direct_participants)},
                    "reached": {"segments": int(len(view.reached)), "participants": list(view.reached_participants)},
                    "ties": [
                        {
                            "code_id": count.tie.code_id,
                            "kind": count.tie.kind,
                            "note": count.tie.note,
                            "segments": count.n_segments,
                            "reached": count.n_reached,
                            "turns_together": count.n_turns_together,
                            "participants_together": list(count.participants_together),
                        }
                        for count in view.ties
                    ],
                }
                for view in self.lenses
            ],
            "pairs": [
                {
                    "a": pair.a,
                    "b": pair.b,
                    "kind": pair.kind,
                    "turns": pair.n_turns,
                    "participants": list(pair.participants),
                    "carriers": [{"code_id": c, "turns": n} for c, n in pair.carriers()],
                    "stated": pair.stated,
                }
                for pair in self.pairs
            ],
        }


def _people(frame: pd.DataFrame) -> tuple[str, ...]:
    if frame.empty:
        return ()
    return tuple(sorted({str(p) for p in frame["participant_id"].dropna()}, key=participant_sort_key))


def lens_ties(tree: CodeTree, lenses: Iterable[str] | None = None) -> tuple[list[str], list[LensTie], list[tuple[str, str, str, str]]]:
    """The lenses (given, else every target of a ``serves``/``hinders`` tie, in codebook order),
    the ties of other codes to them, and the relations stated between two lenses."""
    ties = list(tree.ties)
    if lenses is None:
        targets = {tie["to"] for tie in ties if tie["type"] in LENS_TYPES}
        chosen = [code_id for code_id in tree.codes if code_id in targets]
    else:
        chosen = [code_id for code_id in lenses if code_id in tree.codes]
    lens_set = set(chosen)
    found: dict[tuple[str, str, str], LensTie] = {}  # (code, lens, sign) -> tie
    explicit: set[tuple[str, str]] = set()  # (code, lens) pairs with a serves/hinders tie
    between: list[tuple[str, str, str, str]] = []
    # serves/hinders first: where a code has one for a lens, its looser relations to that lens
    # (synergy-with, tension-with, part-of) are not read as ties, so they cannot contradict it
    ordered = [tie for tie in ties if tie["type"] in LENS_TYPES] + [tie for tie in ties if tie["type"] not in LENS_TYPES]
    for tie in ordered:
        kind, source, target = tie["type"], tie["from"], tie["to"]
        if kind not in SERVES | HINDERS:
            continue
        if source in lens_set and target in lens_set:
            between.append((source, kind, target, tie.get("note", "")))
            continue
        if target not in lens_set and kind in SYMMETRIC and source in lens_set:
            source, target = target, source  # "versioning synergy-with fallback-models" ties fallback-models to versioning
        if target not in lens_set or source not in tree.codes:
            continue
        if kind in LENS_TYPES:
            explicit.add((source, target))
        elif (source, target) in explicit:
            continue
        candidate = LensTie(source, target, kind, tie.get("note", ""))
        found.setdefault((source, target, candidate.sign), candidate)
    return chosen, list(found.values()), between


def lens_analysis(codings: pd.DataFrame, codebook: Any, *, lenses: Iterable[str] | None = None) -> LensAnalysis:
    """Direct and reached passages per lens, and tensions/synergies between lenses, from ``codings``
    (a :func:`~qualkit.analysis.load_codings` frame) read through ``codebook``'s ties."""
    tree = as_tree(codebook).with_codes(sorted(codings["code_id"].unique()) if not codings.empty else [])
    chosen, ties, between = lens_ties(tree, lenses)
    pairs = _pairs(codings, tree, rollup=True)
    segments = pairs.drop_duplicates("segment_pk").set_index("segment_pk")[["transcript_id", "participant_id", "turn_idx"]]
    columns = ["segment_pk", "transcript_id", "participant_id", "turn_idx"]

    code_segments = pairs.groupby("code_id")["segment_pk"].agg(set).to_dict() if not pairs.empty else {}
    turn_sets: dict[str, set[tuple[str, int]]] = {}
    turn_people: dict[tuple[str, int], Any] = {}
    for transcript_id, turn_idx, participant_id, code_id in zip(pairs["transcript_id"], pairs["turn_idx"], pairs["participant_id"], pairs["code_id"]):
        key = (transcript_id, int(turn_idx))
        turn_sets.setdefault(code_id, set()).add(key)
        turn_people[key] = None if pd.isna(participant_id) else participant_id
    views = []
    for lens in chosen:
        mine = [tie for tie in ties if tie.lens == lens]
        direct_pks = sorted(code_segments.get(lens, set()))
        tied = [(tie, code_segments.get(tie.code_id, set())) for tie in mine]
        reached_pks = set().union(*(found for _, found in tied)) - set(direct_pks) if tied else set()
        reached_rows = []
        for pk in sorted(reached_pks):
            via = [tie for tie, found in tied if pk in found]
            signs = "".join(sorted({tie.sign for tie in via}))
            reached_rows.append((pk, tuple(dict.fromkeys(tie.code_id for tie in via)), signs))
        direct = segments.loc[direct_pks].reset_index()[columns] if direct_pks else pd.DataFrame(columns=columns)
        reached = (
            segments.loc[[row[0] for row in reached_rows]].reset_index()[columns].assign(
                via=[row[1] for row in reached_rows], signs=[row[2] for row in reached_rows]
            )
            if reached_rows
            else pd.DataFrame(columns=[*columns, "via", "signs"])
        )
        counts = []
        direct_set = set(direct_pks)
        lens_turns = turn_sets.get(lens, set())
        for tie in mine:
            with_code = code_segments.get(tie.code_id, set())
            both = lens_turns & turn_sets.get(tie.code_id, set())
            people = tuple(sorted({str(turn_people[key]) for key in both if turn_people.get(key) is not None}, key=participant_sort_key))
            counts.append(TieCount(tie, len(with_code), len(with_code - direct_set), len(both), people))
        views.append(LensView(lens, tree.label(lens), direct, reached, counts))

    return LensAnalysis(views, _lens_pairs(pairs, chosen, ties, between, tree), ties, tree)


def _turn_codes(pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per turn: ``transcript_id, turn_idx, participant_id, codes`` (rolled-up code ids)."""
    if pairs.empty:
        return pd.DataFrame(columns=["transcript_id", "turn_idx", "participant_id", "codes"])
    grouped = pairs.groupby(["transcript_id", "turn_idx"], sort=True)
    return grouped.agg(participant_id=("participant_id", "first"), codes=("code_id", frozenset)).reset_index()


def _lens_pairs(
    pairs: pd.DataFrame, chosen: list[str], ties: list[LensTie], between: list[tuple[str, str, str, str]], tree: CodeTree
) -> list[LensPair]:
    turns = _turn_codes(pairs)
    by_code: dict[str, list[tuple[int, LensTie]]] = {}
    for index, tie in enumerate(ties):
        by_code.setdefault(tie.code_id, []).append((index, tie))
    # the ties present in each turn, in codebook tie order (a turn's codes are a set)
    present = [
        [tie for _, tie in sorted(item for code in codes for item in by_code.get(code, ()))]
        for codes in turns["codes"]
    ]
    result: list[LensPair] = []
    for i, a in enumerate(chosen):
        for b in chosen[i + 1 :]:
            stated = _stated(a, b, ties, between, tree)
            rows: dict[str, list[tuple[Any, ...]]] = {"tension": [], "synergy": []}
            for turn, here in zip(turns.itertuples(index=False), present):
                if not here:
                    continue
                ta = [tie for tie in here if tie.lens == a]
                tb = [tie for tie in here if tie.lens == b]
                if not ta or not tb:
                    continue
                sa, sb = {tie.sign for tie in ta}, {tie.sign for tie in tb}
                if ("+" in sa and "-" in sb) or ("-" in sa and "+" in sb):
                    carriers = tuple(dict.fromkeys(t.code_id for t in ta + tb))
                    rows["tension"].append((turn.transcript_id, turn.turn_idx, turn.participant_id, carriers))
                elif "+" in sa and "+" in sb:
                    carriers = tuple(dict.fromkeys(t.code_id for t in ta + tb if t.sign == "+"))
                    rows["synergy"].append((turn.transcript_id, turn.turn_idx, turn.participant_id, carriers))
            for kind in ("tension", "synergy"):
                frame = pd.DataFrame(rows[kind], columns=["transcript_id", "turn_idx", "participant_id", "carriers"])
                if not frame.empty or any(line.startswith(kind) for line in stated):
                    result.append(LensPair(a, b, kind, frame, [line for line in stated if line.startswith(kind)]))
    return result


def _stated(a: str, b: str, ties: list[LensTie], between: list[tuple[str, str, str, str]], tree: CodeTree) -> list[str]:
    """What the codebook says about lenses a and b: direct relations and codes that bridge them."""
    lines = []
    for source, kind, target, note in between:
        if {source, target} == {a, b}:
            word = "tension" if kind in HINDERS else "synergy"
            lines.append(f"{word}: {tree.label(source)} {kind} {tree.label(target)}" + (f" ({note})" if note else ""))
    codes = {tie.code_id for tie in ties if tie.lens in (a, b)}
    for code_id in sorted(codes, key=list(tree.codes).index if all(c in tree.codes for c in codes) else str):
        signs_a = {tie.sign for tie in ties if tie.code_id == code_id and tie.lens == a}
        signs_b = {tie.sign for tie in ties if tie.code_id == code_id and tie.lens == b}
        if not signs_a or not signs_b:
            continue
        if ("+" in signs_a and "-" in signs_b) or ("-" in signs_a and "+" in signs_b):
            lines.append(f"tension: {tree.label(code_id)} serves one and hinders the other")
        elif "+" in signs_a and "+" in signs_b:
            lines.append(f"synergy: {tree.label(code_id)} serves both")
    return lines


def lens_quotes(codings: pd.DataFrame, view: LensView, n: int = 2, *, tree: CodeTree | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Exemplar quotes for a lens: direct ones, and reached ones (with a ``via`` column)."""
    direct = exemplar_quotes(codings, view.lens, n, codebook=tree)
    if view.reached.empty:
        return direct, direct.iloc[0:0].assign(via=[])
    via = dict(zip(view.reached["segment_pk"], view.reached["via"]))
    carriers = {code for codes in via.values() for code in codes}
    lineage = tree.lineage() if tree is not None else pd.DataFrame({"code_id": list(carriers), "ancestor_id": list(carriers)})
    below = set(lineage[lineage["ancestor_id"].isin(carriers)]["code_id"]) | carriers
    rows = codings[codings["segment_pk"].isin(via.keys()) & codings["code_id"].isin(below)].assign(code_id="__reached__")
    reached = exemplar_quotes(rows, "__reached__", n)
    return direct, reached.assign(via=[via[pk] for pk in reached["segment_pk"]])


def turn_quote(codings: pd.DataFrame, transcript_id: str, turn_idx: int) -> pd.DataFrame:
    """One quote from a turn (its strongest segment), as :func:`exemplar_quotes` rows."""
    rows = codings[(codings["transcript_id"] == transcript_id) & (codings["turn_idx"] == turn_idx)].assign(code_id="__turn__")
    return exemplar_quotes(rows, "__turn__", 1)


__all__ = ["LensAnalysis", "LensPair", "LensTie", "LensView", "TieCount", "lens_analysis", "lens_quotes", "lens_ties", "turn_quote"]
