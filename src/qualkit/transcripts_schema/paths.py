"""Which files an import or validation reads: files as given, folders and globs expanded to the
files some importer claims, and the study's ``[transcripts] sources``."""

from __future__ import annotations

import glob
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import InputError, Problem, display_path
from .importers import _REGISTRY as _IMPORTERS

if TYPE_CHECKING:
    from ..study import Study

_GLOB_CHARS = re.compile(r"[*?\[]")


def supported_extensions() -> set[str]:
    """File extensions some registered importer claims."""
    return {ext for importer in _IMPORTERS.values() for ext in importer.extensions}


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]


def expand_paths(paths: Iterable[str | Path], *, base: Path | None = None, exclude: Iterable[Path] = ()) -> list[Path]:
    """Files named by ``paths``: files as given; folders and globs give their transcript files.

    Folders and globs skip hidden files, files no importer claims, and ``exclude``
    (e.g. the study's participants.csv). A path that matches nothing is an error.
    """
    excluded = {path.resolve() for path in exclude}
    extensions = supported_extensions()
    found: list[Path] = []
    problems: list[Problem] = []

    def wanted(candidate: Path) -> bool:
        return (
            candidate.is_file()
            and not candidate.name.startswith(".")
            and candidate.suffix.lower() in extensions
            and candidate.resolve() not in excluded
        )

    for item in paths:
        text = str(item)
        path = Path(text)
        if base is not None and not path.is_absolute():
            path = base / path
        if path.is_dir():
            files = sorted((child for child in path.iterdir() if wanted(child)), key=_natural_key)
            if not files:
                problems.append(
                    Problem(
                        "the folder holds no transcript files",
                        display_path(path),
                        "",
                        f"put transcripts in it (extensions: {', '.join(sorted(ext for ext in extensions if ext))})",
                    )
                )
            found.extend(files)
        elif path.exists():
            found.append(path)
        elif _GLOB_CHARS.search(text):
            matches = [Path(match) for match in glob.glob(str(path), recursive=True)]
            files = sorted((match for match in matches if wanted(match)), key=_natural_key)
            if not files:
                problems.append(Problem("no transcript files match this pattern", text, "", "check the pattern, or [transcripts] sources"))
            found.extend(files)
        else:
            problems.append(Problem("no such file or folder", display_path(path), "", "check the path"))
    if problems:
        raise InputError(f"{len(problems)} path(s) name no transcript files", problems=problems)
    unique: list[Path] = []
    seen: set[Path] = set()
    for path in found:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def source_paths(study: "Study") -> list[str]:
    """The study's ``[transcripts] sources`` globs, as absolute patterns."""
    return [str(study.path(pattern)) for pattern in study.config.transcripts.sources]


__all__ = ["expand_paths", "source_paths", "supported_extensions"]
