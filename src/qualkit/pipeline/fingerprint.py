"""Fingerprints: content hashes of a step's inputs, cheap to compute and stable across machines."""

from __future__ import annotations

import glob
import hashlib
from pathlib import Path
from typing import Any, Iterable

from ..store import canonical_json


def file_sha256(path: Path, *, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(parts: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``parts``."""
    return hashlib.sha256(canonical_json(parts).encode("utf-8")).hexdigest()


def expand_sources(root: Path, patterns: Iterable[str]) -> list[Path]:
    """Files matched by the study's source globs, sorted, without duplicates or hidden files."""
    found: dict[str, Path] = {}
    for pattern in patterns:
        full = pattern if Path(pattern).is_absolute() else str(root / pattern)
        for match in glob.glob(full, recursive=True):
            path = Path(match)
            if path.is_file() and not path.name.startswith("."):
                found[str(path.resolve())] = path
    return [found[key] for key in sorted(found)]


def tree_sha256(folder: Path) -> str | None:
    """Hash of every file below ``folder`` (names and contents), or None when it does not exist."""
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()
