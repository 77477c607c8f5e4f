"""Reading codebook files: YAML with line marks, validation, ``extends`` and ``retire``.

One analysis serves both :func:`load_codebook` (raises :class:`CodebookError` listing every
error) and :func:`~qualkit.codebook.lint.lint_codebook` (returns every problem, warnings too).
Each problem names its file, YAML path (``codes -> 3 -> rules -> patterns -> 0``) and line.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from ..errors import CodebookError, Problem, display_path
from .model import RULE_LISTS, Code, Codebook, CodebookSpec, CodeRelation, CodeSpec, Relation, Rules

YamlPath = tuple[Any, ...]
#: libyaml's loader when PyYAML was built with it (about 20x faster), else the pure-Python one.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Severity = Literal["error", "warning"]


# -- problems ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LintProblem:
    """One problem in a codebook file, with its YAML path and line (1-based)."""

    severity: Severity
    message: str
    file: str = ""
    path: str = ""
    line: int | None = None
    column: int | None = None
    fix: str = ""

    @property
    def location(self) -> str:
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}" + (f", column {self.column}" if self.column is not None else ""))
        if self.path:
            parts.append(f"({self.path})" if parts else self.path)
        return " ".join(parts)

    def format(self) -> str:
        return f"{self.severity}: {self.to_problem().format()}"

    def to_problem(self) -> Problem:
        return Problem(self.message, self.file, self.location, self.fix)

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "fix": self.fix,
        }


def format_yaml_path(path: YamlPath) -> str:
    return " -> ".join(str(part) for part in path)


# -- YAML with marks ----------------------------------------------------------------------------


@dataclass
class Source:
    """One codebook file as read: its data and the line/column of every YAML path."""

    path: Path
    shown: str
    data: Any = None
    marks: dict[YamlPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: YamlPath) -> tuple[int | None, int | None]:
        """Line and column of ``path``, or of its nearest ancestor present in the file."""
        for end in range(len(path), -1, -1):
            mark = self.marks.get(tuple(path[:end]))
            if mark is not None:
                return mark
        return None, None

    def problem(self, severity: Severity, message: str, path: YamlPath = (), fix: str = "") -> LintProblem:
        line, column = self.locate(path)
        return LintProblem(severity, message, self.shown, format_yaml_path(path), line, column, fix)


def read_source(path: Path, problems: list[LintProblem]) -> Source | None:
    """Read and parse a YAML file keeping marks; syntax and encoding errors become problems."""
    shown = display_path(path)
    source = Source(path, shown)
    try:
        raw = path.read_bytes()
    except OSError as error:
        problems.append(LintProblem("error", f"cannot read the codebook: {error.strerror}", shown))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        problems.append(
            LintProblem(
                "error",
                f"the codebook is not UTF-8 (byte {error.start}: {raw[error.start:error.start + 1]!r})",
                shown,
                f"byte {error.start}",
                fix="save the file as UTF-8",
            )
        )
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            problems.append(LintProblem("error", "the codebook is empty", shown, fix="start from `qualkit codebook show --help`"))
            return None
        source.data = _build(loader, node, (), source, problems)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        what = " ".join(part for part in (error.context, error.problem) if part)
        problems.append(
            LintProblem(
                "error",
                f"YAML syntax error: {what}",
                shown,
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
                fix="fix the YAML at the line and column shown (quote strings that contain ': ' or start with '{', '[', '*', '&')",
            )
        )
        return None
    except yaml.YAMLError as error:  # reader errors (control characters)
        problems.append(LintProblem("error", f"YAML error: {error}", shown))
        return None
    finally:
        loader.dispose()
    return source


def _build(loader: Any, node: yaml.Node, path: YamlPath, source: Source, problems: list[LintProblem]) -> Any:
    source.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, (list, dict)):
                key = str(key)
            child = (*path, key)
            if key in result:
                problems.append(
                    source.problem("error", f"duplicate key {key!r} (YAML keeps only the last one)", path, "remove one of them")
                )
            source.marks[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = _build(loader, value_node, child, source, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, index), source, problems) for index, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


# -- bundled codebooks and references ---------------------------------------------------------------


def _data_dir() -> Path:
    return Path(str(resources.files("qualkit.codebook") / "data"))


def bundled_codebooks() -> list[str]:
    """Names of the codebooks shipped with qualkit (``default``, ...)."""
    folder = _data_dir()
    if not folder.is_dir():
        return []
    return sorted(path.stem for path in folder.glob("*.yaml"))


def resolve_ref(ref: str | Path, base_dir: Path | None = None) -> Path:
    """The file a codebook reference names: a bundled codebook's name, or a path (relative to ``base_dir``)."""
    base = base_dir if base_dir is not None else Path.cwd()
    if isinstance(ref, str) and "/" not in ref and "\\" not in ref and not ref.endswith((".yaml", ".yml")):
        bundled = _data_dir() / f"{ref}.yaml"
        if bundled.is_file():
            return bundled
        if not (base / ref).is_file():
            raise _not_found(str(ref), base)
    path = Path(ref)
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise _not_found(str(ref), base)
    return path


def _not_found(ref: str, base: Path) -> CodebookError:
    names = bundled_codebooks()
    close = difflib.get_close_matches(ref, names, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    hint += f"give a YAML file path (relative to {display_path(base)}) or a bundled codebook: {', '.join(names) or 'none installed'}"
    return CodebookError(f"no codebook {ref!r}: not a file and not a bundled codebook", hint=hint)


# -- resolution ------------------------------------------------------------------------------------


Origin = tuple[Source, YamlPath]


@dataclass
class CodeOrigin:
    """Where each part of a resolved code was written (for messages)."""

    code: Origin
    fields: dict[str, Origin] = field(default_factory=dict)
    rules: dict[str, list[Origin]] = field(default_factory=dict)

    def field_origin(self, name: str) -> Origin:
        return self.fields.get(name, self.code)

    def rule_origin(self, list_name: str, index: int) -> Origin:
        items = self.rules.get(list_name, [])
        if index < len(items):
            return items[index]
        source, path = self.code
        return source, (*path, "rules")


@dataclass
class Resolved:
    """A codebook resolved from a chain of files, before semantic checks."""

    source: Source
    name: str
    version: str | None
    description: str
    codes: dict[str, dict[str, Any]]
    origins: dict[str, CodeOrigin]
    chain: list[Path]
    complete: bool = True  # False when a base could not be resolved
    relations: list[tuple[CodeRelation, Origin]] = field(default_factory=list)  # top-level ties, base first


_CODE_FIELDS = ("label", "parent", "definition", "inclusion", "exclusion", "examples", "counterexamples", "relations")


def resolve_file(path: Path, problems: list[LintProblem], chain: tuple[Path, ...] = ()) -> Resolved | None:
    """Read, validate and resolve one file and its ``extends`` chain (structural merge only)."""
    source = read_source(path, problems)
    if source is None:
        return None
    data = source.data
    if not isinstance(data, dict):
        problems.append(source.problem("error", f"a codebook must be a mapping with 'name' and 'codes', not {type(data).__name__}"))
        return None
    specs = _validate(source, data, problems)
    ties = _validate_relations(source, data, problems)
    header = _validate_header(source, data, problems)
    name = header.name if header else str(data.get("name") or path.stem)

    base: Resolved | None = None
    complete = True
    extends = data.get("extends")
    if isinstance(extends, str) and extends:
        try:
            base_path = resolve_ref(extends, path.parent).resolve()
        except CodebookError as error:
            problems.append(source.problem("error", f"extends {extends!r}: {error.message}", ("extends",), error.hint))
            base_path = None
            complete = False
        if base_path is not None:
            seen = [*chain, path.resolve()]
            if base_path in seen:
                cycle = " -> ".join(display_path(p) for p in [*seen[seen.index(base_path):], base_path])
                problems.append(
                    source.problem("error", f"extends cycle: {cycle}", ("extends",), "remove one `extends` so the chain ends")
                )
                complete = False
            else:
                base = resolve_file(base_path, problems, tuple(seen))
                if base is None or not base.complete:
                    complete = False
    elif data.get("retire"):
        problems.append(source.problem("error", "'retire' needs 'extends': there is nothing inherited to retire", ("retire",)))

    codes: dict[str, dict[str, Any]] = {}
    origins: dict[str, CodeOrigin] = {}
    if base is not None:
        codes = {cid: _copy_code(code) for cid, code in base.codes.items()}
        origins = {cid: CodeOrigin(o.code, dict(o.fields), {k: list(v) for k, v in o.rules.items()}) for cid, o in base.origins.items()}
    inherited = set(codes)
    seen_here: dict[str, int] = {}
    for index, spec in specs:
        where: YamlPath = ("codes", index)
        if spec.id in seen_here:
            problems.append(
                source.problem(
                    "error",
                    f"duplicate code id {spec.id!r} (first at codes -> {seen_here[spec.id]})",
                    (*where, "id"),
                    "give each code a unique id",
                )
            )
            continue
        seen_here[spec.id] = index
        if spec.id in inherited:
            _override(codes[spec.id], origins[spec.id], spec, source, where)
        else:
            if spec.label is None:
                problems.append(
                    source.problem("error", f"code {spec.id!r} has no label", where, "add `label:` (a short human name, unique in the codebook)")
                )
            codes[spec.id] = _new_code(spec)
            origins[spec.id] = CodeOrigin((source, where))
            _override(codes[spec.id], origins[spec.id], spec, source, where, new=True)

    relations = list(base.relations) if base is not None else []
    relations.extend((tie, (source, ("relations", index))) for index, tie in ties)
    retire = data.get("retire") if isinstance(data.get("retire"), list) else []
    if base is not None and retire:
        _retire(codes, origins, retire, source, problems, complete)
        relations = [(tie, where) for tie, where in relations if tie.from_ in codes and tie.to in codes]
    return Resolved(
        source=source,
        name=name,
        version=header.version if header else None,
        description=header.description if header else "",
        codes=codes,
        origins=origins,
        chain=[path, *(base.chain if base else [])],
        complete=complete,
        relations=relations,
    )


def _validate_header(source: Source, data: dict[str, Any], problems: list[LintProblem]) -> CodebookSpec | None:
    header = {key: value for key, value in data.items() if key not in ("codes", "relations")}
    try:
        return CodebookSpec.model_validate(header)
    except ValidationError as error:
        problems.extend(_pydantic_problems(source, error, (), CodebookSpec))
        return None


def _validate(source: Source, data: dict[str, Any], problems: list[LintProblem]) -> list[tuple[int, CodeSpec]]:
    raw_codes = data.get("codes", [])
    if raw_codes is None:
        raw_codes = []
    if not isinstance(raw_codes, list):
        problems.append(source.problem("error", "'codes' must be a list of codes", ("codes",), "write each code as `- id: ...`"))
        return []
    specs = []
    for index, raw in enumerate(raw_codes):
        try:
            specs.append((index, CodeSpec.model_validate(raw)))
        except ValidationError as error:
            problems.extend(_pydantic_problems(source, error, ("codes", index), CodeSpec, raw))
    return specs


def _validate_relations(source: Source, data: dict[str, Any], problems: list[LintProblem]) -> list[tuple[int, CodeRelation]]:
    raw = data.get("relations")
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(
            source.problem("error", "'relations' must be a list of ties", ("relations",), "write each tie as `- {from: ID, type: serves, to: ID}`")
        )
        return []
    ties = []
    for index, item in enumerate(raw):
        try:
            ties.append((index, CodeRelation.model_validate(item)))
        except ValidationError as error:
            problems.extend(_pydantic_problems(source, error, ("relations", index), CodeRelation, item))
    return ties


def _pydantic_problems(source: Source, error: ValidationError, prefix: YamlPath, model: type, raw: Any = None) -> list[LintProblem]:
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        path = (*prefix, *loc)
        kind = item["type"]
        if kind == "missing":
            ident = f" of code {raw.get('id')!r}" if isinstance(raw, dict) and raw.get("id") else ""
            message = f"'{loc[-1]}' is required{ident}"
            fix = f"add `{loc[-1]}:`"
        elif kind == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
            fix = _did_you_mean(str(loc[-1]), path)
        elif kind == "string_pattern_mismatch" and loc and loc[-1] == "id":
            message = f"invalid code id {item.get('input')!r}"
            fix = "ids are lowercase letters, digits and '-', starting with a letter (e.g. `frequent-retraining`)"
        elif kind == "model_type" or kind == "dict_type":
            message = f"expected a mapping, got {type(item.get('input')).__name__}"
            fix = "see docs/codebook-format.md"
        else:
            message = f"{item['msg']} (got {item.get('input')!r})" if "input" in item and not isinstance(item.get("input"), (dict, list)) else item["msg"]
            fix = "see docs/codebook-format.md"
        problems.append(source.problem("error", message, path, fix))
    return problems


def _did_you_mean(key: str, path: YamlPath) -> str:
    from .model import Relation as _Relation
    from .model import RulesSpec

    names = [part for part in path if isinstance(part, str)]
    if "rules" in names[:-1]:
        model: type = RulesSpec
    elif names[:1] == ["relations"]:
        model = CodeRelation
    elif "relations" in names[:-1]:
        model = _Relation
    elif "codes" in names[:-1]:
        model = CodeSpec
    else:
        model = CodebookSpec
    known = list(model.model_fields)  # type: ignore[attr-defined]
    close = difflib.get_close_matches(key, known, n=1)
    return f"did you mean '{close[0]}'?" if close else "known keys here: " + ", ".join(known)


def _new_code(spec: CodeSpec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "label": spec.label or spec.id,
        "parent": None,
        "definition": "",
        "inclusion": "",
        "exclusion": "",
        "examples": [],
        "counterexamples": [],
        "relations": [],
        "rules": Rules().model_dump(),
    }


def _copy_code(code: dict[str, Any]) -> dict[str, Any]:
    import copy

    return copy.deepcopy(code)


def _override(code: dict[str, Any], origin: CodeOrigin, spec: CodeSpec, source: Source, where: YamlPath, *, new: bool = False) -> None:
    """Apply a file's entry for a code: fields replace, rule lists append."""
    for name in _CODE_FIELDS:
        value = getattr(spec, name)
        if value is None:
            continue
        if name == "relations":
            value = [relation.model_dump() for relation in value]
        code[name] = value
        origin.fields[name] = (source, (*where, name))
    if spec.rules is None:
        return
    rules = spec.rules
    for name in ("weight", "phrase_attr"):
        value = getattr(rules, name)
        if value is not None:
            code["rules"][name] = value
            origin.fields[f"rules.{name}"] = (source, (*where, "rules", name))
    for name in RULE_LISTS:
        items = getattr(rules, name)
        start = len(code["rules"][name])
        code["rules"][name] = [*code["rules"][name], *items]
        origin.rules.setdefault(name, [])
        origin.rules[name].extend((source, (*where, "rules", name, index)) for index in range(len(items)))
        assert len(origin.rules[name]) == start + len(items)


def _retire(
    codes: dict[str, dict[str, Any]],
    origins: dict[str, CodeOrigin],
    retire: list[Any],
    source: Source,
    problems: list[LintProblem],
    complete: bool,
) -> None:
    retired = set()
    for index, code_id in enumerate(retire):
        if code_id not in codes:
            if complete:
                close = difflib.get_close_matches(str(code_id), list(codes), n=1)
                problems.append(
                    source.problem(
                        "error",
                        f"cannot retire {code_id!r}: no such inherited code",
                        ("retire", index),
                        f"did you mean '{close[0]}'?" if close else "list inherited code ids only",
                    )
                )
            continue
        retired.add(code_id)
    for index, code_id in enumerate(retire):
        if code_id not in retired:
            continue
        orphans = [cid for cid, code in codes.items() if code["parent"] == code_id and cid not in retired]
        if orphans:
            problems.append(
                source.problem(
                    "error",
                    f"cannot retire {code_id!r}: its children {', '.join(orphans)} are neither retired nor re-parented",
                    ("retire", index),
                    "retire the children too, or give them another `parent:`",
                )
            )
    for code_id in retired:
        del codes[code_id]
        del origins[code_id]
    for code in codes.values():
        code["relations"] = [relation for relation in code["relations"] if relation["code"] not in retired]
        for name in ("requires", "excludes"):
            code["rules"][name] = [item for item in code["rules"][name] if item not in retired]


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
            problems.extend(_pydantic_problems(source, error, path, Code))
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
