"""``qualkit.toml``: the declaration of a study, read with the standard library's ``tomllib``.

Every key is documented in the README and in the template that ``qualkit init`` writes.
Unknown keys are errors with a "did you mean" suggestion; TOML syntax errors name the
line and column.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError, Problem, display_path

CONFIG_NAME = "qualkit.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StudySection(_Section):
    name: str = Field("Untitled study", description="Name of the study, shown in reports.")
    description: str = Field("", description="One paragraph on the study, shown in reports.")


class TranscriptsSection(_Section):
    sources: list[str] = Field(default_factory=lambda: ["transcripts/*"], description="Globs, relative to the study folder.")
    format: str = Field("auto", description="Importer name, or 'auto' to detect by extension and content.")
    participants: str | None = Field("participants.csv", description="CSV of participant attributes (optional).")
    interviewers: list[str] = Field(default_factory=list, description="Speaker labels that are interviewers.")
    speaker_roles: dict[str, str] = Field(default_factory=dict, description="Speaker label -> interviewer|participant|other.")
    max_file_mb: float = Field(20.0, gt=0, description="Files larger than this are refused.")


class AnonymitySection(_Section):
    deny_list: str | None = Field(None, description="File of names and terms that must not appear (one a line).")
    ner: bool = Field(True, description="Use a spaCy NER model for person and organisation names when one is installed.")
    ner_model: str = Field("en_core_web_sm", description="Name of the installed spaCy model for NER.")


class CodebookSection(_Section):
    path: str = Field("default", description="Codebook YAML file, or the name of a bundled codebook ('default').")


class CodingSection(_Section):
    unit: str = Field("turn", description="Unit of analysis: turn, sentence, or window:N (N sentences).")
    include_interviewer: bool = Field(False, description="Also code interviewer speech.")


class TopicsSection(_Section):
    enabled: bool = Field(True, description="Run the topic-model pass.")
    embedding: str = Field("tfidf", description="Embedding backend: tfidf, minilm, or an installed model name.")
    min_topic_size: int = Field(5, ge=2, description="Smallest topic BERTopic may form.")
    seed: int = Field(42, description="Random seed for every stochastic step.")
    unit: str = Field("window:3", description="Unit of analysis for topics: turn, sentence, window:N.")
    reducer: Literal["pca", "umap", "none"] = Field("pca", description="Dimensionality reduction before clustering.")
    clusterer: Literal["kmeans", "hdbscan", "hdbscan-lib"] = Field("kmeans", description="Clustering of the reduced embeddings.")


class ReportSection(_Section):
    formats: list[Literal["html", "md"]] = Field(default_factory=lambda: ["html", "md"], description="Report formats.")
    out: str = Field("reports", description="Output folder, relative to the study folder.")


class ExportSection(_Section):
    formats: list[str] = Field(default_factory=list, description="Export formats: csv, xlsx, parquet, qdpx.")
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
    return parse_config(data, shown)


def parse_config(data: dict[str, Any], file: str = CONFIG_NAME) -> StudyConfig:
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            location = ".".join(str(part) for part in item["loc"])
            if item["type"] == "extra_forbidden":
                fix = _did_you_mean(item["loc"], data)
                problems.append(Problem(f"unknown key '{location}'", file, f"key {location}", fix))
            else:
                problems.append(Problem(item["msg"], file, f"key {location}", "see the README's qualkit.toml reference"))
        raise ConfigError(f"{file} has {len(problems)} problem(s)", problems=problems) from None


def _did_you_mean(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    model: type[BaseModel] = StudyConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None or not isinstance(field.annotation, type) or not issubclass(field.annotation, BaseModel):
            break
        model = field.annotation
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
# Importer: auto | text | vtt | srt | docx | markdown | csv | json
format = "auto"
# CSV of participant attributes: id, role, company_size, sector, years_experience, ...
participants = "participants.csv"
# Speaker labels that belong to interviewers (labels starting with "Interviewer" always do).
interviewers = []
# Explicit roles for speaker labels: label = "interviewer" | "participant" | "other"
speaker_roles = {{}}
# Refuse files larger than this many megabytes.
max_file_mb = 20.0

[anonymity]
# Names and terms that must never appear in a transcript, one a line (case-insensitive, whole words).
# deny_list = "deny-list.txt"
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
