"""``qualkit codebook lint``: every problem of a codebook file, with its YAML path and line.

Errors are everything :func:`load_codebook` refuses, plus rules that can never match in spaCy's
vocabulary form (a phrase that lemmatizes to nothing, a pattern token that no token can have).
Warnings are things worth a look: a code without examples (group codes without rules are
exempt), a phrase shared by two codes without a reason, the same phrase twice in a code, a ``LEMMA`` value that is not a lemma, a pattern of optional tokens only.

A phrase may be shared by two codes when the codes are linked by a ``relations`` entry (a code's
own or the top-level list, either direction), or when one of them lists the phrase in ``rules.shared_phrases_ok``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CodebookError
from .loader import LintProblem, analyse, pattern_errors
from .resolve import Resolved
from .model import Code

_STRING_ATTRS = ("ORTH", "TEXT", "LOWER", "LEMMA", "NORM")


def lint_codebook(path: str | Path, *, base_dir: Path | None = None) -> list[LintProblem]:
    """Every problem of the codebook at ``path`` (or a bundled name), errors first by line."""
    try:
        resolved, codes, problems = analyse(path, base_dir=base_dir)
    except CodebookError as error:
        return [LintProblem("error", error.message, str(path), fix=error.hint)]
    if resolved is not None and codes:
        problems.extend(_vocabulary_problems(resolved, codes))
        problems.extend(_example_problems(resolved, codes))
    order = {"error": 0, "warning": 1}
    return sorted(problems, key=lambda p: (order[p.severity], p.file, p.line or 0, p.column or 0))


def _vocabulary_problems(resolved: Resolved, codes: list[Code]) -> list[LintProblem]:
    from ..coding.nlp import get_nlp

    nlp = get_nlp()
    problems: list[LintProblem] = []
    ids = {code.id for code in codes}

    def report(code: Code, severity: str, message: str, list_name: str, index: int, fix: str = "") -> None:
        source, path = resolved.origins[code.id].rule_origin(list_name, index)
        problems.append(source.problem(severity, message, path, fix))  # type: ignore[arg-type]

    owners: dict[tuple[str, ...], list[tuple[Code, int]]] = {}
    for code in codes:
        attr = code.rules.phrase_attr
        seen: dict[tuple[str, ...], int] = {}
        for index, phrase in enumerate(code.rules.phrases):
            key = _phrase_key(nlp, phrase, attr)
            rule = f"{code.id}#phrase:{index}"
            if not key:
                report(code, "error", f"{rule}: phrase {phrase!r} has no words, so it matches nothing", "phrases", index, "remove it or write the words")
                continue
            if key in seen:
                report(code, "warning", f"{rule}: phrase {phrase!r} is the same as {code.id}#phrase:{seen[key]} after lemmatizing ({' '.join(key)})", "phrases", index, "remove the duplicate")
                continue
            seen[key] = index
            owners.setdefault((attr, *key), []).append((code, index))
        for name in ("requires", "excludes"):
            for index, item in enumerate(getattr(code.rules, name)):
                if item not in ids and str(item).strip() and not _phrase_key(nlp, item, "LEMMA"):
                    report(code, "error", f"{code.id}: {name} entry {item!r} is neither a code id nor a phrase with words", name, index)
        for index, pattern in enumerate(code.rules.patterns):
            rule = f"{code.id}#pattern:{index}"
            if pattern_errors(pattern):
                continue  # already reported as invalid
            for severity, message in _pattern_warnings(nlp, pattern):
                report(code, severity, f"{rule}: {message}", "patterns", index)

    related = _related_pairs(codes) | {frozenset((tie.from_, tie.to)) for tie, _ in resolved.relations}
    for key, entries in owners.items():
        if len({code.id for code, _ in entries}) < 2:
            continue
        for position, (code, index) in enumerate(entries):
            for other, other_index in entries[:position]:
                if other.id == code.id or frozenset((code.id, other.id)) in related:
                    continue
                phrase = code.rules.phrases[index]
                if _shared_ok(code, phrase, nlp) or _shared_ok(other, other.rules.phrases[other_index], nlp):
                    continue
                report(
                    code,
                    "warning",
                    f"{code.id}#phrase:{index} {phrase!r} also codes {other.id!r} ({other.id}#phrase:{other_index}) without a stated reason",
                    "phrases",
                    index,
                    f"add a `relations:` entry between {code.id} and {other.id}, or list the phrase in `rules.shared_phrases_ok`",
                )
    return problems


def _example_problems(resolved: Resolved, codes: list[Code]) -> list[LintProblem]:
    """A warning for each code without examples (group codes without rules are exempt)."""
    parents = {code.parent for code in codes}
    problems = []
    for code in codes:
        if code.examples or (code.rules.is_empty and code.id in parents):
            continue
        source, path = resolved.origins[code.id].code
        problems.append(
            source.problem(
                "warning",
                f"code {code.id!r} has no examples, so `qualkit codebook test` cannot check its rules",
                path,
                "add `examples:` (short invented sentences the code must match) and, for near misses, `counterexamples:`",
            )
        )
    return problems


def _phrase_key(nlp: Any, phrase: str, attr: str) -> tuple[str, ...]:
    doc = nlp(str(phrase))
    if attr == "LOWER":
        return tuple(token.lower_ for token in doc if not token.is_space)
    return tuple(token.lemma_ for token in doc if not token.is_space)


def _related_pairs(codes: list[Code]) -> set[frozenset[str]]:
    return {frozenset((code.id, relation.code)) for code in codes for relation in code.relations}


def _shared_ok(code: Code, phrase: str, nlp: Any) -> bool:
    if not code.rules.shared_phrases_ok:
        return False
    key = _phrase_key(nlp, phrase, "LEMMA")
    return any(_phrase_key(nlp, ok, "LEMMA") == key for ok in code.rules.shared_phrases_ok)


def _pattern_warnings(nlp: Any, pattern: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Token constraints no token can meet (errors) and suspicious ones (warnings)."""
    found: list[tuple[str, str]] = []
    all_optional = True
    for position, token in enumerate(pattern):
        op = token.get("OP")
        if op not in ("?", "*", "!"):
            all_optional = False
        for attr, value in token.items():
            name = attr.upper()
            if name not in _STRING_ATTRS:
                continue
            values = value.get("IN", []) if isinstance(value, dict) else [value]
            if isinstance(value, dict) and not values:
                continue
            for item in values if isinstance(values, list) else []:
                if not isinstance(item, str):
                    continue
                where = f"token {position} {name} {item!r}"
                if not item or any(ch.isspace() for ch in item):
                    found.append(("error", f"{where} can never match: a token has no spaces"))
                    continue
                pieces = [t.text for t in nlp.make_doc(item)]
                if len(pieces) > 1:
                    found.append(("error", f"{where} can never match: spaCy splits it into {pieces}; use one token dict per piece"))
                    continue
                if name in ("LOWER", "LEMMA") and item != item.lower():
                    found.append(("error", f"{where} can never match: {name} values are lowercase"))
                    continue
                if name == "LEMMA":
                    lemma = nlp(item)[0].lemma_
                    if lemma != item:
                        found.append(("warning", f"{where} is not a lemma (spaCy's lemma is {lemma!r}), so it rarely matches"))
    if pattern and all_optional:
        found.append(("warning", "every token is optional, so the pattern can match almost anywhere"))
    return found


__all__ = ["lint_codebook"]
