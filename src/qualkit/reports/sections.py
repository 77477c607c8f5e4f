"""Sections of the report's context built outside the main pass of ``build_context``: intercoder
agreement, changes since the previous run, the quoted-transcripts and memos appendices, the table
of contents, and the small formatting helpers they share with it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..analysis import tables
from ..analysis.codetree import CodeTree
from ..errors import QualkitError
from ..store import participant_sort_key
from .context import (
    AgreementRow,
    AgreementSection,
    ChangeRow,
    ChangesSection,
    MemoEntry,
    ReportContext,
    TocEntry,
    TranscriptExcerpt,
    TurnExcerpt,
)
from .templating import _text


def code_anchor(code_id: str) -> str:
    return f"code-{code_id}"


def _fmt_number(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _fmt_measure(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return "–" if pd.isna(number) else f"{number:.2f}"


def _share_phrase(n: int, total: int) -> str:
    return f"{n} of {total} participant{'s' if total != 1 else ''}"


def _agreement(study: Any, coder: str, other: str | None, tree: CodeTree) -> AgreementSection | None:
    if other is None:
        return None
    try:
        from ..analysis.agreement import compare_coders  # type: ignore[import-not-found]
    except ImportError:
        return None
    result = compare_coders(study, coder, other)
    rows = [
        AgreementRow(
            label=tree.label(str(row["code_id"])),
            n_units=_fmt_number(row["n_units"]),
            percent_agreement=_fmt_measure(row["percent_agreement"]),
            kappa=_fmt_measure(row["kappa"]),
            alpha=_fmt_measure(row["alpha"]),
            f1=_fmt_measure(row["f1"]),
        )
        for row in result.per_code.to_dict("records")
    ]
    shown = {"n_units": "units compared", "percent_agreement": "percent agreement", "kappa": "Cohen's kappa",
             "alpha": "Krippendorff's alpha", "precision": "precision", "recall": "recall", "f1": "F1"}
    overall = [(name, _fmt_measure(result.overall[key]) if isinstance(result.overall[key], float) else _text(result.overall[key]))
               for key, name in shown.items() if key in result.overall]
    return AgreementSection(
        coder_a=coder,
        coder_b=other,
        unit_note=_text(getattr(result, "unit_note", "")),
        overall=overall,
        rows=rows,
        n_disagreements=int(len(result.disagreements)),
    )


def _changes(study: Any, previous_run: int, coder: str, tree: Any) -> ChangesSection | None:
    """The "changes since the previous run" section, from :func:`tables.compare_runs`."""
    try:
        previous = study.store.run(previous_run)
    except QualkitError:
        return None  # the previous run was deleted: nothing to compare with
    current = study.store.run(int(coder.split(":", 1)[1]))
    comparison = tables.compare_runs(study, previous_run, coder, codebook=tree)
    per_code = comparison.per_code
    changed = per_code[(per_code["delta_segments"] != 0) | per_code["participants_added"].map(bool) | per_code["participants_removed"].map(bool)]
    changed = changed.assign(_abs=changed["delta_segments"].abs()).sort_values(["_abs", "code_id"], ascending=[False, True], kind="mergesort")
    rows = [
        ChangeRow(
            label=r["label"],
            anchor=code_anchor(r["code_id"]),
            segments_before=int(r["n_segments_a"]),
            segments_after=int(r["n_segments_b"]),
            delta=f"{int(r['delta_segments']):+d}",
            participants_added=tables.format_participant_list(r["participants_added"]) if r["participants_added"] else "",
            participants_removed=tables.format_participant_list(r["participants_removed"]) if r["participants_removed"] else "",
        )
        for r in changed.to_dict("records")
    ]
    return ChangesSection(
        previous_run=f"run:{previous_run}",
        current_run=coder,
        codebook_changed=previous["codebook_hash"] != current["codebook_hash"],
        gained=len(comparison.appeared),
        lost=len(comparison.disappeared),
        rows=rows,
    )


def _transcript_appendix(study: Any, transcripts: pd.DataFrame, quoted: set[tuple[str, int]]) -> list[TranscriptExcerpt]:
    """The quoted turns of each transcript, each with the turn before it (usually the question)."""
    if not quoted:
        return []
    wanted: dict[str, set[int]] = {}
    for transcript_id, idx in quoted:
        wanted.setdefault(transcript_id, set()).update({idx - 1, idx} if idx > 0 else {idx})
    result = []
    pk_by_id = dict(zip(transcripts["transcript_id"], transcripts["transcript_pk"]))
    participant_by_id = dict(zip(transcripts["transcript_id"], transcripts["participant_id"]))
    for transcript_id in sorted(wanted, key=participant_sort_key):
        pk = pk_by_id.get(transcript_id)
        if pk is None:
            continue
        indexes = sorted(wanted[transcript_id])
        marks = ",".join("?" for _ in indexes)
        rows = study.store.query(
            f"SELECT idx, speaker, role, text FROM turns WHERE transcript_pk = ? AND idx IN ({marks}) ORDER BY idx",
            (int(pk), *indexes),
        )
        turns = [
            TurnExcerpt(int(r["idx"]), tables.turn_anchor(transcript_id, r["idx"]), r["speaker"], r["role"], r["text"],
                        (transcript_id, int(r["idx"])) in quoted)
            for r in rows
        ]
        result.append(TranscriptExcerpt(transcript_id, _text(participant_by_id.get(transcript_id)), f"transcript-{transcript_id}", turns))
    return result


def _memo_entries(study: Any, tree: CodeTree) -> list[MemoEntry]:
    """The study's memos for the appendix, ordered by target (study, codes, transcripts, turns, codings)."""
    from ..workbench.memos import list_memos

    return [
        MemoEntry(
            target=memo.target if memo.target_kind != "code" else f"code {tree.label(memo.code_id or '')}",
            target_kind=memo.target_kind,
            coder=memo.coder,
            title=memo.title,
            text=memo.text,
            updated_at=memo.updated_at,
            anchor=f"codebook-{memo.code_id}" if memo.target_kind == "code" and memo.code_id in tree.codes else "",
        )
        for memo in list_memos(study)
    ]


def _toc(context: ReportContext) -> list[TocEntry]:
    entries = [TocEntry("summary", "Summary")]
    if context.trust is not None:
        entries.append(TocEntry("trust", "How far to trust each code"))
    if context.changes is not None:
        entries.append(TocEntry("changes", "Changes since the previous run"))
    entries.append(TocEntry("participants", "Participants"))
    entries.append(TocEntry("themes", "Themes"))
    entries.extend(TocEntry(theme.anchor, theme.label, 2) for theme in context.themes)
    if context.lenses is not None:
        entries.append(TocEntry("lenses", "Lenses: " + ", ".join(lens.label for lens in context.lenses.lenses)))
    entries.extend(
        [
            TocEntry("frequency", "Code frequency"),
            TocEntry("cooccurrence", "Code co-occurrence"),
            TocEntry("saturation", "Thematic saturation"),
            TocEntry("matrix", "Participants and codes"),
        ]
    )
    if context.agreement is not None:
        entries.append(TocEntry("agreement", "Intercoder agreement"))
    if context.emergent_themes is not None:
        entries.append(TocEntry("emergent-themes", "Emergent themes"))
    entries.extend(
        [
            TocEntry("appendix-codebook", "Appendix A: Codebook"),
            TocEntry("appendix-methods", "Appendix B: Methods and provenance"),
            TocEntry("appendix-transcripts", "Appendix C: Quoted transcript passages"),
        ]
    )
    if context.memos is not None:
        entries.append(TocEntry("appendix-memos", "Appendix D: Memos"))
    return entries
