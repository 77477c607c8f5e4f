"""What a topics run says, as plain data for whoever shows it (the report, ``topics show``).

:func:`topics_report_data` returns each topic's terms, size, 2-D position, participants in the
paper's style "(P2, P3, P8)", coverage by the codebook with the covering codes, and 2-3
representative quotes. No HTML and no charts here: the report draws them
(:mod:`qualkit.reports.topics`), since a pass does not know how it is shown.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ...study import Study

#: A bracketed marker cut by sentence segmentation: "laughs] And ..." at the start, "... soapbox. [" at the end.
_BROKEN_START = re.compile(r"^[^\[\].!?]{1,30}\]\s*")
_BROKEN_END = re.compile(r"\s*\[[^\[\].!?]{0,30}$")

COVERAGE_COLOURS = {"covered": "#4c78a8", "partly covered": "#f2a93b", "not covered": "#e45756"}
QUOTES = 3


def clean_quote(text: str) -> str:
    """A segment's text as a quote: whitespace collapsed, broken bracket markers cut off its ends.

    Window and sentence segments can start or end inside a transcript marker ("[laughs]" split
    by sentence segmentation): a leading fragment closed by "]" and a trailing "[" that is never
    closed are removed; whole markers ("[laughs]", "[COMPANY]") are kept.
    """
    text = " ".join(text.split())
    text = _BROKEN_START.sub("", text, count=1)
    text = _BROKEN_END.sub("", text, count=1)
    return text.strip()


def representative_quotes(study: Study, segment_pks: list[int], *, limit: int = 3, words: int = 80) -> list[dict[str, Any]]:
    """The first ``limit`` of a topic's representative segments as cleaned quotes of at most
    ``words`` words: ``pk``, ``participant_id`` and ``quote``, in the order given."""
    pks = list(segment_pks)[:limit]
    if not pks:
        return []
    rows = study.store.query(
        f"""SELECT s.pk, s.text, t.participant_id FROM segments s JOIN transcripts t ON t.pk = s.transcript_pk
            WHERE s.pk IN ({','.join('?' * len(pks))})""",
        pks,
    )
    by_pk = {row["pk"]: row for row in rows}
    return [
        {"pk": pk, "participant_id": by_pk[pk]["participant_id"], "quote": clean_quote(" ".join(by_pk[pk]["text"].split()[:words]))}
        for pk in pks
        if pk in by_pk
    ]


def participants_text(ids: list[str]) -> str:
    """Participant ids in the paper's style: ``(P2, P3, P8)``, P2 before P10."""
    from ...store import participant_sort_key

    return "(" + ", ".join(sorted(ids, key=participant_sort_key)) + ")" if ids else ""


def topics_report_data(study: Study, run_id: int | None = None) -> dict[str, Any] | None:
    """Everything the report's "Emergent themes" section shows, or None without a topics run.

    Shape::

        {"run_id": int, "embedding": str, "unit": str, "parameters": dict,
         "n_segments": int, "n_topics": int, "outliers": int, "outlier_share": float,
         "counts": {"covered": int, "partly covered": int, "not covered": int},
         "topics": [{"topic": int, "label": str, "terms": [str], "size": int,
                     "participants": [str], "participants_text": "(P2, P3, P8)",
                     "coverage": "covered" | "partly covered" | "not covered",
                     "covering_codes": [{"code": str, "label": str, "share": float}],
                     "quotes": [{"segment_id": int, "participant_id": str, "transcript_id": str,
                                 "turn_idx": int, "text": str}],
                     "x": float | None, "y": float | None}],   # by size, largest first
        }
    """
    from .model import load_topics

    row = study.store.latest_run("topics") if run_id is None else study.store.run(run_id)
    if row is None or row["kind"] != "topics" or row["status"] != "ok":
        return None
    run_id, topics = load_topics(study, int(row["id"]))
    parameters = json.loads(row["parameters"] or "{}")
    real = sorted((t for t in topics if t["topic"] != -1), key=lambda t: (-t["size"], t["topic"]))
    outliers = next((t["size"] for t in topics if t["topic"] == -1), 0)
    wanted = [int(pk) for topic in real for pk in topic["representative"][:QUOTES]]
    rows = study.store.query(
        f"""SELECT s.pk, s.text, t.participant_id, t.id AS transcript_id, u.idx AS turn_idx FROM segments s
            JOIN transcripts t ON t.pk = s.transcript_pk JOIN turns u ON u.pk = s.turn_pk
            WHERE s.pk IN ({','.join('?' * len(wanted)) or 'NULL'})""",
        wanted,
    )
    by_pk = {int(r["pk"]): r for r in rows}
    items = []
    for topic in real:
        people = list(topic["participants"])
        labels = {code["code"]: code for code in topic["codes"]}
        items.append(
            {
                "topic": topic["topic"],
                "label": topic["label"],
                "terms": [term for term, _ in topic["terms"]],
                "size": topic["size"],
                "participants": sorted(people, key=_sort_key),
                "participants_text": participants_text(people),
                "coverage": topic["coverage"],
                "covering_codes": [
                    {"code": code_id, "label": labels.get(code_id, {}).get("label", code_id), "share": labels.get(code_id, {}).get("share", 0.0)}
                    for code_id in topic["covered_by"]
                ],
                "quotes": [
                    {
                        "segment_id": pk,
                        "participant_id": by_pk[pk]["participant_id"] or by_pk[pk]["transcript_id"],
                        "transcript_id": by_pk[pk]["transcript_id"],
                        "turn_idx": int(by_pk[pk]["turn_idx"]),
                        "text": clean_quote(by_pk[pk]["text"]),
                    }
                    for pk in topic["representative"][:QUOTES]
                    if pk in by_pk
                ],
                "x": topic["x"],
                "y": topic["y"],
            }
        )
    n_segments = sum(t["size"] for t in topics)
    counts = {name: sum(1 for item in items if item["coverage"] == name) for name in COVERAGE_COLOURS}
    return {
        "run_id": run_id,
        "embedding": parameters.get("embedding"),
        "unit": parameters.get("unit"),
        "parameters": parameters,
        "n_segments": n_segments,
        "n_topics": len(items),
        "outliers": outliers,
        "outlier_share": round(outliers / n_segments, 4) if n_segments else 0.0,
        "counts": counts,
        "topics": items,
    }


def _sort_key(identifier: str) -> tuple[str, int, str]:
    from ...store import participant_sort_key

    return participant_sort_key(identifier)


__all__ = ["COVERAGE_COLOURS", "clean_quote", "participants_text", "representative_quotes", "topics_report_data"]
