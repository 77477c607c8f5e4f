"""Human codings: import them from CSV or REFI-QDA projects into ``human_codings``.

One call, :func:`import_codings`, reads a file (``.csv`` or ``.qdpx``), checks every row or
selection against the study, resolves the file's codes to the study codebook's ids, and
stores everything in one transaction; any problem stores nothing. Automatic runs never
write to ``human_codings``; an import replaces the earlier imported codings of the coders it brings
in (their workbench codings and review decisions, ``origin = 'workbench'``, are kept).

Codes the codebook does not know are reported. They can be mapped (``map_file``: CSV with
``old,new`` columns, or YAML ``{old: new}``; ``old`` may be a label, an id, a REFI code
GUID or a ``Parent/Child`` path) or added (``add_unknown``): added codes are written to
``codebook/imported-codes.yaml``, which ``extends`` the study codebook, and the result says so.

CSV columns (header names, case-insensitive)
--------------------------------------------
``transcript`` (or ``transcript_id``), required.
``turn`` (1-based, as users see turns) or ``turn_idx`` (0-based), optional.
``start``/``end`` (or ``start_char``/``end_char``), optional: code-point offsets, end
exclusive, into the turn when a turn is given, else into the transcript's exported text
(the layout of :func:`qualkit.interop.qdpx.render_source`). Neither turn nor span: the
whole transcript's participant turns are not guessed; a turn or a span is required.
``code`` (or ``code_id``, ``label``), required: a code id or label.
``coder``, optional: wins over ``coder=`` (``human:NAME`` is read as NAME); a cell naming an
automatic run (``run:12``, as ``qualkit export`` writes) is no person, so ``coder=`` is used for
that row (and without it the row is refused). ``memo`` optional. ``text`` optional: when given
it must equal the coded text, a check that the offsets mean what the file thinks.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml

from ..errors import AnonymityError, InputError, InteropError, Problem, display_path
from ..store import utcnow
from ..transcripts_schema.decoding import allow_csv_fields, decode_bytes
from ._refi import CODE_ID_RE, slugify, stable_guid, unique_id
from .qdpx import QdpxProject, read_qdpx
from .qdpx_layout import locate_turns, qualkit_layout, render_source, split_span

EXTENSION_FILE = "codebook/imported-codes.yaml"
MAX_CSV_BYTES = 200 * 1024 * 1024


# --------------------------------------------------------------------------- results


@dataclass
class CodingsImportResult:
    """What an import did."""

    file: str
    format: str
    run_id: int
    codings: int
    coders: dict[str, int]
    replaced: dict[str, int]
    codes_used: list[str]
    mapped: dict[str, str] = field(default_factory=dict)
    added_codes: list[str] = field(default_factory=list)
    extension_path: str | None = None
    unknown_unused: list[str] = field(default_factory=list)
    transcripts_created: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)  # e.g. the QDPX project's summary
    memos: int = 0  # QDPX notes written as memos

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ForeignCode:
    """A code as the imported file names it."""

    key: str
    label: str
    aliases: tuple[str, ...] = ()
    explicit_id: str | None = None
    parent_key: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    used: bool = False


@dataclass
class PendingCoding:
    """A coding read from the file, checked, waiting for its code to be resolved."""

    coder: str
    transcript_pk: int
    turn_pk: int | tuple[str, str, int]  # ("new", transcript id, turn index) for transcripts created by the import
    start: int
    end: int
    code_key: str
    text: str
    memo: str
    place: str  # provenance stored in human_codings.source: FILE:line N, or FILE#coding-guid


# --------------------------------------------------------------------------- study helpers


#: A coder cell naming an automatic coder (``run:12``, ``run:3+run:4``), as exported tables do.
_AUTOMATIC_CODER = re.compile(r"^run:\d+(\s*\+\s*run:\d+)*$", re.IGNORECASE)


def coder_name(raw: str) -> str:
    """A coder name usable in ``human:NAME``: trimmed, spaces to '-', no ':' or '+'."""
    name = re.sub(r"\s+", "-", raw.strip())
    name = name.replace(":", "-").replace("+", "-")
    return name


def _codebook_codes(study: Any) -> tuple[dict[str, str], Any]:
    """``id -> label`` of the study codebook plus codes already in the extension file."""
    from .qdpx_export import study_codebook

    codebook = study_codebook(study)
    known = {code_id: code.label for code_id, code in codebook.codes.items()}
    ext = study.root / EXTENSION_FILE
    if ext.is_file() and not _is_configured_extension(study):
        try:
            data = yaml.safe_load(ext.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, OSError) as error:
            raise InteropError(f"cannot read {display_path(ext)}: {error}", hint="fix or delete the file") from error
        for entry in data.get("codes") or []:
            if isinstance(entry, dict) and entry.get("id"):
                known.setdefault(str(entry["id"]), str(entry.get("label") or entry["id"]))
    return known, codebook


def _is_configured_extension(study: Any) -> bool:
    ref = study.config.codebook.path
    if "/" not in ref and "\\" not in ref and not ref.endswith((".yaml", ".yml")):
        return False
    return study.path(ref).resolve() == (study.root / EXTENSION_FILE).resolve()


def _current_transcripts(study: Any) -> dict[str, int]:
    return {row["id"]: row["pk"] for row in study.store.query("SELECT id, pk FROM transcripts WHERE is_current = 1")}


def _turns(study: Any, transcript_pk: int) -> list[Any]:
    return study.store.query("SELECT pk, idx, speaker, role, text FROM turns WHERE transcript_pk = ? ORDER BY idx", (transcript_pk,))


# --------------------------------------------------------------------------- maps and codes


def read_map_file(path: str | Path) -> dict[str, str]:
    """``old -> new`` from a CSV (columns ``old,new``; a header is optional) or YAML mapping file."""
    path = Path(path)
    shown = display_path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise InputError(f"cannot read the map file {shown}: {error.strerror}", hint="check the path") from error
    except UnicodeDecodeError as error:
        raise InputError(f"{shown} is not UTF-8 (byte {error.start})", hint="save it as UTF-8") from error
    mapping: dict[str, str] = {}
    problems: list[Problem] = []
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            reason = " ".join(str(part) for part in (getattr(error, "context", None), getattr(error, "problem", None)) if part)
            raise InputError(
                f"{shown} is not valid YAML",
                problems=[Problem(f"YAML syntax error: {reason or error}", shown, where, "fix the YAML there: one `old code: new-code-id` a line")],
            ) from None
        items: list[tuple[str, Any, Any]] = []
        if isinstance(data, dict):
            items = [(f"key {k}", k, v) for k, v in data.items()]
        elif isinstance(data, list):
            for n, item in enumerate(data):
                if isinstance(item, dict) and "old" in item and "new" in item:
                    items.append((f"item {n}", item["old"], item["new"]))
                else:
                    problems.append(Problem("expected {old: ..., new: ...}", shown, f"item {n}", "write a mapping old: new"))
        else:
            problems.append(Problem("expected a mapping of old code -> new code id", shown, "top level", "write lines `old label: new-id`"))
        for where, old, new in items:
            if not isinstance(new, str) or not str(old).strip() or not new.strip():
                problems.append(Problem(f"{old!r} -> {new!r} is not a text -> code id pair", shown, where))
                continue
            mapping[str(old).strip().lower()] = new.strip()
    else:
        allow_csv_fields(len(raw))
        try:
            rows = list(csv.reader(io.StringIO(raw)))
        except csv.Error as error:
            raise InputError(f"{shown} is not readable as CSV ({error})", hint="save it again as CSV (UTF-8)") from None
        for n, row in enumerate(rows, start=1):
            if not row or all(not cell.strip() for cell in row):
                continue
            if n == 1 and [cell.strip().lower() for cell in row[:2]] == ["old", "new"]:
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                problems.append(Problem("expected two columns: old,new", shown, f"line {n}", "write `old label,new-code-id`"))
                continue
            mapping[row[0].strip().lower()] = row[1].strip()
    if problems:
        raise InputError(f"{shown} has {len(problems)} problem(s)", problems=problems)
    return mapping


@dataclass
class _Resolution:
    ids: dict[str, str]
    added: list[dict[str, Any]]
    mapped: dict[str, str]
    unknown_unused: list[str]


def resolve_codes(
    foreign: Sequence[ForeignCode],
    known: dict[str, str],
    mapping: dict[str, str],
    *,
    add_unknown: bool,
    file: str,
    map_file: str = "",
) -> _Resolution:
    """A study code id for every foreign code; every unresolvable used code is one problem."""
    by_label = {label.strip().lower(): code_id for code_id, label in known.items()}
    taken = set(known)
    taken_labels = {label.strip().lower() for label in known.values()}
    ids: dict[str, str] = {}
    mapped: dict[str, str] = {}
    added: list[dict[str, Any]] = []
    unknown_unused: list[str] = []
    problems: list[Problem] = []
    used_map_keys: set[str] = set()
    for code in foreign:
        keys = [code.key, code.label, *code.aliases] + ([code.explicit_id] if code.explicit_id else [])
        target = next((mapping[k.strip().lower()] for k in keys if k and k.strip().lower() in mapping), None)
        if target is not None:
            used_map_keys.update(k.strip().lower() for k in keys if k)
            resolved = target if target in known else by_label.get(target.strip().lower())
            if resolved is None:
                problems.append(
                    Problem(
                        f"maps {code.label!r} to {target!r}, which is not a code of the study codebook",
                        map_file or file,
                        f"entry {code.label!r}",
                        "map to an existing code id (`qualkit codebook show` lists them)",
                    )
                )
                continue
            ids[code.key] = resolved
            mapped[code.label] = resolved
            continue
        if code.explicit_id and code.explicit_id in known:
            ids[code.key] = code.explicit_id
            continue
        if code.label.strip().lower() in by_label:
            ids[code.key] = by_label[code.label.strip().lower()]
            continue
        if code.key in known:
            ids[code.key] = code.key
            continue
        if add_unknown:
            base = code.explicit_id if code.explicit_id and CODE_ID_RE.match(code.explicit_id) else slugify(code.label)
            new_id = unique_id(base, taken)
            label, n = code.label.strip() or new_id, 2
            while label.lower() in taken_labels:
                label = f"{code.label.strip()} ({n})"
                n += 1
            taken_labels.add(label.lower())
            entry: dict[str, Any] = {"id": new_id, "label": label}
            if code.parent_key and code.parent_key in ids:
                entry["parent"] = ids[code.parent_key]
            for key in ("definition", "inclusion", "exclusion", "examples"):
                if code.fields.get(key):
                    entry[key] = code.fields[key]
            added.append(entry)
            ids[code.key] = new_id
            known = {**known, new_id: label}
            continue
        if code.used:
            problems.append(
                Problem(
                    f"code {code.label!r} is not in the study codebook",
                    file,
                    f"code {code.key!r}" if code.key != code.label else "",
                    "map it with --map FILE (old,new) or add it with --add-unknown",
                )
            )
        else:
            unknown_unused.append(code.label)
    if problems:
        raise InteropError(
            f"{len(problems)} code(s) used in {file} cannot be resolved to the study codebook; nothing was stored",
            problems=problems,
            hint="map them with --map FILE (CSV old,new or YAML old: new), or add them as new codes with --add-unknown",
        )
    return _Resolution(ids, added, mapped, unknown_unused)


def _write_extension(study: Any, entries: list[dict[str, Any]]) -> tuple[Path, str | None]:
    """Add ``entries`` to ``codebook/imported-codes.yaml``; returns the path and its previous text."""
    path = study.root / EXTENSION_FILE
    previous = path.read_text(encoding="utf-8") if path.is_file() else None
    if previous is not None:
        data = yaml.safe_load(previous) or {}
        data.setdefault("codes", [])
    else:
        ref = study.config.codebook.path
        if "/" in ref or "\\" in ref or ref.endswith((".yaml", ".yml")):
            extends = os.path.relpath(study.path(ref), path.parent).replace(os.sep, "/")
        else:
            extends = ref
        data = {
            "name": "imported-codes",
            "version": "1.0",
            "description": "Codes added by `qualkit codings import --add-unknown`; extends the study codebook.",
            "extends": extends,
            "codes": [],
        }
    have = {entry.get("id") for entry in data["codes"] if isinstance(entry, dict)}
    data["codes"].extend(entry for entry in entries if entry["id"] not in have)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by `qualkit codings import --add-unknown`. Edit freely: add definitions and rules.\n"
        + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100),
        encoding="utf-8",
    )
    return path, previous


# --------------------------------------------------------------------------- reading CSV


_CSV_ALIASES = {
    "transcript": ("transcript", "transcript_id"),
    "turn": ("turn",),
    "turn_idx": ("turn_idx", "turn_index"),
    "start": ("start", "start_char"),
    "end": ("end", "end_char"),
    "code": ("code", "code_id", "label", "code_label"),
    "coder": ("coder",),
    "memo": ("memo", "note", "comment"),
    "text": ("text",),
}


def _read_csv(study: Any, path: Path, coder: str | None) -> tuple[list[PendingCoding], list[ForeignCode], list[str]]:
    shown = display_path(path)
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise InputError(f"{shown} is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB", hint="split the file")
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {shown}: {error.strerror}", hint="check the path") from error
    # UTF-8 or UTF-16/32 with a BOM (Excel's "Unicode text"); bad bytes, BOM-less UTF-16 and NULs located
    raw = decode_bytes(data, shown)
    try:
        dialect = csv.Sniffer().sniff(raw[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    allow_csv_fields(len(raw))
    try:
        reader = iter(list(csv.reader(io.StringIO(raw), dialect)))
    except csv.Error as error:
        raise InputError(
            f"{shown} is not readable as CSV ({error})",
            problems=[Problem(f"not readable as CSV: {error}", shown, "whole file", "save it again as CSV (UTF-8) from a spreadsheet")],
        ) from None
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{shown} is empty", hint="write a header row: transcript,turn,code,coder") from None
    lowered = [cell.strip().lower() for cell in header]
    columns: dict[str, int] = {}
    for key, names in _CSV_ALIASES.items():
        for name in names:
            if name in lowered:
                columns[key] = lowered.index(name)
                break
    missing = [name for name in ("transcript", "code") if name not in columns]
    if missing:
        raise InputError(
            f"{shown} lacks the column(s) {', '.join(missing)}",
            problems=[Problem(f"header is {header!r}", shown, "line 1", "columns: transcript, turn (or start,end), code, coder, memo")],
        )
    transcripts = _current_transcripts(study)
    turn_cache: dict[int, list[Any]] = {}
    layout_cache: dict[int, tuple[str, list[tuple[int, int]]]] = {}
    known_codes, _ = _codebook_codes(study)
    foreign: dict[str, ForeignCode] = {}
    pending: list[PendingCoding] = []
    problems: list[Problem] = []

    def cell(row: list[str], key: str) -> str:
        index = columns.get(key)
        return row[index].strip() if index is not None and index < len(row) else ""

    def number(row: list[str], key: str, where: str) -> int | None:
        value = cell(row, key)
        if not value:
            return None
        try:
            return int(value)
        except ValueError:
            problems.append(Problem(f"{key} {value!r} is not a whole number", shown, where, f"write {key} as a whole number, e.g. 3"))
            raise

    for line, row in enumerate(reader, start=2):
        if not row or all(not value.strip() for value in row):
            continue
        where = f"line {line}"
        transcript_id = cell(row, "transcript")
        code = cell(row, "code")
        raw_coder = cell(row, "coder").strip()
        automatic = bool(_AUTOMATIC_CODER.match(raw_coder))  # run:N from `qualkit export`: not a human's name
        row_coder = ("" if automatic else coder_name(raw_coder.removeprefix("human:"))) or (coder_name(coder) if coder else "")
        if not row_coder:
            problems.append(
                Problem(f"no coder: the row's coder {raw_coder!r} is an automatic run, not a person, and --coder was not given", shown, where, "pass --coder NAME")
                if automatic else Problem("no coder: the row has no coder and --coder was not given", shown, where, "pass --coder NAME")
            )
        if not code:
            problems.append(Problem("empty code", shown, where, "name a code id or label"))
        if transcript_id not in transcripts:
            known = ", ".join(sorted(transcripts)[:10]) or "none yet"
            problems.append(Problem(f"no transcript {transcript_id!r} in this study", shown, where, f"known transcripts: {known}"))
            continue
        try:
            turn1, turn0 = number(row, "turn", where), number(row, "turn_idx", where)
            start, end = number(row, "start", where), number(row, "end", where)
        except ValueError:
            continue
        pk = transcripts[transcript_id]
        turns = turn_cache.setdefault(pk, _turns(study, pk))
        pieces: list[tuple[Any, int, int]] = []
        if turn1 is not None or turn0 is not None:
            idx = turn0 if turn0 is not None else turn1 - 1  # type: ignore[operator]
            if not 0 <= idx < len(turns):
                label = f"turn_idx {turn0}" if turn0 is not None else f"turn {turn1}"
                problems.append(Problem(f"{label} is not in transcript {transcript_id!r} ({len(turns)} turns)", shown, where,
                                        "turn counts from 1 (turn_idx from 0)"))
                continue
            text = turns[idx]["text"]
            s = 0 if start is None else start
            e = len(text) if end is None else end
            if not 0 <= s < e <= len(text):
                problems.append(Problem(f"span [{s}, {e}) is not inside the turn's {len(text)} characters", shown, where,
                                        "offsets are code points into the turn, end exclusive"))
                continue
            pieces.append((turns[idx], s, e))
        elif start is not None and end is not None:
            text, spans = layout_cache.setdefault(pk, render_source([(t["speaker"], t["text"]) for t in turns]))
            if not 0 <= start < end <= len(text):
                problems.append(Problem(f"span [{start}, {end}) is outside the transcript's {len(text)} characters", shown, where,
                                        f"start and end are code points into the whole transcript, 0 <= start < end <= {len(text)}; "
                                        "or give the turn (1-based) instead"))
                continue
            parts = split_span(start, end, spans)
            if not parts:
                problems.append(Problem(f"span [{start}, {end}) covers only speaker labels", shown, where,
                                        "move the span onto the spoken text, or give the turn (1-based) instead"))
                continue
            pieces.extend((turns[i], a, b) for i, a, b in parts)
        else:
            problems.append(Problem("neither a turn nor a start/end span", shown, where, "give turn (1-based) or start and end"))
            continue
        expected = cell(row, "text")
        if expected:
            got = "\n\n".join(turn["text"][a:b] for turn, a, b in pieces)
            if " ".join(got.split()) != " ".join(expected.split()):
                problems.append(Problem(f"text {expected[:40]!r} does not match the coded span {got[:40]!r}", shown, where,
                                        "check the offsets (code points, end exclusive) and the turn number"))
                continue
        if code and row_coder:
            if code not in foreign:
                is_id = code in known_codes
                foreign[code] = ForeignCode(key=code, label=known_codes.get(code, code) if is_id else code)
            foreign[code].used = True
            for turn, a, b in pieces:
                pending.append(PendingCoding(row_coder, pk, turn["pk"], a, b, code, turn["text"][a:b], cell(row, "memo"),
                                             f"{path.name}:{where}"))
    if problems:
        raise InputError(f"{shown} has {len(problems)} problem(s); nothing was stored", problems=problems)
    if not pending:
        raise InputError(f"{shown} has no codings", hint="add rows: transcript,turn,code")
    return pending, list(foreign.values()), []


# --------------------------------------------------------------------------- reading QDPX


def _anonymity_checker(study: Any) -> Any:
    from ..transcripts_schema.anonymity import AnonymityChecker, load_deny_list

    section = study.config.anonymity
    terms = list(load_deny_list(study.path(section.deny_list))) if section.deny_list else []
    allowed = list(load_deny_list(study.path(section.allow_list))) if section.allow_list else []
    return AnonymityChecker(terms, ner=section.ner, ner_model=section.ner_model, allow_terms=allowed)


def _source_transcript(project: QdpxProject, source: Any, transcripts: dict[str, int]) -> str | None:
    """The study transcript a source stands for: by qualkit's source GUID, then by name."""
    for transcript_id in transcripts:
        if stable_guid("source", transcript_id) == source.guid:
            return transcript_id
    names = [source.name, re.sub(r"\.(txt|docx?|rtf|pdf)$", "", source.name, flags=re.I)]
    lowered = {tid.lower(): tid for tid in transcripts}
    for name in names:
        if name in transcripts:
            return name
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


_PERSON_FIELDS = ("role", "company_size", "sector", "years_experience")


def _transcript_from_layout(project: QdpxProject, source: Any, layout: dict[str, Any]) -> tuple[Any, list[tuple[int, int]]] | None:
    """Rebuild a transcript qualkit exported, from the turn layout in the source's Description."""
    from pydantic import ValidationError

    from ..transcripts_schema.model import InterviewMetadata, Participant, Transcript, Turn

    text = source.text or ""
    try:
        spans = [(int(item[2]), int(item[3])) for item in layout["turns"]]
        turns = [
            Turn(speaker=item[0], role=item[1], text=text[a:b], start=item[4], end=item[5])
            for item, (a, b) in zip(layout["turns"], spans)
        ]
        participant_id = str(layout.get("participant") or layout["transcript"])
        fields: dict[str, Any] = {}
        attributes: dict[str, str] = {}
        for case in project.cases:
            if source.guid in case.source_guids or case.name == participant_id:
                for key, value in case.variables.items():
                    if key in _PERSON_FIELDS:
                        fields[key] = float(value) if key == "years_experience" else value
                    else:
                        attributes[key] = value
                break
        transcript = Transcript(
            id=str(layout["transcript"]),
            participant=Participant(id=participant_id, attributes=attributes, **fields),
            metadata=InterviewMetadata.model_validate(layout.get("metadata") or {}),
            turns=turns,
        )
    except (KeyError, IndexError, TypeError, ValueError, ValidationError):
        return None
    return transcript, spans


def _transcript_from_source(project: QdpxProject, source: Any, taken: set[str]) -> Any:
    """A Transcript from a text source: one participant turn per non-blank paragraph (line)."""
    from ..transcripts_schema.model import InterviewMetadata, Participant, Transcript, Turn

    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", source.name).strip("-.") or "source"
    if not base[0].isalpha():
        base = f"S{base}"
    transcript_id, n = base, 2
    while transcript_id in taken:
        transcript_id = f"{base}-{n}"
        n += 1
    taken.add(transcript_id)
    participant_id = transcript_id
    attributes: dict[str, str] = {}
    for case in project.cases:
        if source.guid in case.source_guids:
            candidate = re.sub(r"[^A-Za-z0-9_.-]+", "-", case.name).strip("-.")
            if candidate and candidate[0].isalpha():
                participant_id = candidate
            attributes = {key: value for key, value in case.variables.items() if value}
            break
    paragraphs = [line for line in re.split(r"\r\n|\r|\n|\u2029", source.text or "") if line.strip()]
    if not paragraphs:
        return None
    return Transcript(
        id=transcript_id,
        participant=Participant(id=participant_id, attributes=attributes),
        metadata=InterviewMetadata(source_format="qdpx", source_file=project.path.name),
        turns=[Turn(speaker=participant_id, role="participant", text=text) for text in paragraphs],
    )


def _read_qdpx_codings(
    study: Any,
    path: Path,
    coder: str | None,
    *,
    import_sources: bool,
    allow_findings: bool,
    reason: str | None,
    units: str,
    ends: str,
) -> tuple[list[PendingCoding], list[ForeignCode], list[str], list[tuple[Any, dict[str, Any] | None]], QdpxProject]:
    shown = display_path(path)
    project = read_qdpx(path, units=units, ends=ends)  # type: ignore[arg-type]
    warnings = list(project.warnings)
    transcripts = _current_transcripts(study)
    taken = set(transcripts)
    problems: list[Problem] = []
    findings: list[Problem] = []
    to_create: list[tuple[Any, dict[str, Any] | None]] = []
    # source guid -> (turn references, turn texts, spans of the turn texts in the source text)
    layouts: dict[str, tuple[list[int | tuple[str, str, int]], list[str], list[tuple[int, int]]]] = {}
    checker = None
    for source in project.text_sources:
        transcript_id = _source_transcript(project, source, transcripts)
        if transcript_id is not None:
            pk = transcripts[transcript_id]
            turns = _turns(study, pk)
            text, spans = render_source([(t["speaker"], t["text"]) for t in turns])
            if text != source.text:
                located = locate_turns(source.text or "", [t["text"] for t in turns])
                if located is None:
                    if source.selections:
                        problems.append(
                            Problem(
                                f"source {source.name!r} matches transcript {transcript_id!r} by name, but the transcript's turns are not in its text",
                                shown,
                                f"source {source.guid}",
                                "the texts differ: import the codings into a study holding the same text, or rename the transcript",
                            )
                        )
                    continue
                spans = located
            layouts[source.guid] = ([t["pk"] for t in turns], [t["text"] for t in turns], spans)
        elif import_sources:
            layout = qualkit_layout(source.description)
            rebuilt = _transcript_from_layout(project, source, layout) if layout is not None else None
            if layout is not None and rebuilt is None:
                warnings.append(f"source {source.name!r}: its qualkit turn layout is damaged; read it as one turn per paragraph")
            if rebuilt is not None and rebuilt[0].id not in taken:
                transcript, qualkit_spans = rebuilt
                taken.add(transcript.id)
            else:
                transcript, qualkit_spans = _transcript_from_source(project, source, taken), None
            if transcript is None:
                warnings.append(f"source {source.name!r} has no text; not imported")
                continue
            if checker is None:
                checker = _anonymity_checker(study)
            report = checker.check(transcript)
            override = None
            if report.findings:
                if not allow_findings:
                    for finding in report.findings[:20]:
                        findings.append(finding.as_problem(f"{shown}:{source.name}"))
                    if len(report.findings) > 20:
                        findings.append(Problem(f"... and {len(report.findings) - 20} more finding(s)", f"{shown}:{source.name}"))
                    continue
                override = {
                    "reason": (reason or "").strip(),
                    "at": utcnow(),
                    "findings": report.counts_by_kind(),
                    "total": len(report.findings),
                    "ner_model": report.ner_model,
                }
            to_create.append((transcript, override))
            spans = qualkit_spans or locate_turns(source.text or "", [turn.text for turn in transcript.turns])
            assert spans is not None  # the turns were cut from this text
            layouts[source.guid] = (
                [("new", transcript.id, i) for i in range(len(transcript.turns))],
                [turn.text for turn in transcript.turns],
                spans,
            )
        elif source.selections:
            problems.append(
                Problem(
                    f"source {source.name!r} has {source.coding_count} coding(s) but the study has no transcript {source.name!r}",
                    shown,
                    f"source {source.guid}",
                    "import the transcript under that id first, or pass --import-sources to create it from the project's text",
                )
            )
    if problems:
        raise InteropError(f"{shown}: {len(problems)} problem(s); nothing was stored", problems=problems + findings)
    if findings:
        raise AnonymityError(
            f"{shown}: the project's sources are not anonymized; nothing was stored",
            problems=findings,
            hint="pseudonymize the sources in their tool, or override explicitly with --allow-findings --reason TEXT",
        )
    # codes
    used = {coding.code_guid for source in project.text_sources for sel in source.selections for coding in sel.codings}
    foreign = [
        ForeignCode(
            key=code.guid,
            label=code.name,
            aliases=(code.guid, code.path),
            explicit_id=code.fields.get("id"),
            parent_key=code.parent_guid,
            fields=code.fields,
            used=code.guid in used,
        )
        for code in project.codes
    ]
    # codings
    pending: list[PendingCoding] = []
    dropped = 0
    missing_user: list[str] = []
    for source in project.text_sources:
        if source.guid not in layouts:
            continue
        refs, texts, spans = layouts[source.guid]
        for selection in source.selections:
            pieces = split_span(selection.start, selection.end, spans)
            if not pieces:
                dropped += len(selection.codings)
                continue
            for coding in selection.codings:
                user = coding.user_guid or selection.user_guid
                if coder:
                    name = coder_name(coder)
                elif user and user in project.users:
                    name = coder_name(project.users[user])
                else:
                    missing_user.append(coding.guid)
                    continue
                for index, a, b in pieces:
                    pending.append(
                        PendingCoding(
                            name, -1, refs[index], a, b, coding.code_guid, texts[index][a:b],
                            selection.memo, f"{path.name}#{coding.guid}",
                        )
                    )
    if missing_user:
        raise InteropError(
            f"{shown}: {len(missing_user)} coding(s) name no known user, so their coder is unknown; nothing was stored",
            hint="pass --coder NAME to store every coding of the project under one coder",
        )
    if dropped:
        warnings.append(f"{dropped} coding(s) cover only speaker labels or blank lines (no turn text) and were not stored")
    return pending, foreign, warnings, to_create, project


# --------------------------------------------------------------------------- the import


def import_codings(
    study: Any,
    path: str | Path,
    *,
    coder: str | None = None,
    map_file: str | Path | None = None,
    add_unknown: bool = False,
    import_sources: bool = False,
    allow_findings: bool = False,
    reason: str | None = None,
    units: str = "auto",
    ends: str = "exclusive",
) -> CodingsImportResult:
    """Import human codings from a CSV or QDPX file in one transaction (see the module docs)."""
    path = Path(path)
    shown = display_path(path)
    if not path.is_file():
        raise InputError(f"{shown} does not exist", hint="check the path")
    if allow_findings and not (reason and reason.strip()):
        raise InputError("an anonymity override needs a reason", hint="add --reason TEXT, e.g. --reason 'public comments, consent given'")
    suffix = path.suffix.lower()
    mapping = read_map_file(map_file) if map_file else {}
    project: QdpxProject | None = None
    to_create: list[tuple[Any, dict[str, Any] | None]] = []
    if suffix == ".qdpx":
        pending, foreign, warnings, to_create, project = _read_qdpx_codings(
            study, path, coder, import_sources=import_sources, allow_findings=allow_findings, reason=reason, units=units, ends=ends
        )
        fmt = "qdpx"
    elif suffix in (".csv", ".tsv"):
        if import_sources:
            raise InputError("--import-sources applies to QDPX projects only", hint="import transcripts with `qualkit transcripts import`")
        pending, foreign, warnings = _read_csv(study, path, coder)
        fmt = "csv"
    else:
        raise InputError(f"{shown}: cannot import codings from {suffix or 'a file without extension'!r}", hint="give a .csv or .qdpx file")
    known, _ = _codebook_codes(study)
    resolution = resolve_codes(foreign, known, mapping, add_unknown=add_unknown, file=shown,
                               map_file=display_path(map_file) if map_file else "")
    store = study.store
    coders_count: dict[str, int] = {}
    replaced: dict[str, int] = {}
    created: list[str] = []
    ext_path: Path | None = None
    previous_ext: str | None = None
    try:
        with store.transaction() as conn:
            new_turns: dict[tuple[str, int], tuple[int, int]] = {}
            for transcript, override in to_create:
                outcome = store.store_transcript(transcript, source_path=f"{path.name}#{transcript.id}", anonymity_override=override)
                created.append(transcript.id)
                for row in conn.execute("SELECT pk, idx FROM turns WHERE transcript_pk = ?", (outcome.pk,)):
                    new_turns[(transcript.id, row["idx"])] = (outcome.pk, row["pk"])
            parameters = {
                "file": shown,
                "format": fmt,
                "coder": coder,
                "map": display_path(map_file) if map_file else None,
                "add_unknown": add_unknown,
                "import_sources": import_sources,
            }
            run_id = store.start_run("codings-import", parameters)
            for name in sorted({p.coder for p in pending}):
                # workbench codings and review decisions are the coder's own work here: an import keeps them
                cursor = conn.execute("DELETE FROM human_codings WHERE coder = ? AND origin != 'workbench'", (name,))
                if cursor.rowcount:
                    replaced[name] = cursor.rowcount
            now = utcnow()
            rows = []
            turn_owner: dict[int, int] = {}
            for p in pending:
                transcript_pk, turn_pk = p.transcript_pk, p.turn_pk
                if isinstance(turn_pk, tuple):
                    transcript_pk, turn_pk = new_turns[(turn_pk[1], turn_pk[2])]
                elif transcript_pk < 0:
                    if turn_pk not in turn_owner:
                        turn_owner[turn_pk] = conn.execute("SELECT transcript_pk FROM turns WHERE pk = ?", (turn_pk,)).fetchone()[0]
                    transcript_pk = turn_owner[turn_pk]
                rows.append((p.coder, run_id, transcript_pk, turn_pk, p.start, p.end, resolution.ids[p.code_key], p.text,
                             p.memo or None, p.place, now))
                coders_count[p.coder] = coders_count.get(p.coder, 0) + 1
            conn.executemany(
                """INSERT INTO human_codings (coder, run_id, transcript_pk, turn_pk, start_char, end_char, code_id, text,
                       memo, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                rows,
            )
            codes_used = sorted({resolution.ids[p.code_key] for p in pending})
            memos_added = 0
            if project is not None and project.notes:  # REFI-QDA notes become memos
                from .notes import import_notes

                current = {row[0]: row[1] for row in conn.execute("SELECT id, pk FROM transcripts WHERE is_current = 1")}
                by_source = {s.guid: tid for s in project.text_sources if (tid := _source_transcript(project, s, current))}
                memos_added, note_warnings = import_notes(conn, project, file_name=path.name, run_id=run_id, coder=coder,
                                                          code_ids=resolution.ids, source_transcripts=by_source)
                warnings.extend(note_warnings)
            if resolution.added:
                ext_path, previous_ext = _write_extension(study, resolution.added)
                if not _is_configured_extension(study):
                    warnings.append(
                        f"{len(resolution.added)} new code(s) were written to {display_path(ext_path)}, which extends the study codebook; "
                        f"set [codebook] path = \"{EXTENSION_FILE}\" in qualkit.toml to use them"
                    )
            manifest = {
                "codings": len(rows),
                "coders": coders_count,
                "replaced": replaced,
                "added_codes": [entry["id"] for entry in resolution.added],
                "transcripts_created": created,
                "memos": memos_added,
                "warnings": warnings,
            }
            store.finish_run(run_id, manifest=manifest)
    except BaseException:
        if ext_path is not None:  # undo the codebook file too: the import is all or nothing
            if previous_ext is None:
                ext_path.unlink(missing_ok=True)
            else:
                ext_path.write_text(previous_ext, encoding="utf-8")
        raise
    return CodingsImportResult(
        file=shown,
        format=fmt,
        run_id=run_id,
        codings=len(rows),
        coders=coders_count,
        replaced=replaced,
        codes_used=codes_used,
        mapped=resolution.mapped,
        added_codes=[entry["id"] for entry in resolution.added],
        extension_path=display_path(ext_path) if ext_path else None,
        unknown_unused=resolution.unknown_unused,
        transcripts_created=created,
        warnings=warnings,
        source=project.summary() if project is not None else {},
        memos=memos_added,
    )


def import_qdpx_codings(
    study: Any,
    path: str | Path,
    *,
    coder: str | None = None,
    map_file: str | Path | None = None,
    add_unknown: bool = False,
    import_sources: bool = False,
    allow_findings: bool = False,
    reason: str | None = None,
    units: str = "auto",
    ends: str = "exclusive",
) -> CodingsImportResult:
    """Import the codings of a REFI-QDA project (NVivo, ATLAS.ti, MAXQDA, QualCoder, qualkit)."""
    if Path(path).suffix.lower() != ".qdpx":
        raise InputError(f"{display_path(path)} is not a .qdpx file", hint="export the project as REFI-QDA (.qdpx)")
    return import_codings(study, path, coder=coder, map_file=map_file, add_unknown=add_unknown, import_sources=import_sources,
                          allow_findings=allow_findings, reason=reason, units=units, ends=ends)


def list_codings(study: Any) -> list[dict[str, Any]]:
    """One row per human coder: codings (review rejections are not codings), codes, transcripts, the last
    import's run and file, codings made in the workbench, and review rejections."""
    rows = study.store.query(
        """SELECT g.*, json_extract(r.parameters, '$.file') AS source
           FROM (SELECT coder, SUM(decision != 'rejected') AS codings,
                        COUNT(DISTINCT CASE WHEN decision != 'rejected' THEN code_id END) AS codes,
                        COUNT(DISTINCT CASE WHEN decision != 'rejected' THEN transcript_pk END) AS transcripts,
                        MAX(run_id) AS run_id, SUM(origin = 'workbench' AND decision != 'rejected') AS workbench,
                        SUM(decision = 'rejected') AS rejected
                 FROM human_codings GROUP BY coder) g
           LEFT JOIN runs r ON r.id = g.run_id ORDER BY g.coder"""
    )
    keys = ("codings", "codes", "transcripts", "run_id", "source", "workbench", "rejected")
    return [{"coder": f"human:{row['coder']}", **{k: row[k] for k in keys}} for row in rows]


__all__ = [
    "CodingsImportResult",
    "EXTENSION_FILE",
    "ForeignCode",
    "coder_name",
    "import_codings",
    "import_qdpx_codings",
    "list_codings",
    "read_map_file",
    "resolve_codes",
]
