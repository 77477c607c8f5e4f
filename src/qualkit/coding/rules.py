"""The rule-based coding pass: a codebook's rules compiled to spaCy matchers, run over a study.

:class:`RuleCoder` compiles a codebook once (cached per codebook hash in this process):

- ``phrases`` -> one :class:`~spacy.matcher.PhraseMatcher` on ``LEMMA`` (lowercased lookup
  lemmas, see :mod:`qualkit.coding.nlp`), and one on ``LOWER`` for codes with ``phrase_attr: LOWER``;
- ``patterns`` -> spaCy :class:`~spacy.matcher.Matcher` objects grouped by the words each
  pattern requires, so a pattern only runs on texts containing them (:class:`AnchoredPatterns`);
- ``regex`` -> Python :mod:`re` on the raw text;
- ``requires`` / ``excludes`` -> context inside the same segment: a code id (the code has a
  match in the segment, before context filtering) or a phrase matched on lemmas.

Every match is kept, overlapping ones included (each with its rule); analysis counts a code
once per segment. :func:`run_rules` codes a study and records a run.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeVar

import numpy

from ..codebook import Codebook, load_codebook
from ..errors import CodebookError, NotFoundError
from .nlp import get_nlp, versions
from ..execution.progress import progress_bar
from ..execution.rules import SKIP_TABLE, segment_query
from .segment import ensure_segments, normalize_unit

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


@dataclass
class RunSummary:
    """What one rules run did."""

    run_id: int
    codebook_name: str
    codebook_hash: str
    unit: str
    include_interviewer: bool
    transcripts: int
    segments_created: int
    segments_coded: int
    words: int
    applications: int
    codes_used: int
    seconds: float
    code_counts: dict[str, int] = field(default_factory=dict)

    @property
    def words_per_second(self) -> float:
        return self.words / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["words_per_second"] = round(self.words_per_second)
        return data


def _codebook_for(study: Any, codebook: Codebook | str | Path | None) -> tuple[Codebook, str]:
    if isinstance(codebook, Codebook):
        return codebook, str(codebook.source_path or codebook.name)
    ref = codebook if codebook is not None else study.config.codebook.path
    return load_codebook(ref, base_dir=study.root), str(ref)


def run_rules(
    study: Any,
    *,
    codebook: Codebook | str | Path | None = None,
    unit: str | None = None,
    include_interviewer: bool | None = None,
    progress: bool = True,
    backend: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    reuse_run: int | None = None,
) -> RunSummary:
    """Code every current transcript of ``study`` with the codebook's rules and record a run.

    Defaults come from the study's ``[codebook] path`` (relative to the study folder, or a
    bundled name) and ``[coding]``. Errors in the codebook or options are raised before
    anything is stored; a failure during coding marks the run failed and removes its
    applications.

    ``backend`` is ``"local"`` (this process), ``"dask"`` (with ``workers`` or ``scheduler``),
    or a :class:`qualkit.execution.Backend`; default: the study's ``[execution]`` section.
    Every backend gives the same applications.

    ``reuse_run`` names an earlier rules run: when it used the same codebook (hash), unit and
    roles, the transcripts it coded that are still current keep its applications (copied into
    the new run) and only the others are coded. The new run is complete either way.
    """
    started = time.perf_counter()
    book, ref = _codebook_for(study, codebook)
    unit = normalize_unit(unit if unit is not None else study.config.coding.unit)
    include = study.config.coding.include_interviewer if include_interviewer is None else include_interviewer
    coder = RuleCoder(book)
    from ..execution.backends import Backend, backend_for_study

    executor = backend if isinstance(backend, Backend) else backend_for_study(study, backend, workers, scheduler)
    owned = executor is not backend
    if owned and executor.name == "local":
        executor = None  # the in-process path below
    store = study.store
    transcripts = store.query("SELECT COUNT(*) AS n FROM transcripts WHERE is_current = 1")[0]["n"]
    if not transcripts:
        raise NotFoundError("the study has no transcripts to code", hint="import some with `qualkit transcripts import`")

    source = str(book.source_path) if book.source_path else None
    store.store_codebook(book.hash, book.name, book.version, book.to_resolved_dict(), source)
    parameters = {"unit": unit, "include_interviewer": include, "codebook": ref}
    run_id = store.start_run("rules", parameters, codebook_hash=book.hash)
    try:
        t0 = time.perf_counter()
        if executor is not None:
            from ..execution.segments import ensure_segments_on

            try:
                created = ensure_segments_on(store, unit, executor, progress=progress)
            except BaseException:
                if owned:
                    executor.close()
                raise
        else:
            created = ensure_segments(store, unit)
        t_segments = time.perf_counter() - t0
        reused = _reuse_applications(store, run_id, reuse_run, book.hash, unit, include)
        select, select_params = segment_query(unit, include)  # rows: pk, start_char, text, transcript_pk
        total = store.query(f"SELECT COUNT(*) AS n FROM ({select})", select_params)[0]["n"]
        counts: dict[str, int] = dict(reused["code_counts"])
        segments = words = applications = 0
        t1 = time.perf_counter()
        if executor is not None:
            from ..execution.rules import code_segments

            try:
                totals = code_segments(store, run_id, book, unit=unit, include_interviewer=include, backend=executor, progress=progress)
            finally:
                if owned:
                    executor.close()
            segments, words, applications = totals.segments, totals.words, totals.applications
            for code_id, n in totals.counts.items():
                counts[code_id] = counts.get(code_id, 0) + n
        else:
            with store.transaction() as conn:
                cursor = conn.execute(select, select_params)
                items = ((row[2], (row[0], row[1], row[2])) for row in _rows(cursor))
                batch: list[tuple[Any, ...]] = []
                insert = """INSERT INTO code_applications (run_id, segment_pk, code_id, start_char, end_char, matched_text, rule, score)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""
                with progress_bar("coding (local, 1 worker)", total, unit="segments", enabled=progress) as advance:
                    for matches, (segment_pk, offset, text) in coder.code_with_context(items):
                        segments += 1
                        words += len(text.split())
                        for match in matches:
                            batch.append((run_id, segment_pk, match.code_id, offset + match.start, offset + match.end, match.text, match.rule, match.score))
                            counts[match.code_id] = counts.get(match.code_id, 0) + 1
                        if len(batch) >= INSERT_BATCH:
                            conn.executemany(insert, batch)
                            applications += len(batch)
                            batch.clear()
                        advance(1, len(text.split()))
                    if batch:
                        conn.executemany(insert, batch)
                        applications += len(batch)
        t_code = time.perf_counter() - t1
        applications += reused["applications"]
        coded_transcripts = [row["pk"] for row in store.query("SELECT pk FROM transcripts WHERE is_current = 1 ORDER BY pk")]
    except BaseException as error:
        with store.transaction() as conn:
            conn.execute("DELETE FROM code_applications WHERE run_id = ?", (run_id,))
        store.finish_run(run_id, status="failed", error=f"{type(error).__name__}: {error}")
        raise
    seconds = time.perf_counter() - started
    summary = RunSummary(
        run_id=run_id,
        codebook_name=book.name,
        codebook_hash=book.hash,
        unit=unit,
        include_interviewer=include,
        transcripts=transcripts,
        segments_created=created,
        segments_coded=segments,
        words=words,
        applications=applications,
        codes_used=len(counts),
        seconds=seconds,
        code_counts=dict(sorted(counts.items())),
    )
    manifest = {
        "codebook": {"name": book.name, "version": book.version, "hash": book.hash, "ref": ref, "source": source},
        "unit": unit,
        "include_interviewer": include,
        "transcripts": transcripts,
        "segments_created": created,
        "segments_coded": segments,
        "words": words,
        "applications": applications,
        "codes_used": len(counts),
        "code_counts": summary.code_counts,
        "timings": {"segment_s": round(t_segments, 4), "code_s": round(t_code, 4), "total_s": round(seconds, 4)},
        "words_per_second": round(summary.words_per_second),
        "versions": versions(),
        "execution": executor.describe() if executor is not None else {"backend": "local", "workers": 1},
        "reused": {key: reused[key] for key in ("run", "transcripts", "applications")},
        "transcript_pks": coded_transcripts,
    }
    store.finish_run(run_id, status="ok", manifest=manifest)
    return summary


def _reuse_applications(store: Any, run_id: int, reuse_run: int | None, codebook_hash: str, unit: str, include: bool) -> dict[str, Any]:
    """Copy ``reuse_run``'s applications for transcripts it coded that are still current, and
    list those transcripts in the skip table so that this run codes only the others."""
    store.conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {SKIP_TABLE} (pk INTEGER PRIMARY KEY)")
    store.conn.execute(f"DELETE FROM temp.{SKIP_TABLE}")
    nothing: dict[str, Any] = {"run": None, "transcripts": 0, "applications": 0, "code_counts": {}}
    if reuse_run is None:
        return nothing
    rows = store.query("SELECT * FROM runs WHERE id = ? AND kind = 'rules' AND status = 'ok'", (reuse_run,))
    if not rows:
        return nothing
    previous = rows[0]
    parameters = json.loads(previous["parameters"] or "{}")
    manifest = json.loads(previous["manifest"] or "{}")
    if previous["codebook_hash"] != codebook_hash or parameters.get("unit") != unit or bool(parameters.get("include_interviewer")) != include:
        return nothing
    current = {row["pk"] for row in store.query("SELECT pk FROM transcripts WHERE is_current = 1")}
    keep = sorted(current & set(manifest.get("transcript_pks", [])))
    if not keep:
        return nothing
    with store.transaction() as conn:
        conn.executemany(f"INSERT INTO temp.{SKIP_TABLE} (pk) VALUES (?)", [(pk,) for pk in keep])
        copied = conn.execute(
            f"""INSERT INTO code_applications (run_id, segment_pk, code_id, start_char, end_char, matched_text, rule, score)
                SELECT ?, a.segment_pk, a.code_id, a.start_char, a.end_char, a.matched_text, a.rule, a.score
                FROM code_applications a JOIN segments s ON s.pk = a.segment_pk
                WHERE a.run_id = ? AND s.transcript_pk IN (SELECT pk FROM temp.{SKIP_TABLE})
                ORDER BY a.pk""",
            (run_id, reuse_run),
        ).rowcount
        counts = {
            row["code_id"]: row["n"]
            for row in conn.execute("SELECT code_id, COUNT(*) AS n FROM code_applications WHERE run_id = ? GROUP BY code_id", (run_id,))
        }
    return {"run": reuse_run, "transcripts": len(keep), "applications": copied, "code_counts": counts}


def _rows(cursor: Any, size: int = 1000) -> Iterator[Any]:
    while True:
        rows = cursor.fetchmany(size)
        if not rows:
            return
        yield from rows


class _progress:
    """A rich progress bar on stderr when it is a terminal; a no-op otherwise."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled and sys.stderr.isatty() and total > 0
        self.total = total
        self._bar: Any = None

    def __enter__(self):  # type: ignore[no-untyped-def]
        if not self.enabled:
            return lambda n: None
        from rich.console import Console
        from rich.progress import Progress

        self._bar = Progress(console=Console(stderr=True), transient=True)
        self._bar.start()
        task = self._bar.add_task("coding segments", total=self.total)
        return lambda n: self._bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


__all__ = ["Match", "RuleCoder", "RunSummary", "compile_codebook", "run_rules"]
