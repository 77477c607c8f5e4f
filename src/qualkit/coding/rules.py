"""The rule-based coding pass: a codebook's rules compiled to spaCy matchers, run over a study.

:class:`RuleCoder` compiles a codebook once (cached per codebook hash in this process):

- ``phrases`` -> one :class:`~spacy.matcher.PhraseMatcher` on ``LEMMA`` (lowercased lookup
  lemmas, see :mod:`qualkit.coding.nlp`), and one on ``LOWER`` for codes with ``phrase_attr: LOWER``;
- ``patterns`` -> one :class:`~spacy.matcher.Matcher`;
- ``regex`` -> Python :mod:`re` on the raw text;
- ``requires`` / ``excludes`` -> context inside the same segment: a code id (the code has a
  match in the segment, before context filtering) or a phrase matched on lemmas.

Every match is kept, overlapping ones included (each with its rule); analysis counts a code
once per segment. :func:`run_rules` codes a study and records a run.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeVar

from ..codebook import Codebook, load_codebook
from ..errors import CodebookError, NotFoundError
from .nlp import get_nlp, versions
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


@dataclass
class _Compiled:
    phrase_matchers: list[Any]
    matcher: Any
    rules: dict[int, tuple[str, str, float]]  # match key -> (code id, rule name, weight)
    context: dict[int, str]  # match key -> context phrase
    regexes: list[tuple[Any, str, str, float]]
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
    import re

    from spacy.matcher import Matcher, PhraseMatcher

    nlp = get_nlp()
    strings = nlp.vocab.strings
    lemma_matcher = PhraseMatcher(nlp.vocab, attr="LEMMA")
    lower_matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
    matcher = Matcher(nlp.vocab, validate=True)
    rules: dict[int, tuple[str, str, float]] = {}
    context: dict[int, str] = {}
    regexes: list[tuple[Any, str, str, float]] = []
    requires: dict[str, list[tuple[str, str]]] = {}
    excludes: dict[str, list[tuple[str, str]]] = {}
    problems = []
    context_phrases: set[str] = set()
    n_patterns = 0
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
                    matcher.add(name, [source])
                except Exception as error:  # spaCy raises MatchPatternError / ValueError
                    reason = str(error).strip().splitlines()[-1]
                    problems.append(f"code {code.id!r}, rule {name}: invalid Matcher pattern: {reason}")
                    continue
                rules[strings.add(name)] = (code.id, name, weight)
                n_patterns += 1
            elif kind == "regex":
                try:
                    regexes.append((re.compile(source), code.id, name, weight))
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
        matcher=matcher if n_patterns else None,
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
        return self._match(self.nlp(text))

    def code_texts(self, texts: Iterable[str]) -> Iterator[list[Match]]:
        """Matches for each text, streamed through ``nlp.pipe`` (no Doc is kept)."""
        for doc in self.nlp.pipe(texts, batch_size=self.batch_size):
            yield self._match(doc)

    def code_with_context(self, items: Iterable[tuple[str, T]]) -> Iterator[tuple[list[Match], T]]:
        """Like :meth:`code_texts` for ``(text, context)`` pairs; yields ``(matches, context)``."""
        for doc, context in self.nlp.pipe(items, batch_size=self.batch_size, as_tuples=True):
            yield self._match(doc), context

    def _match(self, doc: Any) -> list[Match]:
        compiled = self.compiled
        raw: list[tuple[str, str, float, int, int]] = []
        found_context: set[str] = set()
        rules = compiled.rules
        spans = []
        for matcher in compiled.phrase_matchers:
            spans.extend(matcher(doc))
        if compiled.matcher is not None:
            spans.extend(compiled.matcher(doc))
        for key, start, end in spans:
            rule = rules.get(key)
            if rule is None:
                found_context.add(compiled.context[key])
                continue
            first, last = doc[start], doc[end - 1]
            raw.append((rule[0], rule[1], rule[2], first.idx, last.idx + len(last)))
        if compiled.regexes:
            text = doc.text
            for expression, code_id, name, weight in compiled.regexes:
                for found in expression.finditer(text):
                    if found.end() > found.start():
                        raw.append((code_id, name, weight, found.start(), found.end()))
        if not raw:
            return []
        if compiled.requires or compiled.excludes:
            present = {item[0] for item in raw}
            raw = [item for item in raw if _context_ok(item[0], compiled, present, found_context)]
        text = doc.text
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
) -> RunSummary:
    """Code every current transcript of ``study`` with the codebook's rules and record a run.

    Defaults come from the study's ``[codebook] path`` (relative to the study folder, or a
    bundled name) and ``[coding]``. Errors in the codebook or options are raised before
    anything is stored; a failure during coding marks the run failed and removes its
    applications.
    """
    started = time.perf_counter()
    book, ref = _codebook_for(study, codebook)
    unit = normalize_unit(unit if unit is not None else study.config.coding.unit)
    include = study.config.coding.include_interviewer if include_interviewer is None else include_interviewer
    coder = RuleCoder(book)
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
        created = ensure_segments(store, unit)
        t_segments = time.perf_counter() - t0
        roles = ("participant", "interviewer") if include else ("participant",)
        marks = ",".join("?" for _ in roles)
        select = f"""SELECT s.pk, s.start_char, s.text FROM segments s
                     JOIN turns u ON u.pk = s.turn_pk
                     JOIN transcripts t ON t.pk = s.transcript_pk
                     WHERE t.is_current = 1 AND s.unit = ? AND u.role IN ({marks})
                     ORDER BY s.transcript_pk, s.ordinal"""
        total = store.query(f"SELECT COUNT(*) AS n FROM ({select})", (unit, *roles))[0]["n"]
        counts: dict[str, int] = {}
        segments = words = applications = 0
        t1 = time.perf_counter()
        with store.transaction() as conn:
            cursor = conn.execute(select, (unit, *roles))
            items = ((row[2], (row[0], row[1], row[2])) for row in _rows(cursor))
            batch: list[tuple[Any, ...]] = []
            insert = """INSERT INTO code_applications (run_id, segment_pk, code_id, start_char, end_char, matched_text, rule, score)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""
            with _progress(progress, total) as advance:
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
                    advance(1)
                if batch:
                    conn.executemany(insert, batch)
                    applications += len(batch)
        t_code = time.perf_counter() - t1
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
    }
    store.finish_run(run_id, status="ok", manifest=manifest)
    return summary


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
