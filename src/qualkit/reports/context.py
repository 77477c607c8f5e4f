"""Typed template contexts of the theme report.

Each template gets one :class:`ReportContext`; every field carries its help text in
``metadata["help"]`` (shown by ``qualkit report context`` and in the docs) and a test checks that
the fields the templates use are exactly the documented ones, datasette-style. A study's
``reports/templates/report.html.j2`` or ``report.md.j2`` overrides the package's template and gets
the same context.

Two sections are optional slots, ``None`` when there is nothing to show:

* ``agreement``: intercoder agreement, filled when the study has a second coder.
* ``emergent_themes``: the topic-model pass's section. It is filled by the contributors named in
  :data:`qualkit.reports.build.CONTEXT_CONTRIBUTORS`: a function
  ``(study, context: ReportContext) -> EmergentThemes | None``, imported lazily and skipped when
  its module is missing.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from markupsafe import Markup


def doc(help_text: str, default: Any = MISSING, default_factory: Any = MISSING) -> Any:
    """A dataclass field with its documentation in ``metadata["help"]``."""
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata={"help": help_text})
    if default is not MISSING:
        return field(default=default, metadata={"help": help_text})
    return field(metadata={"help": help_text})


@dataclass
class TocEntry:
    """One line of the table of contents."""

    anchor: str = doc("HTML id of the section.")
    title: str = doc("Section title.")
    level: int = doc("1 for sections, 2 for subsections.", 1)


@dataclass
class Summary:
    """The report's opening numbers."""

    study_name: str = doc("Name of the study (qualkit.toml [study] name).")
    description: str = doc("One paragraph on the study (qualkit.toml [study] description).")
    n_participants: int = doc("Participants in the study.")
    n_transcripts: int = doc("Current transcripts in the study.")
    n_words: int = doc("Words in all transcripts (every speaker).")
    n_participant_words: int = doc("Words spoken by participants.")
    n_words_coded: int = doc("Words in segments that carry at least one code.")
    n_segments: int = doc("Segments of the unit of analysis in participant speech.")
    n_segments_coded: int = doc("Segments with at least one code.")
    n_codes_used: int = doc("Distinct codes applied at least once.")
    n_codes: int = doc("Codes in the codebook.")
    codebook_name: str = doc("Codebook name.")
    codebook_version: str = doc("Codebook version label (for people).")
    codebook_hash: str = doc("Codebook content hash (SHA-256): the real version.")
    codebook_hash_short: str = doc("First 12 characters of the codebook hash.")
    coder: str = doc("The coder analysed: run:ID, human:NAME or a union.")
    run_id: str = doc("Id of the run analysed, empty for human coders.")
    run_date: str = doc("When the run finished (ISO 8601, UTC), empty for human coders.")
    unit: str = doc("Unit of analysis: turn, sentence or window:N.")
    fit_line: str = doc("How well the codebook fits the participant speech (coverage, untouched frequent terms, verdict), or ''.", "")
    fit_poor: bool = doc("True when the verdict is not 'fits': the line then opens the report's notes instead.", False)


@dataclass
class ParticipantRow:
    """One row of the participant table (the paper's Table 1)."""

    id: str = doc("Participant id, e.g. P3.")
    role: str = doc("Job role.")
    company_size: str = doc("Organisation size.")
    sector: str = doc("Sector or application area.")
    years_experience: str = doc("Years of ML experience, formatted.")
    interview_date: str = doc("Interview date (ISO), empty when unknown.")
    words: int = doc("Words the participant spoke.")
    n_codes: int = doc("Distinct codes in the participant's interview.")


@dataclass
class Quote:
    """An exemplar quote attributed to a participant."""

    text: str = doc("The quote, trimmed at sentence boundaries (ellipsis marks a cut).")
    participant_id: str = doc("Participant the quote is from.")
    transcript_id: str = doc("Transcript the quote is from.")
    turn_idx: int = doc("0-based turn index in the transcript.")
    anchor: str = doc("HTML id of the quoted turn in the transcript appendix.")
    untrusted: bool = doc("True when the quote illustrates a code below the validity bar (verdict 'review' or 'do not use').", False)
    evidence: str = doc("Why this quote was chosen: e.g. 'score 0.93; rules + learned + human agree'; '' when unknown.", "")


@dataclass
class CoCode:
    """A code that co-occurs with the code being described."""

    code_id: str = doc("Id of the co-occurring code.")
    label: str = doc("Label of the co-occurring code.")
    anchor: str = doc("HTML id of that code's section.")
    n: int = doc("Segments coded with both.")
    jaccard: str = doc("Jaccard index, formatted with two decimals.")


@dataclass
class GroupShare:
    """How many participants of one attribute group mention a code."""

    attribute: str = doc("Participant attribute, e.g. company_size.")
    group: str = doc("Attribute value, e.g. large.")
    phrase: str = doc("'4 of 6': participants of the group mentioning the code, of the group's size.")


@dataclass
class CodeSection:
    """One code inside a theme section."""

    id: str = doc("Code id.")
    label: str = doc("Code label.")
    anchor: str = doc("HTML id of this code's section.")
    depth: int = doc("Depth below the theme (1 for the theme's children).")
    definition: str = doc("Definition from the codebook.")
    n_segments: int = doc("Segments coded with the code or any descendant.")
    n_participants: int = doc("Participants who mention it.")
    share_phrase: str = doc("'2 of 3 participants'.")
    participant_list: str = doc("Participants in the paper's style '(P1, P3, P10)'; empty when nobody.")
    quotes: list[Quote] = doc("Exemplar quotes, at most one per participant first.", default_factory=list)
    cooccurring: list[CoCode] = doc("Codes co-occurring most often with this one.", default_factory=list)
    by_group: list[GroupShare] = doc("Mentions by company size.", default_factory=list)
    trust: str = doc("Validity verdict of this code against the human coding: trusted, review, do not use; '' when unmeasured.", "")


@dataclass
class Theme:
    """A top-level theme (a root of the codebook) and its codes."""

    id: str = doc("Theme (root code) id.")
    label: str = doc("Theme label.")
    anchor: str = doc("HTML id of the theme's section.")
    definition: str = doc("Theme definition.")
    n_segments: int = doc("Segments coded with the theme or any of its codes.")
    n_participants: int = doc("Participants who mention the theme.")
    share_phrase: str = doc("'3 of 3 participants'.")
    participant_list: str = doc("Participants in the paper's style.")
    codes: list[CodeSection] = doc("The theme's codes in codebook order (the theme itself when it has none).", default_factory=list)


@dataclass
class FrequencyRow:
    """One row of the code frequency table (the paper's Table 3)."""

    rank: int = doc("1 for the most frequent code.")
    code_id: str = doc("Code id.")
    label: str = doc("Code label.")
    anchor: str = doc("HTML id of the code's section.")
    theme_label: str = doc("Label of the code's theme.")
    n_segments: int = doc("Segments coded directly with the code.")
    n_participants: int = doc("Participants who mention it.")
    share: str = doc("Share of participants, e.g. '67%'.")
    participant_list: str = doc("Participants in the paper's style.")
    trust: str = doc("Validity verdict of the code (see CodeSection.trust); '' when unmeasured.", "")


@dataclass
class PairRow:
    """A frequent co-occurring pair of codes."""

    label_a: str = doc("First code's label.")
    label_b: str = doc("Second code's label.")
    anchor_a: str = doc("HTML id of the first code's section.")
    anchor_b: str = doc("HTML id of the second code's section.")
    n: int = doc("Segments coded with both.")
    jaccard: str = doc("Jaccard index, two decimals.")
    cosine: str = doc("Salton's cosine, two decimals.")
    examples: list[Quote] = doc("Example segments coded with both.", default_factory=list)


@dataclass
class Chart:
    """An inline SVG chart."""

    key: str = doc("Short name: cooccurrence, saturation, matrix.")
    title: str = doc("Figure title.")
    caption: str = doc("Figure caption: what is shown and how to read it.")
    svg: Markup = doc("The SVG markup (generated by matplotlib, trusted).")
    filename: str = doc("File name of the chart written beside report.md, e.g. charts/saturation.svg.")
    empty: bool = doc("True when there was nothing to draw (svg is then a short notice).", False)


@dataclass
class Charts:
    """The report's figures."""

    cooccurrence: Chart = doc("Code co-occurrence heatmap (counts, coloured by Jaccard).")
    saturation: Chart = doc("Saturation curve: new and cumulative codes per interview.")
    matrix: Chart = doc("Participant x code heatmap.")


@dataclass
class SaturationRow:
    """One interview of the saturation table."""

    position: int = doc("1-based position in interview order.")
    transcript_id: str = doc("Transcript id.")
    date: str = doc("Interview date, empty when unknown.")
    new_codes: int = doc("Codes first seen in this interview.")
    new_code_labels: str = doc("Labels of those codes, comma-separated.")
    cumulative: int = doc("Distinct codes seen so far.")


@dataclass
class Saturation:
    """Thematic saturation."""

    k: int = doc("Consecutive interviews without a new code that count as saturation.")
    saturation_at: str = doc("Transcript after which k interviews added nothing new; empty when not reached.")
    sentence: str = doc("One sentence summarising saturation for the reader.")
    ordered_by: str = doc("'interview date' or 'transcript id'.")
    rows: list[SaturationRow] = doc("Per interview, in interview order.", default_factory=list)


@dataclass
class AgreementRow:
    """Agreement on one code."""

    label: str = doc("Code label.")
    n_units: str = doc("Units compared.")
    percent_agreement: str = doc("Percent agreement.")
    kappa: str = doc("Cohen's kappa.")
    alpha: str = doc("Krippendorff's alpha.")
    f1: str = doc("F1 of coder b against coder a.")


@dataclass
class AgreementSection:
    """Optional slot: intercoder agreement between two coders."""

    coder_a: str = doc("First coder (the reference).")
    coder_b: str = doc("Second coder.")
    unit_note: str = doc("How units were formed for the comparison.")
    overall: list[tuple[str, str]] = doc("Overall measures as (name, formatted value).", default_factory=list)
    rows: list[AgreementRow] = doc("Per-code agreement.", default_factory=list)
    n_disagreements: int = doc("Units the coders disagree on.", 0)


@dataclass
class EmergentTopic:
    """One topic found by the topic-model pass."""

    label: str = doc("Topic label (top terms).")
    terms: list[str] = doc("Top terms.", default_factory=list)
    size: int = doc("Segments in the topic.", 0)
    coverage: str = doc("covered | partly covered | not covered by the codebook.", "")
    aligned_codes: list[str] = doc("Labels of codebook codes the topic aligns with.", default_factory=list)
    quotes: list[Quote] = doc("Example segments.", default_factory=list)
    participants: str = doc("Participants with segments in the topic, e.g. '3 participants (P2, P3, P8)'.", "")


@dataclass
class EmergentThemes:
    """Optional slot: the topics pass's "Emergent themes" section."""

    intro: str = doc("Paragraph introducing the section (method, run, parameters).")
    topics: list[EmergentTopic] = doc("Topics, largest first.", default_factory=list)
    chart: Chart | None = doc("Optional chart (e.g. a topic map).", None)
    run_id: str = doc("The topics run shown.", "")


@dataclass
class LensTieRow:
    """A code tied to a lens, and how the tie shows in the data."""

    label: str = doc("Label of the tied code.")
    anchor: str = doc("HTML id of the tied code's section.")
    kind: str = doc("How it is tied: serves, hinders, synergy-with, tension-with or part-of.")
    note: str = doc("The codebook's reason for the tie (with the paper's section), or ''.", "")
    n_segments: int = doc("Segments coded with the tied code.", 0)
    n_reached: int = doc("Of those, segments not coded with the lens itself.", 0)
    n_together: int = doc("Turns coded with both the tied code and the lens itself.", 0)
    participants_together: str = doc("Participants of those turns, '(P1, P3)', or ''.", "")


@dataclass
class LensPassage:
    """A passage that reaches a lens only through tied codes, labelled with them."""

    quote: Quote = doc("The passage as a quote.")
    via: str = doc("The tied codes that carry it to the lens, e.g. 'Notebooks (serves)'.")


@dataclass
class LensSection:
    """One lens (e.g. velocity): passages coded directly, and passages reached through tied codes."""

    id: str = doc("Lens code id.")
    label: str = doc("Lens label.")
    anchor: str = doc("HTML id of the lens's subsection.")
    n_direct: int = doc("Segments coded with the lens itself (or a code below it).", 0)
    direct_participants: str = doc("Their participants, '(P1, P3)', or ''.", "")
    n_reached: int = doc("Segments not coded with the lens but coded with a code tied to it.", 0)
    reached_participants: str = doc("Their participants, or ''.", "")
    direct_quotes: list[Quote] = doc("Quotes coded with the lens directly.", default_factory=list)
    reached_quotes: list[LensPassage] = doc("Quotes reached through tied codes, labelled.", default_factory=list)
    ties: list[LensTieRow] = doc("The codes tied to the lens, most passages first.", default_factory=list)


@dataclass
class LensPairRow:
    """A tension or synergy between two lenses, as found in the data."""

    label_a: str = doc("First lens.")
    label_b: str = doc("Second lens.")
    kind: str = doc("tension or synergy.")
    n_turns: int = doc("Turns where it shows.", 0)
    participant_list: str = doc("Participants of those turns, '(P1, P3)', or ''.", "")
    carriers: str = doc("The codes that carry it most often, with turn counts.", "")
    stated: str = doc("What the codebook states about the pair, or ''.", "")
    example: Quote | None = doc("One turn where it shows, as a quote, or None.", None)


@dataclass
class LensesSection:
    """Optional slot: the codebook's lenses (e.g. the three Vs) read through its ties."""

    intro: str = doc("Paragraph explaining direct and reached passages and how tensions are found.")
    lenses: list[LensSection] = doc("One subsection per lens, codebook order.", default_factory=list)
    pairs: list[LensPairRow] = doc("Tensions and synergies between lenses, most turns first.", default_factory=list)


@dataclass
class ChangeRow:
    """One code whose prevalence changed since the previous run."""

    label: str = doc("Code label.")
    anchor: str = doc("HTML id of the code's section.")
    segments_before: int = doc("Segments coded with it in the previous run (rolled up).", 0)
    segments_after: int = doc("Segments coded with it in this run.", 0)
    delta: str = doc("Signed change in segments, e.g. '+3'.", "")
    participants_added: str = doc("Participants newly supporting the code, '(P2, P5)', or ''.", "")
    participants_removed: str = doc("Participants who no longer do, or ''.", "")


@dataclass
class ChangesSection:
    """What changed since the previous run: opens the report after a codebook or transcript change."""

    previous_run: str = doc("The run compared with, e.g. run:3.")
    current_run: str = doc("The run of this report.")
    codebook_changed: bool = doc("True when the two runs used different codebooks.", False)
    gained: int = doc("Code applications (segment, code) only in this run.", 0)
    lost: int = doc("Code applications only in the previous run.", 0)
    rows: list[ChangeRow] = doc("Codes whose prevalence changed, largest change first.", default_factory=list)


@dataclass
class TrustRow:
    """How far one code can be trusted: the pass against the human coding, on the units the human coded."""

    code_id: str = doc("Code id.")
    label: str = doc("Code label.")
    anchor: str = doc("HTML id of the code's section.")
    verdict: str = doc("trusted (kappa >= 0.6), review (0.4-0.6) or do not use (below, or too few human examples).")
    below_bar: bool = doc("True unless the verdict is 'trusted'.")
    kappa: str = doc("Cohen's kappa of the pass against the human, two decimals, '–' when undefined.")
    interval: str = doc("Bootstrap 95% interval of kappa, e.g. '0.41–0.80'.")
    precision: str = doc("Precision, two decimals.")
    recall: str = doc("Recall, two decimals.")
    n_examples: int = doc("Human examples of the code among the units compared.")
    reason: str = doc("Why the verdict, e.g. '3 human examples, needs 8'.")


@dataclass
class TrustSection:
    """Optional slot: how far to trust each code (qualkit validity for the report's pass)."""

    pass_name: str = doc("The pass measured: rules or learned.")
    coders: str = doc("The human coder(s) compared with, e.g. 'human:alice'.")
    unit_note: str = doc("Which units were compared (only those the human coded), folds and seed.")
    rows: list[TrustRow] = doc("One row per code, least trusted first.", default_factory=list)
    n_trusted: int = doc("Codes with the verdict trusted.", 0)
    n_below: int = doc("Codes below the bar (review or do not use).", 0)


@dataclass
class CodebookEntry:
    """One code in the codebook appendix."""

    id: str = doc("Code id.")
    label: str = doc("Code label.")
    anchor: str = doc("HTML id of the code's entry in the appendix.")
    depth: int = doc("0 for themes, 1 for their codes, ...")
    parent_label: str = doc("Label of the parent code, empty for themes.")
    definition: str = doc("Definition.")
    inclusion: str = doc("When to apply the code.")
    exclusion: str = doc("When not to apply it.")
    examples: list[str] = doc("Invented illustrations from the codebook.", default_factory=list)
    trust: str = doc("Validity verdict of the code (see CodeSection.trust); '' when unmeasured.", "")


@dataclass
class Methods:
    """Methods and provenance: every number in the report traces back to these."""

    qualkit_version: str = doc("qualkit version that built the report.")
    coder: str = doc("The coder analysed.")
    run_id: str = doc("Run analysed (empty for human coders).")
    run_kind: str = doc("Kind of the run, e.g. rules.")
    run_started: str = doc("When the run started (ISO 8601, UTC).")
    run_finished: str = doc("When the run finished.")
    run_qualkit_version: str = doc("qualkit version of the run.")
    codebook_hash: str = doc("Full codebook content hash.")
    unit: str = doc("Unit of analysis.")
    n_segments: int = doc("Segments of that unit in participant speech.", 0)
    n_applications: int = doc("Code applications in the coder's codings.", 0)
    parameters: list[tuple[str, str]] = doc("Run parameters as (name, value).", default_factory=list)
    excluded: list[str] = doc("What was left out of the analysis, e.g. interviewer speech.", default_factory=list)
    measures: list[str] = doc("How the report's measures are defined.", default_factory=list)
    inputs: list[tuple[str, str]] = doc("Transcripts analysed as (id and version, SHA-256 of its content).", default_factory=list)
    versions: list[tuple[str, str]] = doc("Software versions recorded by the run, as (package, version).", default_factory=list)


@dataclass
class TurnExcerpt:
    """A turn shown in the transcript appendix."""

    idx: int = doc("0-based turn index.")
    anchor: str = doc("HTML id (t-TRANSCRIPT-IDX) that quotes link to.")
    speaker: str = doc("Speaker label.")
    role: str = doc("interviewer, participant or other.")
    text: str = doc("The full turn text.")
    quoted: bool = doc("True when a quote in the report comes from this turn.", False)


@dataclass
class TranscriptExcerpt:
    """The quoted turns of one transcript (with the question before each)."""

    transcript_id: str = doc("Transcript id.")
    participant_id: str = doc("Participant id.")
    anchor: str = doc("HTML id of the transcript's appendix entry.")
    turns: list[TurnExcerpt] = doc("The turns shown, in order.", default_factory=list)


@dataclass
class MemoEntry:
    """One memo in the memos appendix."""

    target: str = doc("What the memo is about, e.g. 'code velocity', 'P3 turn 4', 'study'.")
    target_kind: str = doc("study, code, transcript, turn or coding.")
    coder: str = doc("Author of the memo.")
    title: str = doc("One-line title, may be empty.")
    text: str = doc("The memo's text (escaped like transcript text).")
    updated_at: str = doc("When it was last changed (ISO 8601, UTC).")
    anchor: str = doc("HTML id of a report section it links to (a code's codebook entry), or empty.", "")


@dataclass
class ReportContext:
    """Everything ``report.html.j2`` and ``report.md.j2`` may use."""

    title: str = doc("Report title.")
    summary: Summary = doc("Opening numbers: study size, words coded, codebook, run.")
    toc: list[TocEntry] = doc("Table of contents.")
    notes: list[str] = doc("Notices for the reader, e.g. 'no codes were applied'.")
    participants: list[ParticipantRow] = doc("Participant table (the paper's Table 1).")
    themes: list[Theme] = doc("One section per top-level theme, with its codes.")
    frequency: list[FrequencyRow] = doc("Code frequency table, most frequent first.")
    pairs: list[PairRow] = doc("Most frequent co-occurring code pairs with examples.")
    charts: Charts = doc("Inline SVG figures.")
    saturation: Saturation = doc("Thematic saturation.")
    changes: ChangesSection | None = doc("What changed since the previous run; None for a first run.")
    agreement: AgreementSection | None = doc("Optional slot: intercoder agreement, None without a second coder.")
    emergent_themes: EmergentThemes | None = doc("Optional slot: the topics pass's section, None until it contributes one.")
    codebook: list[CodebookEntry] = doc("Codebook appendix, codebook order.")
    methods: Methods = doc("Methods and provenance.")
    transcripts: list[TranscriptExcerpt] = doc("Transcript appendix: the quoted turns.")
    memos: list[MemoEntry] | None = doc("Optional slot: the memos appendix, None unless asked ([report] memos = true or --memos).", None)
    lenses: LensesSection | None = doc(
        "Optional slot: lenses (e.g. the three Vs) read through the codebook's ties; None without serves/hinders ties.", None
    )
    trust: TrustSection | None = doc("Optional slot: how far to trust each code; None without human codings to measure against.", None)


def field_help(cls: type) -> dict[str, str]:
    """``{field name: help text}`` of a context dataclass."""
    return {f.name: f.metadata.get("help", "") for f in fields(cls)}


__all__ = [
    "AgreementRow",
    "AgreementSection",
    "Chart",
    "Charts",
    "CoCode",
    "CodeSection",
    "CodebookEntry",
    "EmergentThemes",
    "EmergentTopic",
    "FrequencyRow",
    "GroupShare",
    "LensPairRow",
    "LensPassage",
    "LensSection",
    "LensTieRow",
    "LensesSection",
    "MemoEntry",
    "Methods",
    "PairRow",
    "ParticipantRow",
    "Quote",
    "ReportContext",
    "Saturation",
    "SaturationRow",
    "Summary",
    "Theme",
    "TocEntry",
    "TrustRow",
    "TrustSection",
    "TranscriptExcerpt",
    "TurnExcerpt",
    "field_help",
]
