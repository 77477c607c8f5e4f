"""The codes a workbench offers: the study's codebook (plus the codes of runs it no longer has),
and new codes written to the study's codebook extension file.

The YAML stays the source of truth: :func:`add_code` appends the code to the extension file
(``codebook/imported-codes.yaml``, which ``extends`` the study's codebook, the same file
``qualkit codings import --add-unknown`` writes), checks that the codebook still loads, and
points ``[codebook] path`` in ``qualkit.toml`` at the extension when it did not already. The
codebook's content hash changes with the new code, so the next run records the new version.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from ..codebook import Codebook, load_codebook
from ..codebook.model import CODE_ID_PATTERN
from ..config import CONFIG_NAME, load_config
from ..errors import InputError, NotFoundError, QualkitError, display_path

EXTENSION_FILE = "codebook/imported-codes.yaml"
"""The study's codebook extension file (shared with ``qualkit codings import --add-unknown``)."""


@dataclass(frozen=True)
class CodeInfo:
    """What a reader needs to know about a code: id, label, definition, parent, criteria."""

    id: str
    label: str
    definition: str = ""
    parent: str | None = None
    inclusion: str = ""
    exclusion: str = ""
    in_codebook: bool = True  # False: only known from a run's codebook (retired or renamed since)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_cache: dict[tuple[Any, ...], Codebook] = {}
_cache_lock = threading.Lock()


def _codebook_key(study: Any) -> tuple[Any, ...]:
    folder = study.root / "codebook"
    files = sorted(folder.glob("*.y*ml")) if folder.is_dir() else []
    stamps = tuple((str(path), path.stat().st_mtime_ns, path.stat().st_size) for path in files)
    config = study.root / CONFIG_NAME
    return (str(study.root), study.config.codebook.path, config.stat().st_mtime_ns, stamps)


def study_codebook(study: Any) -> Codebook:
    """The study's resolved codebook (cached while its files are unchanged)."""
    key = _codebook_key(study)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    codebook = load_codebook(study.config.codebook.path, base_dir=study.root, validate_patterns=False)
    with _cache_lock:
        _cache.clear()
        _cache[key] = codebook
    return codebook


def code_catalogue(study: Any, run_ids: tuple[int, ...] = ()) -> dict[str, CodeInfo]:
    """``id -> CodeInfo`` for the study codebook, plus codes only the given runs' codebooks know."""
    codebook = study_codebook(study)
    catalogue = {code.id: _info(code, True) for code in codebook}
    for run_id in run_ids:
        try:
            from ..coding.browse import run_codebook

            for code in run_codebook(study, run_id):
                catalogue.setdefault(code.id, _info(code, False))
        except QualkitError:
            continue
    return catalogue


def _info(code: Any, in_codebook: bool) -> CodeInfo:
    return CodeInfo(code.id, code.label, code.definition, code.parent, code.inclusion, code.exclusion, in_codebook)


def check_codes(study: Any, code_ids: list[str]) -> list[str]:
    """The codes, each known to the study's codebook; a clear error naming the unknown ones."""
    if not code_ids:
        raise InputError("no code given", hint="pick at least one code")
    codebook = study_codebook(study)
    unknown = [code_id for code_id in code_ids if code_id not in codebook]
    if unknown:
        labels = {code.label.lower(): code.id for code in codebook}
        hints = []
        for code_id in unknown:
            if code_id.lower() in labels:
                hints.append(f"{code_id!r} is the label of {labels[code_id.lower()]!r}")
        raise NotFoundError(
            f"unknown code(s): {', '.join(map(repr, unknown))}; nothing was stored",
            hint="; ".join(hints) or "choose a code of the study's codebook, or create it first",
        )
    return list(dict.fromkeys(code_ids))


# --------------------------------------------------------------------------- new codes


_write_lock = threading.Lock()


def add_code(
    study: Any, code_id: str, label: str, *, definition: str = "", parent: str | None = None,
    inclusion: str = "", exclusion: str = "",
) -> CodeInfo:
    """Add a code to the study's codebook extension file; returns it. Nothing changes on error."""
    code_id = (code_id or "").strip()
    label = (label or "").strip()
    parent = (parent or "").strip() or None
    if not re.match(CODE_ID_PATTERN, code_id):
        raise InputError(
            f"{code_id!r} is not a valid code id",
            hint="use lowercase letters, digits and '-', starting with a letter (e.g. privacy-compliance)",
        )
    if not label:
        raise InputError("a new code needs a label", hint="give a short human label, e.g. 'Privacy and compliance'")
    codebook = study_codebook(study)
    if code_id in codebook:
        raise InputError(f"the codebook already has a code {code_id!r} ({codebook.get(code_id).label})", hint="pick it, or choose another id")
    taken = {code.label.lower(): code.id for code in codebook}
    if label.lower() in taken:
        raise InputError(f"the label {label!r} is already used by {taken[label.lower()]!r}", hint="choose another label")
    if parent is not None and parent not in codebook:
        raise NotFoundError(f"unknown parent code {parent!r}", hint="choose a code of the codebook as parent, or none")
    entry: dict[str, Any] = {"id": code_id, "label": label}
    if parent:
        entry["parent"] = parent
    for key, value in (("definition", definition), ("inclusion", inclusion), ("exclusion", exclusion)):
        if value and value.strip():
            entry[key] = value.strip()
    from ..interop.code_mapping import write_extension  # lazy: the interop package is slow to import

    with _write_lock:
        path = study.root / EXTENSION_FILE
        config_path = study.root / CONFIG_NAME
        previous = path.read_text(encoding="utf-8") if path.is_file() else None
        previous_config = config_path.read_text(encoding="utf-8")
        try:
            write_extension(study, [entry])
            _point_config_at_extension(study, config_path, previous_config)
            config = load_config(config_path)
            load_codebook(config.codebook.path, base_dir=study.root, validate_patterns=False)
        except BaseException as error:
            if previous is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(previous, encoding="utf-8")
            config_path.write_text(previous_config, encoding="utf-8")
            if isinstance(error, QualkitError):
                raise
            if isinstance(error, (OSError, yaml.YAMLError)):
                raise InputError(f"cannot write {display_path(path)}: {error}", hint="check the file and its permissions") from error
            raise
        study.config = config
    return CodeInfo(code_id, label, entry.get("definition", ""), parent, entry.get("inclusion", ""), entry.get("exclusion", ""))


def _point_config_at_extension(study: Any, config_path: Path, text: str) -> None:
    """Set ``[codebook] path`` to the extension file, editing only that line of qualkit.toml."""
    from ..interop.code_mapping import is_configured_extension

    if is_configured_extension(study):
        return
    ref = study.config.codebook.path
    line = f'path = "{EXTENSION_FILE}"  # the study codebook\'s extension (was: {ref})\n'
    lines = text.splitlines(keepends=True)
    section = None
    for index, raw in enumerate(lines):
        stripped = raw.strip()
        if stripped.startswith("["):
            if section == "codebook":  # [codebook] without a path: insert before the next section
                lines.insert(index, line)
                break
            section = stripped.strip("[]").strip()
            continue
        if section == "codebook" and re.match(r"path\s*=", stripped):
            lines[index] = line
            break
    else:
        if section == "codebook":
            lines.append(("" if text.endswith("\n") else "\n") + line)
        else:
            lines.append(("" if text.endswith("\n") else "\n") + "\n[codebook]\n" + line)
    config_path.write_text("".join(lines), encoding="utf-8")


__all__ = ["CodeInfo", "EXTENSION_FILE", "add_code", "check_codes", "code_catalogue", "study_codebook"]
