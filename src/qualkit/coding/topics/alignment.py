"""Topic to code alignment: which codes already cover a topic, and which topics are new.

Evidence per (topic, code), from the latest ok rules run (any unit: a code applies to a
topic segment when one of its applications overlaps the segment's span in the turn; coding the
topic's segments again with the rules gives the same sets on the sample study, so the stored
applications are used):

- **share**: the share of the topic's segments coded with the code or one of its
  descendants (the parent roll-up; root theme codes are left out: they cover everything and
  say nothing);
- **lift**: share divided by the code's share among all participant segments of the
  topic run (a code found everywhere is weak evidence for any one topic);
- **similarity**: cosine similarity between TF-IDF vectors of the topic's terms and of the
  code's label, definition, inclusion criteria, examples and phrases, both lemmatized
  (reported, to help a reader; not used for the label).

Per topic:

- **covering codes** (:func:`covering_codes`): the topic's characteristic codes (lift >=
  ``MIN_LIFT``), chosen greedily by the F-score of what each adds (the share of the topic's
  segments it codes that no chosen code codes yet, at least ``MIN_CODE_SHARE``) and its
  concentration in the topic (the share of all its coded segments that lie in the topic), at
  most ``MAX_COVERING``. A topic is rarely one code: the rules code a segment only where a
  phrase occurs, and a topic found bottom-up often spans sibling codes (alerts, on-call and
  data validation). **U**, the covered share, is the share of the topic's segments coded with
  at least one covering code;
- **vocabulary** (V): the weight share of the topic's terms that the codebook's rules know (the
  term's lemmas equal or contain a rule phrase, or the term is a pattern's word; a word that is
  only part of a longer phrase does not count: "request" is not known from "feature request").

Codes can apply to a topic's segments only in passing (a segment on deletion requests that
mentions a model version is coded ``versioning``, one on retraining without a customer's data
``frequent-retraining``), so codings alone never make a topic covered: the codebook must also
know the words that make the topic what it is. Hence:

- *covered*: V >= ``KNOWN_VOCABULARY`` and U >= ``COVERED_SHARE`` (by the covering codes);
- *partly covered*: V >= ``KNOWN_VOCABULARY`` and U >= ``PARTLY_SHARE``, or V >=
  ``FAMILIAR_VOCABULARY`` alone (the rules know its words but rarely fire on its segments);
- *not covered* otherwise: the codebook has neither the words nor the codings for the topic,
  a candidate for a new code.

The thresholds are round numbers checked on the sample study across seeds and both embedding
backends (see the README's topic section), not fitted to one run.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ...study import Study

COVERED_SHARE = 0.4
PARTLY_SHARE = 0.2
MIN_LIFT = 1.5
KNOWN_VOCABULARY = 0.15
FAMILIAR_VOCABULARY = 0.35
TOP_CODES = 5
MIN_CODE_SHARE = 0.1
MAX_COVERING = 3


def label_coverage(covered_share: float, vocabulary: float) -> str:
    """covered / partly covered / not covered from the covering codes' share and the vocabulary share."""
    if vocabulary >= KNOWN_VOCABULARY and covered_share >= COVERED_SHARE:
        return "covered"
    if (vocabulary >= KNOWN_VOCABULARY and covered_share >= PARTLY_SHARE) or vocabulary >= FAMILIAR_VOCABULARY:
        return "partly covered"
    return "not covered"


def rule_vocabulary(codes: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """The codebook rules' phrases (as lemma strings) and single pattern words."""
    from ..nlp import lemmas

    phrases: set[str] = set()
    words: set[str] = set()
    for code in codes:
        rules = code.get("rules") or {}
        for phrase in rules.get("phrases", []) or []:
            key = " ".join(lemmas(str(phrase)))
            if key:
                phrases.add(key)
        for pattern in rules.get("patterns", []) or []:
            for token in pattern:
                for attr, value in token.items():
                    if attr.upper() in ("LEMMA", "LOWER"):
                        values = value.get("IN", []) if isinstance(value, dict) else [value]
                        words.update(str(item).lower() for item in values if isinstance(item, str))
    return phrases, words


def vocabulary_share(terms: list[tuple[str, float]], phrases: set[str], words: set[str]) -> tuple[float, list[str]]:
    """Weight share of ``terms`` the rules know, and the known terms."""
    from ..nlp import lemmas

    total = sum(max(weight, 0.0) for _, weight in terms)
    known, weight_known = [], 0.0
    for term, weight in terms:
        key = " ".join(lemmas(term))
        if not key:
            continue
        padded = f" {key} "
        if key in words or any(f" {phrase} " in padded for phrase in phrases):
            known.append(term)
            weight_known += max(weight, 0.0)
    return (weight_known / total if total > 0 else 0.0), known


def _resolved_codes(resolved: dict[str, Any]) -> list[dict[str, Any]]:
    codes = resolved.get("codes", [])
    if isinstance(codes, dict):
        return [{"id": key, **value} for key, value in codes.items()]
    return list(codes)


def _applications(study: Study, run_id: int) -> dict[int, list[tuple[int, int, str]]]:
    """Code applications of a run by turn: turn_pk -> [(start, end, code_id)] in turn offsets."""
    by_turn: dict[int, list[tuple[int, int, str]]] = {}
    for row in study.store.query(
        """SELECT s.turn_pk, a.start_char, a.end_char, a.code_id FROM code_applications a
           JOIN segments s ON s.pk = a.segment_pk WHERE a.run_id = ?""",
        (run_id,),
    ):
        by_turn.setdefault(int(row["turn_pk"]), []).append((int(row["start_char"]), int(row["end_char"]), row["code_id"]))
    return by_turn


def segment_codes(study: Study, segments: list[dict[str, Any]], run_id: int) -> list[set[str]]:
    """The codes a rules run applied inside each segment's span (any overlap)."""
    by_turn = _applications(study, run_id)
    found = []
    for segment in segments:
        start, end = int(segment["start_char"]), int(segment["end_char"])
        found.append({code for a, b, code in by_turn.get(int(segment["turn_pk"]), ()) if a < end and b > start})
    return found


def align_topics(study: Study, topics: list[dict[str, Any]], segments: list[dict[str, Any]], assignments: np.ndarray) -> dict[int, dict[str, Any]]:
    """Label every topic covered, partly covered or not covered, with the codes behind it."""
    from ...analysis.codings import latest_rules_run  # lazy: pandas

    run = latest_rules_run(study)
    codes: list[dict[str, Any]] = []
    coded: list[set[str]] = [set() for _ in segments]
    if run is not None:
        if run["codebook_hash"]:
            book = study.store.query("SELECT resolved FROM codebooks WHERE hash = ?", (run["codebook_hash"],))
            if book:
                codes = _resolved_codes(json.loads(book[0]["resolved"]))
        coded = segment_codes(study, segments, int(run["id"]))
    parents = {code["id"]: code.get("parent") for code in codes}
    labels = {code["id"]: code.get("label", code["id"]) for code in codes}
    roots = {code_id for code_id, parent in parents.items() if not parent}

    def with_ancestors(code_id: str) -> set[str]:
        found, seen = set(), set()
        current: str | None = code_id
        while current and current not in seen:
            seen.add(current)
            if current not in roots:
                found.add(current)
            current = parents.get(current)
        return found

    expanded = []
    for applied in coded:
        codes_here: set[str] = set()
        for code_id in applied:
            codes_here |= with_ancestors(code_id)
        expanded.append(codes_here)
    total = max(len(segments), 1)
    totals: dict[str, int] = {}
    for codes_here in expanded:
        for code_id in codes_here:
            totals[code_id] = totals.get(code_id, 0) + 1
    base = {code_id: count / total for code_id, count in totals.items()}

    similarity = _similarity(topics, codes)
    phrases, words = rule_vocabulary(codes)
    result: dict[int, dict[str, Any]] = {}
    for topic_index, topic in enumerate(topics):
        members = np.flatnonzero(assignments == topic["topic"])
        size = max(len(members), 1)
        holders: dict[str, set[int]] = {}
        for index in members:
            for code_id in expanded[index]:
                holders.setdefault(code_id, set()).add(int(index))
        rows = []
        for code_index, code in enumerate(codes):
            code_id = code["id"]
            if code_id in roots:
                continue
            share = len(holders.get(code_id, ())) / size
            lift = share / base[code_id] if base.get(code_id) else 0.0
            sim = float(similarity[topic_index, code_index]) if similarity is not None else 0.0
            if share > 0 or sim > 0.05:
                rows.append(
                    {"code": code_id, "label": labels[code_id], "share": round(share, 4), "lift": round(lift, 3), "similarity": round(sim, 4)}
                )
        covering, covered_share = covering_codes(rows, holders, size, parents, totals)
        rank = {code_id: position for position, code_id in enumerate(covering)}
        rows.sort(key=lambda row: (rank.get(row["code"], len(rank)), -(row["share"] if row["lift"] >= MIN_LIFT else 0), -row["share"], -row["similarity"], row["code"]))
        best_share = max((row["share"] for row in rows if row["lift"] >= MIN_LIFT), default=0.0)
        best_similarity = max((row["similarity"] for row in rows), default=0.0)
        vocabulary, known_terms = vocabulary_share(topic["terms"], phrases, words)
        coverage = None if topic["topic"] == -1 else label_coverage(covered_share, vocabulary)
        result[topic["topic"]] = {
            "coverage": coverage,
            "covered_by": covering if coverage != "not covered" else [],
            "codes": rows[: max(TOP_CODES, len(covering))],
            "covered_share": round(covered_share, 4),
            "best_share": round(best_share, 4),
            "best_similarity": round(best_similarity, 4),
            "vocabulary": round(vocabulary, 4),
            "known_terms": known_terms,
            "rules_run": int(run["id"]) if run is not None else None,
        }
    return result


def covering_codes(rows: list[dict[str, Any]], holders: dict[str, set[int]], size: int, parents: dict[str, Any], totals: dict[str, int]) -> tuple[list[str], float]:
    """The codes that together cover a topic, and the share of its segments they code.

    Candidates are the topic's characteristic codes (lift >= ``MIN_LIFT``). Greedily, up to
    ``MAX_COVERING`` times, the candidate with the best F-score joins: the harmonic mean of
    its *gain* (the share of the topic's segments it codes that no chosen code codes yet) and
    its *concentration* (the share of all its coded segments that lie in this topic). A
    candidate must gain at least ``MIN_CODE_SHARE``. Descendants of a chosen code are then left
    out (the roll-up already counts their segments); an ancestor may still join when it adds
    segments beyond its chosen children, so a topic spread over several children of one parent
    is covered by the parent.
    """

    def ancestors(code_id: str) -> set[str]:
        found, current = set(), parents.get(code_id)
        while current and current not in found:
            found.add(current)
            current = parents.get(current)
        return found

    candidates = [row["code"] for row in rows if row["lift"] >= MIN_LIFT and row["share"] >= MIN_CODE_SHARE]
    chosen: list[str] = []
    covered: set[int] = set()
    while candidates and len(chosen) < MAX_COVERING:
        best: tuple[float, str] | None = None
        for code_id in candidates:
            mine = holders.get(code_id, set())
            gain = len(mine - covered) / size
            if gain < MIN_CODE_SHARE:
                continue
            concentration = len(mine) / max(totals.get(code_id, 0), len(mine), 1)
            score = 2 * gain * concentration / (gain + concentration)
            if best is None or (score, code_id) > best:
                best = (score, code_id)
        if best is None:
            break
        code_id = best[1]
        chosen.append(code_id)
        covered |= holders.get(code_id, set())
        candidates = [other for other in candidates if other != code_id and code_id not in ancestors(other)]
    return chosen, len(covered) / size


def _lemmatized(text: str) -> str:
    from ..nlp import lemmas

    return " ".join(lemmas(text))


def _similarity(topics: list[dict[str, Any]], codes: list[dict[str, Any]]) -> np.ndarray | None:
    if not topics or not codes:
        return None
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    def code_text(code: dict[str, Any]) -> str:
        rules = code.get("rules") or {}
        parts = [str(code.get(key) or "") for key in ("label", "definition", "inclusion")]
        parts += [str(example) for example in code.get("examples") or []]
        parts += [str(phrase) for phrase in rules.get("phrases", []) or []]
        return _lemmatized(" . ".join(parts))

    topic_texts = [
        " ".join(f"{_lemmatized(term)} " * max(1, int(round(weight * 100))) for term, weight in topic["terms"]) for topic in topics
    ]
    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
    matrix = vectorizer.fit_transform([code_text(code) for code in codes] + topic_texts)
    return cosine_similarity(matrix[len(codes) :], matrix[: len(codes)])
