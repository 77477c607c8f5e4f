"""Reading codebook files: YAML with line marks, validation, ``extends`` and ``retire``.

One analysis serves both :func:`load_codebook` (raises :class:`CodebookError` listing every
error) and :func:`~qualkit.codebook.lint.lint_codebook` (returns every problem, warnings too).
Each problem names its file, YAML path (``codes -> 3 -> rules -> patterns -> 0``) and line.

The YAML with marks is read by :mod:`.yaml_source`; references and the ``extends`` chain are
resolved by :mod:`.resolve`; this module checks the resolved codebook and loads it.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import CodebookError
from .model import Code, Codebook, Relation
from .resolve import Origin, Resolved, bundled_codebooks, pydantic_problems, resolve_file, resolve_ref
from .yaml_source import LintProblem, Severity, Source, format_yaml_path


# -- semantic checks ------------------------------------------------------------------------------


def check_resolved(resolved: Resolved, problems: list[LintProblem], *, validate_patterns: bool = True) -> list[Code]:
    """Checks on the resolved codebook: labels, parents, cycles, relations, patterns, regexes."""
    codes = resolved.codes
    origins = resolved.origins

    def report(code_id: str, severity: Severity, message: str, origin: Origin, fix: str = "") -> None:
        source, path = origin
        problems.append(source.problem(severity, message, path, fix))

    labels: dict[str, str] = {}
    for code_id, code in codes.items():
        origin = origins[code_id]
        key = code["label"].strip().lower()
        if key in labels:
            report(code_id, "error", f"duplicate label {code['label']!r} (also code {labels[key]!r})", origin.field_origin("label"), "give each code a distinct label")
        else:
            labels[key] = code_id
        parent = code["parent"]
        if parent is not None and parent not in codes and resolved.complete:
            close = difflib.get_close_matches(parent, list(codes), n=1)
            report(code_id, "error", f"code {code_id!r} has unknown parent {parent!r}", origin.field_origin("parent"), f"did you mean '{close[0]}'?" if close else "name an existing code id")
        if parent == code_id:
            report(code_id, "error", f"code {code_id!r} is its own parent", origin.field_origin("parent"), "remove `parent:` or name another code")
        for index, relation in enumerate(code["relations"]):
            if relation["code"] not in codes and resolved.complete:
                source, path = origin.field_origin("relations")
                report(code_id, "error", f"code {code_id!r} relates to unknown code {relation['code']!r}", (source, (*path, index, "code")), "name an existing code id")
            elif relation["code"] == code_id:
                source, path = origin.field_origin("relations")
                report(code_id, "warning", f"code {code_id!r} relates to itself", (source, (*path, index)))
        rules = code["rules"]
        has_rules = bool(rules["phrases"] or rules["patterns"] or rules["regex"])
        if has_rules and not code["definition"].strip():
            report(code_id, "error", f"code {code_id!r} has rules but no definition", origin.code, "add `definition:` so coders know what the code means")
        for index, pattern in enumerate(rules["patterns"] if validate_patterns else ()):
            for reason in pattern_errors(pattern):
                report(code_id, "error", f"code {code_id!r}, rule {code_id}#pattern:{index}: invalid Matcher pattern: {reason}", origin.rule_origin("patterns", index), "see https://spacy.io/usage/rule-based-matching#adding-patterns-attributes")
        for index, expression in enumerate(rules["regex"]):
            try:
                re.compile(expression)
            except re.error as error:
                report(code_id, "error", f"code {code_id!r}, rule {code_id}#regex:{index}: regex does not compile: {error}", origin.rule_origin("regex", index), "fix the expression (in YAML, single-quote regexes so backslashes stay)")
            else:
                if re.compile(expression).search("") is not None:
                    report(code_id, "error", f"code {code_id!r}, rule {code_id}#regex:{index}: regex matches the empty string", origin.rule_origin("regex", index), "make the expression require at least one character")
        for name in ("requires", "excludes"):
            for index, item in enumerate(rules[name]):
                if not str(item).strip():
                    report(code_id, "error", f"code {code_id!r}: empty entry in {name}", origin.rule_origin(name, index))
                elif item == code_id:
                    report(code_id, "warning", f"code {code_id!r} {name} itself", origin.rule_origin(name, index))
    _check_ties(resolved, problems)
    for cycle in _parent_cycles(codes):
        first = cycle[0]
        report(first, "error", "parent cycle: " + " -> ".join([*cycle, first]), origins[first].field_origin("parent"), "codes form a tree: break the cycle by changing one `parent:`")

    result = []
    for code in codes.values():
        try:
            result.append(Code.model_validate({**code, "relations": [Relation.model_validate(r) for r in code["relations"]]}))
        except ValidationError as error:  # pragma: no cover - specs were validated already
            source, path = origins[code["id"]].code
            problems.extend(pydantic_problems(source, error, path, Code))
    return result


def _check_ties(resolved: Resolved, problems: list[LintProblem]) -> None:
    """Top-level ties: unknown code ids are errors; ties to self and repeated ties are warnings."""
    codes = resolved.codes
    seen: dict[tuple[str, str, str], str] = {}
    for tie, (source, path) in resolved.relations:
        for end in ("from", "to"):
            code_id = tie.from_ if end == "from" else tie.to
            if code_id not in codes and resolved.complete:
                close = difflib.get_close_matches(code_id, list(codes), n=1)
                problems.append(
                    source.problem(
                        "error",
                        f"relation {tie.from_} {tie.type} {tie.to}: unknown code {code_id!r}",
                        (*path, end),
                        f"did you mean '{close[0]}'?" if close else "name an existing code id",
                    )
                )
        if tie.from_ == tie.to:
            problems.append(source.problem("warning", f"relation {tie.from_} {tie.type} {tie.to} ties a code to itself", path))
        elif tie.key in seen:
            problems.append(
                source.problem("warning", f"relation {tie.from_} {tie.type} {tie.to} is stated twice (first at {seen[tie.key]})", path, "remove one")
            )
        else:
            seen[tie.key] = format_yaml_path(path)


def _parent_cycles(codes: dict[str, dict[str, Any]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    done: set[str] = set()
    for start in codes:
        path: list[str] = []
        current: str | None = start
        while current is not None and current in codes and current not in done and current not in path:
            path.append(current)
            current = codes[current]["parent"]
        if current is not None and current in path and codes[current]["parent"] != current:
            cycles.append(path[path.index(current):])
        done.update(path)
    return cycles


def pattern_errors(pattern: Any) -> list[str]:
    """spaCy's own validation of one Matcher token pattern (empty when valid)."""
    from spacy.schemas import validate_token_pattern

    return list(validate_token_pattern(pattern))


# -- public loading ---------------------------------------------------------------------------------


def analyse(
    ref: str | Path, *, base_dir: Path | None = None, validate_patterns: bool = True
) -> tuple[Resolved | None, list[Code], list[LintProblem]]:
    """Resolve and check a codebook, collecting every problem (used by load and lint).

    ``validate_patterns=False`` skips spaCy's validation of Matcher patterns (and so the spaCy
    import): for callers that only need the codebook's content, such as its hash."""
    path = resolve_ref(ref, base_dir)
    problems: list[LintProblem] = []
    resolved = resolve_file(path, problems)
    codes: list[Code] = []
    if resolved is not None:
        codes = check_resolved(resolved, problems, validate_patterns=validate_patterns)
    return resolved, codes, problems


def load_codebook(ref: str | Path, *, base_dir: Path | None = None, validate_patterns: bool = True) -> Codebook:
    """Load a codebook by bundled name (``"default"``) or path, resolving ``extends`` and ``retire``.

    Every error (YAML syntax, schema, unknown parent, cycles, bad patterns or regexes, extends
    problems, encoding) is collected and raised as one :class:`CodebookError`.
    """
    resolved, codes, problems = analyse(ref, base_dir=base_dir, validate_patterns=validate_patterns)
    errors = [problem for problem in problems if problem.severity == "error"]
    if errors or resolved is None:
        shown = resolved.source.shown if resolved is not None else (errors[0].file if errors else str(ref))
        raise CodebookError(
            f"codebook {shown} has {len(errors)} error(s)",
            problems=[problem.to_problem() for problem in errors],
            hint="`qualkit codebook lint FILE` lists every problem with its line",
        )
    return Codebook(
        resolved.name,
        codes,
        version=resolved.version,
        description=resolved.description,
        source_path=resolved.source.path,
        chain=[str(path) for path in resolved.chain],
        relations=[tie for tie, _ in resolved.relations],
    )


def codebook_from_dict(data: dict[str, Any], *, name_hint: str = "codebook") -> Codebook:
    """Build a codebook from plain data in the file format (no ``extends``), e.g. an imported QDC."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name_hint}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        codebook = load_codebook(path)
    codebook.source_path = None
    return codebook


__all__ = [
    "LintProblem",
    "Source",
    "analyse",
    "bundled_codebooks",
    "codebook_from_dict",
    "load_codebook",
    "pattern_errors",
    "resolve_ref",
]
