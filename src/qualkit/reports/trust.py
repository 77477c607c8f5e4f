"""How far to trust each code, for the report: validity rows, marks, and exemplar evidence.

- :func:`with_signals` adds a ``signals`` column to a run's codings: how many independent
  sources put the code on the segment (the run itself, the other automatic pass of the same unit,
  a human coder), so exemplar quotes come from the strongest, most agreed evidence.
- :func:`trust_section` measures the report's pass against the human codings with
  :func:`qualkit.analysis.validity.measure_validity` (only on the units the human coded).
- :func:`mark` writes the verdicts into the context wherever a code appears, and marks quotes
  of codes below the bar.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import QualkitError
from .context import ReportContext, TrustRow, TrustSection
from .sections import _fmt_measure, code_anchor

#: Bootstrap resamples for the report's kappa intervals (``qualkit validity`` uses 1000).
REPORT_BOOTSTRAP = 300

_HUMAN_PAIRS = """
SELECT DISTINCT s.pk AS segment_pk, hc.code_id AS code_id FROM human_codings hc
JOIN turns tu ON tu.pk = hc.turn_pk JOIN transcripts t ON t.pk = hc.transcript_pk
JOIN segments s ON s.turn_pk = hc.turn_pk AND s.unit = ?
WHERE hc.decision != 'rejected' AND t.is_current = 1
  AND s.start_char < COALESCE(hc.end_char, LENGTH(tu.text)) AND COALESCE(hc.start_char, 0) < s.end_char
"""


def _run(study: Any, coder: str | None) -> Any:
    if not coder or not coder.startswith("run:") or "+" in coder:
        return None
    try:
        return study.store.run(int(coder.split(":", 1)[1]))
    except (QualkitError, ValueError):
        return None


def with_signals(study: Any, codings: pd.DataFrame, coder: str | None) -> pd.DataFrame:
    """``codings`` with a ``signals`` column (1 + other sources agreeing on segment and code)."""
    run = _run(study, coder)
    if run is None or codings.empty:
        return codings
    unit = codings.attrs.get("unit")
    other_kind = "learned" if run["kind"] == "rules" else "rules"
    pairs: list[set[tuple[int, str]]] = []
    if other_kind == "rules":  # the declared codebook's run, as the report's default
        from ..analysis.codings import latest_rules_run

        other = latest_rules_run(study)
    else:
        other = study.store.latest_run(other_kind)
    if other is not None and other["id"] != run["id"]:
        from ..analysis.codings import run_unit

        if run_unit(other) == unit:
            rows = study.store.query("SELECT DISTINCT segment_pk, code_id FROM code_applications WHERE run_id = ?", (other["id"],))
            pairs.append({(int(r["segment_pk"]), r["code_id"]) for r in rows})
    pairs.append({(int(r["segment_pk"]), r["code_id"]) for r in study.store.query(_HUMAN_PAIRS, (unit,))})
    keys = list(zip(codings["segment_pk"].astype(int), codings["code_id"]))
    signals = [1 + sum(key in source for source in pairs) for key in keys]
    result = codings.assign(signals=signals)
    result.attrs = dict(codings.attrs)
    return result


def evidence_text(score: float, signals: int | None, pass_kind: str | None) -> str:
    """'score 0.93; 3 sources agree' for a quote."""
    parts = []
    if pass_kind == "learned":
        parts.append(f"score {score:.2f}")
    if signals and signals > 1:
        parts.append(f"{signals} sources agree")
    return "; ".join(parts)


def trust_section(study: Any, coder: str | None, tree: Any, unit: str) -> TrustSection | None:
    """Validity of the report's pass against the human codings, or None when there is nothing to measure."""
    run = _run(study, coder)
    if run is None or run["kind"] not in ("rules", "learned"):
        return None
    if study.store.conn.execute("SELECT 1 FROM human_codings LIMIT 1").fetchone() is None:
        return None
    from ..analysis.validity import measure_validity
    from ..coding.learned.active import _codebook_of_run

    try:
        book = _codebook_of_run(study, run)  # the codebook the run used, not today's file
        result = measure_validity(study, passes=[run["kind"]], unit=unit, bootstrap=REPORT_BOOTSTRAP, codebook=book)
    except QualkitError:
        return None  # e.g. no human coding falls on a segment: nothing to measure
    rows = []
    order = {"do not use": 0, "review": 1, "trusted": 2}
    for row in result.rows:
        code = row["code_id"]
        rows.append(TrustRow(
            code_id=code, label=tree.label(code) if code in tree.codes else row["label"], anchor=code_anchor(code),
            verdict=row["verdict"], below_bar=row["verdict"] != "trusted", kappa=_fmt_measure(row["kappa"]),
            interval=f"{_fmt_measure(row['kappa_low'])}–{_fmt_measure(row['kappa_high'])}", precision=_fmt_measure(row["precision"]),
            recall=_fmt_measure(row["recall"]), n_examples=int(row["n_examples"]), reason=row["reason"],
        ))
    rows.sort(key=lambda r: (order.get(r.verdict, 0), r.label))
    return TrustSection(
        pass_name=run["kind"], coders=", ".join(f"human:{c}" for c in result.coders), unit_note=result.unit_note, rows=rows,
        n_trusted=sum(1 for r in rows if not r.below_bar), n_below=sum(1 for r in rows if r.below_bar),
    )


def mark(context: ReportContext, section: TrustSection | None) -> None:
    """Write each code's verdict wherever the code appears; mark quotes of codes below the bar."""
    context.trust = section
    if section is None:
        return
    verdicts = {row.code_id: row.verdict for row in section.rows}
    for theme in context.themes:
        for code in theme.codes:
            code.trust = verdicts.get(code.id, "")
            if code.trust and code.trust != "trusted":
                for quote in code.quotes:
                    quote.untrusted = True
    for row in context.frequency:
        row.trust = verdicts.get(row.code_id, "")
    for entry in context.codebook:
        entry.trust = verdicts.get(entry.id, "")
    if section.n_below:
        context.notes.append(
            f"{section.n_below} of {len(section.rows)} codes measured against {section.coders} are below the validity bar "
            f"(kappa < 0.6 or too few human examples) and are marked wherever they appear; see "
            f"\"How far to trust each code\"."
        )


__all__ = ["REPORT_BOOTSTRAP", "evidence_text", "mark", "trust_section", "with_signals"]
