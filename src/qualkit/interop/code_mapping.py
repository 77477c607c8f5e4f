"""The codes an imported file names, resolved to the study codebook's ids.

A code resolves through the map file (``map_file``: CSV with ``old,new`` columns, or YAML
``{old: new}``; ``old`` may be a label, an id, a REFI code GUID or a ``Parent/Child`` path), then
by id or label; with ``add_unknown`` the rest become new codes in ``codebook/imported-codes.yaml``
(:data:`EXTENSION_FILE`), which ``extends`` the study codebook.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml

from ..errors import InputError, InteropError, Problem, display_path
from ..transcripts_schema.decoding import allow_csv_fields
from ._refi import CODE_ID_RE, slugify, unique_id

EXTENSION_FILE = "codebook/imported-codes.yaml"


@dataclass
class ForeignCode:
    """A code as the imported file names it."""

    key: str
    label: str
    aliases: tuple[str, ...] = ()
    explicit_id: str | None = None
    parent_key: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    used: bool = False


def codebook_codes(study: Any) -> tuple[dict[str, str], Any]:
    """``id -> label`` of the study codebook plus codes already in the extension file."""
    from .qdpx_export import study_codebook

    codebook = study_codebook(study)
    known = {code_id: code.label for code_id, code in codebook.codes.items()}
    ext = study.root / EXTENSION_FILE
    if ext.is_file() and not is_configured_extension(study):
        try:
            data = yaml.safe_load(ext.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, OSError) as error:
            raise InteropError(f"cannot read {display_path(ext)}: {error}", hint="fix or delete the file") from error
        for entry in data.get("codes") or []:
            if isinstance(entry, dict) and entry.get("id"):
                known.setdefault(str(entry["id"]), str(entry.get("label") or entry["id"]))
    return known, codebook


def is_configured_extension(study: Any) -> bool:
    ref = study.config.codebook.path
    if "/" not in ref and "\\" not in ref and not ref.endswith((".yaml", ".yml")):
        return False
    return study.path(ref).resolve() == (study.root / EXTENSION_FILE).resolve()


def read_map_file(path: str | Path) -> dict[str, str]:
    """``old -> new`` from a CSV (columns ``old,new``; a header is optional) or YAML mapping file."""
    path = Path(path)
    shown = display_path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise InputError(f"cannot read the map file {shown}: {error.strerror}", hint="check the path") from error
    except UnicodeDecodeError as error:
        raise InputError(f"{shown} is not UTF-8 (byte {error.start})", hint="save it as UTF-8") from error
    mapping: dict[str, str] = {}
    problems: list[Problem] = []
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            reason = " ".join(str(part) for part in (getattr(error, "context", None), getattr(error, "problem", None)) if part)
            raise InputError(
                f"{shown} is not valid YAML",
                problems=[Problem(f"YAML syntax error: {reason or error}", shown, where, "fix the YAML there: one `old code: new-code-id` a line")],
            ) from None
        items: list[tuple[str, Any, Any]] = []
        if isinstance(data, dict):
            items = [(f"key {k}", k, v) for k, v in data.items()]
        elif isinstance(data, list):
            for n, item in enumerate(data):
                if isinstance(item, dict) and "old" in item and "new" in item:
                    items.append((f"item {n}", item["old"], item["new"]))
                else:
                    problems.append(Problem("expected {old: ..., new: ...}", shown, f"item {n}", "write a mapping old: new"))
        else:
            problems.append(Problem("expected a mapping of old code -> new code id", shown, "top level", "write lines `old label: new-id`"))
        for where, old, new in items:
            if not isinstance(new, str) or not str(old).strip() or not new.strip():
                problems.append(Problem(f"{old!r} -> {new!r} is not a text -> code id pair", shown, where))
                continue
            mapping[str(old).strip().lower()] = new.strip()
    else:
        allow_csv_fields(len(raw))
        try:
            rows = list(csv.reader(io.StringIO(raw)))
        except csv.Error as error:
            raise InputError(f"{shown} is not readable as CSV ({error})", hint="save it again as CSV (UTF-8)") from None
        for n, row in enumerate(rows, start=1):
            if not row or all(not cell.strip() for cell in row):
                continue
            if n == 1 and [cell.strip().lower() for cell in row[:2]] == ["old", "new"]:
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                problems.append(Problem("expected two columns: old,new", shown, f"line {n}", "write `old label,new-code-id`"))
                continue
            mapping[row[0].strip().lower()] = row[1].strip()
    if problems:
        raise InputError(f"{shown} has {len(problems)} problem(s)", problems=problems)
    return mapping


@dataclass
class CodeResolution:
    ids: dict[str, str]
    added: list[dict[str, Any]]
    mapped: dict[str, str]
    unknown_unused: list[str]


def resolve_codes(
    foreign: Sequence[ForeignCode],
    known: dict[str, str],
    mapping: dict[str, str],
    *,
    add_unknown: bool,
    file: str,
    map_file: str = "",
) -> CodeResolution:
    """A study code id for every foreign code; every unresolvable used code is one problem."""
    by_label = {label.strip().lower(): code_id for code_id, label in known.items()}
    taken = set(known)
    taken_labels = {label.strip().lower() for label in known.values()}
    ids: dict[str, str] = {}
    mapped: dict[str, str] = {}
    added: list[dict[str, Any]] = []
    unknown_unused: list[str] = []
    problems: list[Problem] = []
    used_map_keys: set[str] = set()
    for code in foreign:
        keys = [code.key, code.label, *code.aliases] + ([code.explicit_id] if code.explicit_id else [])
        target = next((mapping[k.strip().lower()] for k in keys if k and k.strip().lower() in mapping), None)
        if target is not None:
            used_map_keys.update(k.strip().lower() for k in keys if k)
            resolved = target if target in known else by_label.get(target.strip().lower())
            if resolved is None:
                problems.append(
                    Problem(
                        f"maps {code.label!r} to {target!r}, which is not a code of the study codebook",
                        map_file or file,
                        f"entry {code.label!r}",
                        "map to an existing code id (`qualkit codebook show` lists them)",
                    )
                )
                continue
            ids[code.key] = resolved
            mapped[code.label] = resolved
            continue
        if code.explicit_id and code.explicit_id in known:
            ids[code.key] = code.explicit_id
            continue
        if code.label.strip().lower() in by_label:
            ids[code.key] = by_label[code.label.strip().lower()]
            continue
        if code.key in known:
            ids[code.key] = code.key
            continue
        if add_unknown:
            base = code.explicit_id if code.explicit_id and CODE_ID_RE.match(code.explicit_id) else slugify(code.label)
            new_id = unique_id(base, taken)
            label, n = code.label.strip() or new_id, 2
            while label.lower() in taken_labels:
                label = f"{code.label.strip()} ({n})"
                n += 1
            taken_labels.add(label.lower())
            entry: dict[str, Any] = {"id": new_id, "label": label}
            if code.parent_key and code.parent_key in ids:
                entry["parent"] = ids[code.parent_key]
            for key in ("definition", "inclusion", "exclusion", "examples"):
                if code.fields.get(key):
                    entry[key] = code.fields[key]
            added.append(entry)
            ids[code.key] = new_id
            known = {**known, new_id: label}
            continue
        if code.used:
            problems.append(
                Problem(
                    f"code {code.label!r} is not in the study codebook",
                    file,
                    f"code {code.key!r}" if code.key != code.label else "",
                    "map it with --map FILE (old,new) or add it with --add-unknown",
                )
            )
        else:
            unknown_unused.append(code.label)
    if problems:
        raise InteropError(
            f"{len(problems)} code(s) used in {file} cannot be resolved to the study codebook; nothing was stored",
            problems=problems,
            hint="map them with --map FILE (CSV old,new or YAML old: new), or add them as new codes with --add-unknown",
        )
    return CodeResolution(ids, added, mapped, unknown_unused)


def extension_text(study: Any, path: Path, previous: str | None, entries: list[dict[str, Any]]) -> str:
    """The study's codebook extension file (``codebook/imported-codes.yaml``) with ``entries`` added
    (codes whose id it already has are left as they are): ``previous`` is its current text, or
    ``None`` for a new file that ``extends`` the study's codebook."""
    if previous is not None:
        try:
            data = yaml.safe_load(previous) or {}
        except yaml.YAMLError as error:
            raise InputError(f"{display_path(path)} is not valid YAML: {error}", hint="fix the file, then add the codes again") from error
        if not isinstance(data, dict):
            raise InputError(f"{display_path(path)} is not a codebook (a mapping)", hint="fix or move the file away")
        header = "".join(line + "\n" for line in previous.splitlines() if line.startswith("#")) if previous.startswith("#") else ""
    else:
        ref = study.config.codebook.path
        if "/" in ref or "\\" in ref or ref.endswith((".yaml", ".yml")):
            extends = os.path.relpath(study.path(ref), path.parent).replace(os.sep, "/")
        else:
            extends = ref
        data = {
            "name": f"{ref.rsplit('/', 1)[-1].rsplit('.', 1)[0]}-extension",
            "version": "1.0",
            "description": "Codes added in the workbench (`qualkit serve`) or by `qualkit codings import --add-unknown`; "
            "extends the study codebook.",
            "extends": extends,
            "codes": [],
        }
        header = "# The study's codebook extension. Edit freely: add definitions, criteria and rules.\n"
    codes = data.get("codes") or []
    have = {entry.get("id") for entry in codes if isinstance(entry, dict)}
    data["codes"] = codes + [entry for entry in entries if entry["id"] not in have]
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def write_extension(study: Any, entries: list[dict[str, Any]]) -> tuple[Path, str | None]:
    """Add ``entries`` to ``codebook/imported-codes.yaml``; returns the path and its previous text."""
    path = study.root / EXTENSION_FILE
    previous = path.read_text(encoding="utf-8") if path.is_file() else None
    text = extension_text(study, path, previous, entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path, previous


__all__ = [
    "CodeResolution",
    "EXTENSION_FILE",
    "ForeignCode",
    "codebook_codes",
    "extension_text",
    "is_configured_extension",
    "read_map_file",
    "resolve_codes",
    "write_extension",
]
