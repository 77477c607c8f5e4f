"""Build the theme report: analysis tables -> typed context -> jinja2 templates -> files.

Templates are looked up in the study's ``reports/templates/`` first, then in the package
(datasette-style). HTML is rendered with autoescape on; Markdown with every value passed
through :func:`md_escape` (``finalize``), so transcript text is always text, never markup.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from .. import __version__
from ..analysis import codings as codings_mod
from ..analysis import tables
from ..analysis.codetree import CodeTree, as_tree
from ..errors import QualkitError
from ..outputs import ensure_output_folder, write_atomic
from ..store import participant_sort_key
from . import charts
from . import trust as trust_mod
from .lenses import lenses_section
from .sections import (
    _agreement,
    _changes,
    _fmt_measure,
    _fmt_number,
    _memo_entries,
    _share_phrase,
    _toc,
    _transcript_appendix,
    code_anchor,
)
from .templating import TEMPLATES, _text, md_escape, render, template_environment
from .context import (
    Charts,
    CoCode,
    CodebookEntry,
    CodeSection,
    EmergentThemes,
    FrequencyRow,
    GroupShare,
    Methods,
    PairRow,
    ParticipantRow,
    Quote,
    ReportContext,
    Saturation,
    SaturationRow,
    Summary,
    Theme,
)

OUTPUT_NAMES = {"html": "index.html", "md": "report.md"}

CONTEXT_CONTRIBUTORS: list[tuple[str, str]] = [
    ("qualkit.reports.topics", "emergent_themes_section"),
]
"""Optional contributors of the "Emergent themes" slot: ``(module, function)``; the function is
called as ``function(study, context)`` and returns an :class:`EmergentThemes` or ``None``. A
missing module is skipped; the first non-``None`` result fills ``context.emergent_themes``."""

QUOTES_PER_CODE = 3
COOCCURRING_PER_CODE = 3
TOP_PAIRS = 8
SATURATION_K = 2


# -- context ---------------------------------------------------------------------------------------


def _codebook_tree(study: Any, run_id: int | None) -> CodeTree:
    """The codebook of the run, else the study's configured codebook, else an empty tree."""
    if run_id is not None:
        tree = codings_mod.run_codebook(study, run_id)
        if tree is not None:
            return tree
    try:
        from ..codebook import load_codebook  # type: ignore[attr-defined]
    except ImportError:
        return CodeTree()
    try:
        return as_tree(load_codebook(study.config.codebook.path, base_dir=study.root))
    except QualkitError:
        return CodeTree()


def _run_of(coder: str) -> int | None:
    for spec in codings_mod.parse_coder(coder):
        if spec.kind == "run":
            return int(spec.value)
    return None


def _resolve_coder(study: Any, coder: str | None) -> str | None:
    if coder:
        return coder
    run = codings_mod.latest_rules_run(study)
    if run is not None:
        return f"run:{run['id']}"
    humans = [c for c in codings_mod.coders(study) if c.startswith("human:")]
    return humans[0] if humans else None


def _contribute(study: Any, context: ReportContext) -> None:
    for module_name, attribute in CONTEXT_CONTRIBUTORS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name and module_name.startswith(error.name):
                continue
            raise
        function: Callable[[Any, ReportContext], EmergentThemes | None] | None = getattr(module, attribute, None)
        if function is None:
            continue
        section = function(study, context)
        if section is not None:
            context.emergent_themes = section
            return


def build_context(
    study: Any, *, coder: str | None = None, agreement_with: str | None = None, compare_with: int | None = None,
    memos: bool | None = None, on_progress: Callable[..., None] | None = None,
) -> ReportContext:
    """Everything the report shows, computed from the store (no files are written).

    ``coder`` defaults to the latest successful rules run (else the first human coder; a study
    with neither gets a report without codings). ``agreement_with`` names a second coder for the
    agreement section; by default a run is compared with the first human coder, when there is one.
    ``memos`` adds the memos appendix (default: ``[report] memos``). ``on_progress(stage, done,
    total, words, unit)`` hears the stages (see :class:`qualkit.execution.progress.ProgressCallback`).
    """

    def stage(name: str, done: int, total: int, unit: str) -> None:
        if on_progress is not None:
            on_progress(f"report: {name}", done, total, 0, unit)

    stage("codings and tables", 0, 1, "steps")
    coder = _resolve_coder(study, coder)
    notes: list[str] = []
    if coder is None:
        codings = codings_mod.empty_codings()
        unit = study.config.coding.unit
        notes.append("No codings yet: run `qualkit code` to code the transcripts, then build the report again.")
    else:
        codings = codings_mod.load_codings(study, coder)
        unit = codings.attrs.get("unit", study.config.coding.unit)
        codings = trust_mod.with_signals(study, codings, coder)  # exemplars prefer agreeing evidence
    run_id = _run_of(coder) if coder else None
    run = study.store.run(run_id) if run_id is not None else None
    tree = _codebook_tree(study, run_id).with_codes(sorted(codings["code_id"].unique()))
    people = codings_mod.participants_frame(study)
    transcripts = codings_mod.transcripts_frame(study)
    participant_total = len(people)
    if coder is not None and codings.empty:
        notes.append(f"The coder {coder} applied no codes, so every count below is zero.")

    stage("codings and tables", 1, 1, "steps")
    sections_done, sections_total = 0, sum(len(set(tree.descendants(root))) or 1 for root in tree.roots())
    prevalence = tables.prevalence(codings, tree, people)
    prev = prevalence.set_index("code_id")
    frequency = tables.code_frequency(codings, tree, people)
    pairs = tables.cooccurrence(codings, tree)
    by_size = (
        tables.by_attribute(codings, tree, people, "company_size")
        if "company_size" in people.columns and people["company_size"].notna().any()
        else pd.DataFrame(columns=["code_id", "attribute", "group", "phrase", "group_size"])
    )
    counts = tables.participant_code_matrix(codings, tree, people)
    saturation = tables.saturation(codings, transcripts, k=SATURATION_K)
    labels = {cid: tree.label(cid) for cid in tree.codes}

    # quotes for every code and theme, and the turns they come from
    quoted_turns: set[tuple[str, int]] = set()

    def quotes_for(code_id: str) -> list[Quote]:
        frame = tables.exemplar_quotes(codings, code_id, QUOTES_PER_CODE, codebook=tree)
        result = []
        for row in frame.to_dict("records"):
            quoted_turns.add((row["transcript_id"], int(row["turn_idx"])))
            evidence = trust_mod.evidence_text(float(row["score"]), row.get("signals"), run["kind"] if run is not None else None)
            result.append(Quote(row["quote"], _text(row["participant_id"]), row["transcript_id"], int(row["turn_idx"]), row["anchor"],
                                evidence=evidence))
        return result

    def cooccurring(code_id: str) -> list[CoCode]:
        if pairs.empty:
            return []
        mine = pairs[(pairs["code_a"] == code_id) | (pairs["code_b"] == code_id)].copy()
        mine["other"] = mine["code_b"].where(mine["code_a"] == code_id, mine["code_a"])
        mine = mine.sort_values(["n", "jaccard"], ascending=False, kind="mergesort").head(COOCCURRING_PER_CODE)
        return [CoCode(o, labels.get(o, o), code_anchor(o), int(n), _fmt_measure(j)) for o, n, j in zip(mine["other"], mine["n"], mine["jaccard"])]

    def groups(code_id: str) -> list[GroupShare]:
        mine = by_size[by_size["code_id"] == code_id]
        return [GroupShare(str(a), str(g), str(p)) for a, g, p in zip(mine["attribute"], mine["group"], mine["phrase"])]

    def code_section(code_id: str, depth: int) -> CodeSection:
        nonlocal sections_done
        row = prev.loc[code_id]
        sections_done += 1
        stage("codes and quotes", min(sections_done, sections_total), sections_total, "codes")
        return CodeSection(
            id=code_id,
            label=labels[code_id],
            anchor=code_anchor(code_id),
            depth=depth,
            definition=tree.codes[code_id].definition,
            n_segments=int(row["n_segments"]),
            n_participants=int(row["n_participants"]),
            share_phrase=_share_phrase(int(row["n_participants"]), participant_total),
            participant_list=row["participant_list"],
            quotes=quotes_for(code_id),
            cooccurring=cooccurring(code_id),
            by_group=groups(code_id) if int(row["n_participants"]) else [],
        )

    themes = []
    for root in tree.roots():
        row = prev.loc[root]
        descendants = [c for c in tree.preorder() if c in set(tree.descendants(root))]
        codes = [code_section(c, tree.depth(c) - tree.depth(root)) for c in descendants] or [code_section(root, 0)]
        themes.append(
            Theme(
                id=root,
                label=labels[root],
                anchor=f"theme-{root}",
                definition=tree.codes[root].definition,
                n_segments=int(row["n_segments"]),
                n_participants=int(row["n_participants"]),
                share_phrase=_share_phrase(int(row["n_participants"]), participant_total),
                participant_list=row["participant_list"],
                codes=codes,
            )
        )

    pair_rows = []
    for row in tables.top_pairs(codings, tree, n=TOP_PAIRS, examples=1).to_dict("records"):
        examples = []
        for ex in row["examples"]:
            quoted_turns.add((ex["transcript_id"], int(ex["turn_idx"])))
            examples.append(Quote(ex["text"], _text(ex["participant_id"]), ex["transcript_id"], int(ex["turn_idx"]), ex["anchor"]))
        pair_rows.append(
            PairRow(row["label_a"], row["label_b"], code_anchor(row["code_a"]), code_anchor(row["code_b"]), int(row["n"]),
                    _fmt_measure(row["jaccard"]), _fmt_measure(row["cosine"]), examples)
        )

    # charts
    stage("charts", 0, 3, "charts")
    co_counts = tables.cooccurrence_matrix(codings, tree)
    co_jaccard = tables.cooccurrence_matrix(codings, tree, measure="jaccard")
    cooccurrence_chart = charts.cooccurrence_chart(co_counts, co_jaccard, labels)
    stage("charts", 1, 3, "charts")
    saturation_chart = charts.saturation_chart(saturation, SATURATION_K)
    stage("charts", 2, 3, "charts")
    chart_set = Charts(cooccurrence=cooccurrence_chart, saturation=saturation_chart, matrix=charts.matrix_chart(counts, labels))
    stage("charts", 3, 3, "charts")

    # saturation
    at = saturation.attrs.get("saturation_at")
    dated = "date" in transcripts.columns and transcripts["date"].notna().any()
    if saturation.empty or int(saturation["cumulative"].max() if not saturation.empty else 0) == 0:
        sentence = "No codes were applied, so saturation cannot be assessed."
    elif at:
        position = int(saturation.loc[saturation["saturated"], "position"].iloc[0])
        later = saturation[(saturation["position"] > position) & (saturation["new_codes"] > 0)]
        sentence = (
            f"After interview {position} of {len(saturation)} ({at}), {SATURATION_K} consecutive interviews added no new code; "
            f"{int(saturation.loc[saturation['saturated'], 'cumulative'].iloc[0])} of the "
            f"{int(saturation['cumulative'].iloc[-1])} codes had appeared by then."
        )
        if not later.empty:
            extra = int(later["new_codes"].sum())
            sentence += (
                f" Later interviews still added {extra} code{'s' if extra != 1 else ''} "
                f"({', '.join(later['transcript_id'].astype(str))})."
            )
    else:
        sentence = (
            f"Saturation was not reached: no run of {SATURATION_K} consecutive interviews without a new code "
            f"({int(saturation['cumulative'].iloc[-1])} codes in all)."
        )
    sat_rows = [
        SaturationRow(int(r["position"]), str(r["transcript_id"]), _text(r["date"]), int(r["new_codes"]),
                      ", ".join(labels.get(c, c) for c in r["new_code_ids"]), int(r["cumulative"]))
        for r in saturation.to_dict("records")
    ]

    # participants
    codes_per_transcript = codings.groupby("participant_id")["code_id"].nunique() if not codings.empty else pd.Series(dtype=int)
    words_by_participant = transcripts.groupby("participant_id")["participant_words"].sum() if not transcripts.empty else pd.Series(dtype=int)
    dates = transcripts.groupby("participant_id")["date"].min() if not transcripts.empty else pd.Series(dtype=object)
    participant_rows = [
        ParticipantRow(
            id=str(p["participant_id"]),
            role=_text(p.get("role")),
            company_size=_text(p.get("company_size")),
            sector=_text(p.get("sector")),
            years_experience=_fmt_number(p.get("years_experience")),
            interview_date=dates.get(p["participant_id"]).date().isoformat() if pd.notna(dates.get(p["participant_id"], pd.NaT)) else "",
            words=int(words_by_participant.get(p["participant_id"], 0)),
            n_codes=int(codes_per_transcript.get(p["participant_id"], 0)),
        )
        for p in people.to_dict("records")
    ]

    # summary and methods
    coded_segments = codings.drop_duplicates("segment_pk")
    n_words_coded = int(coded_segments["text"].str.split().str.len().sum()) if not coded_segments.empty else 0
    n_segments = codings_mod.segment_count(study, unit)
    codebook_hash = tree.hash or (run["codebook_hash"] if run is not None and run["codebook_hash"] else "")
    run_params = json.loads(run["parameters"]) if run is not None else {}
    summary = Summary(
        study_name=study.config.study.name,
        description=study.config.study.description,
        n_participants=participant_total,
        n_transcripts=len(transcripts),
        n_words=int(transcripts["word_count"].sum()) if not transcripts.empty else 0,
        n_participant_words=int(transcripts["participant_words"].sum()) if not transcripts.empty else 0,
        n_words_coded=n_words_coded,
        n_segments=n_segments,
        n_segments_coded=int(len(coded_segments)),
        n_codes_used=int(codings["code_id"].nunique()),
        n_codes=len(tree.codes),
        codebook_name=tree.name,
        codebook_version=tree.version,
        codebook_hash=codebook_hash,
        codebook_hash_short=codebook_hash[:12],
        coder=coder or "",
        run_id=str(run_id) if run_id is not None else "",
        run_date=_text(run["finished_at"] or run["started_at"]) if run is not None else "",
        unit=unit,
    )
    if coder is not None and tree.codes and not codings.empty:  # no codes at all: the note above says it
        from ..coding.fit import fit_from_codings

        fit = fit_from_codings(study, codings, tree)
        summary.fit_line, summary.fit_poor = fit.verdict_line(), fit.poor
        if fit.poor:  # a codebook that does not fit is the first thing the reader should know
            notes.insert(0, fit.verdict_line())
    excluded = []
    if not run_params.get("include_interviewer", False):
        interviewer_turns = int(transcripts["n_interviewer_turns"].sum()) if not transcripts.empty else 0
        interviewer_words = int(transcripts["interviewer_words"].sum()) if not transcripts.empty else 0
        excluded.append(f"Interviewer speech: {interviewer_turns} turns, {interviewer_words} words.")
    other_turns = int((transcripts["n_turns"] - transcripts["n_participant_turns"] - transcripts["n_interviewer_turns"]).sum()) if not transcripts.empty else 0
    if other_turns:
        excluded.append(f"Turns by other speakers: {other_turns}.")
    retired = [c for c in codings["code_id"].unique() if c in tree.codes and not tree.codes[c].definition and tree.codes[c].label == c]
    if retired and tree.hash:
        excluded.append("Codes applied but missing from the codebook (shown by id): " + ", ".join(sorted(retired)) + ".")
    run_manifest = json.loads(run["manifest"] or "{}") if run is not None else {}
    recorded_versions = {"qualkit": _text(run["qualkit_version"])} if run is not None else {}
    recorded_versions.update({str(k): str(v) for k, v in (run_manifest.get("versions") or {}).items()})
    inputs = [
        (f"{row['id']} (version {row['version']})", row["content_hash"])
        for row in sorted(
            study.store.query("SELECT id, version, content_hash FROM transcripts WHERE is_current = 1"),
            key=lambda row: participant_sort_key(row["id"]),
        )
    ]
    methods = Methods(
        qualkit_version=__version__,
        coder=coder or "",
        run_id=str(run_id) if run_id is not None else "",
        run_kind=_text(run["kind"]) if run is not None else "",
        run_started=_text(run["started_at"]) if run is not None else "",
        run_finished=_text(run["finished_at"]) if run is not None else "",
        run_qualkit_version=_text(run["qualkit_version"]) if run is not None else "",
        parameters=[(str(k), json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v) for k, v in sorted(run_params.items())],
        codebook_hash=codebook_hash,
        unit=unit,
        n_segments=n_segments,
        n_applications=int(len(codings)),
        excluded=excluded,
        inputs=inputs,
        versions=sorted(recorded_versions.items()),
        measures=[
            "A code's segments are the distinct segments coded with it; a theme (or parent code) counts every "
            "segment coded with it or any of its codes, once.",
            "Participants are listed in the style (P1, P3, P10) when at least one of their segments carries the code.",
            "Co-occurrence counts segments coded with both codes; Jaccard = both / either; Salton's cosine = both / "
            "sqrt(first x second).",
            f"Saturation: interviews in the order conducted ({'by date' if dated else 'by id'}); the saturation point is the "
            f"interview after which {SATURATION_K} consecutive interviews added no new code.",
            "Exemplar quotes: strongest matches first, one per participant before anyone's second, trimmed at sentence "
            "boundaries to about 25 to 60 words.",
        ],
    )

    codebook_entries = [
        CodebookEntry(
            id=cid,
            label=labels[cid],
            anchor=f"codebook-{cid}",
            depth=tree.depth(cid),
            parent_label=labels.get(tree.codes[cid].parent or "", "") if tree.codes[cid].parent else "",
            definition=tree.codes[cid].definition,
            inclusion=tree.codes[cid].inclusion,
            exclusion=tree.codes[cid].exclusion,
            examples=list(tree.codes[cid].examples),
        )
        for cid in tree.preorder()
    ]

    lens_section = lenses_section(codings, tree, quoted_turns, code_anchor)  # adds its quoted turns
    context = ReportContext(
        title=study.config.study.name,
        summary=summary,
        toc=[],
        notes=notes,
        participants=participant_rows,
        themes=themes,
        frequency=[
            FrequencyRow(int(r["rank"]), r["code_id"], r["label"], code_anchor(r["code_id"]), r["theme_label"], int(r["n_segments"]),
                         int(r["n_participants"]), f"{float(r['share_participants']) * 100:.0f}%", r["participant_list"])
            for r in frequency.to_dict("records")
        ],
        pairs=pair_rows,
        charts=chart_set,
        saturation=Saturation(SATURATION_K, at or "", sentence, "interview date" if dated else "transcript id", sat_rows),
        changes=None,
        agreement=None,
        emergent_themes=None,
        codebook=codebook_entries,
        methods=methods,
        transcripts=[],  # filled once below, after the emergent themes have added their quoted turns
    )
    context.lenses = lens_section
    trust_mod.mark(context, trust_mod.trust_section(study, coder, tree, unit))
    if coder is not None:
        other = agreement_with
        if other is None and coder.startswith("run:") and "+" not in coder:
            humans = [c for c in codings_mod.coders(study) if c.startswith("human:")]
            other = humans[0] if humans else None
        context.agreement = _agreement(study, coder, other, tree)
    if compare_with is not None and coder is not None and coder.startswith("run:") and coder != f"run:{compare_with}":
        context.changes = _changes(study, int(compare_with), coder, tree)
    _contribute(study, context)
    if context.emergent_themes is not None:  # topic quotes link into the transcript appendix too
        quoted_turns |= {(q.transcript_id, q.turn_idx) for topic in context.emergent_themes.topics for q in topic.quotes}
    context.transcripts = _transcript_appendix(study, transcripts, quoted_turns)
    show_memos = memos if memos is not None else study.config.report.memos
    if show_memos:
        context.memos = _memo_entries(study, tree)
    context.toc = _toc(context)
    return context


def build_report(
    study: Any,
    *,
    coder: str | None = None,
    formats: Iterable[str] = ("html", "md"),
    out: str | Path | None = None,
    agreement_with: str | None = None,
    compare_with: int | None = None,
    memos: bool | None = None,
    on_progress: Callable[..., None] | None = None,
) -> list[Path]:
    """Build the report and write ``index.html`` and/or ``report.md`` (with ``charts/*.svg``) into
    ``out`` (default: the study's report folder). Returns the paths written. ``on_progress`` hears
    the stages (see :func:`build_context`)."""
    formats = list(dict.fromkeys(formats))
    for fmt in formats:
        if fmt not in TEMPLATES:
            raise QualkitError(f"unknown report format {fmt!r}", hint=f"choose from: {', '.join(TEMPLATES)}")
    folder = Path(out) if out is not None else study.path(study.config.report.out)
    context = build_context(study, coder=coder, agreement_with=agreement_with, compare_with=compare_with, memos=memos,
                            on_progress=on_progress)
    rendered = {}
    for fmt in formats:
        rendered[fmt] = render(context, fmt, study=study)
        if on_progress is not None:
            on_progress("report: rendering", len(rendered), len(formats), 0, "formats")
    ensure_output_folder(folder, option="--out or [report] out")
    written = []
    for fmt, text in rendered.items():
        path = folder / OUTPUT_NAMES[fmt]
        write_atomic(path, text)  # temporary file, then rename: never a half-written report
        written.append(path)
        if fmt == "md":
            for chart in (context.charts.cooccurrence, context.charts.saturation, context.charts.matrix):
                if chart.empty:
                    continue
                chart_path = folder / chart.filename
                chart_path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(chart_path, '<?xml version="1.0" encoding="utf-8"?>\n' + str(chart.svg) + "\n")
                written.append(chart_path)
    return written


__all__ = ["CONTEXT_CONTRIBUTORS", "build_context", "build_report", "md_escape", "render", "template_environment"]
