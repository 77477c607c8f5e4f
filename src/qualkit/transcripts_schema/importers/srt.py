"""SubRip (SRT) subtitles with ``Name: text`` in cues; one turn per run of one speaker's cues."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ._base import Parsed, Source
from ._captions import read_captions

if TYPE_CHECKING:
    from ..options import ImportOptions

NAME = "srt"
EXTENSIONS = (".srt",)
_HEAD = re.compile(rb"^\s*\d+\s*\r?\n\s*\d+:\d{1,2}:\d{1,2}[,.]\d+\s*-->")


def sniff(head: bytes) -> bool:
    """An SRT file starts with a cue number and a timing line."""
    return bool(_HEAD.match(head.lstrip(b"\xef\xbb\xbf")))


def read(source: Source, options: "ImportOptions") -> Parsed:
    """Read cues with webvtt-py; consecutive cues of one speaker merge into one turn."""
    return read_captions(source, "srt")
