"""The pseudonymizer: rewrite names to stable pseudonyms, and remember the mapping.

:func:`pseudonymize` rewrites one :class:`Transcript`:

- speaker labels that are not already pseudonyms become ``P1, P2 …`` (participants),
  ``Interviewer 1 …`` (interviewers) or ``Speaker 1 …`` (others); existing pseudonyms such
  as ``P3`` or ``Interviewer`` are kept;
- a rewritten speaker's name in the text becomes ``[P1]``: the whole label (any case), and
  its first and last word alone when written capitalised, unique among this transcript's
  speakers and not a common English word (``Hey, Chris`` → ``Hey, [P1]``);
- every deny-list term becomes ``[PERSON-1]``, ``[COMPANY-1]`` … (the category comes from the
  deny-list line, ``Tessellate Bank = COMPANY``; the default is PERSON);
- e-mail addresses, phone numbers, URLs and IP addresses become ``[EMAIL]``, ``[PHONE]``,
  ``[URL]`` and ``[IP]``.

A :class:`PseudonymMap` holds every assignment; reusing it (saved as JSON between runs with
:meth:`PseudonymMap.save` / :meth:`PseudonymMap.load`) keeps pseudonyms stable across
transcripts and runs. The mapping file re-identifies people: keep it private and outside
the study's reports (the default is ``.qualkit/pseudonyms.json`` in the study folder).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..errors import AnonymityError, InputError, Problem, QualkitError, display_path
from ..outputs import ensure_output_folder, ensure_parent_folder
from .anonymity import (
    ROLE_WORDS,
    AnonymityChecker,
    DenyTerm,
    Finding,
    count_redactions,
    looks_like_personal_name,
    looks_like_pseudonym,
    normalize_term,
)
from .model import SpeakerRole, Transcript

MAPPING_FORMAT = "qualkit-pseudonyms"
MAPPING_VERSION = 1
DEFAULT_MAPPING = Path(".qualkit") / "pseudonyms.json"

PATTERN_MARKERS = {"email": "[EMAIL]", "phone": "[PHONE]", "url": "[URL]", "ip": "[IP]"}
_ROLE_PREFIX = {SpeakerRole.participant: "P", SpeakerRole.interviewer: "Interviewer ", SpeakerRole.other: "Speaker "}
_ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


@dataclass
class PseudonymMap:
    """Real names → pseudonyms, for speakers and for deny-listed terms.

    ``speakers`` and ``terms`` are keyed by the normalized name (case and white space
    ignored); each value keeps the original spelling first seen. ``reserved`` holds
    pseudonymous labels met in transcripts (``P3``), which new pseudonyms never reuse.
    """

    speakers: dict[str, dict[str, str]] = field(default_factory=dict)
    terms: dict[str, dict[str, str]] = field(default_factory=dict)
    reserved: set[str] = field(default_factory=set)

    # -- lookups and assignment

    def speaker_pseudonym(self, label: str, role: SpeakerRole, taken: Iterable[str] = ()) -> str:
        """The pseudonym of speaker ``label``, assigning the next free one for ``role`` if new."""
        key = normalize_term(label)
        entry = self.speakers.get(key)
        if entry is None:
            prefix = _ROLE_PREFIX[role]
            used = {e["pseudonym"] for e in self.speakers.values()} | self.reserved | set(taken)
            used_folded = {normalize_term(name) for name in used}
            number = 1
            while normalize_term(f"{prefix}{number}") in used_folded:
                number += 1
            entry = {"original": " ".join(label.split()), "pseudonym": f"{prefix}{number}", "role": role.value}
            self.speakers[key] = entry
        return entry["pseudonym"]

    def term_pseudonym(self, term: DenyTerm | str) -> str:
        """The pseudonym of a deny-listed term (``[COMPANY-2]``), assigning one if new."""
        if isinstance(term, str):
            term = DenyTerm(term)
        entry = self.terms.get(term.key)
        if entry is None:
            used = {e["pseudonym"] for e in self.terms.values()}
            number = 1
            while f"[{term.category}-{number}]" in used:
                number += 1
            entry = {"original": term.term, "pseudonym": f"[{term.category}-{number}]", "category": term.category}
            self.terms[term.key] = entry
        return entry["pseudonym"]

    def copy(self) -> "PseudonymMap":
        return copy.deepcopy(self)

    def __len__(self) -> int:
        return len(self.speakers) + len(self.terms)

    # -- JSON

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": MAPPING_FORMAT,
            "version": MAPPING_VERSION,
            "note": "PRIVATE: this file maps pseudonyms back to real names. Keep it out of reports and shared folders.",
            "speakers": sorted(self.speakers.values(), key=lambda e: (e["role"], _natural(e["pseudonym"]))),
            "terms": sorted(self.terms.values(), key=lambda e: _natural(e["pseudonym"])),
            "reserved": sorted(self.reserved, key=_natural),
        }

    @classmethod
    def from_dict(cls, data: Any, file: str = "") -> "PseudonymMap":
        """Rebuild a map from :meth:`as_dict` output; every malformed entry is reported."""
        if not isinstance(data, dict) or data.get("format") != MAPPING_FORMAT:
            raise InputError(
                f"{file or 'the mapping'} is not a qualkit pseudonym mapping (no \"format\": \"{MAPPING_FORMAT}\")",
                hint="pass the file written by `qualkit transcripts pseudonymize`, or a new path to start a mapping",
            )
        if data.get("version") != MAPPING_VERSION:
            raise InputError(f"{file}: mapping version {data.get('version')!r} is not supported (expected {MAPPING_VERSION})")
        problems: list[Problem] = []
        mapping = cls(reserved={str(x) for x in data.get("reserved", []) if isinstance(x, str)})
        for section, needed in (("speakers", ("original", "pseudonym", "role")), ("terms", ("original", "pseudonym", "category"))):
            entries = data.get(section, [])
            if not isinstance(entries, list):
                problems.append(Problem(f"'{section}' must be a list", file, section))
                continue
            target = mapping.speakers if section == "speakers" else mapping.terms
            for index, entry in enumerate(entries):
                if not isinstance(entry, dict) or any(not isinstance(entry.get(k), str) or not entry.get(k) for k in needed):
                    problems.append(Problem(f"entry needs the text fields {', '.join(needed)}", file, f"{section} -> {index}"))
                    continue
                if section == "speakers" and entry["role"] not in {r.value for r in SpeakerRole}:
                    problems.append(Problem(f"unknown role {entry['role']!r}", file, f"{section} -> {index} -> role"))
                    continue
                target[normalize_term(entry["original"])] = {k: entry[k] for k in needed}
        if problems:
            raise InputError(f"{file or 'the mapping'} has {len(problems)} malformed entr(ies)", problems=problems)
        return mapping

    @classmethod
    def load(cls, path: str | Path) -> "PseudonymMap":
        """Load a mapping file; a missing file is an empty mapping (the first run)."""
        path = Path(path)
        shown = display_path(path)
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as error:
            raise InputError(f"{shown} is not UTF-8 (byte {error.start})") from error
        except json.JSONDecodeError as error:
            raise InputError(
                f"{shown} is not valid JSON",
                problems=[Problem(error.msg, shown, f"line {error.lineno}, column {error.colno}")],
                hint="restore the mapping from a backup, or pass a new --mapping path",
            ) from error
        except OSError as error:
            raise InputError(f"cannot read {shown}: {error.strerror}") from error
        return cls.from_dict(data, shown)

    def save(self, path: str | Path) -> Path:
        """Write the mapping atomically (readable only by its owner where the OS allows)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".pseudonyms-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(self.as_dict(), stream, indent=2, ensure_ascii=False)
                stream.write("\n")
            os.chmod(temporary, 0o600)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path


def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


@dataclass
class PseudonymizeStats:
    """What one call of :func:`pseudonymize` replaced (counts only, never names)."""

    speakers: int = 0
    replacements: Counter[str] = field(default_factory=Counter)
    new_speakers: list[str] = field(default_factory=list)
    new_terms: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"speaker_labels": self.speakers, "replacements": dict(sorted(self.replacements.items()))}


@functools.cache
def _stop_words() -> frozenset[str]:
    """Common English words that are never replaced alone even when part of a speaker's name
    ("Will Ramey" must not turn every "Will" into a pseudonym). Loaded on first use: importing
    spaCy takes seconds."""
    try:
        from spacy.lang.en.stop_words import STOP_WORDS
    except ImportError:  # pragma: no cover - spaCy is a core dependency
        return frozenset()
    return frozenset(STOP_WORDS)


def pseudonymize(
    transcript: Transcript,
    *,
    deny_terms: Iterable[str | DenyTerm] = (),
    mapping: PseudonymMap | None = None,
    checker: AnonymityChecker | None = None,
    names_in_text: bool = True,
) -> tuple[Transcript, PseudonymMap]:
    """Rewrite speaker labels, deny-listed terms and contact details to stable pseudonyms.

    Returns the rewritten transcript and the extended mapping (a copy: ``mapping`` itself is
    not changed). Pass the returned mapping to the next call to keep pseudonyms stable.
    ``checker`` may be a prebuilt :class:`AnonymityChecker` (its deny-list is used instead of
    ``deny_terms``) to avoid compiling the matcher again for every transcript.
    """
    result, new_mapping, _ = pseudonymize_with_stats(
        transcript, deny_terms=deny_terms, mapping=mapping, checker=checker, names_in_text=names_in_text
    )
    return result, new_mapping


def pseudonymize_with_stats(
    transcript: Transcript,
    *,
    deny_terms: Iterable[str | DenyTerm] = (),
    mapping: PseudonymMap | None = None,
    checker: AnonymityChecker | None = None,
    names_in_text: bool = True,
) -> tuple[Transcript, PseudonymMap, PseudonymizeStats]:
    """:func:`pseudonymize`, also returning what was replaced."""
    mapping = PseudonymMap() if mapping is None else mapping.copy()
    if checker is None:
        checker = AnonymityChecker(list(deny_terms), ner=False)
    stats = PseudonymizeStats()
    known_speakers = set(mapping.speakers)
    known_terms = set(mapping.terms)

    # 1. speaker labels
    labels: dict[str, SpeakerRole] = {}
    for turn in transcript.turns:
        labels.setdefault(turn.speaker, turn.role)
    kept = {label for label in labels if looks_like_pseudonym(label) and normalize_term(label) not in mapping.speakers}
    mapping.reserved.update(" ".join(label.split()) for label in kept)
    renamed: dict[str, str] = {}
    for label, role in labels.items():
        if label in kept:
            continue
        renamed[label] = mapping.speaker_pseudonym(label, role, taken=kept)
    clashes = sorted(label for label, pseudonym in renamed.items() if normalize_term(pseudonym) in {normalize_term(k) for k in kept})
    if clashes:
        raise QualkitError(
            f"transcript {transcript.id}: the mapping gives a speaker a pseudonym that another speaker already uses as a label",
            problems=[Problem(f"speaker label {i + 1} would become {renamed[label]!r}", "", "speaker labels") for i, label in enumerate(clashes)],
            hint="rename the clashing pseudonymous label in the source, or use a separate --mapping file for this transcript",
        )
    stats.speakers = len(renamed)

    # 2. the text
    name_matcher, name_pseudonyms = _speaker_name_matcher(renamed) if names_in_text else (None, {})
    new_turns = []
    for turn in transcript.turns:
        text, counts = _rewrite_text(turn.text, checker, mapping, name_matcher, name_pseudonyms)
        stats.replacements.update(counts)
        new_turns.append(turn.model_copy(update={"speaker": renamed.get(turn.speaker, turn.speaker), "text": text}))

    # 3. metadata and participant
    by_key = {normalize_term(label): pseudonym for label, pseudonym in renamed.items()}
    metadata = transcript.metadata.model_copy(
        update={
            "interviewers": [by_key.get(normalize_term(name), name) for name in transcript.metadata.interviewers],
            "redaction_count": sum(count_redactions(turn.text) for turn in new_turns),
        }
    )
    participant = transcript.participant
    new_id = by_key.get(normalize_term(participant.id))
    if new_id is not None and _ID_PATTERN.match(new_id):
        participant = participant.model_copy(update={"id": new_id})
    result = transcript.model_copy(update={"turns": new_turns, "metadata": metadata, "participant": participant})

    stats.new_speakers = [mapping.speakers[key]["pseudonym"] for key in mapping.speakers if key not in known_speakers]
    stats.new_terms = [mapping.terms[key]["pseudonym"] for key in mapping.terms if key not in known_terms]
    return result, mapping, stats


def _speaker_name_matcher(renamed: dict[str, str]) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    """A regex for the rewritten speakers' names in text, and name → ``[pseudonym]``.

    Only labels that look like personal names count. Whole labels match in any case; a
    label's first or last word alone matches only capitalised, when it is unique among the
    speakers and is not a common English word.
    """
    full: dict[str, str] = {}
    parts: dict[str, list[str]] = {}
    for label, pseudonym in renamed.items():
        name = " ".join(label.split())
        if looks_like_personal_name(name) is None:
            continue  # "Break", "Song of Arrakis": not a name to hunt for in the text
        full[name.casefold()] = f"[{pseudonym}]"
        words = name.split()
        if len(words) > 1:
            for word in {words[0], words[-1]}:
                word = word.strip(".,")
                folded = word.casefold()
                if len(word) >= 3 and folded not in _stop_words() and folded not in ROLE_WORDS and word[0].isupper():
                    parts.setdefault(word, []).append(f"[{pseudonym}]")
    unique_parts = {word: values[0] for word, values in parts.items() if len(set(values)) == 1 and word.casefold() not in full}
    if not full and not unique_parts:
        return None, {}
    alternatives = [r"(?i:" + r"\s+".join(re.escape(w) for w in name.split()) + ")" for name in sorted(full, key=len, reverse=True)]
    alternatives += [re.escape(word) for word in sorted(unique_parts, key=len, reverse=True)]
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")
    lookup = {**full, **{word: value for word, value in unique_parts.items()}}
    return pattern, lookup


def _rewrite_text(
    text: str,
    checker: AnonymityChecker,
    mapping: PseudonymMap,
    name_matcher: re.Pattern[str] | None,
    name_pseudonyms: dict[str, str],
) -> tuple[str, Counter[str]]:
    spans: list[tuple[int, int, str, str]] = []  # start, end, replacement, kind
    for kind, start, end in checker.text_spans(text, overlapping=False):
        if kind == "deny-list":
            term = checker.deny_term_for(text[start:end])
            spans.append((start, end, mapping.term_pseudonym(term), f"deny-list {term.category.lower()}"))
        else:
            spans.append((start, end, PATTERN_MARKERS[kind], kind))
    if name_matcher is not None:
        for match in name_matcher.finditer(text):
            found = match.group()
            replacement = name_pseudonyms.get(" ".join(found.split()).casefold()) or name_pseudonyms.get(found)
            if replacement is not None:
                spans.append((match.start(), match.end(), replacement, "speaker name"))
    if not spans:
        return text, Counter()
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    pieces: list[str] = []
    counts: Counter[str] = Counter()
    position = 0
    for start, end, replacement, kind in spans:
        if start < position:
            continue  # overlaps a longer, earlier replacement
        pieces.append(text[position:start])
        pieces.append(replacement)
        counts[kind] += 1
        position = end
    pieces.append(text[position:])
    return "".join(pieces), counts


# --------------------------------------------------------------------------- many files


@dataclass
class PseudonymizedFile:
    """One source file and what became of it."""

    source: Path
    output: Path
    transcript_id: str
    stats: PseudonymizeStats
    remaining: list[Finding] = field(default_factory=list)  # what the re-check still found

    @property
    def anonymized(self) -> bool:
        return not self.remaining

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "output": str(self.output),
            "transcript_id": self.transcript_id,
            "anonymized": self.anonymized,
            "remaining_findings": len(self.remaining),
            **self.stats.as_dict(),
        }


@dataclass
class PseudonymizeSummary:
    """The result of :func:`pseudonymize_files`."""

    files: list[PseudonymizedFile]
    mapping_path: Path
    mapping: PseudonymMap
    new_entries: list[dict[str, str]]

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for item in self.files:
            total["speaker labels"] += item.stats.speakers
            total.update(item.stats.replacements)
        return total

    def as_dict(self, *, show_mapping: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "files": [item.as_dict() for item in self.files],
            "totals": dict(sorted(self.totals().items())),
            "mapping_path": str(self.mapping_path),
            "new_pseudonyms": len(self.new_entries),
        }
        if show_mapping:
            data["mapping"] = self.mapping.as_dict()
        return data


Reader = Callable[[Path], Transcript]


def pseudonymize_files(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    reader: Reader,
    deny_terms: Iterable[str | DenyTerm] = (),
    mapping_path: str | Path,
    forbidden_dirs: Sequence[str | Path] = (),
    allow_terms: Iterable[str] = (),
) -> PseudonymizeSummary:
    """Pseudonymize source files into qualkit JSON transcripts in ``out_dir``.

    Every file is read (with ``reader``, normally the importers) before anything is written,
    so a bad file leaves ``out_dir`` and the mapping untouched. The mapping at
    ``mapping_path`` is loaded, extended and saved; it must not lie inside ``out_dir`` or any
    of ``forbidden_dirs`` (the study's reports folder), since it re-identifies people.

    Each rewritten transcript is checked again (deny-list, contact details, speaker labels and
    person names in the text, with ``allow_terms`` silencing tools and places; no NER). A
    file with findings left is written with ``anonymized: false`` and, after every file and
    the mapping are written, :class:`~qualkit.errors.AnonymityError` lists each finding with
    its file, turn and fix: the pseudonymizer never marks a file anonymized that is not.
    """
    out_dir = Path(out_dir)
    mapping_path = Path(mapping_path)
    for folder in (out_dir, *map(Path, forbidden_dirs)):
        if _is_inside(mapping_path, folder):
            raise QualkitError(
                f"the mapping file {display_path(mapping_path)} would be inside {display_path(folder)}",
                hint="the mapping re-identifies people: keep it outside the output and reports folders (--mapping FILE)",
            )
    sources = sorted({Path(raw).resolve().parent for raw in paths})
    if out_dir.resolve() in sources:
        raise InputError(
            f"--out {display_path(out_dir)} is the folder the transcripts are read from",
            problems=[Problem("the pseudonymized copies would sit next to the originals (and be imported twice)",
                              display_path(out_dir), "--out", "write them to another folder, e.g. --out pseudonymized/")],
        )
    checker = AnonymityChecker(list(deny_terms), ner=False)
    mapping = PseudonymMap.load(mapping_path)
    before = {("speaker", k) for k in mapping.speakers} | {("term", k) for k in mapping.terms}

    transcripts: list[tuple[Path, Transcript]] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        try:
            transcripts.append((path, reader(path)))
        except QualkitError as error:
            problems.extend(error.problems or [Problem(error.message, display_path(path), "", error.hint)])
    if problems:
        raise InputError(f"{len(problems)} problem(s) reading the transcripts; nothing was written", problems=problems)

    results: list[tuple[Path, Transcript, PseudonymizeStats]] = []
    seen_ids: dict[str, Path] = {}
    for path, transcript in transcripts:
        rewritten, mapping, stats = pseudonymize_with_stats(transcript, mapping=mapping, checker=checker)
        if rewritten.id in seen_ids:
            problems.append(
                Problem(f"transcript id {rewritten.id!r} is also the id of {display_path(seen_ids[rewritten.id])}", display_path(path), "", "give each file a distinct name")
            )
        seen_ids[rewritten.id] = path
        results.append((path, rewritten, stats))
    if problems:
        raise InputError("two files would be written to the same output; nothing was written", problems=problems)

    recheck = AnonymityChecker(list(checker.deny_terms), ner=False, allow_terms=list(allow_terms))
    remaining = [report.findings for report in recheck.check_many([transcript for _, transcript, _ in results])]

    ensure_parent_folder(mapping_path, option="--mapping")  # first: written files need their mapping saved
    ensure_output_folder(out_dir)
    files: list[PseudonymizedFile] = []
    for (path, transcript, stats), findings in zip(results, remaining):
        if findings:
            transcript = transcript.model_copy(update={"metadata": transcript.metadata.model_copy(update={"anonymized": False})})
        output = out_dir / f"{transcript.id}.json"
        output.write_text(json.dumps(transcript.to_json_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        files.append(PseudonymizedFile(path, output, transcript.id, stats, list(findings)))
    mapping.save(mapping_path)
    new_entries = [
        {"kind": "speaker", **entry} for key, entry in mapping.speakers.items() if ("speaker", key) not in before
    ] + [{"kind": "term", **entry} for key, entry in mapping.terms.items() if ("term", key) not in before]
    summary = PseudonymizeSummary(files, mapping_path, mapping, new_entries)
    flagged = [item for item in files if not item.anonymized]
    if flagged:
        raise AnonymityError(
            f"{len(flagged)} of {len(files)} pseudonymized file(s) still identify someone "
            f"({sum(len(item.remaining) for item in flagged)} finding(s)); they were written with \"anonymized\": false",
            problems=[
                Problem(
                    finding.as_problem().message,
                    f"{display_path(item.output)} (from {display_path(item.source)})",
                    finding.as_problem().location,
                    _RECHECK_FIXES.get(finding.kind, finding.as_problem().fix),
                )
                for item in flagged
                for finding in item.remaining
            ],
            hint="add each name to the deny-list (--deny-list FILE, one a line) and run pseudonymize again; "
            "words that name no one (tools, places) go in [anonymity] allow_list",
        )
    return summary


_RECHECK_FIXES = {
    "person-name": "add the name to the deny-list and run pseudonymize again, or to [anonymity] allow_list if it names no one",
    "speaker-name": "map the label to a pseudonym: add it to the deny-list, or rename it in the source",
}


def _is_inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


__all__ = [
    "DEFAULT_MAPPING",
    "PseudonymMap",
    "PseudonymizeStats",
    "PseudonymizeSummary",
    "PseudonymizedFile",
    "pseudonymize",
    "pseudonymize_files",
    "pseudonymize_with_stats",
]
