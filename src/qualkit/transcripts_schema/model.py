"""The typed model of one anonymized interview transcript.

This model is the single source of truth: the JSON Schema shipped as
``transcript.schema.json`` is generated from it (``qualkit transcripts schema``
prints it, and a test keeps the shipped file equal to the generated one).
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = "1.0"
SCHEMA_ID = "https://qualkit.dev/schemas/transcript-1.0.json"


class SpeakerRole(str, Enum):
    """Who is speaking: only participant speech is data by default."""

    interviewer = "interviewer"
    participant = "participant"
    other = "other"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, validate_assignment=False)


class Participant(_Strict):
    """A participant and their attributes (the paper's Table 1)."""

    id: str = Field(..., min_length=1, description="Pseudonymous id, e.g. P3 or Lg2.", pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    role: str | None = Field(None, description="Job role, e.g. 'MLE' or 'MLE Manager'.")
    company_size: str | None = Field(None, description="Organisation size, e.g. 'small', 'medium', 'large'.")
    sector: str | None = Field(None, description="Sector or application area, e.g. 'finance', 'autonomous vehicles'.")
    years_experience: float | None = Field(None, ge=0, description="Years of experience in ML.")
    attributes: dict[str, str] = Field(default_factory=dict, description="Free-form further attributes.")


class InterviewMetadata(_Strict):
    """How and when the interview was conducted and produced."""

    date: dt.date | None = Field(None, description="Interview date (ISO 8601).")
    duration_minutes: float | None = Field(None, ge=0, description="Length of the interview in minutes.")
    language: str = Field("en", description="BCP 47 language tag of the transcript text.")
    interviewers: list[str] = Field(default_factory=list, description="Pseudonymous interviewer labels.")
    source_format: str = Field("json", description="The format the transcript was imported from.")
    source_file: str | None = Field(None, description="File name the transcript was imported from.")
    anonymized: bool = Field(True, description="True once the transcript passed (or overrode) the anonymity check.")
    redaction_count: int = Field(0, ge=0, description="How many spans were redacted or pseudonymized.")


class Turn(_Strict):
    """One speaker turn: an uninterrupted stretch of one speaker's talk."""

    speaker: str = Field(..., min_length=1, description="Speaker label as it appears in the source, e.g. P3 or Interviewer 1.")
    role: SpeakerRole = Field(..., description="interviewer, participant or other.")
    text: str = Field(..., min_length=1, description="What was said, as plain text.")
    start: float | None = Field(None, ge=0, description="Start time in seconds, when known.")
    end: float | None = Field(None, ge=0, description="End time in seconds, when known.")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("turn text is blank")
        return value

    @model_validator(mode="after")
    def _ordered_times(self) -> "Turn":
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class Transcript(_Strict):
    """One anonymized interview."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID},
        title="qualkit transcript",
    )

    schema_version: str = Field(SCHEMA_VERSION, description="Version of this schema.", pattern=r"^1\.\d+$")
    id: str = Field(..., min_length=1, description="Transcript id, unique in the study (usually the participant id).", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    participant: Participant
    metadata: InterviewMetadata = Field(default_factory=InterviewMetadata)
    turns: list[Turn] = Field(..., min_length=1, description="The turns in the order they were spoken.")

    @property
    def word_count(self) -> int:
        return sum(len(turn.text.split()) for turn in self.turns)

    def participant_words(self) -> int:
        return sum(len(turn.text.split()) for turn in self.turns if turn.role is SpeakerRole.participant)

    def to_json_dict(self) -> dict[str, Any]:
        """A plain dict in the exact shape of the JSON Schema (dates as ISO strings)."""
        return self.model_dump(mode="json", exclude_none=True)


def transcript_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a qualkit transcript, generated from the model."""
    schema = Transcript.model_json_schema()
    ordered = {"$schema": schema.pop("$schema"), "$id": schema.pop("$id")}
    ordered.update(schema)
    return ordered


__all__ = [
    "SCHEMA_VERSION",
    "InterviewMetadata",
    "Participant",
    "SpeakerRole",
    "Transcript",
    "Turn",
    "transcript_json_schema",
]
