"""``qualkit.toml``: the declaration of a study, read with the standard library's ``tomllib``.

Every key is documented in the README and in the template that ``qualkit init`` writes.
Unknown keys are errors with a "did you mean" suggestion; TOML syntax errors name the
line and column.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError, Problem, display_path

CONFIG_NAME = "qualkit.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_unit(value: str) -> str:
    """A unit of analysis the segmenter registry knows (``turn``, ``sentence``, ``window:N`` or a registered one)."""
    from .coding.segment import normalize_unit  # lazy: the registry may gain segmenters at import time
    from .errors import QualkitError

    try:
        normalize_unit(value)
    except QualkitError as error:
        raise ValueError(f"{error.message} ({error.hint})" if error.hint else error.message) from None
    return value


def _check_format(value: str) -> str:
    """``auto`` or the name of a registered transcript importer."""
    if value == "auto":
        return value
    from .transcripts_schema.importers import importer_names  # lazy: plugins may register importers

    names = importer_names()
    if value not in names:
        raise ValueError(f"unknown transcript format {value!r} (choose auto or one of: {', '.join(names)})")
    return value


class StudySection(_Section):
    name: str = Field("Untitled study", description="Name of the study, shown in reports.")
    description: str = Field("", description="One paragraph on the study, shown in reports.")


CsvColumn = Literal["speaker", "text", "start", "end", "role"]
Role = Literal["interviewer", "participant", "other"]


def _check_reason(allow: bool | None, reason: str | None, where: str) -> None:
    if allow and not (reason or "").strip():
        raise ValueError(f"{where}allow_findings = true needs reason = \"...\": why the anonymity findings are acceptable (it is recorded)")
    if reason and (reason or "").strip() and allow is False:
        raise ValueError(f"{where}reason goes with allow_findings = true")


class FileRule(_Section):
    """Import options for the source files a glob matches: one ``[[transcripts.files]]`` entry.

    Unset keys keep the ``[transcripts]`` (or ``[anonymity]``) value; ``interviewers``,
    ``speaker_roles`` and ``csv_columns`` are added to the study's. When several entries match a
    file they apply in order, the later winning.
    """

    glob: str = Field(description="Glob relative to the study folder; the files it matches among [transcripts] sources.")
    format: str | None = Field(None, description="Importer for these files (as [transcripts] format).")
    interviewers: list[str] = Field(default_factory=list, description="More speaker labels that are interviewers in these files.")
    speaker_roles: dict[str, Role] = Field(default_factory=dict, description="More speaker label -> role mappings for these files.")
    multi_party: bool | None = Field(None, description="Accept several unmapped speakers as participants (group interviews, podcasts).")
    max_file_mb: float | None = Field(None, gt=0, description="Refuse these files above this size.")
    csv_columns: dict[CsvColumn, str] = Field(default_factory=dict, description="CSV column names for these files.")
    allow_findings: bool | None = Field(None, description="Import these files despite anonymity findings (needs reason; recorded).")
    reason: str | None = Field(None, description="Why the anonymity findings of these files are acceptable.")
    id: str | None = Field(None, description="Transcript id (the glob must match exactly one file).")
    participant: str | None = Field(None, description="Participant id (the glob must match exactly one file).")
    participants: str | None = Field(None, description="participants.csv for these files.")
    deny_list: str | None = Field(None, description="Deny-list file for these files.")
    ner: bool | None = Field(None, description="Use a spaCy NER model on these files.")

    @field_validator("glob")
    @classmethod
    def _glob_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("glob is empty: write a glob relative to the study folder, e.g. \"podcast/*.md\"")
        return value

    @field_validator("format")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        return None if value is None else _check_format(value)


class TranscriptsSection(_Section):
    sources: list[str] = Field(default_factory=lambda: ["transcripts/*"], description="Globs, relative to the study folder.")
    format: str = Field("auto", description="Importer name, or 'auto' to detect by extension and content.")
    participants: str | None = Field("participants.csv", description="CSV of participant attributes (optional).")
    interviewers: list[str] = Field(default_factory=list, description="Speaker labels that are interviewers (glob patterns such as 'A*' allowed).")
    speaker_roles: dict[str, Role] = Field(default_factory=dict, description="Speaker label (or glob pattern) -> interviewer|participant|other.")
    max_file_mb: float = Field(20.0, gt=0, description="Files larger than this are refused.")
    multi_party: bool = Field(False, description="Accept several unmapped speakers as participants (group interviews, podcasts).")
    csv_columns: dict[CsvColumn, str] = Field(default_factory=dict, description="CSV column names: speaker, text, start, end, role.")
    allow_findings: bool = Field(False, description="Import despite anonymity findings (needs reason; recorded with each transcript).")
    reason: str = Field("", description="Why the anonymity findings are acceptable (with allow_findings).")
    files: list[FileRule] = Field(default_factory=list, description="Import options per file glob: one [[transcripts.files]] table (double brackets) per glob.")

    _format = field_validator("format")(_check_format)

    @model_validator(mode="after")
    def _reasons(self) -> "TranscriptsSection":
        _check_reason(self.allow_findings, self.reason, "")
        for number, rule in enumerate(self.files, start=1):
            allow = rule.allow_findings if rule.allow_findings is not None else self.allow_findings
            reason = rule.reason if rule.reason is not None else self.reason
            _check_reason(allow, reason, f"[[transcripts.files]] entry {number} (glob {rule.glob!r}): ")
        return self


class AnonymitySection(_Section):
    deny_list: str | None = Field(None, description="File of names and terms that must not appear (one a line).")
    allow_list: str | None = Field(None, description="File of names NER may flag that are not identifying here (tools, products), one a line.")
    ner: bool = Field(True, description="Use a spaCy NER model for person and organisation names when one is installed.")
    ner_model: str = Field("en_core_web_sm", description="Name of the installed spaCy model for NER.")


class CodebookSection(_Section):
    path: str = Field("default", description="Codebook YAML file, or the name of a bundled codebook ('default').")


class CodingSection(_Section):
    unit: str = Field("turn", description="Unit of analysis: turn, sentence, or window:N (N sentences).")
    include_interviewer: bool = Field(False, description="Also code interviewer speech.")

    _unit = field_validator("unit")(_check_unit)


class TopicsSection(_Section):
    enabled: bool = Field(True, description="Run the topic-model pass.")
    embedding: str = Field("tfidf", description="Embedding backend: tfidf, minilm, or an installed model name.")
    min_topic_size: int = Field(5, ge=2, description="Smallest topic BERTopic may form.")
    seed: int = Field(42, description="Random seed for every stochastic step.")
    unit: str = Field("window:3", description="Unit of analysis for topics: turn, sentence, window:N.")
    reducer: Literal["pca", "umap", "none"] = Field("pca", description="Dimensionality reduction before clustering.")
    clusterer: Literal["kmeans", "hdbscan", "hdbscan-lib"] = Field("kmeans", description="Clustering of the reduced embeddings.")
    sample_size: int = Field(20000, ge=100, description="Above this many segments, fit on a seeded sample and assign the rest.")

    _unit = field_validator("unit")(_check_unit)


class LearnedSection(_Section):
    enabled: bool = Field(True, description="Run the learned pass in `qualkit run` when the study has human codings.")
    embedding: str = Field("", description="Add sentence embeddings of a local model to the features: '' (none), minilm, a model folder or package.")
    seed: int = Field(0, description="Seed of the folds and classifiers.")


class ReportSection(_Section):
    formats: list[Literal["html", "md"]] = Field(default_factory=lambda: ["html", "md"], description="Report formats.")
    out: str = Field("reports", description="Output folder, relative to the study folder.")
    memos: bool = Field(False, description="Show the study's memos in an appendix of the report.")


class ExportSection(_Section):
    formats: list[Literal["csv", "xlsx", "parquet", "qdpx"]] = Field(
        default_factory=list, description="Export formats: csv, xlsx, parquet, qdpx."
    )
    out: str = Field("reports/exports", description="Output folder for exports.")


class ExecutionSection(_Section):
    backend: Literal["local", "dask"] = Field("local", description="Execution backend.")
    workers: int | None = Field(None, ge=1, description="Dask LocalCluster workers.")
    scheduler: str | None = Field(None, description="Address of an existing Dask scheduler.")


class StudyConfig(_Section):
    """The whole of ``qualkit.toml``."""

    study: StudySection = Field(default_factory=StudySection)
    transcripts: TranscriptsSection = Field(default_factory=TranscriptsSection)
    anonymity: AnonymitySection = Field(default_factory=AnonymitySection)
    codebook: CodebookSection = Field(default_factory=CodebookSection)
    coding: CodingSection = Field(default_factory=CodingSection)
    topics: TopicsSection = Field(default_factory=TopicsSection)
    learned: LearnedSection = Field(default_factory=LearnedSection)
    report: ReportSection = Field(default_factory=ReportSection)
    export: ExportSection = Field(default_factory=ExportSection)
    execution: ExecutionSection = Field(default_factory=ExecutionSection)


def load_config(path: str | Path) -> StudyConfig:
    """Read and validate ``qualkit.toml``; every problem is reported with its place."""
    path = Path(path)
    shown = display_path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {shown}: {error.strerror}", hint="run `qualkit init` to create a study") from error
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError(f"{shown} is not UTF-8 (byte {error.start})", hint="save the file as UTF-8") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            f"{shown} is not valid TOML: {error}",
            hint="fix the syntax at the line and column shown",
        ) from error
    return parse_config(data, shown, text=raw.decode("utf-8"))


def parse_config(data: dict[str, Any], file: str = CONFIG_NAME, *, text: str | None = None) -> StudyConfig:
    """Validate parsed TOML; every problem names its key (and line, when ``text`` is given) and a fix."""
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            location = _location(item["loc"])
            line = _key_line(text, item["loc"]) if text is not None else None
            where = f"line {line} (key {location})" if line else f"key {location}"
            if item["type"] == "extra_forbidden":
                fix = _did_you_mean(item["loc"], data)
                problems.append(Problem(f"unknown key '{location}'", file, where, fix))
            elif item["type"] == "model_type" and len(item["loc"]) == 1 and isinstance(item.get("input"), list):
                section = item["loc"][0]  # [[learned]]: double brackets make a list of tables
                problems.append(Problem(f"[[{section}]] (double brackets) is a list of tables, but {section} is one table",
                                        file, where, f"write [{section}] with single brackets"))
            elif item["type"] == "model_type" and len(item["loc"]) == 1:
                section = item["loc"][0]  # learned = true at the top of the file
                problems.append(Problem(f"{section} is a table of settings, not a single value", file, where,
                                        f"write a [{section}] header with its keys below it"))
            else:
                message = str(item["msg"]).removeprefix("Value error, ")
                problems.append(Problem(message, file, where, _example_fix(item["loc"])))
        raise ConfigError(f"{file} has {len(problems)} problem(s)", problems=problems) from None


def _in_table_array(loc: tuple[Any, ...]) -> bool:
    """True when ``loc`` points into an array of tables such as ``[[transcripts.files]]``."""
    if len(loc) < 3 or not isinstance(loc[2], int):
        return False
    section = StudyConfig.model_fields.get(str(loc[0]))
    model = _submodel(section.annotation) if section is not None else None
    field = model.model_fields.get(str(loc[1])) if model is not None else None
    return field is not None and get_origin(field.annotation) is list and _submodel(field.annotation) is not None


def _location(loc: tuple[Any, ...]) -> str:
    """``transcripts.multi_party``, or ``[[transcripts.files]] 2 -> glob`` inside an array of tables."""
    if _in_table_array(loc):
        rest = ".".join(str(part) for part in loc[3:])
        return f"[[{loc[0]}.{loc[1]}]] entry {loc[2] + 1}" + (f" -> {rest}" if rest else "")
    return ".".join(str(part) for part in loc)


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The model of a section (``Model``) or of an array of tables (``list[Model]``), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is list:
        args = get_args(annotation)
        if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            return args[0]
    return None


def _table_array_line(text: str, loc: tuple[Any, ...]) -> int | None:
    """The line of ``key =`` in the N-th ``[[a.b]]`` table (loc ``(a, b, N, key)``), or of its header."""
    table = f"{loc[0]}.{loc[1]}"
    index, key = int(loc[2]), (str(loc[3]) if len(loc) > 3 else None)
    header = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]")
    seen, inside, start = -1, False, None
    for number, line in enumerate(text.splitlines(), start=1):
        match = header.match(line)
        if match or re.match(r"^\s*\[", line):
            inside = bool(match) and match.group(1).replace(" ", "") == table and (seen := seen + 1) == index
            if inside:
                start = number
            continue
        if inside and key is not None and re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", line):
            return number
    return start


def _key_line(text: str, loc: tuple[Any, ...]) -> int | None:
    """The line of ``[section]`` / ``key =`` for a validation error's location, when it can be found."""
    if _in_table_array(loc):
        return _table_array_line(text, loc)
    names = [str(part) for part in loc if not isinstance(part, int)]
    if not names:
        return None
    section, key = names[0], names[1] if len(names) > 1 else None
    in_section = False
    header = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]")
    for number, line in enumerate(text.splitlines(), start=1):
        match = header.match(line)
        if match:
            in_section = match.group(1).strip().strip('"') == section
            if in_section and key is None:
                return number
            continue
        if in_section and key is not None and re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", line):
            return number
    return None


def _example_fix(loc: tuple[Any, ...]) -> str:
    """A fix for a bad value: the field's meaning, and its default written in TOML as an example."""
    model: type[BaseModel] = StudyConfig
    name, field = "", None
    for part in loc:
        if isinstance(part, int):
            continue
        candidate = model.model_fields.get(str(part))
        if candidate is None:
            break
        name, field = str(part), candidate
        sub = _submodel(candidate.annotation)
        if sub is None:
            break
        model = sub
    reference = "see the README's qualkit.toml reference"
    if field is None:
        return reference
    meaning = (field.description or "").rstrip(".")
    if field.is_required():
        return f"{meaning}; the key is required" if meaning else "the key is required"
    default = field.get_default(call_default_factory=True)
    if default in (None, [], {}) or isinstance(default, BaseModel):
        return f"{meaning}; {reference}" if meaning else reference
    return f"{meaning}; for example {name} = {_toml_value(default)}" if meaning else f"for example {name} = {_toml_value(default)}"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {_toml_value(item)}" for key, item in value.items()) + "}"
    return str(value)


def _did_you_mean(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    model: type[BaseModel] = StudyConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        sub = _submodel(field.annotation) if field is not None else None
        if sub is None:
            break
        model = sub
    known = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return "known keys here: " + ", ".join(known)


CONFIG_TEMPLATE = '''# qualkit.toml: the declaration of this study. Every key is optional; the values shown are the defaults.
# The README's "qualkit.toml reference" documents each key.

[study]
name = "{name}"
description = ""

[transcripts]
# Globs relative to this folder; each file is one interview.
sources = ["transcripts/*"]
# Importer: auto | text | vtt | srt | docx | markdown | csv | json | jsonl
format = "auto"
# CSV of participant attributes: id, role, company_size, sector, years_experience, ...
participants = "participants.csv"
# Speaker labels that belong to interviewers (labels starting with "Interviewer" always do);
# glob patterns allowed, e.g. ["A*"] for Otter's A1, A2.
interviewers = []
# Explicit roles for speaker labels (or glob patterns): label = "interviewer" | "participant" | "other"
speaker_roles = {{}}
# Refuse files larger than this many megabytes.
max_file_mb = 20.0
# Accept several unmapped speakers as participants (group interviews, podcasts).
multi_party = false
# CSV transcripts: column names, e.g. {{ speaker = "Speaker", text = "Utterance" }}
csv_columns = {{}}
# Import despite anonymity findings; needs a reason, recorded with each transcript.
allow_findings = false
reason = ""

# Import options for some files only: one [[transcripts.files]] entry per glob (among the sources).
# Unset keys keep the values above; interviewers, speaker_roles and csv_columns are added to them.
# qualkit run, transcripts import and transcripts validate all read them (command-line flags win).
# [[transcripts.files]]
# glob = "transcripts/podcast-*.md"
# multi_party = true
# interviewers = ["Host"]
# allow_findings = true
# reason = "public podcast; the guests consented to being named"

[anonymity]
# Names and terms that must never appear in a transcript, one a line (case-insensitive, whole words).
# deny_list = "deny-list.txt"
# Names a NER model may flag that are not identifying in this study (tools, products), one a line.
# allow_list = "allow-list.txt"
# Use a spaCy NER model for person and organisation names when one is installed.
ner = true
ner_model = "en_core_web_sm"

[codebook]
# A codebook YAML file, or "default" for the bundled codebook of the MLOps interview study.
path = "default"

[coding]
# Unit of analysis: "turn", "sentence" or "window:N" (N sentences).
unit = "turn"
include_interviewer = false

[topics]
enabled = true
# Embedding backend: "tfidf" (always available) or "minilm" (optional extra).
embedding = "tfidf"
min_topic_size = 5
seed = 42
# Topics are fitted on windows of 3 sentences: whole turns mix too many subjects.
unit = "window:3"
# "pca" (default, no numba compile) | "umap" (BERTopic's default, slower cold start) | "none"
reducer = "pca"
# "kmeans" (default, seeded) | "hdbscan" (scikit-learn) | "hdbscan-lib" (the hdbscan package)
clusterer = "kmeans"
# Above this many segments the model is fitted on a seeded sample and the rest are assigned to it.
sample_size = 20000

[learned]
# The learned pass: per-code classifiers trained on the human codings (runs once there are some).
enabled = true
# Sentence embeddings added to the TF-IDF features: "" (none), "minilm" (optional extra) or a model folder.
embedding = ""
seed = 0

[report]
formats = ["html", "md"]
out = "reports"

[export]
# Any of: "csv", "xlsx", "parquet", "qdpx"
formats = []
out = "reports/exports"

[execution]
# "local" (one process) or "dask" (needs the dask extra).
backend = "local"
'''
