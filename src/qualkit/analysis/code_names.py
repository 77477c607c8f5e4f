"""The codes a researcher may name: the study's codebook, the codebooks of runs, and codes seen in codings.

:func:`study_code_tree` gathers them (cached while the codebook files are unchanged);
:func:`resolve_code` turns an id or a label into a code id, or raises a clear error with
suggestions.
"""

from __future__ import annotations

import difflib
import threading
from typing import Any

from ..errors import NotFoundError, QualkitError
from .codetree import CodeTree, as_tree, tree_from_resolved

_cache: dict[tuple[Any, ...], CodeTree] = {}
_cache_lock = threading.Lock()


def _store(study: Any) -> Any:
    return getattr(study, "store", study)


def _codebook_key(study: Any) -> tuple[Any, ...]:
    """What the configured codebook depends on: its reference and the stamps of the study's YAML files."""
    folder = study.root / "codebook"
    files = sorted(folder.glob("*.y*ml")) if folder.is_dir() else []
    stamps = tuple((str(path), path.stat().st_mtime_ns, path.stat().st_size) for path in files)
    return (str(study.root), str(study.config.codebook.path), stamps)


def configured_tree(study: Any) -> CodeTree:
    """The study's configured codebook as a tree (cached while its files are unchanged); empty when it cannot load."""
    key = _codebook_key(study)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    try:
        from ..codebook import load_codebook

        tree = as_tree(load_codebook(study.config.codebook.path, base_dir=study.root, validate_patterns=False))
    except QualkitError:
        tree = CodeTree()
    with _cache_lock:
        _cache.clear()
        _cache[key] = tree
    return tree


def study_code_tree(study: Any) -> CodeTree:
    """The study's configured codebook plus every code seen in runs' codebooks and codings.

    A codebook that cannot be loaded is skipped (the stored codebooks still name its codes).
    """
    store = _store(study)
    tree = configured_tree(study) if getattr(study, "config", None) is not None else CodeTree()
    codes = dict(tree.codes)
    for row in store.query("SELECT resolved FROM codebooks ORDER BY created_at DESC"):
        for code_id, info in tree_from_resolved(row["resolved"]).codes.items():
            codes.setdefault(code_id, info)
    seen = store.query(
        "SELECT DISTINCT code_id FROM code_applications UNION SELECT DISTINCT code_id FROM human_codings"
    )
    merged = CodeTree(tree.name, tree.version, tree.hash, codes)
    return merged.with_codes(row["code_id"] for row in seen)


def resolve_code(tree: CodeTree, name: str) -> str:
    """A code id from an id or a label (case-insensitive); a clear error with suggestions otherwise."""
    wanted = name.strip()
    if wanted in tree.codes:
        return wanted
    lowered = wanted.casefold()
    for code_id, info in tree.codes.items():
        if code_id.casefold() == lowered or info.label.casefold() == lowered:
            return code_id
    names = list(tree.codes) + [info.label for info in tree.codes.values()]
    close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else "`qualkit codes list` shows the codes"
    raise NotFoundError(f"unknown code {name!r}: it is not in the study's codebook nor in any coding", hint=hint)


__all__ = ["configured_tree", "resolve_code", "study_code_tree"]
