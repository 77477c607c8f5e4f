"""Search and retrieval: keyword in context over participant speech, and participant filters.

* :func:`kwic` finds a word or phrase by lemma, with the same lowercase lookup lemmatizer as the
  rules pass (``coding/nlp.py``), so "versioned" finds "version", "versions" and "Versioning";
  ``word*`` matches by prefix. Results come with counts per participant. Each transcript
  version's lemmas come from :mod:`qualkit.analysis.lemma_index` (cached, so a second search does
  not lemmatize again).
* :func:`qualkit.analysis.code_query.code_query` retrieves the turns where a combination of codes
  holds (``X AND Y``, ``X NOT Y``, ...), for any coder.

Both filter participants by attribute (``role``, ``company_size``, ``sector``, free-form
attributes): see :func:`parse_where` and :func:`select_participants`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..errors import InputError, NotFoundError
from ..store import participant_sort_key
from ..transcripts_schema.stored import stored_participants
from .lemma_index import TurnTokens, forget_lemma_indexes, prune_lemma_cache, transcript_tokens

DEFAULT_WIDTH = 60
CORE_ATTRIBUTES = ("role", "company_size", "sector", "years_experience")


# -- participant filters ------------------------------------------------------------------------


def parse_where(items: Iterable[str]) -> dict[str, list[str]]:
    """``["sector=finance,health", "role=MLE"]`` -> ``{"sector": ["finance", "health"], "role": ["MLE"]}``.

    Several keys must all hold; comma-separated values are alternatives.
    """
    result: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        values = [v.strip() for v in value.split(",") if v.strip()]
        if not sep or not key or not values:
            raise InputError(f"cannot read the filter {item!r}",
                             hint="write ATTRIBUTE=VALUE, e.g. --where sector=finance or --where company_size=large,small")
        result.setdefault(key, []).extend(values)
    return result


def _attribute_values(person: Any) -> dict[str, str]:
    values = {key: getattr(person, key) for key in CORE_ATTRIBUTES}
    values.update(person.attributes or {})
    shown = {}
    for key, value in values.items():
        if value is None or value == "":
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        shown[key] = str(value)
    return shown


def participant_attributes(study: Any) -> dict[str, dict[str, str]]:
    """Every participant's attributes as text: ``{participant_id: {attribute: value}}``."""
    return {person.id: _attribute_values(person) for person in stored_participants(_store(study))}


def filter_options(study: Any, *, max_values: int = 30) -> dict[str, list[str]]:
    """Attributes a search can filter on, with their values: ``role``, ``company_size``, ``sector`` first,
    then free-form attributes with at most ``max_values`` distinct values."""
    values: dict[str, set[str]] = {}
    for attrs in participant_attributes(study).values():
        for key, value in attrs.items():
            values.setdefault(key, set()).add(value)
    order = [k for k in CORE_ATTRIBUTES if k in values and k != "years_experience"]
    order += sorted(k for k in values if k not in CORE_ATTRIBUTES)
    return {key: sorted(values[key], key=str.casefold) for key in order if len(values[key]) <= max_values}


def select_participants(study: Any, where: Mapping[str, Sequence[str]] | None) -> set[str] | None:
    """Participants whose attributes match ``where`` (case-insensitive); ``None`` means no filter.

    An unknown attribute, or a value no participant has, is an error naming what exists.
    """
    if not where:
        return None
    people = participant_attributes(study)
    chosen = set(people)
    for key, wanted in where.items():
        known_keys = sorted({k for attrs in people.values() for k in attrs} | set(CORE_ATTRIBUTES))
        if key not in known_keys:
            raise InputError(f"no participant attribute {key!r}",
                             hint=f"the participants have: {', '.join(known_keys)}")
        present = sorted({attrs[key] for attrs in people.values() if key in attrs}, key=str.casefold)
        lowered = {w.casefold() for w in wanted}
        missing = [w for w in wanted if w.casefold() not in {p.casefold() for p in present}]
        if missing:
            raise InputError(
                f"no participant has {key} = {', '.join(repr(m) for m in missing)}",
                hint=f"the values of {key} are: {', '.join(present) or 'none recorded'}",
            )
        chosen &= {pid for pid, attrs in people.items() if attrs.get(key, "").casefold() in lowered}
    return chosen


def _store(study: Any) -> Any:
    return getattr(study, "store", study)


@dataclass(frozen=True)
class SearchTurn:
    """A turn of a current transcript, as searches read it (``turn_idx`` 0-based, as stored)."""

    transcript_pk: int
    transcript_id: str
    participant_id: str | None
    turn_pk: int
    turn_idx: int
    speaker: str
    role: str
    text: str
    start_s: float | None


def speaker_roles(include_interviewer: bool) -> tuple[str, ...]:
    """The turn roles a search covers: participants, or everyone."""
    return ("participant", "interviewer", "other") if include_interviewer else ("participant",)


def current_turns(study: Any, participants: set[str] | None) -> Iterator[tuple[Any, list[SearchTurn]]]:
    """Current transcripts in participant order, each with all its turns in order."""
    store = _store(study)
    for row in store.transcripts():
        if participants is not None and row.participant_id not in participants:
            continue
        turns = [
            SearchTurn(row.pk, row.id, row.participant_id, t["pk"], t["idx"], t["speaker"], t["role"], t["text"], t["start_s"])
            for t in store.query("SELECT pk, idx, speaker, role, text, start_s FROM turns WHERE transcript_pk = ? ORDER BY idx", (row.pk,))
        ]
        yield row, turns


# -- keyword in context ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KwicHit:
    """One match: where it is, the matched text and its context (offsets are into the turn)."""

    transcript_id: str
    participant_id: str | None
    turn_idx: int
    turn_pk: int
    speaker: str
    start_char: int
    end_char: int
    matched: str
    left: str
    right: str
    start_s: float | None = None
    transcript_pk: int = 0  # the transcript version searched (a page coding the hit checks it is still current)
    turn_length: int = 0  # characters in the turn (to code the whole turn)


@dataclass(frozen=True)
class ParticipantCount:
    """Hits (or coded spans) of one participant, the turns they are in, and the words searched."""

    participant_id: str
    hits: int
    turns: int
    words: int = 0  # words of the participant's turns in scope

    @property
    def per_1000_words(self) -> float | None:
        """Hits per 1,000 words the participant spoke: compares talkative and terse participants."""
        return 1000 * self.hits / self.words if self.words else None

    def as_dict(self) -> dict[str, Any]:
        """The fields and the rate per 1,000 words, as the ``--json`` outputs show them."""
        return {**asdict(self), "per_1000_words": self.per_1000_words}


@dataclass
class ParticipantTally:
    """Per participant, as a search walks the turns: hits, turns with a hit, and words searched."""

    hits: dict[str, int] = field(default_factory=dict)
    turns: dict[str, int] = field(default_factory=dict)
    words: dict[str, int] = field(default_factory=dict)

    def begin(self, participant_id: str) -> None:
        """Count ``participant_id`` even when none of their turns has a hit."""
        self.hits.setdefault(participant_id, 0)
        self.turns.setdefault(participant_id, 0)
        self.words.setdefault(participant_id, 0)

    def add_words(self, participant_id: str, words: int) -> None:
        self.words[participant_id] = self.words.get(participant_id, 0) + words

    def hit(self, participant_id: str, hits: int) -> None:
        """One turn of ``participant_id`` with ``hits`` hits."""
        self.hits[participant_id] += hits
        self.turns[participant_id] += 1

    def counts(self) -> list[ParticipantCount]:
        return [ParticipantCount(pid, self.hits[pid], self.turns[pid], self.words.get(pid, 0))
                for pid in sorted(self.hits, key=participant_sort_key)]


@dataclass
class KwicResult:
    term: str
    pattern: list[str]  # the lemmas (or prefixes ending in *) matched, in order
    hits: list[KwicHit]
    counts: list[ParticipantCount]
    turns_searched: int
    where: dict[str, list[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Every hit, also those beyond ``limit``."""
        return sum(count.hits for count in self.counts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "term": self.term, "pattern": self.pattern, "total": self.total, "turns_searched": self.turns_searched,
            "where": self.where, "counts": [c.as_dict() for c in self.counts],
            "hits": [asdict(h) for h in self.hits],
        }


def query_pattern(term: str) -> list[str]:
    """The lemma sequence a search term stands for; ``word*`` stays a prefix (``version*``)."""
    from ..coding.nlp import lemmas

    pattern: list[str] = []
    for word in term.split():
        if "*" in word.rstrip("*"):  # lemmatised, "velo*ity" would silently find nothing
            raise InputError(f"cannot search for {word!r}: * stands only at the end of a word (a prefix)",
                             hint=f"write a prefix such as {word.split('*')[0] + '*'!r}, or the whole word" if not word.startswith("*")
                             else "there is no suffix search: write the whole word")
        if word.endswith("*") and len(word.rstrip("*")) >= 1:
            pattern.append(word.rstrip("*").casefold() + "*")
            continue
        tokens = [t for t in lemmas(word) if re.search(r"\w", t)]
        pattern.extend(tokens)
    if not pattern:
        raise InputError(f"nothing to search for in {term!r}", hint="give a word or phrase, e.g. versioning or 'feature store'")
    return pattern


def _find(pattern: list[str], tokens: TurnTokens, text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every occurrence of ``pattern`` among the turn's tokens."""
    n = len(pattern)
    lemmas = tokens.lemma_list()
    spans = tokens.spans()
    for i in range(len(lemmas) - n + 1):
        for j, want in enumerate(pattern):
            lemma = lemmas[i + j]
            if want.endswith("*"):
                start, end = spans[i + j]
                if not (text[start:end].casefold().startswith(want[:-1]) or lemma.startswith(want[:-1])):
                    break
            elif lemma != want:
                break
        else:
            yield spans[i][0], spans[i + n - 1][1]


def _context(text: str, start: int, end: int, width: int) -> tuple[str, str]:
    left = text[max(0, start - width) : start]
    right = text[end : end + width]
    if start - width > 0:
        cut = left.find(" ")
        left = "…" + (left[cut + 1 :] if 0 <= cut < len(left) - 1 else left)
    if end + width < len(text):
        cut = right.rfind(" ")
        right = (right[:cut] if cut > 0 else right) + "…"
    return " ".join(left.split(" ")) if left else "", right


def kwic(
    study: Any,
    term: str,
    *,
    where: Mapping[str, Sequence[str]] | None = None,
    width: int = DEFAULT_WIDTH,
    include_interviewer: bool = False,
    limit: int | None = None,
) -> KwicResult:
    """Every occurrence of ``term`` (lemma-aware) in participant speech, with context and counts.

    ``limit`` caps the hits returned (counts always cover every hit).
    """
    pattern = query_pattern(term)
    if not study.store.query("SELECT 1 FROM transcripts WHERE is_current = 1 LIMIT 1"):  # "0 hits" would mislead
        raise NotFoundError("the study has no transcripts to search", hint="import some with `qualkit transcripts import`")
    chosen = select_participants(study, where)
    first = pattern[0]
    hits: list[KwicHit] = []
    tally = ParticipantTally()
    searched = 0
    roles = speaker_roles(include_interviewer)
    for row, turns in current_turns(study, chosen):
        pid = row.participant_id or row.id
        tally.begin(pid)
        in_scope = [turn for turn in turns if turn.role in roles]
        tally.add_words(pid, sum(len(turn.text.split()) for turn in in_scope))
        if not in_scope:
            continue
        all_tokens = transcript_tokens(study, row.content_hash, [turn.text for turn in turns])
        for turn in in_scope:
            searched += 1
            tokens = all_tokens[turn.turn_idx]
            if not all(tokens.may_contain(want) for want in pattern):
                continue
            if first.endswith("*") and first[:-1] not in tokens.lemmas and first[:-1] not in turn.text.casefold():
                continue
            found = list(_find(pattern, tokens, turn.text))
            if not found:
                continue
            tally.hit(pid, len(found))
            for start, end in found:
                if limit is not None and len(hits) >= limit:
                    break
                left, right = _context(turn.text, start, end, width)
                hits.append(KwicHit(row.id, row.participant_id, turn.turn_idx, turn.turn_pk, turn.speaker, start, end,
                                    turn.text[start:end], left, right, turn.start_s, row.pk, len(turn.text)))
    counts = tally.counts()
    if chosen is None:  # every current transcript was indexed: drop the files of versions replaced since
        prune_lemma_cache(study, {row.content_hash for row in _store(study).transcripts()})
    return KwicResult(term, pattern, hits, counts, searched, {k: list(v) for k, v in (where or {}).items()})


__all__ = [
    "KwicHit",
    "KwicResult",
    "ParticipantCount",
    "ParticipantTally",
    "filter_options",
    "forget_lemma_indexes",
    "kwic",
    "parse_where",
    "participant_attributes",
    "query_pattern",
    "SearchTurn",
    "current_turns",
    "select_participants",
    "speaker_roles",
    "transcript_tokens",
]
