"""Shared by the WebVTT and SRT importers: timing checks, speaker labels in cues, merging."""

from __future__ import annotations

import io
import re

import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from ...errors import InputError, Problem
from ._base import Parsed, RawTurn, Source, no_labels_error
from ._tidy import drop_boilerplate_piece

#: ``Name: text`` at the start of a cue (Zoom); a label has at most five words and no
#: sentence punctuation, so "Well, yes: ..." is not taken for a speaker.
CUE_LABEL = re.compile(r"^(?P<label>[^\s:<>,.?!;\"][^:<>,?!;\"]{0,59}?)\s*:(?:\s+(?P<text>.*))?$", re.S)
#: A Teams voice span ``<v Name>`` or ``<v.class Name>``. Neither pattern crosses a ``<``, so a
#: line full of unclosed ``<v `` tags is scanned in linear time (each scan stops at the next ``<``).
VOICE = re.compile(r"<v(?:\.[\w-]+)*\s([^<>]+)>")
TAG = re.compile(r"<[^<>]*>")

TIMINGS = {
    "vtt": re.compile(r"^\s*(?:\d+:)?\d{1,2}:\d{1,2}\.\d{1,3}\s*-->\s*(?:\d+:)?\d{1,2}:\d{1,2}\.\d{1,3}(?:\s|$)"),
    "srt": re.compile(r"^\s*\d+:\d{1,2}:\d{1,2}[,.]\d+\s*-->\s*\d+:\d{1,2}:\d{1,2}[,.]\d+\s*$"),
}
EXAMPLE_TIMING = {"vtt": "00:01:02.500 --> 00:01:05.000", "srt": "00:01:02,500 --> 00:01:05,000"}


def _check_timing_lines(source: Source, kind: str) -> list[int]:
    """Line numbers of the cue timing lines; every broken one is collected and raised."""
    pattern = TIMINGS[kind]
    good: list[int] = []
    problems: list[Problem] = []
    for number, line in enumerate(source.text.split("\n"), start=1):
        if "-->" not in line:
            continue
        if pattern.match(line):
            good.append(number)
        else:
            problems.append(
                Problem(
                    f"broken cue timing {line.strip()[:80]!r}",
                    source.shown,
                    f"line {number}",
                    f"write the timing as {EXAMPLE_TIMING[kind]}",
                )
            )
    if problems:
        raise InputError(f"{source.shown}: {len(problems)} cue(s) with broken timestamps", problems=problems)
    return good


def read_captions(source: Source, kind: str) -> Parsed:
    """Parse a VTT or SRT file with webvtt-py and merge consecutive cues of one speaker."""
    text = source.text
    if not text.strip():
        raise source.error("file is empty", "whole file", "export the transcript again")
    timing_lines = _check_timing_lines(source, kind)
    try:
        if kind == "vtt":
            captions = list(webvtt.from_string(text.lstrip("\ufeff")))
        else:
            captions = list(webvtt.from_buffer(io.StringIO(text.lstrip("\ufeff")), format="srt"))
    except MalformedFileError:
        expected = "the first line must be WEBVTT" if kind == "vtt" else "the file must start with a cue number and its timing line"
        raise source.error(f"not a valid {kind.upper()} file ({expected})", "line 1", "check the export, or choose another importer with --format") from None
    except MalformedCaptionError as error:
        raise source.error(f"malformed cue: {error}", "", f"write each timing as {EXAMPLE_TIMING[kind]}") from None
    if not captions:
        raise source.error("no cues found", "whole file", f"each cue needs a timing line like {EXAMPLE_TIMING[kind]}")
    same_count = len(timing_lines) == len(captions)
    problems: list[Problem] = []
    parsed = Parsed(format=kind, units=len(captions))
    current: RawTurn | None = None
    texts: list[list[str]] = []  # each turn's pieces, joined once at the end (linear in the text)
    labelled = 0
    for index, caption in enumerate(captions, start=1):
        where = f"cue {index}" + (f" (line {timing_lines[index - 1]})" if same_count else "")
        start = caption.start_time.in_milliseconds() / 1000
        end = caption.end_time.in_milliseconds() / 1000
        if end < start:
            problems.append(Problem(f"cue ends ({caption.end}) before it starts ({caption.start})", source.shown, where, "fix the cue's timing line"))
            continue
        for speaker, piece in _cue_pieces(caption.raw_text):
            if piece and drop_boilerplate_piece(parsed, piece):  # e.g. Teams' "NAME started transcription"
                continue
            if speaker is not None:
                labelled += 1
            elif not piece:
                continue
            elif current is None:
                problems.append(
                    Problem("cue has no speaker label and no earlier speaker", source.shown, where, "start the cue with 'Name: ' or <v Name>")
                )
                continue
            else:
                speaker = current.speaker
            if current is not None and current.speaker == speaker:
                if piece:
                    texts[-1].append(piece)
                    current.end = end
            else:  # a new speaker, even with no words: an empty turn is dropped later, never merged
                current = RawTurn(speaker=speaker, text="", location=where, start=start, end=end)
                parsed.turns.append(current)
                texts.append([piece] if piece else [])
    for turn, pieces in zip(parsed.turns, texts):
        turn.text = " ".join(pieces).strip()
    if labelled == 0:
        raise no_labels_error(source, f"{kind.upper()} cues", "'Name: text' in each cue, or <v Name>text</v>")
    if problems:
        raise InputError(f"{source.shown}: {len(problems)} problem(s) in cues", problems=problems)
    return parsed


def _cue_pieces(raw: str) -> list[tuple[str | None, str]]:
    """Split a cue's raw text into (speaker or None, plain text) pieces.

    A speaker comes from a voice span on any line, or a ``Name:`` label on the first line.
    """
    pieces: list[tuple[str | None, str]] = []
    speaker: str | None = None
    buffer: list[str] = []
    for number, line in enumerate(raw.split("\n")):
        voice = VOICE.search(line)
        plain = TAG.sub("", line).strip()
        new: str | None = None
        if voice:
            new = voice.group(1).strip()
        elif number == 0:
            label = CUE_LABEL.match(plain)
            if label and len(label.group("label").split()) <= 5:
                new = label.group("label").strip()
                plain = (label.group("text") or "").strip()
        if new is not None and new != speaker and (buffer or speaker is not None):
            pieces.append((speaker, " ".join(buffer)))
            buffer = []
        if new is not None:
            speaker = new
        if plain:
            buffer.append(plain)
    pieces.append((speaker, " ".join(buffer)))
    return pieces
