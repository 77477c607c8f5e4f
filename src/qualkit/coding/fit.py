"""``qualkit codebook fit``: does a codebook fit a study's participant speech?

Two measures of coverage, with the turn as the unit (every participant turn is coded whole by
the codebook's rules; nothing is stored):

* the share of **substantive** participant turns (:data:`SUBSTANTIVE_WORDS` words or more) that
  get at least one code;
* the share of participant words in coded turns.

And the study's frequent terms that no rule touches: participant speech is lemmatized with the
rules pass's pipeline, stop words and fillers dropped, terms ranked by TF-IDF summed over turns
(``count x log(turns / turns with the term + 1)``), kept when they occur in at least two
transcripts (or two turns of a one-transcript study). A term is *touched* when at least one of
its occurrences lies inside a rule's match; ``matched`` counts those occurrences.

The verdict (see :data:`THRESHOLDS`): **fits** when at least 60% of substantive turns are coded,
at least 50% of participant words are in coded turns and at least half of the top terms are
touched; **does not fit** when fewer than 30% of substantive turns are coded or fewer than 20%
of the top terms are touched; **fits partly** otherwise.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from ..codebook import Codebook
from .nlp import get_nlp

SUBSTANTIVE_WORDS = 25
TOP_TERMS = 30
THRESHOLDS = {
    "fits_turns": 0.6,
    "fits_words": 0.5,
    "fits_terms": 0.5,
    "not_turns": 0.3,
    "not_terms": 0.2,
}

#: Words of talk that say nothing about a domain (beyond spaCy's stop words).
FILLER_WORDS = frozenset(
    """
    um uh uhm erm hmm mm mhm yeah yes yep okay ok oh ah like know mean think kind sort really just
    actually basically literally gonna wanna gotta thing stuff lot pretty right sure laugh laughter
    say get go come way let maybe probably guess little bit bunch honestly totally exactly fun weird
    want need use make good great big day week time year month people person look start tell talk
    work lot thing something anything everything someone anyone everybody somebody kinda sorta
    interesting different able new year cool awesome whatever stuff point question answer mean
    feel try thank thanks welcome today episode podcast show guy sound definitely absolutely obviously
    """.split()
)


@dataclass(frozen=True)
class FitTurn:
    """One participant turn: its transcript, text, and the words of it that carry a code."""

    transcript_id: str
    text: str
    coded_words: int = 0
    spans: tuple[tuple[int, int], ...] = ()  # character spans of rule matches in the text

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass(frozen=True)
class Term:
    """A frequent term of the study's participant speech."""

    term: str
    score: float
    count: int
    transcripts: int
    matched: int  # occurrences inside a rule match

    @property
    def touched(self) -> bool:
        return self.matched > 0


@dataclass
class CodebookFit:
    """How well a codebook covers a study's participant speech."""

    codebook_name: str
    codebook_hash: str
    n_turns: int = 0
    n_substantive: int = 0
    n_substantive_coded: int = 0
    n_words: int = 0
    n_words_coded: int = 0
    terms: list[Term] = field(default_factory=list)
    unit: str = "turn"

    @property
    def turn_share(self) -> float:
        return self.n_substantive_coded / self.n_substantive if self.n_substantive else 0.0

    @property
    def word_share(self) -> float:
        return self.n_words_coded / self.n_words if self.n_words else 0.0

    @property
    def untouched(self) -> list[str]:
        return [term.term for term in self.terms if not term.touched]

    @property
    def term_share(self) -> float:
        return sum(term.touched for term in self.terms) / len(self.terms) if self.terms else 0.0

    @property
    def verdict(self) -> str:
        """``fits``, ``fits partly`` or ``does not fit`` (thresholds in :data:`THRESHOLDS`)."""
        t = THRESHOLDS
        if not self.n_substantive:
            return "fits partly"  # nothing to judge by
        if self.turn_share < t["not_turns"] or (self.terms and self.term_share < t["not_terms"]):
            return "does not fit"
        if self.turn_share >= t["fits_turns"] and self.word_share >= t["fits_words"] and (not self.terms or self.term_share >= t["fits_terms"]):
            return "fits"
        return "fits partly"

    @property
    def poor(self) -> bool:
        return self.verdict != "fits"

    def verdict_line(self, n_terms: int = 8) -> str:
        """One sentence for people, e.g. ``The codebook fits partly: 45% of substantive turns ...``."""
        if not self.n_substantive:
            return (
                f"Codebook fit cannot be judged: no participant turn has {SUBSTANTIVE_WORDS} words or more."
            )
        line = (
            f"The codebook {self.verdict}: it codes {self.turn_share:.0%} of substantive participant turns "
            f"({self.n_substantive_coded} of {self.n_substantive}, {SUBSTANTIVE_WORDS}+ words) and "
            f"{self.word_share:.0%} of participant words; its rules touch {self.term_share:.0%} of the study's "
            f"{len(self.terms)} most frequent terms"
        )
        missing = self.untouched[:n_terms]
        if missing:
            line += " (untouched: " + ", ".join(missing) + ")"
        return line + "."

    @staticmethod
    def thresholds_text() -> str:
        t = THRESHOLDS
        return (
            f"fits: >= {t['fits_turns']:.0%} of substantive turns coded, >= {t['fits_words']:.0%} of words, "
            f">= {t['fits_terms']:.0%} of top terms touched; does not fit: < {t['not_turns']:.0%} of substantive "
            f"turns coded or < {t['not_terms']:.0%} of top terms touched; fits partly: otherwise"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "codebook": self.codebook_name,
            "codebook_hash": self.codebook_hash,
            "unit": self.unit,
            "verdict": self.verdict,
            "verdict_line": self.verdict_line(),
            "thresholds": dict(THRESHOLDS, substantive_words=SUBSTANTIVE_WORDS),
            "turns": self.n_turns,
            "substantive_turns": self.n_substantive,
            "substantive_turns_coded": self.n_substantive_coded,
            "turn_share": round(self.turn_share, 4),
            "words": self.n_words,
            "words_coded": self.n_words_coded,
            "word_share": round(self.word_share, 4),
            "term_share": round(self.term_share, 4),
            "terms": [dict(asdict(term), touched=term.touched) for term in self.terms],
            "untouched": self.untouched,
        }


# -- terms --------------------------------------------------------------------------------------


def frequent_terms(turns: list[FitTurn], *, top: int = TOP_TERMS) -> list[Term]:
    """The ``top`` terms of the turns, best first, each with the occurrences inside a match."""
    from spacy.lang.en.stop_words import STOP_WORDS

    nlp = get_nlp()
    counts: Counter[str] = Counter()
    matched: Counter[str] = Counter()
    turn_freq: Counter[str] = Counter()
    where: dict[str, set[str]] = {}
    for doc, turn in zip(nlp.pipe((t.text for t in turns), batch_size=256), turns):
        seen: set[str] = set()
        for token in doc:
            lemma = token.lemma_
            if not token.is_alpha or len(lemma) < 3 or lemma in STOP_WORDS or token.lower_ in STOP_WORDS or lemma in FILLER_WORDS:
                continue
            counts[lemma] += 1
            seen.add(lemma)
            if turn.spans and any(start <= token.idx < end for start, end in turn.spans):
                matched[lemma] += 1
        for lemma in seen:
            turn_freq[lemma] += 1
            where.setdefault(lemma, set()).add(turn.transcript_id)
    n_turns = max(len(turns), 1)
    n_transcripts = len({t.transcript_id for t in turns})
    scored = []
    for term, count in counts.items():
        spread = len(where[term])
        if (n_transcripts > 1 and spread < 2) or (n_transcripts <= 1 and turn_freq[term] < 2):
            continue
        scored.append(Term(term, round(count * math.log(n_turns / turn_freq[term] + 1.0), 2), count, spread, matched[term]))
    scored.sort(key=lambda item: (-item.score, item.term))
    return scored[:top]


def assess_fit(
    turns: Iterable[FitTurn], codebook: Any, *, top: int = TOP_TERMS, unit: str = "turn", max_term_words: int | None = None
) -> CodebookFit:
    """Coverage and untouched terms from participant turns whose coded words and matches are known.

    ``codebook`` needs only ``name`` and ``hash``. ``max_term_words`` ranks terms on an evenly
    spaced sample of turns of about that many words (coverage always counts every turn)."""
    turns = list(turns)
    fit = CodebookFit(codebook.name, codebook.hash, unit=unit)
    fit.n_turns = len(turns)
    for turn in turns:
        words = turn.words
        fit.n_words += words
        fit.n_words_coded += min(turn.coded_words, words)
        if words >= SUBSTANTIVE_WORDS:
            fit.n_substantive += 1
            fit.n_substantive_coded += turn.coded_words > 0
    sample = turns
    if max_term_words is not None and fit.n_words > max_term_words:
        keep = max(1, math.ceil(len(turns) * max_term_words / fit.n_words))
        sample = [turns[int(k * len(turns) / keep)] for k in range(keep)]
    fit.terms = frequent_terms(sample, top=top)
    return fit


def fit_texts(texts: Iterable[tuple[str, str]], codebook: Codebook, *, top: int = TOP_TERMS) -> CodebookFit:
    """Code each ``(transcript_id, turn text)`` whole with the codebook's rules and assess the fit."""
    from .rules import RuleCoder

    items = list(texts)
    coder = RuleCoder(codebook)
    turns = [
        FitTurn(transcript_id, text, len(text.split()) if matches else 0, tuple((m.start, m.end) for m in matches))
        for (transcript_id, text), matches in zip(items, coder.code_texts(text for _, text in items))
    ]
    return assess_fit(turns, codebook, top=top)


def participant_turns(study: Any) -> list[tuple[str, str]]:
    """``(transcript id, text)`` of every participant turn of the study's current transcripts."""
    rows = study.store.query(
        """SELECT t.id AS transcript_id, tu.text AS text FROM turns tu
           JOIN transcripts t ON t.pk = tu.transcript_pk
           WHERE t.is_current = 1 AND tu.role = 'participant' ORDER BY t.id, tu.idx"""
    )
    return [(row["transcript_id"], row["text"]) for row in rows]


def codebook_fit(study: Any, codebook: Codebook, *, top: int = TOP_TERMS) -> CodebookFit:
    """How well ``codebook`` fits the study's participant speech (turns coded whole, nothing stored)."""
    from ..errors import NotFoundError

    texts = participant_turns(study)
    if not texts:
        raise NotFoundError("the study has no participant turns to assess", hint="import transcripts first: `qualkit transcripts import`")
    return fit_texts(texts, codebook, top=top)


def fit_from_codings(study: Any, codings: Any, codebook: Any, *, top: int = TOP_TERMS, max_term_words: int | None = 300_000) -> CodebookFit:
    """The fit as a coder's codings show it (for the report): a turn counts as coded when one of
    its segments carries a code; coded words are the words of its coded segments."""
    rows = study.store.query(
        """SELECT t.id AS transcript_id, tu.idx AS turn_idx, tu.text AS text FROM turns tu
           JOIN transcripts t ON t.pk = tu.transcript_pk
           WHERE t.is_current = 1 AND tu.role = 'participant' ORDER BY t.id, tu.idx"""
    )
    coded: dict[tuple[str, int], int] = {}
    spans: dict[tuple[str, int], list[tuple[int, int]]] = {}
    if len(codings):
        segments = codings.drop_duplicates("segment_pk")
        for transcript_id, turn_idx, text in zip(segments["transcript_id"], segments["turn_idx"], segments["text"]):
            key = (str(transcript_id), int(turn_idx))
            coded[key] = coded.get(key, 0) + len(str(text).split())
        for transcript_id, turn_idx, start, end in zip(codings["transcript_id"], codings["turn_idx"], codings["start_char"], codings["end_char"]):
            spans.setdefault((str(transcript_id), int(turn_idx)), []).append((int(start), int(end)))
    turns = []
    for row in rows:
        key = (row["transcript_id"], int(row["turn_idx"]))
        turns.append(FitTurn(row["transcript_id"], row["text"], coded.get(key, 0), tuple(spans.get(key, ()))))
    unit = codings.attrs.get("unit", "turn") if hasattr(codings, "attrs") else "turn"
    return assess_fit(turns, codebook, top=top, unit=unit, max_term_words=max_term_words)


__all__ = [
    "CodebookFit",
    "FitTurn",
    "SUBSTANTIVE_WORDS",
    "THRESHOLDS",
    "Term",
    "assess_fit",
    "codebook_fit",
    "fit_from_codings",
    "fit_texts",
    "frequent_terms",
    "participant_turns",
]
