"""Codebook references and the ``extends`` chain: a bundled name or a path to a file, each file
validated against the format, then merged onto its base (fields replace, rule lists append,
``retire`` removes inherited codes). Structural only: the checks on the result are in
:mod:`qualkit.codebook.loader`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import CodebookError, display_path
from .model import RULE_LISTS, CodebookSpec, CodeRelation, CodeSpec, Rules
from .yaml_source import LintProblem, Source, YamlPath, read_source


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
        problems.extend(pydantic_problems(source, error, (), CodebookSpec))
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
            problems.extend(pydantic_problems(source, error, ("codes", index), CodeSpec, raw))
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
            problems.extend(pydantic_problems(source, error, ("relations", index), CodeRelation, item))
    return ties


def pydantic_problems(source: Source, error: ValidationError, prefix: YamlPath, model: type, raw: Any = None) -> list[LintProblem]:
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


__all__ = [
    "CodeOrigin",
    "Origin",
    "Resolved",
    "bundled_codebooks",
    "pydantic_problems",
    "resolve_file",
    "resolve_ref",
]
