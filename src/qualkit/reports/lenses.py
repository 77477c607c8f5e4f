"""The report's lens section (e.g. the three Vs), from :func:`qualkit.analysis.lenses.lens_analysis`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..analysis.codetree import CodeTree
from ..analysis.lenses import lens_analysis, lens_quotes, turn_quote
from ..analysis.tables import format_participant_list
from .context import LensesSection, LensPairRow, LensPassage, LensSection, LensTieRow, Quote

QUOTES_PER_LENS = 2

INTRO = (
    "The codebook ties codes to its lenses ({lenses}): a practice or pain point serves or hinders each. "
    "For each lens, the passages coded with it directly come first; the passages that reach it only "
    "through a tied code are counted and quoted apart, labelled with the codes that carry them. The "
    "lens's own coding stands on its own. Between two lenses, a turn shows a tension when something in "
    "it serves one lens and something hinders the other, and a synergy when something serves both."
)


def _quote(row: dict[str, Any]) -> Quote:
    participant = "" if pd.isna(row["participant_id"]) else str(row["participant_id"])
    return Quote(row["quote"], participant, str(row["transcript_id"]), int(row["turn_idx"]), row["anchor"])


MAX_VIA = 3


def _via(codes: tuple[str, ...], labels: dict[str, str], kinds: dict[str, str]) -> str:
    """'Notebooks (serves), Staged rollout (hinders) and 2 more'."""
    shown = [f"{labels.get(code, code)} ({kinds.get(code, '')})" for code in codes[:MAX_VIA]]
    more = len(codes) - MAX_VIA
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def lenses_section(codings: pd.DataFrame, tree: CodeTree, quoted_turns: set[tuple[str, int]], anchor_of: Any) -> LensesSection | None:
    """The lens section, or ``None`` when the codebook ties no code to a lens. Turns quoted here
    are added to ``quoted_turns`` so the transcript appendix shows them."""
    analysis = lens_analysis(codings, tree)
    if not analysis.lenses:
        return None
    labels = {cid: tree.label(cid) for cid in tree.codes}

    def remember(quote: Quote) -> Quote:
        quoted_turns.add((quote.transcript_id, quote.turn_idx))
        return quote

    sections = []
    for view in analysis.lenses:
        direct, reached = lens_quotes(codings, view, QUOTES_PER_LENS, tree=analysis.tree)
        kinds = {tie.tie.code_id: tie.tie.kind for tie in view.ties}
        ties = sorted(view.ties, key=lambda count: (-count.n_segments, labels.get(count.tie.code_id, count.tie.code_id)))
        sections.append(
            LensSection(
                id=view.lens,
                label=view.label,
                anchor=f"lens-{view.lens}",
                n_direct=int(len(view.direct)),
                direct_participants=format_participant_list(view.direct_participants),
                n_reached=int(len(view.reached)),
                reached_participants=format_participant_list(view.reached_participants),
                direct_quotes=[remember(_quote(row)) for row in direct.to_dict("records")],
                reached_quotes=[
                    LensPassage(remember(_quote(row)), _via(row["via"], labels, kinds))
                    for row in reached.to_dict("records")
                ],
                ties=[
                    LensTieRow(
                        label=labels.get(count.tie.code_id, count.tie.code_id),
                        anchor=anchor_of(count.tie.code_id),
                        kind=count.tie.kind,
                        note=count.tie.note,
                        n_segments=count.n_segments,
                        n_reached=count.n_reached,
                        n_together=count.n_turns_together,
                        participants_together=format_participant_list(count.participants_together),
                    )
                    for count in ties
                ],
            )
        )
    pairs = []
    for pair in sorted(analysis.pairs, key=lambda p: (-p.n_turns, p.kind)):
        example = None
        if pair.n_turns:
            first = pair.turns.assign(n=pair.turns["carriers"].map(len)).sort_values("n", ascending=False, kind="mergesort").iloc[0]
            rows = turn_quote(codings, first["transcript_id"], int(first["turn_idx"])).to_dict("records")
            example = remember(_quote(rows[0])) if rows else None
        pairs.append(
            LensPairRow(
                label_a=labels.get(pair.a, pair.a),
                label_b=labels.get(pair.b, pair.b),
                kind=pair.kind,
                n_turns=pair.n_turns,
                participant_list=format_participant_list(pair.participants),
                carriers=", ".join(f"{labels.get(code, code)} ({n})" for code, n in pair.carriers()),
                stated="; ".join(pair.stated),
                example=example,
            )
        )
    names = ", ".join(section.label for section in sections)
    return LensesSection(intro=INTRO.format(lenses=names), lenses=sections, pairs=pairs)


__all__ = ["lenses_section"]
