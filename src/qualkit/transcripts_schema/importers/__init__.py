"""The importer registry: one small module per format, detected by extension and content.

An importer is a name, the file extensions it claims, a ``sniff(head)`` test on the
first bytes of a file, and a ``read(source, options) -> Parsed`` function. Register
another with :func:`register_importer`; a registered name replaces the built-in one.
Whatever the importer, its turns then go through one shared tidy-up (:mod:`._tidy`): empty
turns and tool footers/headers are dropped and counted, NUL characters refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ...errors import InputError, Problem
from ._base import Parsed, RawTurn, Source

if TYPE_CHECKING:
    from ..options import ImportOptions

ReadFunction = Callable[[Source, "ImportOptions"], Parsed]
SniffFunction = Callable[[bytes], bool]


@dataclass(frozen=True)
class Importer:
    """One registered format."""

    name: str
    extensions: tuple[str, ...]
    sniff: SniffFunction
    read: ReadFunction
    description: str = ""


_REGISTRY: dict[str, Importer] = {}
#: Order in which content is sniffed when the extension does not decide (.txt or unknown).
_SNIFF_ORDER: list[str] = []


def register_importer(
    name: str,
    detect: SniffFunction,
    read: ReadFunction,
    *,
    extensions: tuple[str, ...] = (),
    description: str = "",
) -> Importer:
    """Register (or replace) the importer ``name``; ``detect`` sniffs a file's first bytes."""
    importer = Importer(name, tuple(ext.lower() for ext in extensions), detect, read, description)
    _REGISTRY[name] = importer
    if name not in _SNIFF_ORDER:
        _SNIFF_ORDER.append(name)
    return importer


def unregister_importer(name: str) -> None:
    """Remove an importer (mainly for tests of the registry)."""
    _REGISTRY.pop(name, None)
    if name in _SNIFF_ORDER:
        _SNIFF_ORDER.remove(name)


def importer_names() -> list[str]:
    """Names of the registered importers, in detection order."""
    return list(_SNIFF_ORDER)


def get_importer(name: str) -> Importer:
    """The importer called ``name``; an unknown name lists the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(importer_names())
        raise InputError(
            f"unknown transcript format {name!r}",
            problems=[Problem(f"unknown format {name!r}", "", "--format", f"use one of: {known}")],
        ) from None


#: Extensions that name a format only weakly: the content decides.
_GENERIC_EXTENSIONS = {".txt", ".text", ""}


def detect_format(path: Path, head: bytes) -> str:
    """Pick an importer by extension, else by content (``head`` = the file's first bytes)."""
    suffix = path.suffix.lower()
    if suffix not in _GENERIC_EXTENSIONS:
        for name in _SNIFF_ORDER:
            if suffix in _REGISTRY[name].extensions:
                return name
    for name in _SNIFF_ORDER:
        if name != "text" and _REGISTRY[name].sniff(head):
            return name
    return "text"


def _register_builtins() -> None:
    from . import csv as csv_importer
    from . import docx as docx_importer
    from . import json as json_importer
    from . import jsonl as jsonl_importer
    from . import markdown as markdown_importer
    from . import srt as srt_importer
    from . import text as text_importer
    from . import vtt as vtt_importer

    for module in (vtt_importer, srt_importer, docx_importer, jsonl_importer, json_importer, markdown_importer, csv_importer, text_importer):
        register_importer(
            module.NAME,
            module.sniff,
            module.read,
            extensions=module.EXTENSIONS,
            description=(module.__doc__ or "").strip().splitlines()[0],
        )


_register_builtins()

__all__ = [
    "Importer",
    "Parsed",
    "RawTurn",
    "Source",
    "detect_format",
    "get_importer",
    "importer_names",
    "register_importer",
    "unregister_importer",
]
