"""Hints for ``qualkit run``: a library error that tells the user to pass a command-line flag
(``--multi-party``, ``--speaker-role A1=interviewer`` ...) is rewritten to name the
``qualkit.toml`` key that does the same, because ``qualkit run`` takes its import options
from the study's declaration only."""

from __future__ import annotations

import copy
import re

from ..errors import Problem, QualkitError

_WHERE = "in qualkit.toml"
NOTE = "`qualkit run` reads import options from [transcripts] or a [[transcripts.files]] entry of qualkit.toml"

#: (pattern, replacement) pairs, applied in order to every hint and fix.
_REWRITES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bpass\s+(?=--)"), "set "),
    (re.compile(r"--allow-findings\s+--reason\s+(?:TEXT|'[^']*'|\"[^\"]*\")"), 'allow_findings = true and reason = "why" ' + _WHERE),
    (re.compile(r"--allow-findings"), "allow_findings = true " + _WHERE),
    (re.compile(r"--reason\s+'([^']*)'"), r'reason = "\1"'),
    (re.compile(r"--reason(?:\s+TEXT)?"), 'reason = "why"'),
    (re.compile(r"--multi-party"), "multi_party = true " + _WHERE),
    (re.compile(r"--speaker-role\s+'([^'=]+)=(\w+)'"), r'speaker_roles = { "\1" = "\2" } ' + _WHERE),
    (re.compile(r"--speaker-role\s+\"([^\"=]+)=(\w+)\""), r'speaker_roles = { "\1" = "\2" } ' + _WHERE),
    (re.compile(r"--speaker-role\s+(?!LABEL=ROLE\b)([^\s=']+)=(\w+)"), r'speaker_roles = { "\1" = "\2" } ' + _WHERE),
    (re.compile(r"--speaker-role(?:\s+LABEL=ROLE)?"), 'speaker_roles = { "LABEL" = "ROLE" } ' + _WHERE),
    (re.compile(r"--interviewer\s+'([^']+)'"), r'interviewers = ["\1"] ' + _WHERE),
    (re.compile(r"--interviewer\s+\"([^\"]+)\""), r'interviewers = ["\1"] ' + _WHERE),
    (re.compile(r"--interviewer\s+(?!NAME\b)([^\s,;)']+)"), r'interviewers = ["\1"] ' + _WHERE),
    (re.compile(r"--interviewer(?:\s+NAME)?"), 'interviewers = ["LABEL"] ' + _WHERE),
    (re.compile(r"--id\s*/\s*--participant"), "id / participant in a [[transcripts.files]] entry whose glob names the file"),
    (re.compile(r"--id\b"), "id in a [[transcripts.files]] entry whose glob names the file"),
    (re.compile(r"--participant\b(?!s)"), "participant in a [[transcripts.files]] entry whose glob names the file"),
    (re.compile(r"--format\s+(\w+)"), r'format = "\1" ' + _WHERE),
    (re.compile(r"--max-mb(?:\s+\S+)?"), "max_file_mb " + _WHERE),
    (re.compile(r"--csv-(speaker|text|start|end)(?:\s+COLUMN)?"), r'csv_columns = { \1 = "COLUMN" } ' + _WHERE),
    (re.compile(r"--deny-list"), "[anonymity] deny_list"),
    (re.compile(r"--no-ner|--ner"), "[anonymity] ner"),
    (re.compile(r"--participants\b"), "[transcripts] participants"),
]


def rewrite_flags(text: str) -> str:
    """``text`` with every import flag replaced by its ``qualkit.toml`` key."""
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return text


def config_hints(error: QualkitError) -> QualkitError:
    """A copy of ``error`` whose hint and problem fixes name qualkit.toml keys instead of flags."""
    if not error.hint and not error.problems:
        return error
    rewritten = copy.copy(error)
    rewritten.hint = rewrite_flags(error.hint)
    rewritten.problems = [
        Problem(problem.message, problem.file, problem.location, rewrite_flags(problem.fix)) for problem in error.problems
    ]
    if rewritten.hint != error.hint or rewritten.problems != error.problems:
        rewritten.hint = (rewritten.hint + "; " if rewritten.hint else "") + NOTE
    return rewritten


__all__ = ["config_hints", "rewrite_flags"]
