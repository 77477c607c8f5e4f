"""WebVTT from Zoom (``Name: text`` in cues) and Teams (``<v Name>text</v>``); one turn per run of one speaker's cues."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._base import Parsed, Source
from ._captions import read_captions

if TYPE_CHECKING:
    from ..options import ImportOptions

NAME = "vtt"
EXTENSIONS = (".vtt", ".webvtt")


def sniff(head: bytes) -> bool:
    """A WebVTT file starts with ``WEBVTT`` (after an optional BOM)."""
    return head.lstrip(b"\xef\xbb\xbf").lstrip().startswith(b"WEBVTT")


def read(source: Source, options: "ImportOptions") -> Parsed:
    """Read cues with webvtt-py; consecutive cues of one speaker merge into one turn."""
    return read_captions(source, "vtt")
