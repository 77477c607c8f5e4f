"""Options that control how a transcript file is read and turned into a :class:`Transcript`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import StudyConfig

ROLES = ("interviewer", "participant", "other")


@dataclass(frozen=True)
class ImportOptions:
    """How to read transcripts.

    ``interviewers`` and ``speaker_roles`` map speaker labels to roles (case-insensitive);
    labels starting with "Interviewer" are interviewers and "Interviewee" is the
    participant by default. ``multi_party`` accepts several unmapped speakers as
    participants (group interviews, podcasts) instead of refusing them.
    """

    format: str | None = None
    interviewers: tuple[str, ...] = ()
    speaker_roles: dict[str, str] = field(default_factory=dict)
    multi_party: bool = False
    transcript_id: str | None = None
    participant_id: str | None = None
    max_mb: float = 20.0
    language: str = "en"
    csv_columns: dict[str, str] = field(
        default_factory=lambda: {"speaker": "speaker", "text": "text", "start": "start", "end": "end", "role": "role"}
    )

    @classmethod
    def from_config(cls, config: "StudyConfig | None", **overrides: Any) -> "ImportOptions":
        """Options from a study's ``[transcripts]`` section; ``overrides`` that are not None win.

        ``interviewers`` and ``speaker_roles`` given as overrides are added to the config's.
        """
        base = cls()
        if config is not None:
            section = config.transcripts
            base = cls(
                format=None if section.format == "auto" else section.format,
                interviewers=tuple(section.interviewers),
                speaker_roles=dict(section.speaker_roles),
                multi_party=bool(getattr(section, "multi_party", False)),
                max_mb=section.max_file_mb,
                csv_columns={**base.csv_columns, **dict(getattr(section, "csv_columns", {}) or {})},
            )
        values: dict[str, Any] = {}
        for key, value in overrides.items():
            if value is None:
                continue
            if key == "interviewers":
                values[key] = base.interviewers + tuple(value)
            elif key == "speaker_roles":
                values[key] = {**base.speaker_roles, **dict(value)}
            elif key == "csv_columns":
                values[key] = {**base.csv_columns, **{k: v for k, v in dict(value).items() if v}}
            elif key == "format" and value == "auto":
                values[key] = None
            else:
                values[key] = value
        return replace(base, **values)

    def as_dict(self) -> dict[str, Any]:
        """The options as plain JSON-able data (recorded with import runs)."""
        return {
            "format": self.format,
            "interviewers": list(self.interviewers),
            "speaker_roles": dict(self.speaker_roles),
            "multi_party": self.multi_party,
            "transcript_id": self.transcript_id,
            "participant_id": self.participant_id,
            "max_mb": self.max_mb,
            "language": self.language,
            "csv_columns": dict(self.csv_columns),
        }


__all__ = ["ImportOptions", "ROLES"]
