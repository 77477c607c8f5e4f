"""Tables from codings: prevalence, frequency, participant x code, co-occurrence, saturation,
exemplar quotes and run comparison. Every function takes a codings DataFrame (see
:func:`qualkit.analysis.codings.load_codings`) and returns DataFrames; none prints anything.

A code's *segments* are the distinct segments coded with it; a code applied twice in one
segment counts once. With ``rollup`` a parent code counts every segment coded with it or with
any of its descendants, once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ..store import participant_sort_key
from .codetree import CodeTree, as_tree

# -- helpers --------------------------------------------------------------------------------


def participant_ids(participants: Any) -> list[str]:
    """Participant ids from a participants DataFrame, a list of ids, or a list of Participant objects."""
    if participants is None:
        return []
    if isinstance(participants, pd.DataFrame):
        column = "participant_id" if "participant_id" in participants.columns else "id"
        values = [str(v) for v in participants[column].dropna()]
    else:
        values = [p if isinstance(p, str) else str(getattr(p, "id")) for p in participants]
    return sorted(dict.fromkeys(values), key=participant_sort_key)


def format_participant_list(ids: Iterable[str]) -> str:
    """The paper's style: ``(P1, P3, P6, P10)``, sorted by participant number; empty for none."""
    ordered = sorted(set(ids), key=participant_sort_key)
    return f"({', '.join(ordered)})" if ordered else ""


def _tree_for(codings: pd.DataFrame, codebook: Any) -> CodeTree:
    return as_tree(codebook).with_codes(sorted(codings["code_id"].unique()))


def _pairs(codings: pd.DataFrame, tree: CodeTree | None = None, *, rollup: bool = False) -> pd.DataFrame:
    """Distinct (segment, code) rows; with ``rollup`` every ancestor of a code is added too."""
    columns = ["segment_pk", "transcript_id", "participant_id", "turn_idx", "code_id"]
    pairs = codings[columns].drop_duplicates(["segment_pk", "code_id"])
    if rollup and tree is not None and not pairs.empty:
        pairs = (
            pairs.merge(tree.lineage(), on="code_id")
            .drop(columns="code_id")
            .rename(columns={"ancestor_id": "code_id"})
            .drop_duplicates(["segment_pk", "code_id"])[columns]
        )
    return pairs


def _aggregate(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per code: ``n_segments``, ``n_participants`` and the sorted ``participants`` tuple."""
    if pairs.empty:
        return pd.DataFrame(columns=["n_segments", "n_participants", "participants"]).rename_axis("code_id")
    grouped = pairs.groupby("code_id")
    people = pairs.drop_duplicates(["code_id", "participant_id"]).groupby("code_id")["participant_id"]
    return pd.DataFrame(
        {
            "n_segments": grouped["segment_pk"].nunique(),
            "n_participants": grouped["participant_id"].nunique(),
            "participants": people.agg(lambda ids: tuple(sorted(ids.dropna(), key=participant_sort_key))),
        }
    )


def _denominator(codings: pd.DataFrame, participants: Any) -> int:
    ids = participant_ids(participants)
    return len(ids) if ids else int(codings["participant_id"].nunique())


# -- prevalence and frequency ---------------------------------------------------------------


def prevalence(codings: pd.DataFrame, codebook: Any = None, participants: Any = None) -> pd.DataFrame:
    """Per code (codebook order, parents before children, unmentioned codes included):

    ``code_id, label, parent, theme, theme_label, depth, has_children, n_segments`` (rolled up:
    the code or any descendant, each segment once), ``n_segments_direct``, ``n_participants``,
    ``share_participants`` (of ``participants``, else of the participants in the codings),
    ``participants`` (tuple) and ``participant_list`` in the paper's style "(P1, P3, P10)".
    """
    tree = _tree_for(codings, codebook)
    rolled = _aggregate(_pairs(codings, tree, rollup=True))
    direct = _aggregate(_pairs(codings))
    order = tree.preorder()
    frame = pd.DataFrame({"code_id": order})
    frame["label"] = [tree.label(c) for c in order]
    frame["parent"] = [tree.codes[c].parent for c in order]
    frame["theme"] = [tree.root_of(c) for c in order]
    frame["theme_label"] = [tree.label(tree.root_of(c)) for c in order]
    frame["depth"] = [tree.depth(c) for c in order]
    frame["has_children"] = [bool(tree.children(c)) for c in order]
    frame["n_segments"] = frame["code_id"].map(rolled["n_segments"]).fillna(0).astype(int)
    frame["n_segments_direct"] = frame["code_id"].map(direct["n_segments"]).fillna(0).astype(int)
    frame["n_participants"] = frame["code_id"].map(rolled["n_participants"]).fillna(0).astype(int)
    total = _denominator(codings, participants)
    frame["share_participants"] = frame["n_participants"] / total if total else 0.0
    people = frame["code_id"].map(rolled["participants"])
    frame["participants"] = people.map(lambda value: value if isinstance(value, tuple) else ())
    frame["participant_list"] = frame["participants"].map(format_participant_list)
    frame.attrs["n_participants_total"] = total
    return frame


def code_frequency(codings: pd.DataFrame, codebook: Any = None, participants: Any = None) -> pd.DataFrame:
    """The paper's appendix table: codes by frequency, with the share of participants.

    Lists every code that can be applied (leaves, and parents applied directly), counted on
    direct applications so no segment is counted twice. Columns: ``rank, code_id, label,
    theme_label, n_segments, n_participants, share_participants, participant_list``.
    """
    tree = _tree_for(codings, codebook)
    direct = _aggregate(_pairs(codings))
    order = tree.preorder()
    frame = pd.DataFrame({"code_id": order, "_pos": range(len(order))})
    frame["label"] = [tree.label(c) for c in order]
    frame["theme_label"] = [tree.label(tree.root_of(c)) for c in order]
    frame["n_segments"] = frame["code_id"].map(direct["n_segments"]).fillna(0).astype(int)
    frame["n_participants"] = frame["code_id"].map(direct["n_participants"]).fillna(0).astype(int)
    leaf = pd.Series([not tree.children(c) for c in order])
    frame = frame[leaf.to_numpy() | (frame["n_segments"] > 0).to_numpy()]
    total = _denominator(codings, participants)
    frame["share_participants"] = frame["n_participants"] / total if total else 0.0
    people = frame["code_id"].map(direct["participants"])
    frame["participant_list"] = people.map(lambda v: format_participant_list(v) if isinstance(v, tuple) else "")
    frame = frame.sort_values(["n_segments", "n_participants", "_pos"], ascending=[False, False, True], kind="mergesort")
    frame.insert(0, "rank", range(1, len(frame) + 1))
    frame.attrs["n_participants_total"] = total
    return frame.drop(columns="_pos").reset_index(drop=True)


def participant_code_matrix(
    codings: pd.DataFrame,
    codebook: Any = None,
    participants: Any = None,
    *,
    value: str = "count",
    rollup: bool = False,
) -> pd.DataFrame:
    """Participants (rows, participant order) x codes (columns, codebook order).

    ``value="count"``: the number of segments of that participant coded with the code;
    ``value="presence"``: 1 when the participant mentions it, else 0. Participants given in
    ``participants`` who mention nothing appear as zero rows.
    """
    if value not in ("count", "presence"):
        raise ValueError(f"value must be 'count' or 'presence', not {value!r}")
    tree = _tree_for(codings, codebook)
    pairs = _pairs(codings, tree, rollup=rollup)
    rows = sorted(set(participant_ids(participants)) | set(pairs["participant_id"].dropna()), key=participant_sort_key)
    codes = tree.preorder() if (rollup or not tree.codes) else [c for c in tree.preorder()]
    counts = pd.crosstab(pairs["participant_id"], pairs["code_id"]) if not pairs.empty else pd.DataFrame()
    matrix = counts.reindex(index=rows, columns=codes, fill_value=0).fillna(0).astype(int)
    matrix.index.name = "participant_id"
    matrix.columns.name = "code_id"
    return (matrix > 0).astype(int) if value == "presence" else matrix


def by_attribute(
    codings: pd.DataFrame,
    codebook: Any = None,
    participants: pd.DataFrame | None = None,
    attribute: str = "company_size",
) -> pd.DataFrame:
    """Prevalence by a participant attribute, with group sizes.

    One row per (code, group): ``code_id, label, attribute, group, n_participants, group_size,
    share, phrase`` where ``phrase`` reads "4 of 6". Missing attribute values form the group
    "unknown". Codes are rolled up as in :func:`prevalence`.
    """
    if participants is None or attribute not in participants.columns:
        known = ", ".join(c for c in (participants.columns if participants is not None else []) if c != "participant_id")
        raise KeyError(f"no participant attribute {attribute!r} (known: {known or 'none'})")
    tree = _tree_for(codings, codebook)
    people = participants[["participant_id", attribute]].copy()
    people["group"] = people[attribute].astype("object").where(people[attribute].notna(), "unknown").astype(str)
    presence = participant_code_matrix(codings, tree, people, value="presence", rollup=True)
    presence = presence.reindex(people["participant_id"]).fillna(0)
    grouped = presence.groupby(people.set_index("participant_id")["group"]).sum()
    sizes = people.groupby("group")["participant_id"].nunique()
    long = grouped.stack().rename("n_participants").reset_index()
    long.columns = ["group", "code_id", "n_participants"]
    long["n_participants"] = long["n_participants"].astype(int)
    long["group_size"] = long["group"].map(sizes).astype(int)
    long["share"] = long["n_participants"] / long["group_size"]
    long["phrase"] = long["n_participants"].astype(str) + " of " + long["group_size"].astype(str)
    long["label"] = long["code_id"].map(tree.label)
    long["attribute"] = attribute
    position = {c: i for i, c in enumerate(tree.preorder())}
    long = long.assign(_pos=long["code_id"].map(position)).sort_values(["_pos", "group"], kind="mergesort")
    return long[["code_id", "label", "attribute", "group", "n_participants", "group_size", "share", "phrase"]].reset_index(drop=True)


# -- co-occurrence ----------------------------------------------------------------------------


def _incidence(codings: pd.DataFrame, window_turns: int) -> pd.DataFrame:
    """Distinct (segment_pk, code_id): codes on a coded segment, or within ``window_turns`` turns of it."""
    if window_turns < 0:
        raise ValueError("window_turns must be 0 or more")
    if window_turns == 0 or codings.empty:
        return codings[["segment_pk", "code_id"]].drop_duplicates()
    anchors = codings[["segment_pk", "transcript_id", "turn_idx"]].drop_duplicates()
    positions = codings[["transcript_id", "turn_idx", "code_id"]].drop_duplicates()
    offsets = pd.DataFrame({"_d": range(-window_turns, window_turns + 1)})
    near = positions.merge(offsets, how="cross")
    near["turn_idx"] = near["turn_idx"] + near["_d"]
    return anchors.merge(near, on=["transcript_id", "turn_idx"])[["segment_pk", "code_id"]].drop_duplicates()


def cooccurrence(codings: pd.DataFrame, codebook: Any = None, *, window_turns: int = 0) -> pd.DataFrame:
    """Code pairs that occur together, with Jaccard and Salton's cosine.

    With ``window_turns=0`` two codes co-occur in a segment coded with both. With N > 0 each
    coded segment's neighbourhood is itself plus the coded segments up to N turns before or
    after it in the same transcript; two codes co-occur at a segment when both are in its
    neighbourhood. For codes a, b: ``n`` = segments where both co-occur, ``n_a``/``n_b`` =
    segments whose neighbourhood has a (resp. b), ``jaccard = n / (n_a + n_b - n)``,
    ``cosine = n / sqrt(n_a * n_b)``. Columns: ``code_a, code_b, label_a, label_b, n, n_a,
    n_b, jaccard, cosine`` (pairs with n > 0, codebook order, code_a before code_b).
    """
    tree = _tree_for(codings, codebook)
    columns = ["code_a", "code_b", "label_a", "label_b", "n", "n_a", "n_b", "jaccard", "cosine"]
    incidence = _incidence(codings, window_turns)
    if incidence.empty:
        return pd.DataFrame(columns=columns)
    matrix = cooccurrence_matrix(codings, tree, window_turns=window_turns, _incidence_frame=incidence)
    codes = list(matrix.columns)
    counts = matrix.to_numpy()
    upper = np.triu(np.ones_like(counts, dtype=bool), k=1) & (counts > 0)
    ia, ib = np.nonzero(upper)
    diag = np.diag(counts)
    n = counts[ia, ib]
    n_a, n_b = diag[ia], diag[ib]
    frame = pd.DataFrame(
        {
            "code_a": [codes[i] for i in ia],
            "code_b": [codes[i] for i in ib],
            "n": n.astype(int),
            "n_a": n_a.astype(int),
            "n_b": n_b.astype(int),
        }
    )
    frame["label_a"] = frame["code_a"].map(tree.label)
    frame["label_b"] = frame["code_b"].map(tree.label)
    frame["jaccard"] = frame["n"] / (frame["n_a"] + frame["n_b"] - frame["n"])
    frame["cosine"] = frame["n"] / np.sqrt(frame["n_a"] * frame["n_b"])
    return frame[columns]


def cooccurrence_matrix(
    codings: pd.DataFrame,
    codebook: Any = None,
    *,
    window_turns: int = 0,
    measure: str = "n",
    _incidence_frame: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Square code x code table of the codes that occur (codebook order).

    ``measure="n"``: co-occurrence counts, the diagonal being each code's own count;
    ``"jaccard"`` or ``"cosine"``: the normalised measures (diagonal 1).
    """
    tree = _tree_for(codings, codebook)
    incidence = _incidence(codings, window_turns) if _incidence_frame is None else _incidence_frame
    present = set(incidence["code_id"])
    used = [c for c in tree.preorder() if c in present]
    if incidence.empty:
        return pd.DataFrame(index=pd.Index([], name="code_id"), columns=pd.Index([], name="code_id"), dtype=float)
    # segments x codes as a sparse 0/1 matrix: a large study has hundreds of thousands of segments
    from scipy import sparse

    column_of = {code: i for i, code in enumerate(used)}
    columns = incidence["code_id"].map(column_of)
    kept = columns.notna().to_numpy()
    rows, segments = pd.factorize(incidence["segment_pk"].to_numpy()[kept])
    x = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.int64), (rows, columns.to_numpy()[kept].astype(np.int64))), shape=(len(segments), len(used))
    )
    x.sum_duplicates()
    x.data = np.minimum(x.data, 1)
    index = pd.Index(used, name="code_id")
    counts = pd.DataFrame((x.T @ x).toarray(), index=index, columns=index.copy())
    if measure == "n":
        return counts.astype(int)
    diag = np.diag(counts.to_numpy()).astype(float)
    values = counts.to_numpy().astype(float)
    if measure == "jaccard":
        result = values / (diag[:, None] + diag[None, :] - values)
    elif measure == "cosine":
        result = values / np.sqrt(diag[:, None] * diag[None, :])
    else:
        raise ValueError(f"measure must be 'n', 'jaccard' or 'cosine', not {measure!r}")
    return pd.DataFrame(result, index=counts.index, columns=counts.columns)


def top_pairs(
    codings: pd.DataFrame,
    codebook: Any = None,
    *,
    n: int = 10,
    window_turns: int = 0,
    by: str = "n",
    examples: int = 2,
    example_words: int = 40,
) -> pd.DataFrame:
    """The ``n`` strongest co-occurring pairs (by ``n``, ``jaccard`` or ``cosine``), each with up to
    ``examples`` example segments (``examples`` column: list of dicts with ``segment_pk,
    participant_id, transcript_id, turn_idx, anchor, text``), from different participants first."""
    pairs = cooccurrence(codings, codebook, window_turns=window_turns)
    if pairs.empty:
        return pairs.assign(examples=pd.Series(dtype=object))
    order = [by, "n"] if by != "n" else ["n", "jaccard"]
    top = pairs.sort_values(order, ascending=False, kind="mergesort").head(n).reset_index(drop=True)
    incidence = _incidence(codings, window_turns)
    both = incidence.merge(incidence, on="segment_pk", suffixes=("_a", "_b")).rename(
        columns={"code_id_a": "code_a", "code_id_b": "code_b"}
    )
    both = both.merge(top[["code_a", "code_b"]], on=["code_a", "code_b"])
    segments = codings.drop_duplicates("segment_pk")[["segment_pk", "participant_id", "transcript_id", "turn_idx", "text"]]
    both = both.merge(segments, on="segment_pk")
    both["_per_person"] = both.groupby(["code_a", "code_b", "participant_id"]).cumcount()
    both = both.sort_values(["_per_person"], kind="mergesort")
    both = both.groupby(["code_a", "code_b"]).head(examples)
    both["anchor"] = [turn_anchor(t, i) for t, i in zip(both["transcript_id"], both["turn_idx"])]
    both["text"] = both["text"].map(lambda text: trim_words(text, example_words))
    records = both.groupby(["code_a", "code_b"])[["segment_pk", "participant_id", "transcript_id", "turn_idx", "anchor", "text"]].apply(
        lambda g: g.to_dict("records")
    )
    top["examples"] = [records.get((a, b), []) for a, b in zip(top["code_a"], top["code_b"])]
    return top


# -- saturation ---------------------------------------------------------------------------------


def interview_order(transcripts: pd.DataFrame) -> pd.DataFrame:
    """Transcripts in the order they were conducted: by date (undated last), then by id."""
    frame = transcripts.copy()
    if "date" not in frame.columns:
        frame["date"] = pd.NaT
    frame["date"] = pd.to_datetime(frame["date"], errors="coerce")
    frame["_key"] = frame["transcript_id"].map(participant_sort_key)
    frame = frame.sort_values(["date", "_key"], na_position="last", kind="mergesort").drop(columns="_key")
    return frame.reset_index(drop=True)


def saturation(codings: pd.DataFrame, transcripts: pd.DataFrame, k: int = 2) -> pd.DataFrame:
    """New codes per interview in interview order, the cumulative count, and the saturation point.

    Columns: ``position`` (1-based), ``transcript_id, participant_id, date, new_codes,
    new_code_ids, cumulative, saturated``. The saturation point is the first interview after
    which ``k`` consecutive interviews add no new code (``saturated`` is True on it); its id is in
    ``df.attrs["saturation_at"]`` (``None`` when not reached), ``k`` in ``df.attrs["k"]``.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    order = interview_order(transcripts)
    frame = order[["transcript_id"]].copy()
    frame.insert(0, "position", range(1, len(frame) + 1))
    frame["participant_id"] = order["participant_id"] if "participant_id" in order.columns else None
    frame["date"] = order["date"].dt.date.astype(object).where(order["date"].notna(), None)
    first = (
        codings[["transcript_id", "code_id"]]
        .drop_duplicates()
        .merge(frame[["transcript_id", "position"]], on="transcript_id")
        .groupby("code_id")["position"]
        .min()
        .reset_index()
        .sort_values(["position", "code_id"])
    )
    new_ids = first.groupby("position")["code_id"].agg(tuple)
    frame["new_code_ids"] = frame["position"].map(new_ids).map(lambda v: v if isinstance(v, tuple) else ())
    frame["new_codes"] = frame["new_code_ids"].map(len).astype(int)
    frame["cumulative"] = frame["new_codes"].cumsum().astype(int)
    zero = frame["new_codes"].eq(0).astype(int)
    # zeros among the k interviews after each one
    ahead = zero[::-1].rolling(k, min_periods=k).sum()[::-1].shift(-1)
    candidates = frame.index[(ahead == k) & (frame["cumulative"] > 0)]
    frame["saturated"] = False
    at = None
    if len(candidates):
        frame.loc[candidates[0], "saturated"] = True
        at = str(frame.loc[candidates[0], "transcript_id"])
    frame = frame[["position", "transcript_id", "participant_id", "date", "new_codes", "new_code_ids", "cumulative", "saturated"]]
    frame.attrs.update({"saturation_at": at, "k": k})
    return frame


# -- exemplar quotes ------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])[\"'\u201d\u2019)\]]*\s+")


def turn_anchor(transcript_id: str, turn_idx: int) -> str:
    """The HTML id of a turn in the report's transcript appendix."""
    return f"t-{transcript_id}-{int(turn_idx)}"


def _words(text: str) -> int:
    return len(text.split())


def trim_words(text: str, max_words: int) -> str:
    """Whitespace-normalised ``text``, cut to ``max_words`` words with an ellipsis."""
    words = text.split()
    return " ".join(words) if len(words) <= max_words else " ".join(words[:max_words]) + " …"


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (a sentence ends at . ! ? or … then space)."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()] or [(0, len(text))]


def trim_quote(text: str, start: int, end: int, *, min_words: int = 25, max_words: int = 60) -> str:
    """A readable quote around ``text[start:end]``: whole sentences around the match, growing
    until ``min_words`` without passing ``max_words``; a very long sentence is cut to
    ``max_words`` words around the match. Cuts are marked with an ellipsis."""
    spans = sentence_spans(text)
    start = max(0, min(start, len(text)))
    hit = next((i for i, (s, e) in enumerate(spans) if s <= start < e or (start < s and end > s)), 0)
    lo = hi = hit
    count = _words(text[spans[hit][0] : spans[hit][1]])
    prefer_after = True
    while count < min_words:
        options = [i for i in (hi + 1, lo - 1) if 0 <= i < len(spans)]
        if not prefer_after:
            options.reverse()
        for candidate in options:
            extra = _words(text[spans[candidate][0] : spans[candidate][1]])
            if count + extra <= max_words:
                lo, hi = min(lo, candidate), max(hi, candidate)
                count += extra
                break
        else:
            break
        prefer_after = not prefer_after
    s, e = spans[lo][0], spans[hi][1]
    body = " ".join(text[s:e].split())
    prefix = "… " if lo > 0 else ""
    suffix = " …" if hi < len(spans) - 1 else ""
    if count > max_words:  # one long sentence: a window of words around the match
        words = list(re.finditer(r"\S+", text[s:e]))
        at = next((i for i, w in enumerate(words) if s + w.end() > start), 0)
        first = max(0, min(at - max_words // 3, len(words) - max_words))
        last = min(len(words), first + max_words)
        body = " ".join(w.group() for w in words[first:last])
        prefix = "… " if (first > 0 or lo > 0) else ""
        suffix = " …" if (last < len(words) or hi < len(spans) - 1) else ""
    return f"{prefix}{body}{suffix}"


def exemplar_quotes(
    codings: pd.DataFrame,
    code_id: str,
    n: int = 3,
    *,
    codebook: Any = None,
    min_words: int = 25,
    max_words: int = 60,
) -> pd.DataFrame:
    """Up to ``n`` quotes that best illustrate ``code_id`` (and its descendants, given a codebook).

    Segments are ranked by how many independent signals agree (a ``signals`` column, when the
    codings carry one: e.g. the rules, the learned pass and a human coder), then by match strength
    (sum of scores), then by how close they are to a readable length; the best quote of each
    participant comes before anyone's second. Columns: ``code_id, participant_id, transcript_id,
    turn_idx, segment_pk, quote, anchor, score, n_words`` (and ``signals`` when given).
    """
    columns = ["code_id", "participant_id", "transcript_id", "turn_idx", "segment_pk", "quote", "anchor", "score", "n_words"]
    wanted = {code_id}
    if codebook is not None:
        wanted |= set(as_tree(codebook).descendants(code_id))
    rows = codings[codings["code_id"].isin(wanted)]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    if "segment_start" not in rows.columns:
        rows = rows.assign(segment_start=0)
    signals = "signals" in rows.columns
    if not signals:
        rows = rows.assign(signals=1)
    per_segment = rows.groupby("segment_pk", sort=False).agg(
        signals=("signals", "max"),
        participant_id=("participant_id", "first"),
        transcript_id=("transcript_id", "first"),
        turn_idx=("turn_idx", "first"),
        text=("text", "first"),
        segment_start=("segment_start", "first"),
        start_char=("start_char", "min"),
        end_char=("end_char", "max"),
        score=("score", "sum"),
    ).reset_index()
    per_segment["n_words"] = per_segment["text"].str.split().str.len()
    target = (min_words + max_words) / 2
    per_segment["_fit"] = (per_segment["n_words"] - target).abs().where(per_segment["n_words"] < min_words, 0)
    per_segment["_key"] = per_segment["transcript_id"].map({t: participant_sort_key(t) for t in per_segment["transcript_id"].unique()})
    ranked = per_segment.sort_values(["signals", "score", "_fit", "_key", "turn_idx"], ascending=[False, False, True, True, True], kind="mergesort")
    ranked["_turn"] = ranked.groupby(ranked["participant_id"].fillna(ranked["transcript_id"])).cumcount()
    chosen = ranked.sort_values("_turn", kind="mergesort").head(n).copy()
    chosen["quote"] = [
        trim_quote(text, int(s) - int(seg), int(e) - int(seg), min_words=min_words, max_words=max_words)
        for text, s, e, seg in zip(chosen["text"], chosen["start_char"], chosen["end_char"], chosen["segment_start"])
    ]
    chosen["n_words"] = chosen["quote"].str.replace("…", "", regex=False).str.split().str.len()
    chosen["anchor"] = [turn_anchor(t, i) for t, i in zip(chosen["transcript_id"], chosen["turn_idx"])]
    chosen["code_id"] = code_id
    return chosen[columns + (["signals"] if signals else [])].reset_index(drop=True)


# -- run comparison --------------------------------------------------------------------------------


@dataclass
class RunComparison:
    """Two runs side by side.

    ``appeared``/``disappeared``: (segment, code) applications only in run b / only in run a
    (columns ``segment_pk, transcript_id, participant_id, turn_idx, code_id, text``);
    ``per_code``: ``code_id, label, n_segments_a, n_segments_b, delta_segments,
    n_participants_a, n_participants_b, delta_participants, participants_added,
    participants_removed`` (rolled up as in :func:`prevalence`).
    """

    run_a: str
    run_b: str
    appeared: pd.DataFrame
    disappeared: pd.DataFrame
    per_code: pd.DataFrame


def compare_codings(codings_a: pd.DataFrame, codings_b: pd.DataFrame, codebook: Any = None, *, names: Sequence[str] = ("a", "b")) -> RunComparison:
    """Compare two codings frames (see :func:`compare_runs`)."""
    tree = as_tree(codebook).with_codes(sorted(set(codings_a["code_id"]) | set(codings_b["code_id"])))
    keys = ["segment_pk", "code_id"]
    shown = ["segment_pk", "transcript_id", "participant_id", "turn_idx", "code_id", "text"]
    a = codings_a[shown].drop_duplicates(keys)
    b = codings_b[shown].drop_duplicates(keys)
    merged = a.merge(b, on=shown, how="outer", indicator=True)
    appeared = merged[merged["_merge"] == "right_only"].drop(columns="_merge").reset_index(drop=True)
    disappeared = merged[merged["_merge"] == "left_only"].drop(columns="_merge").reset_index(drop=True)
    prev_a = prevalence(codings_a, tree)
    prev_b = prevalence(codings_b, tree).set_index("code_id")
    per_code = prev_a[["code_id", "label", "n_segments", "n_participants", "participants"]].rename(
        columns={"n_segments": "n_segments_a", "n_participants": "n_participants_a", "participants": "_pa"}
    )
    per_code["n_segments_b"] = per_code["code_id"].map(prev_b["n_segments"]).astype(int)
    per_code["n_participants_b"] = per_code["code_id"].map(prev_b["n_participants"]).astype(int)
    pb = per_code["code_id"].map(prev_b["participants"])
    per_code["delta_segments"] = per_code["n_segments_b"] - per_code["n_segments_a"]
    per_code["delta_participants"] = per_code["n_participants_b"] - per_code["n_participants_a"]
    per_code["participants_added"] = [tuple(p for p in new if p not in set(old)) for old, new in zip(per_code["_pa"], pb)]
    per_code["participants_removed"] = [tuple(p for p in old if p not in set(new)) for old, new in zip(per_code["_pa"], pb)]
    per_code = per_code[
        ["code_id", "label", "n_segments_a", "n_segments_b", "delta_segments", "n_participants_a",
         "n_participants_b", "delta_participants", "participants_added", "participants_removed"]
    ]
    return RunComparison(names[0], names[1], appeared, disappeared, per_code)


def compare_runs(study: Any, run_a: int | str, run_b: int | str, codebook: Any = None) -> RunComparison:
    """Two runs (e.g. before and after a codebook change): applications that appeared or
    disappeared, and the change in prevalence per code. Runs are ids or ``run:ID`` names; the
    codebook defaults to run b's."""
    from .codings import load_codings, run_codebook

    name_a = str(run_a) if str(run_a).startswith("run:") else f"run:{run_a}"
    name_b = str(run_b) if str(run_b).startswith("run:") else f"run:{run_b}"
    codings_a = load_codings(study, name_a)
    codings_b = load_codings(study, name_b)
    if codebook is None:
        codebook = run_codebook(study, int(name_b.split(":")[1]))
    return compare_codings(codings_a, codings_b, codebook, names=(name_a, name_b))


__all__ = [
    "RunComparison",
    "by_attribute",
    "code_frequency",
    "compare_codings",
    "compare_runs",
    "cooccurrence",
    "cooccurrence_matrix",
    "exemplar_quotes",
    "format_participant_list",
    "interview_order",
    "participant_code_matrix",
    "participant_ids",
    "prevalence",
    "saturation",
    "sentence_spans",
    "top_pairs",
    "trim_quote",
    "trim_words",
    "turn_anchor",
]
