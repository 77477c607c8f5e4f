"""Search and retrieval: keyword in context over participant speech, and code queries.

* :func:`kwic` finds a word or phrase by lemma, with the same lowercase lookup lemmatizer as the
  rules pass (``coding/nlp.py``), so "versioned" finds "version", "versions" and "Versioning";
  ``word*`` matches by prefix. Results come with counts per participant. Each transcript
  version's lemmas are cached under ``.qualkit/cache/lemmas/`` (keyed by its content hash), so a
  second search reads the cache instead of lemmatizing again.
* :func:`code_query` retrieves the turns where a boolean combination of codes holds (``X``,
  ``X AND Y``, ``X NOT Y``, ``X OR (Y AND NOT Z)``), for any coder (``run:ID``, ``human:NAME``),
  with the coded spans and their text. A code stands for itself and its descendants.

Both filter participants by attribute (``role``, ``company_size``, ``sector``, free-form
attributes): see :func:`parse_where`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..errors import InputError
from ..store import participant_sort_key
from .codetree import CodeTree
from .code_names import resolve_code, study_code_tree

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
    return {person.id: _attribute_values(person) for person in _store(study).participants()}


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


# -- the lemma index ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TurnTokens:
    """The tokens of one turn, kept compact: ``lemmas`` space-joined, ``offsets`` the start and length
    of each token (code points into the turn's text). Decoded only for turns that may match."""

    lemmas: str
    offsets: str  # start and length of each token, space-joined: "0 9 11 6 ..."

    def lemma_list(self) -> list[str]:
        return self.lemmas.split(" ") if self.lemmas else []

    def spans(self) -> list[tuple[int, int]]:
        """``(start, end)`` of each token."""
        numbers = [int(n) for n in self.offsets.split(" ")] if self.offsets else []
        return [(start, start + length) for start, length in zip(numbers[::2], numbers[1::2])]

    def may_contain(self, lemma: str) -> bool:
        """A quick test before decoding: could ``lemma`` (or, ending in ``*``, a prefix) be a token here?"""
        if lemma.endswith("*"):
            return True
        return f" {lemma} " in f" {self.lemmas} "


#: Lemma indexes kept in memory (a long-running ``qualkit serve`` searches without reading files):
#: content hash -> tokens per turn, up to about this many characters in all.
MEMORY_BUDGET_CHARS = 200_000_000
_memory: "OrderedDict[str, list[TurnTokens]]" = OrderedDict()
_memory_chars = 0
_memory_lock = threading.Lock()


def forget_lemma_indexes() -> None:
    """Drop the lemma indexes held in memory (the cache files stay)."""
    global _memory_chars
    with _memory_lock:
        _memory.clear()
        _memory_chars = 0


def _signature() -> str:
    from ..coding.nlp import LEMMA_OVERRIDES, versions

    data = json.dumps({"versions": versions(), "overrides": LEMMA_OVERRIDES, "format": 3}, sort_keys=True)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:12]


def _tokenize(texts: list[str]) -> list[TurnTokens]:
    """Lemmas and offsets of every non-space token, read from spaCy's arrays (no Token objects)."""
    from spacy.attrs import IDX, IS_SPACE, LEMMA, LENGTH

    from ..coding.nlp import get_nlp

    nlp = get_nlp()
    strings = nlp.vocab.strings
    names: dict[int, str] = {}

    def name(lemma: int) -> str:
        found = names[lemma] = strings[lemma].replace(" ", "_") or "_"
        return found

    result = []
    for doc in nlp.pipe(texts, batch_size=256):
        array = doc.to_array([LEMMA, IDX, LENGTH, IS_SPACE])
        array = array[array[:, 3] == 0]
        lemmas = " ".join([names.get(h) or name(h) for h in array[:, 0].tolist()])
        offsets = " ".join(map(str, array[:, 1:3].ravel().tolist()))
        result.append(TurnTokens(lemmas, offsets))
    return result


def _remember(key: str, tokens: list[TurnTokens]) -> None:
    global _memory_chars
    size = sum(len(t.lemmas) + len(t.offsets) for t in tokens)
    with _memory_lock:
        if key in _memory:
            return
        _memory[key] = tokens
        _memory_chars += size
        while _memory_chars > MEMORY_BUDGET_CHARS and len(_memory) > 1:
            _, dropped = _memory.popitem(last=False)
            _memory_chars -= sum(len(t.lemmas) + len(t.offsets) for t in dropped)


def transcript_tokens(study: Any, content_hash: str, texts: list[str]) -> list[TurnTokens]:
    """Tokens of a transcript version's turns (in turn order): from memory, else the cache file,
    else lemmatized now (and cached under ``.qualkit/cache/lemmas/``)."""
    key = f"{content_hash}-{_signature()}"
    with _memory_lock:
        known = _memory.get(key)
        if known is not None and len(known) == len(texts):
            _memory.move_to_end(key)
            return known
    cache_dir = getattr(study, "cache_dir", None)
    path = Path(cache_dir) / "lemmas" / f"{key}.json" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if len(data) == len(texts) and all(isinstance(a, str) and isinstance(b, str) for a, b in data):
                tokens = [TurnTokens(a, b) for a, b in data]
                _remember(key, tokens)
                return tokens
        except (OSError, ValueError, TypeError):
            pass  # a damaged cache file is rebuilt below
    tokens = _tokenize(texts)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps([[t.lemmas, t.offsets] for t in tokens]), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            pass  # caching is an optimisation only
    _remember(key, tokens)
    return tokens


@dataclass(frozen=True)
class _Turn:
    transcript_pk: int
    transcript_id: str
    participant_id: str | None
    turn_pk: int
    turn_idx: int
    speaker: str
    role: str
    text: str
    start_s: float | None


def _roles(include_interviewer: bool) -> tuple[str, ...]:
    return ("participant", "interviewer", "other") if include_interviewer else ("participant",)


def _turns(study: Any, participants: set[str] | None) -> Iterator[tuple[Any, list[_Turn]]]:
    """Current transcripts in participant order, each with all its turns in order."""
    store = _store(study)
    for row in store.transcripts():
        if participants is not None and row.participant_id not in participants:
            continue
        turns = [
            _Turn(row.pk, row.id, row.participant_id, t["pk"], t["idx"], t["speaker"], t["role"], t["text"], t["start_s"])
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
            "where": self.where, "counts": [{**asdict(c), "per_1000_words": c.per_1000_words} for c in self.counts],
            "hits": [asdict(h) for h in self.hits],
        }


def query_pattern(term: str) -> list[str]:
    """The lemma sequence a search term stands for; ``word*`` stays a prefix (``version*``)."""
    from ..coding.nlp import lemmas

    pattern: list[str] = []
    for word in term.split():
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
    chosen = select_participants(study, where)
    first = pattern[0]
    hits: list[KwicHit] = []
    per_hits: dict[str, int] = {}
    per_turns: dict[str, int] = {}
    per_words: dict[str, int] = {}
    searched = 0
    roles = _roles(include_interviewer)
    for row, turns in _turns(study, chosen):
        pid = row.participant_id or row.id
        per_hits.setdefault(pid, 0)
        per_turns.setdefault(pid, 0)
        in_scope = [turn for turn in turns if turn.role in roles]
        per_words[pid] = per_words.get(pid, 0) + sum(len(turn.text.split()) for turn in in_scope)
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
            per_hits[pid] += len(found)
            per_turns[pid] += 1
            for start, end in found:
                if limit is not None and len(hits) >= limit:
                    break
                left, right = _context(turn.text, start, end, width)
                hits.append(KwicHit(row.id, row.participant_id, turn.turn_idx, turn.turn_pk, turn.speaker, start, end,
                                    turn.text[start:end], left, right, turn.start_s, row.pk, len(turn.text)))
    counts = [ParticipantCount(pid, per_hits[pid], per_turns[pid], per_words.get(pid, 0))
              for pid in sorted(per_hits, key=participant_sort_key)]
    return KwicResult(term, pattern, hits, counts, searched, {k: list(v) for k, v in (where or {}).items()})


# -- code queries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Code:
    code_id: str


@dataclass(frozen=True)
class _Not:
    operand: Any


@dataclass(frozen=True)
class _And:
    left: Any
    right: Any


@dataclass(frozen=True)
class _Or:
    left: Any
    right: Any


_TOKEN = re.compile(r'\s*(?:(\()|(\))|"([^"]*)"|\'([^\']*)\'|([^\s()]+))')


def _lex(query: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = query.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise InputError(f"cannot read the code query {query!r} at {text[pos:]!r}",
                             hint='write codes with AND, OR, NOT and parentheses; quote labels with spaces: "Pain points"')
        pos = match.end()
        if match.group(1):
            tokens.append(("(", "("))
        elif match.group(2):
            tokens.append((")", ")"))
        elif match.group(3) is not None or match.group(4) is not None:
            tokens.append(("code", match.group(3) if match.group(3) is not None else match.group(4)))
        else:
            word = match.group(5)
            tokens.append((word.upper(), word) if word.upper() in ("AND", "OR", "NOT") else ("code", word))
    return tokens


class _Parser:
    """expr := and (OR and)* ; and := unary ((AND | NOT) unary)* ; unary := NOT unary | code | ( expr )"""

    def __init__(self, query: str, tokens: list[tuple[str, str]], tree: CodeTree) -> None:
        self.query, self.tokens, self.tree, self.pos = query, tokens, tree, 0

    def error(self, what: str) -> InputError:
        return InputError(f"cannot read the code query {self.query!r}: {what}",
                          hint='examples: velocity; velocity AND debugging; velocity NOT debugging; '
                          'validation OR (velocity AND NOT debugging)')

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Any:
        if not self.tokens:
            raise self.error("it is empty")
        node = self.expr()
        if self.pos != len(self.tokens):
            raise self.error(f"unexpected {self.tokens[self.pos][1]!r}")
        return node

    def expr(self) -> Any:
        node = self.conj()
        while self.peek() == "OR":
            self.take()
            node = _Or(node, self.conj())
        return node

    def conj(self) -> Any:
        node = self.unary()
        while self.peek() in ("AND", "NOT"):
            kind, _ = self.take()
            right = self.unary()
            node = _And(node, _Not(right) if kind == "NOT" else right)
        return node

    def unary(self) -> Any:
        kind = self.peek()
        if kind is None:
            raise self.error("it ends too early")
        if kind == "NOT":
            self.take()
            return _Not(self.unary())
        if kind == "(":
            self.take()
            node = self.expr()
            if self.peek() != ")":
                raise self.error("a parenthesis is not closed")
            self.take()
            return node
        if kind == "code":
            return _Code(resolve_code(self.tree, self.take()[1]))
        raise self.error(f"unexpected {self.tokens[self.pos][1]!r}")


def parse_code_query(query: str, tree: CodeTree) -> Any:
    """Parse a code query into a small expression tree (codes resolved by id or label)."""
    return _Parser(query, _lex(query), tree).parse()


def _render(node: Any) -> str:
    if isinstance(node, _Code):
        return node.code_id
    if isinstance(node, _Not):
        inner = _render(node.operand)
        return f"NOT {inner}" if isinstance(node.operand, (_Code, _Not)) else f"NOT ({inner})"
    op = "AND" if isinstance(node, _And) else "OR"
    parts = []
    for side in (node.left, node.right):
        text = _render(side)
        parts.append(f"({text})" if isinstance(side, (_And, _Or)) and type(side) is not type(node) else text)
    return f" {op} ".join(parts)


def _evaluate(node: Any, codes: set[str]) -> bool:
    if isinstance(node, _Code):
        return node.code_id in codes
    if isinstance(node, _Not):
        return not _evaluate(node.operand, codes)
    if isinstance(node, _And):
        return _evaluate(node.left, codes) and _evaluate(node.right, codes)
    return _evaluate(node.left, codes) or _evaluate(node.right, codes)


def _positive_codes(node: Any, negated: bool = False) -> list[str]:
    if isinstance(node, _Code):
        return [] if negated else [node.code_id]
    if isinstance(node, _Not):
        return _positive_codes(node.operand, not negated)
    return _positive_codes(node.left, negated) + _positive_codes(node.right, negated)


@dataclass(frozen=True)
class CodedSpan:
    """A coded span of a turn: the code (as coded), its offsets into the turn, its text."""

    code_id: str
    start_char: int
    end_char: int
    text: str
    coder: str
    query_code: str  # the code of the query it counts for (the code itself or an ancestor)


@dataclass(frozen=True)
class TurnHit:
    transcript_id: str
    participant_id: str | None
    turn_idx: int
    turn_pk: int
    speaker: str
    text: str
    codes: tuple[str, ...]  # every code of the turn (with implied ancestors)
    spans: tuple[CodedSpan, ...]  # the spans of the query's positive codes
    start_s: float | None = None
    transcript_pk: int = 0  # the transcript version searched


@dataclass
class CodeQueryResult:
    query: str  # normalised: ids, explicit operators
    coder: str
    codes: list[str]  # the positive codes of the query
    hits: list[TurnHit]
    counts: list[ParticipantCount]
    turns_searched: int
    where: dict[str, list[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.hits)

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query, "coder": self.coder, "codes": self.codes, "total": self.total,
            "turns_searched": self.turns_searched, "where": self.where,
            "counts": [{**asdict(c), "per_1000_words": c.per_1000_words} for c in self.counts],
            "hits": [asdict(h) for h in self.hits],
        }


def code_query(
    study: Any,
    query: str,
    *,
    coder: str | None = None,
    where: Mapping[str, Sequence[str]] | None = None,
    unit: str | None = None,
    include_interviewer: bool = False,
    tree: CodeTree | None = None,
) -> CodeQueryResult:
    """The turns where ``query`` holds for ``coder`` (default: the latest rules run), with coded spans.

    A code in the query stands for itself and its descendants; ``X AND Y`` means both in the same
    turn, ``X NOT Y`` means X without Y in that turn. Spans are those of the query's codes that
    are not negated, with the text they cover.
    """
    from .codings import default_coder, load_codings

    tree = tree if tree is not None else study_code_tree(study)
    node = parse_code_query(query, tree)
    chosen = select_participants(study, where)
    coder = coder or default_coder(study)
    codings = load_codings(study, coder, unit=unit)
    positives = list(dict.fromkeys(_positive_codes(node)))
    lineage: dict[str, list[str]] = {}

    def implied(code_id: str) -> list[str]:
        if code_id not in lineage:
            lineage[code_id] = [code_id, *tree.ancestors(code_id)]
        return lineage[code_id]

    turn_codes: dict[int, set[str]] = {}
    turn_spans: dict[int, dict[tuple[str, int, int, str], CodedSpan]] = {}
    for row in codings.itertuples(index=False):
        turn_pk = int(row.turn_pk)
        codes = implied(row.code_id)
        turn_codes.setdefault(turn_pk, set()).update(codes)
        for query_code in positives:
            if query_code in codes:
                key = (row.code_id, int(row.start_char), int(row.end_char), query_code)
                if key not in turn_spans.setdefault(turn_pk, {}):
                    turn_spans[turn_pk][key] = CodedSpan(row.code_id, int(row.start_char), int(row.end_char), "",
                                                         str(row.coder), query_code)
    hits: list[TurnHit] = []
    per_hits: dict[str, int] = {}
    per_turns: dict[str, int] = {}
    per_words: dict[str, int] = {}
    searched = 0
    roles = _roles(include_interviewer)
    for row, turns in _turns(study, chosen):
        pid = row.participant_id or row.id
        per_hits.setdefault(pid, 0)
        per_turns.setdefault(pid, 0)
        per_words.setdefault(pid, 0)
        for turn in turns:
            if turn.role not in roles:
                continue
            searched += 1
            per_words[pid] += len(turn.text.split())
            codes = turn_codes.get(turn.turn_pk, set())
            if not _evaluate(node, codes):
                continue
            spans = sorted(
                (CodedSpan(s.code_id, s.start_char, s.end_char, turn.text[s.start_char : s.end_char], s.coder, s.query_code)
                 for s in turn_spans.get(turn.turn_pk, {}).values()),
                key=lambda s: (s.start_char, s.end_char, s.code_id),
            )
            hits.append(TurnHit(row.id, row.participant_id, turn.turn_idx, turn.turn_pk, turn.speaker, turn.text,
                                tuple(sorted(codes)), tuple(spans), turn.start_s, row.pk))
            per_hits[pid] += len(spans) or 1
            per_turns[pid] += 1
    counts = [ParticipantCount(pid, per_hits[pid], per_turns[pid], per_words[pid])
              for pid in sorted(per_hits, key=participant_sort_key)]
    return CodeQueryResult(_render(node), coder, positives, hits, counts, searched,
                           {k: list(v) for k, v in (where or {}).items()})


__all__ = [
    "CodeQueryResult",
    "CodedSpan",
    "KwicHit",
    "KwicResult",
    "ParticipantCount",
    "TurnHit",
    "code_query",
    "filter_options",
    "forget_lemma_indexes",
    "kwic",
    "parse_code_query",
    "parse_where",
    "participant_attributes",
    "query_pattern",
    "select_participants",
    "transcript_tokens",
]
