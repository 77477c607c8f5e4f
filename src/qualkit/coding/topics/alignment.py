"""Topic to code alignment: which codes already cover a topic, and which topics are new.

Two pieces of evidence per (topic, code):

- **share**: the share of the topic's segments that the latest rules run (same unit) coded
  with the code or one of its descendants (root theme codes are left out: they cover
  everything and say nothing);
- **similarity**: cosine similarity between TF-IDF vectors of the topic's terms and of the
  code's label, definition, inclusion criteria and phrases.

A topic is *covered* when one code has share >= ``COVERED_SHARE``; *partly covered* when the
best share is >= ``PARTLY_SHARE`` or the best similarity is >= ``PARTLY_SIMILARITY``; else
*not covered*: a candidate for a new code.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ...study import Study

COVERED_SHARE = 0.5
PARTLY_SHARE = 0.3
PARTLY_SIMILARITY = 0.25
TOP_CODES = 5


def _resolved_codes(resolved: dict[str, Any]) -> list[dict[str, Any]]:
    codes = resolved.get("codes", [])
    if isinstance(codes, dict):
        return [{"id": key, **value} for key, value in codes.items()]
    return list(codes)


def _rules_run(study: Study, unit: str):
    for row in study.store.query("SELECT * FROM runs WHERE kind = 'rules' AND status = 'ok' ORDER BY id DESC"):
        if json.loads(row["parameters"] or "{}").get("unit", "turn") == unit:
            return row
    return None


def align_topics(study: Study, topics: list[dict[str, Any]], segments: list[dict[str, Any]], assignments: np.ndarray, *, unit: str) -> dict[int, dict[str, Any]]:
    """Label every topic covered, partly covered or not covered, with the codes behind it."""
    run = _rules_run(study, unit)
    codes: list[dict[str, Any]] = []
    coded: dict[int, set[str]] = {}
    if run is not None and run["codebook_hash"]:
        book = study.store.query("SELECT resolved FROM codebooks WHERE hash = ?", (run["codebook_hash"],))
        if book:
            codes = _resolved_codes(json.loads(book[0]["resolved"]))
        for row in study.store.query("SELECT DISTINCT segment_pk, code_id FROM code_applications WHERE run_id = ?", (run["id"],)):
            coded.setdefault(int(row["segment_pk"]), set()).add(row["code_id"])
    parents = {code["id"]: code.get("parent") for code in codes}
    labels = {code["id"]: code.get("label", code["id"]) for code in codes}
    roots = {code_id for code_id, parent in parents.items() if not parent}

    def with_ancestors(code_id: str) -> set[str]:
        found, seen = set(), set()
        while code_id and code_id not in seen:
            seen.add(code_id)
            if code_id not in roots:
                found.add(code_id)
            code_id = parents.get(code_id)
        return found

    similarity = _similarity(topics, codes)
    result: dict[int, dict[str, Any]] = {}
    for topic_index, topic in enumerate(topics):
        members = [segments[i]["pk"] for i in np.flatnonzero(assignments == topic["topic"])]
        counts: dict[str, int] = {}
        for pk in members:
            expanded: set[str] = set()
            for applied in coded.get(int(pk), ()):
                expanded |= with_ancestors(applied)
            for code_id in expanded:
                counts[code_id] = counts.get(code_id, 0) + 1
        size = max(len(members), 1)
        rows = []
        for code_index, code in enumerate(codes):
            code_id = code["id"]
            if code_id in roots:
                continue
            share = counts.get(code_id, 0) / size
            sim = float(similarity[topic_index, code_index]) if similarity is not None else 0.0
            if share > 0 or sim > 0:
                rows.append({"code": code_id, "label": labels[code_id], "share": round(share, 4), "similarity": round(sim, 4)})
        rows.sort(key=lambda row: (-row["share"], -row["similarity"], row["code"]))
        best_share = max((row["share"] for row in rows), default=0.0)
        best_similarity = max((row["similarity"] for row in rows), default=0.0)
        if topic["topic"] == -1:
            coverage = None
        elif best_share >= COVERED_SHARE:
            coverage = "covered"
        elif best_share >= PARTLY_SHARE or best_similarity >= PARTLY_SIMILARITY:
            coverage = "partly covered"
        else:
            coverage = "not covered"
        covering = [row["code"] for row in rows if row["share"] >= COVERED_SHARE][:3]
        result[topic["topic"]] = {
            "coverage": coverage,
            "covered_by": covering,
            "codes": rows[:TOP_CODES],
            "best_share": best_share,
            "best_similarity": best_similarity,
            "rules_run": int(run["id"]) if run is not None else None,
        }
    return result


def _similarity(topics: list[dict[str, Any]], codes: list[dict[str, Any]]) -> np.ndarray | None:
    if not topics or not codes:
        return None
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    def code_text(code: dict[str, Any]) -> str:
        rules = code.get("rules") or {}
        phrases = " ".join(rules.get("phrases", []) or [])
        return " ".join(str(code.get(key) or "") for key in ("label", "definition", "inclusion")) + " " + phrases

    topic_texts = [" ".join(f"{term} " * max(1, int(round(weight * 20))) for term, weight in topic["terms"]) for topic in topics]
    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
    matrix = vectorizer.fit_transform([code_text(code) for code in codes] + topic_texts)
    return cosine_similarity(matrix[len(codes) :], matrix[: len(codes)])
