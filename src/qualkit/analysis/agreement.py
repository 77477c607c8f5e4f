"""Intercoder agreement: percent agreement, Cohen's kappa, Krippendorff's alpha, precision/recall/F1.

The metric functions are plain and tested against the literature's worked examples
(Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability"; the textbook kappa
example). :func:`compare_coders` applies them to two coders of a study (``run:ID`` or
``human:NAME``), per code and overall.

Which units are compared
------------------------
Agreement is computed over units of analysis (segments of the chosen unit: turn, sentence,
...), each a yes/no decision per code. Tools that compute agreement over characters and
count all uncoded text as agreement inflate kappa and percent agreement: most of an
interview is coded by nobody, so two coders who never agree on a single passage still
"agree" on 95% of the characters. qualkit therefore compares the units that at least one
coder coded (with any code in scope) plus a seeded random sample of units neither coded,
``uncoded_sample`` times as many as the coded units (default 0.25: one uncoded unit per
four coded ones). The sample keeps a coder who codes too much from going unpunished, and
keeping it small keeps easy agreement on irrelevant text from dominating. The choice, the
ratio and the counts are stated in :attr:`AgreementResult.unit_note` and in the output.

That is the ``either`` scope. A human coder who coded one interview of ten would still look
like a poor match for a machine that coded all ten, so the default scope, ``auto``, compares a
human coder with a run (or a run with a human) only on the units that human coded (``coded-by-a``
or ``coded-by-b``: every unit the coder coded or decided on, with any code, no uncoded sample).
``all`` compares every eligible unit. The scope is stated in the output.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable, Sequence

import pandas as pd

from ..errors import InputError
from ..store import participant_sort_key

DEFAULT_UNCODED_SAMPLE = 0.25
SCOPES = ("auto", "coded-by-a", "coded-by-b", "either", "all")
PER_CODE_COLUMNS = ["code_id", "n_units", "percent_agreement", "kappa", "alpha", "precision", "recall", "f1", "a_count", "b_count"]
DISAGREEMENT_COLUMNS = ["segment_pk", "transcript_id", "participant_id", "code_id", "coder_a", "coder_b", "text"]

NAN = float("nan")


# --------------------------------------------------------------------------- metrics


def percent_agreement(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Share of units on which both coders gave the same value (NaN for no units)."""
    _same_length(a, b)
    if not a:
        return NAN
    return sum(1 for x, y in zip(a, b) if x == y) / len(a)


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa for two coders over the same units: (p_o - p_e) / (1 - p_e).

    NaN when chance agreement is 1 (both coders used one and the same value throughout:
    kappa is undefined there, not perfect).
    """
    _same_length(a, b)
    n = len(a)
    if n == 0:
        return NAN
    p_o = sum(1 for x, y in zip(a, b) if x == y) / n
    count_a, count_b = Counter(a), Counter(b)
    p_e = sum(count_a[value] * count_b[value] for value in set(count_a) | set(count_b)) / (n * n)
    if math.isclose(p_e, 1.0):
        return NAN
    return (p_o - p_e) / (1 - p_e)


def krippendorff_alpha(data: Sequence[Sequence[Any]], level: str = "nominal") -> float:
    """Krippendorff's alpha for ``data`` (one row per coder, one column per unit; None = missing).

    ``level`` is ``nominal`` or ``interval``. Units with fewer than two values are not
    pairable and do not count. Computed from the coincidence matrix:
    alpha = 1 - (n - 1) * sum(o_ck * d_ck) / sum(n_c * n_k * d_ck). NaN when there is no
    variation at all (expected disagreement 0).
    """
    if level not in ("nominal", "interval"):
        raise InputError(f"unknown alpha level {level!r}", hint="use nominal or interval")
    if not data:
        return NAN
    width = len(data[0])
    if any(len(row) != width for row in data):
        raise InputError("every coder's row must have one value per unit")
    coincidence: dict[tuple[Any, Any], float] = defaultdict(float)
    for u in range(width):
        values = [row[u] for row in data if row[u] is not None and not (isinstance(row[u], float) and math.isnan(row[u]))]
        m = len(values)
        if m < 2:
            continue
        for i, c in enumerate(values):
            for j, k in enumerate(values):
                if i != j:
                    coincidence[(c, k)] += 1.0 / (m - 1)
    if not coincidence:
        return NAN
    totals: dict[Any, float] = defaultdict(float)
    for (c, _), weight in coincidence.items():
        totals[c] += weight
    n = sum(totals.values())

    def delta(c: Any, k: Any) -> float:
        if level == "nominal":
            return 0.0 if c == k else 1.0
        return (float(c) - float(k)) ** 2

    observed = sum(weight * delta(c, k) for (c, k), weight in coincidence.items())
    expected = sum(totals[c] * totals[k] * delta(c, k) for c in totals for k in totals)
    if expected == 0:
        return NAN
    return 1.0 - (n - 1) * observed / expected


def precision_recall_f1(reference: Sequence[bool], predicted: Sequence[bool]) -> tuple[float, float, float]:
    """Precision, recall and F1 of ``predicted`` (coder B) against ``reference`` (coder A)."""
    _same_length(reference, predicted)
    tp = sum(1 for r, p in zip(reference, predicted) if r and p)
    fp = sum(1 for r, p in zip(reference, predicted) if p and not r)
    fn = sum(1 for r, p in zip(reference, predicted) if r and not p)
    precision = tp / (tp + fp) if tp + fp else NAN
    recall = tp / (tp + fn) if tp + fn else NAN
    if tp == 0:
        f1 = 0.0 if (fp or fn) else NAN
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return precision, recall, f1


def _same_length(a: Sequence[Any], b: Sequence[Any]) -> None:
    if len(a) != len(b):
        raise InputError(f"the two coders have different numbers of units ({len(a)} and {len(b)})")


# --------------------------------------------------------------------------- comparing coders


@dataclass
class AgreementResult:
    """Agreement of coder B with coder A (A is the reference for precision and recall)."""

    coder_a: str
    coder_b: str
    unit: str
    per_code: pd.DataFrame
    overall: dict[str, Any]
    disagreements: pd.DataFrame
    unit_note: str
    seed: int = 0
    uncoded_sample: float = DEFAULT_UNCODED_SAMPLE
    warnings: list[str] = field(default_factory=list)
    scope: str = "either"

    def as_dict(self, *, max_disagreements: int | None = None) -> dict[str, Any]:
        """Plain JSON-able data (NaN becomes null)."""
        disagreements = self.disagreements if max_disagreements is None else self.disagreements.head(max_disagreements)
        return {
            "coder_a": self.coder_a,
            "coder_b": self.coder_b,
            "unit": self.unit,
            "unit_note": self.unit_note,
            "seed": self.seed,
            "uncoded_sample": self.uncoded_sample,
            "scope": self.scope,
            "overall": {key: _clean(value) for key, value in self.overall.items()},
            "per_code": [{key: _clean(value) for key, value in row.items()} for row in self.per_code.to_dict("records")],
            "disagreements": [{key: _clean(value) for key, value in row.items()} for row in disagreements.to_dict("records")],
            "n_disagreements": int(len(self.disagreements)),
            "warnings": list(self.warnings),
        }


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    return value


def _load(study: Any, coder: str, unit: str | None) -> pd.DataFrame:
    """A coder's codings on segments of ``unit``: the one place to swap the codings source."""
    from .codings import load_codings

    return load_codings(study, coder, unit=unit)


def _universe(study: Any, unit: str) -> pd.DataFrame:
    """Every segment of ``unit`` in the current transcripts, with its role and text."""
    rows = study.store.query(
        """SELECT s.pk AS segment_pk, t.id AS transcript_id, t.participant_id AS participant_id, tu.idx AS turn_idx,
                  s.ordinal AS ordinal, tu.role AS role, s.text AS text
           FROM segments s JOIN transcripts t ON t.pk = s.transcript_pk JOIN turns tu ON tu.pk = s.turn_pk
           WHERE s.unit = ? AND t.is_current = 1""",
        (unit,),
    )
    columns = ["segment_pk", "transcript_id", "participant_id", "turn_idx", "ordinal", "role", "text"]
    return pd.DataFrame([tuple(row) for row in rows], columns=columns)


def _canonical_coder(coder: str) -> tuple[str, ...]:
    """``3``, ``run:3`` and `` run:3 `` name the same coder; a union's order does not matter."""
    from .codings import parse_coder

    return tuple(sorted({spec.name for spec in parse_coder(coder)}))


def compare_coders(
    study: Any,
    coder_a: str,
    coder_b: str,
    *,
    unit: str | None = "segment",
    codes: Iterable[str] | None = None,
    uncoded_sample: float = DEFAULT_UNCODED_SAMPLE,
    seed: int = 0,
    scope: str = "auto",
) -> AgreementResult:
    """Compare two coders per code and overall (see the module docs for the choice of units).

    ``unit``: ``segment`` (the study's unit of analysis, or the run's), ``turn``, ``sentence``
    or ``window:N``. ``codes`` limits the comparison (default: every code either coder used).
    ``scope``: ``auto`` (the human coder's units when exactly one coder is human, else
    ``either``), ``coded-by-a``, ``coded-by-b``, ``either`` or ``all``.
    """
    if scope not in SCOPES:
        raise InputError(f"unknown scope {scope!r}", hint=f"choose one of: {', '.join(SCOPES)}")
    if uncoded_sample < 0:
        raise InputError(f"uncoded_sample must be 0 or more, not {uncoded_sample}", hint="e.g. 0.25")
    if _canonical_coder(coder_a) == _canonical_coder(coder_b):  # "3" is "run:3"
        raise InputError(f"both coders are {coder_a!r}" + ("" if coder_a == coder_b else f" ({coder_b!r})"),
                         hint="compare two different coders")
    if codes:  # ids or labels; an unknown one is an error (with suggestions), not an empty row
        from .code_names import resolve_code, study_code_tree

        tree = study_code_tree(study)
        codes = [resolve_code(tree, str(code)) for code in codes]
    wanted_unit = None if unit in (None, "segment") else unit
    a = _load(study, coder_a, wanted_unit)
    resolved_unit = str(a.attrs.get("unit") or wanted_unit or study.config.coding.unit)
    b = _load(study, coder_b, resolved_unit)
    in_scope = list(dict.fromkeys(codes)) if codes else sorted(set(a["code_id"]) | set(b["code_id"]))
    warnings = []
    if codes:
        unused = [code for code in in_scope if code not in set(a["code_id"]) | set(b["code_id"])]
        if unused:
            warnings.append(f"neither coder used: {', '.join(unused)}")
    a = a[a["code_id"].isin(in_scope)]
    b = b[b["code_id"].isin(in_scope)]
    a_sets = {code: set(group["segment_pk"]) for code, group in a.groupby("code_id")}
    b_sets = {code: set(group["segment_pk"]) for code, group in b.groupby("code_id")}
    coded = set(a["segment_pk"]) | set(b["segment_pk"])

    universe = _universe(study, resolved_unit)
    include_interviewer = bool(getattr(getattr(study.config, "coding", None), "include_interviewer", False))
    eligible = universe if include_interviewer else universe[universe["role"] == "participant"]
    scope = _resolve_scope(scope, coder_a, coder_b)
    uncoded = sorted(set(eligible["segment_pk"]) - coded)
    sampled: list[int] = []
    if scope == "either":
        k = min(len(uncoded), int(round(uncoded_sample * len(coded))))
        sampled = sorted(random.Random(seed).sample(uncoded, k)) if k else []
        units = universe[universe["segment_pk"].isin(coded | set(sampled))].copy()
    elif scope == "all":
        units = universe[universe["segment_pk"].isin(set(eligible["segment_pk"]) | coded)].copy()
    else:
        who = coder_a if scope == "coded-by-a" else coder_b
        decided = _decided_units(study, who, resolved_unit)
        units = universe[universe["segment_pk"].isin(decided)].copy()
    order = {tid: i for i, tid in enumerate(sorted(units["transcript_id"].unique(), key=participant_sort_key))}
    units["_rank"] = units["transcript_id"].map(order)
    units = units.sort_values(["_rank", "ordinal"]).drop(columns="_rank").reset_index(drop=True)
    unit_pks = list(units["segment_pk"])

    records = []
    pooled_a: list[bool] = []
    pooled_b: list[bool] = []
    for code in in_scope:
        va = [pk in a_sets.get(code, set()) for pk in unit_pks]
        vb = [pk in b_sets.get(code, set()) for pk in unit_pks]
        pooled_a.extend(va)
        pooled_b.extend(vb)
        precision, recall, f1 = precision_recall_f1(va, vb)
        records.append(
            {
                "code_id": code,
                "n_units": len(unit_pks),
                "percent_agreement": percent_agreement(va, vb),
                "kappa": cohen_kappa(va, vb),
                "alpha": krippendorff_alpha([va, vb]),
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "a_count": sum(va),
                "b_count": sum(vb),
            }
        )
    per_code = pd.DataFrame(records, columns=PER_CODE_COLUMNS)
    precision, recall, f1 = precision_recall_f1(pooled_a, pooled_b)
    overall = {
        "n_units": len(unit_pks),
        "n_coded_units": len(coded),
        "n_uncoded_sampled": len(sampled),
        "n_uncoded_available": len(uncoded),
        "n_codes": len(in_scope),
        "n_decisions": len(pooled_a),
        "percent_agreement": percent_agreement(pooled_a, pooled_b),
        "kappa": cohen_kappa(pooled_a, pooled_b),
        "alpha": krippendorff_alpha([pooled_a, pooled_b]),
        "mean_kappa": _nanmean(per_code["kappa"]),
        "mean_alpha": _nanmean(per_code["alpha"]),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "a_count": int(sum(pooled_a)),
        "b_count": int(sum(pooled_b)),
    }
    texts = dict(zip(units["segment_pk"], zip(units["transcript_id"], units["participant_id"], units["text"])))
    rows = []
    for pk in unit_pks:
        for code in in_scope:
            in_a, in_b = pk in a_sets.get(code, set()), pk in b_sets.get(code, set())
            if in_a != in_b:
                transcript_id, participant_id, text = texts[pk]
                rows.append((pk, transcript_id, participant_id, code, in_a, in_b, text))
    disagreements = pd.DataFrame(rows, columns=DISAGREEMENT_COLUMNS)
    if scope == "either":
        note = (
            f"scope either: {resolved_unit} segments that at least one coder coded with a code in scope ({len(coded)}) plus a seeded "
            f"random sample (seed {seed}) of uncoded {'' if include_interviewer else 'participant '}segments, "
            f"{uncoded_sample:g} x the coded units ({len(sampled)} of {len(uncoded)} available); "
            "uncoded text is not counted wholesale as agreement, which would inflate kappa"
        )
    elif scope == "all":
        note = (f"scope all: every {'' if include_interviewer else 'participant '}{resolved_unit} segment of the current "
                f"transcripts ({len(unit_pks)}), uncoded ones counted as agreement on 'not this code'")
    else:
        who = coder_a if scope == "coded-by-a" else coder_b
        note = (f"scope {scope}: only the {len(unit_pks)} {resolved_unit} segments that {who} coded (or decided on); "
                "text that coder never coded is left out")
    if not unit_pks:
        warnings.append("no units to compare: neither coder coded anything in scope")
    return AgreementResult(
        coder_a=coder_a,
        coder_b=coder_b,
        unit=resolved_unit,
        per_code=per_code,
        overall=overall,
        disagreements=disagreements,
        unit_note=note,
        seed=seed,
        uncoded_sample=uncoded_sample,
        warnings=warnings,
        scope=scope,
    )


def _resolve_scope(scope: str, coder_a: str, coder_b: str) -> str:
    """``auto`` becomes the human coder's units when exactly one of the two coders is human."""
    if scope != "auto":
        return scope
    from .codings import parse_coder

    human_a = all(spec.kind == "human" for spec in parse_coder(coder_a))
    human_b = all(spec.kind == "human" for spec in parse_coder(coder_b))
    if human_a and not human_b:
        return "coded-by-a"
    if human_b and not human_a:
        return "coded-by-b"
    return "either"


def _decided_units(study: Any, coder: str, unit: str) -> set[int]:
    """Segments of ``unit`` that ``coder`` coded (a run: any application; a human: any coding or decision)."""
    from .codings import parse_coder

    units: set[int] = set()
    for spec in parse_coder(coder):
        if spec.kind == "run":
            rows = study.store.query("SELECT DISTINCT segment_pk FROM code_applications WHERE run_id = ?", (int(spec.value),))
        else:
            rows = study.store.query(
                """SELECT DISTINCT s.pk AS segment_pk FROM human_codings hc
                   JOIN turns tu ON tu.pk = hc.turn_pk JOIN transcripts t ON t.pk = hc.transcript_pk
                   JOIN segments s ON s.turn_pk = hc.turn_pk AND s.unit = ?
                   WHERE hc.coder = ? AND t.is_current = 1
                     AND s.start_char < COALESCE(hc.end_char, LENGTH(tu.text)) AND COALESCE(hc.start_char, 0) < s.end_char""",
                (unit, spec.value),
            )
        units.update(int(row["segment_pk"]) for row in rows)
    return units


def _nanmean(values: Iterable[float]) -> float:
    kept = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    return sum(kept) / len(kept) if kept else NAN


__all__ = [
    "AgreementResult",
    "DEFAULT_UNCODED_SAMPLE",
    "SCOPES",
    "cohen_kappa",
    "compare_coders",
    "krippendorff_alpha",
    "percent_agreement",
    "precision_recall_f1",
]
