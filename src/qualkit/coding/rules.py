"""The rule-based coding pass: a codebook's rules compiled to spaCy matchers.

:class:`RuleCoder` compiles a codebook once (cached per codebook hash in this process):

- ``phrases`` -> one :class:`~spacy.matcher.PhraseMatcher` on ``LEMMA`` (lowercased lookup
  lemmas, see :mod:`qualkit.coding.nlp`), and one on ``LOWER`` for codes with ``phrase_attr: LOWER``;
- ``patterns`` -> spaCy :class:`~spacy.matcher.Matcher` objects grouped by the words each
  pattern requires, so a pattern only runs on texts containing them (:class:`AnchoredPatterns`);
- ``regex`` -> Python :mod:`re` on the raw text;
- ``requires`` / ``excludes`` -> context inside the same segment: a code id (the code has a
  match in the segment, before context filtering) or a phrase matched on lemmas.

Every match is kept, overlapping ones included (each with its rule); analysis counts a code
once per segment. Running the pass over a study and recording the run is the execution
layer's job (:func:`qualkit.execution.rules_run.run_rules`): a pass does not import backends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, TypeVar

import numpy

from ..codebook import Codebook
from ..errors import CodebookError
from .nlp import get_nlp

T = TypeVar("T")

BATCH_SIZE = 256
INSERT_BATCH = 5000


@dataclass(frozen=True)
class Match:
    """One code application inside a text: character offsets into that text, end exclusive."""

    code_id: str
    start: int
    end: int
    text: str
    rule: str
    score: float


class AnchoredPatterns:
    """Matcher patterns, each run only where the words it requires occur.

    spaCy's Matcher walks every token of what it is given (creating a Python object per
    token), whatever the number of patterns, so running it over every segment would cost
    more than the rest of the pass. Each pattern's non-optional ``LEMMA``/``LOWER``/``ORTH``/
    ``TEXT`` values (or ``IN`` lists of them) are its anchors: a text lacking any of them
    cannot match. Patterns with the same anchors share a Matcher, which runs only on texts
    containing all the anchors, and only on windows around the rarest anchor (as wide as the
    longest pattern) unless a pattern has ``+``/``*`` operators. Patterns without anchors run
    on the whole text.
    """

    _ANCHOR_ATTRS = {"LEMMA": False, "LOWER": False, "ORTH": True, "TEXT": True}  # value -> lowercase it?

    def __init__(self, vocab: Any) -> None:
        from spacy.matcher import Matcher

        self._matcher_class = Matcher
        self.vocab = vocab
        self.always = Matcher(vocab, validate=True)
        # anchors -> [matcher, longest pattern (None: unbounded)]
        self.groups: dict[tuple[frozenset[int], ...], list[Any]] = {}
        self.count = 0
        self._index: dict[int, list[tuple[tuple[frozenset[int], ...], Any, int | None, frozenset[int]]]] = {}
        self._index_keys: frozenset[int] = frozenset()
        self._indexed = -1

    def anchors(self, pattern: list[dict[str, Any]]) -> tuple[frozenset[int], ...]:
        strings = self.vocab.strings
        required: set[frozenset[int]] = set()
        for token in pattern:
            if not isinstance(token, dict) or token.get("OP") in ("?", "*", "!"):
                continue
            for attr, value in token.items():
                lower = self._ANCHOR_ATTRS.get(str(attr).upper())
                if lower is None:
                    continue
                if isinstance(value, str):
                    values = [value]
                elif isinstance(value, dict) and set(value) == {"IN"} and all(isinstance(v, str) for v in value["IN"]):
                    values = list(value["IN"])
                else:
                    continue
                if values:
                    required.add(frozenset(strings.add(v.lower() if lower else v) for v in values))
        return tuple(sorted(required, key=lambda item: sorted(item)))

    @staticmethod
    def _length(pattern: list[dict[str, Any]]) -> int | None:
        ops = [token.get("OP") for token in pattern if isinstance(token, dict)]
        if any(op in ("+", "*") or (isinstance(op, str) and op.startswith("{")) for op in ops):
            return None
        return sum(1 for op in ops if op != "!") or 1

    def add(self, key: str, pattern: list[dict[str, Any]]) -> None:
        anchors = self.anchors(pattern)
        if not anchors:
            self.always.add(key, [pattern])
        else:
            group = self.groups.get(anchors)
            if group is None:
                group = self.groups[anchors] = [self._matcher_class(self.vocab, validate=True), 0]
            group[0].add(key, [pattern])
            length = self._length(pattern)
            group[1] = None if length is None or group[1] is None else max(group[1], length)
        self.count += 1

    def __len__(self) -> int:
        return self.count

    def _build_index(self) -> None:
        """Index each group by its rarest anchor: not a stop word if possible, then the longest word."""
        from spacy.lang.en.stop_words import STOP_WORDS

        strings = self.vocab.strings

        def commonness(anchor: frozenset[int]) -> tuple[int, int, int]:
            words = [strings[h] for h in anchor]
            return (sum(word in STOP_WORDS for word in words), len(words), -min(len(word) for word in words))

        self._index = {}
        for anchors, (matcher, length) in self.groups.items():
            rarest = min(anchors, key=commonness)
            for word in rarest:
                self._index.setdefault(word, []).append((anchors, matcher, length, rarest))
        self._index_keys = frozenset(self._index)
        self._indexed = len(self.groups)

    def __call__(self, doc: Any) -> list[tuple[int, int, int]]:
        from spacy.attrs import LEMMA, LOWER

        n = len(doc)
        found: list[tuple[int, int, int]] = list(self.always(doc, allow_missing=True)) if len(self.always) and n else []
        if not self.groups or not n:
            return found
        if self._indexed != len(self.groups):
            self._build_index()
        table = doc.to_array([LOWER, LEMMA])
        hits = self._index_keys.intersection(table.ravel().tolist())
        if not hits:
            return found
        present = set(table.ravel().tolist())
        seen: set[int] = set()
        windowed: set[tuple[int, int, int]] = set()
        for word in hits:
            for anchors, matcher, length, rarest in self._index[word]:
                if id(matcher) in seen:
                    continue
                seen.add(id(matcher))
                if not all(not anchor.isdisjoint(present) for anchor in anchors):
                    continue
                if length is None:
                    found.extend(matcher(doc, allow_missing=True))
                    continue
                mask = numpy.zeros(n, dtype=bool)
                for value in rarest:
                    mask |= (table == value).any(axis=1)
                for start, end in _windows(numpy.flatnonzero(mask).tolist(), length, n):
                    for key, first, last in matcher(doc[start:end], allow_missing=True):
                        windowed.add((key, first + start, last + start))
        found.extend(windowed)
        return found


def _windows(positions: list[int], length: int, n: int) -> list[tuple[int, int]]:
    """Merged token windows ``[p - length + 1, p + length)`` around each position."""
    windows: list[tuple[int, int]] = []
    for position in positions:
        start, end = max(0, position - length + 1), min(n, position + length)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], end))
        else:
            windows.append((start, end))
    return windows


# -- regex prefilter ---------------------------------------------------------------------------

_MIN_LITERAL = 3
_FOLD_SPECIALS = ("\u0131", "\u017f")  # dotless i and long s: re.IGNORECASE folds them onto ASCII i and s


def required_literals(expression: "re.Pattern[str]") -> frozenset[str] | None:
    """Lowercase strings of which at least one occurs in any text the regex matches, or None.

    Found by walking the parsed regex: a run of literal characters, a group, or an alternation
    whose every branch has such strings. Used as a cheap ``in`` test before running the regex.
    """
    try:
        try:
            from re import _parser as sre_parse  # type: ignore[attr-defined]
        except ImportError:  # pragma: no cover - Python < 3.11
            import sre_parse  # type: ignore[no-redef]
        parsed = sre_parse.parse(expression.pattern, expression.flags)
        found = _sequence_literals(list(parsed), sre_parse)
    except Exception:  # pragma: no cover - an unusual construct: no prefilter
        return None
    if not found or min(len(item) for item in found) < _MIN_LITERAL or not all(item.isascii() for item in found):
        return None
    return frozenset(item.lower() for item in found)


def _sequence_literals(items: list[Any], sre: Any) -> set[str] | None:
    constants = sre._constants if hasattr(sre, "_constants") else sre
    candidates: list[set[str]] = []
    run: list[str] = []
    for op, av in items:
        if op is constants.LITERAL:
            run.append(chr(av))
            continue
        if run:
            candidates.append({"".join(run)})
            run = []
        if op is constants.SUBPATTERN:
            inner = _sequence_literals(list(av[-1]), sre)
            if inner:
                candidates.append(inner)
        elif op is constants.BRANCH:
            union: set[str] = set()
            for branch in av[1]:
                inner = _sequence_literals(list(branch), sre)
                if not inner:
                    union = set()
                    break
                union |= inner
            if union:
                candidates.append(union)
        elif op in (constants.MAX_REPEAT, constants.MIN_REPEAT) and av[0] >= 1:
            inner = _sequence_literals(list(av[2]), sre)
            if inner:
                candidates.append(inner)
    if run:
        candidates.append({"".join(run)})
    if not candidates:
        return None
    return max(candidates, key=lambda group: (min(len(item) for item in group), -len(group)))


@dataclass
class _Compiled:
    phrase_matchers: list[Any]
    patterns: AnchoredPatterns | None
    rules: dict[int, tuple[str, str, float]]  # match key -> (code id, rule name, weight)
    context: dict[int, str]  # match key -> context phrase
    regexes: list[tuple[Any, str, str, float, frozenset[str] | None]]
    requires: dict[str, list[tuple[str, str]]]  # code id -> [("code"|"phrase", value)]
    excludes: dict[str, list[tuple[str, str]]]


_CACHE: dict[str, _Compiled] = {}
_CACHE_SIZE = 8


def _context_entries(codebook: Codebook, items: list[str], nlp: Any) -> list[tuple[str, str]]:
    entries = []
    for item in items:
        if item in codebook.codes:
            entries.append(("code", item))
        else:
            key = " ".join(token.lemma_ for token in nlp(item) if not token.is_space)
            if key:
                entries.append(("phrase", key))
    return entries


def compile_codebook(codebook: Codebook) -> _Compiled:
    """Compile a codebook's rules to spaCy matchers (cached per codebook hash)."""
    cached = _CACHE.get(codebook.hash)
    if cached is not None:
        return cached
    from spacy.matcher import PhraseMatcher

    nlp = get_nlp()
    strings = nlp.vocab.strings
    lemma_matcher = PhraseMatcher(nlp.vocab, attr="LEMMA")
    lower_matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
    patterns = AnchoredPatterns(nlp.vocab)
    rules: dict[int, tuple[str, str, float]] = {}
    context: dict[int, str] = {}
    regexes: list[tuple[Any, str, str, float, frozenset[str] | None]] = []
    requires: dict[str, list[tuple[str, str]]] = {}
    excludes: dict[str, list[tuple[str, str]]] = {}
    problems = []
    context_phrases: set[str] = set()
    for code in codebook:
        weight = code.rules.weight
        phrase_rules = [(name, source) for name, kind, source in code.rules.named(code.id) if kind == "phrase"]
        docs = list(nlp.pipe([source for _, source in phrase_rules]))
        target = lower_matcher if code.rules.phrase_attr == "LOWER" else lemma_matcher
        for (name, _), doc in zip(phrase_rules, docs):
            if not [token for token in doc if not token.is_space]:
                continue  # no words: lint reports it
            target.add(name, [doc])
            rules[strings.add(name)] = (code.id, name, weight)
        for name, kind, source in code.rules.named(code.id):
            if kind == "pattern":
                try:
                    patterns.add(name, source)
                except Exception as error:  # spaCy raises MatchPatternError / ValueError
                    reason = str(error).strip().splitlines()[-1]
                    problems.append(f"code {code.id!r}, rule {name}: invalid Matcher pattern: {reason}")
                    continue
                rules[strings.add(name)] = (code.id, name, weight)
            elif kind == "regex":
                try:
                    expression = re.compile(source)
                    regexes.append((expression, code.id, name, weight, required_literals(expression)))
                except re.error as error:
                    problems.append(f"code {code.id!r}, rule {name}: regex does not compile: {error}")
        if code.rules.requires:
            requires[code.id] = _context_entries(codebook, code.rules.requires, nlp)
        if code.rules.excludes:
            excludes[code.id] = _context_entries(codebook, code.rules.excludes, nlp)
        for kind, value in requires.get(code.id, []) + excludes.get(code.id, []):
            if kind == "phrase":
                context_phrases.add(value)
    for phrase in sorted(context_phrases):
        key = f"@context:{phrase}"
        lemma_matcher.add(key, [nlp(phrase)])
        context[strings.add(key)] = phrase
    if problems:
        raise CodebookError(f"codebook {codebook.name!r} has rules that do not compile", problems=[_p(m) for m in problems])
    compiled = _Compiled(
        phrase_matchers=[m for m in (lemma_matcher, lower_matcher) if len(m)],
        patterns=patterns if len(patterns) else None,
        rules=rules,
        context=context,
        regexes=regexes,
        requires=requires,
        excludes=excludes,
    )
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[codebook.hash] = compiled
    return compiled


def _p(message: str) -> Any:
    from ..errors import Problem

    return Problem(message, fix="`qualkit codebook lint FILE` shows where")


class RuleCoder:
    """A codebook's rules, compiled once, applied to texts."""

    def __init__(self, codebook: Codebook, *, batch_size: int = BATCH_SIZE) -> None:
        self.codebook = codebook
        self.batch_size = batch_size
        self.nlp = get_nlp()
        self.compiled = compile_codebook(codebook)

    def code_text(self, text: str) -> list[Match]:
        """Matches in one text."""
        return self._match(self.nlp(text), text)

    def code_texts(self, texts: Iterable[str]) -> Iterator[list[Match]]:
        """Matches for each text, streamed through ``nlp.pipe`` (no Doc is kept)."""
        for doc, text in self.nlp.pipe(((text, text) for text in texts), batch_size=self.batch_size, as_tuples=True):
            yield self._match(doc, text)

    def code_with_context(self, items: Iterable[tuple[str, T]]) -> Iterator[tuple[list[Match], T]]:
        """Like :meth:`code_texts` for ``(text, context)`` pairs; yields ``(matches, context)``."""
        pairs = ((text, (text, context)) for text, context in items)
        for doc, (text, context) in self.nlp.pipe(pairs, batch_size=self.batch_size, as_tuples=True):
            yield self._match(doc, text), context

    def _match(self, doc: Any, text: str) -> list[Match]:
        compiled = self.compiled
        raw: list[tuple[str, str, float, int, int]] = []
        found_context: set[str] = set()
        rules = compiled.rules
        spans = []
        for matcher in compiled.phrase_matchers:
            spans.extend(matcher(doc))
        if compiled.patterns is not None:
            spans.extend(compiled.patterns(doc))
        for key, start, end in spans:
            rule = rules.get(key)
            if rule is None:
                found_context.add(compiled.context[key])
                continue
            first, last = doc[start], doc[end - 1]
            raw.append((rule[0], rule[1], rule[2], first.idx, last.idx + len(last)))
        lowered: str | None = None
        for expression, code_id, name, weight, literals in compiled.regexes:
            if literals is not None:
                if lowered is None:
                    lowered = text.lower()
                    if any(special in lowered for special in _FOLD_SPECIALS):
                        lowered = ""  # folding could match what the prefilter misses: run every regex
                if lowered and not any(literal in lowered for literal in literals):
                    continue
            for found in expression.finditer(text):
                if found.end() > found.start():
                    raw.append((code_id, name, weight, found.start(), found.end()))
        if not raw:
            return []
        if compiled.requires or compiled.excludes:
            present = {item[0] for item in raw}
            raw = [item for item in raw if _context_ok(item[0], compiled, present, found_context)]
        raw.sort(key=lambda item: (item[3], item[4], item[0], item[1]))
        return [Match(code_id, start, end, text[start:end], name, weight) for code_id, name, weight, start, end in raw]


def _context_ok(code_id: str, compiled: _Compiled, present: set[str], found: set[str]) -> bool:
    def hit(entry: tuple[str, str]) -> bool:
        kind, value = entry
        return value in present if kind == "code" else value in found

    required = compiled.requires.get(code_id)
    if required and not any(hit(entry) for entry in required if entry != ("code", code_id)):
        return False
    excluded = compiled.excludes.get(code_id)
    if excluded and any(hit(entry) for entry in excluded if entry != ("code", code_id)):
        return False
    return True


# -- the pass over a study -------------------------------------------------------------------


__all__ = ["Match", "RuleCoder", "compile_codebook", "required_literals"]
