"""Transcripts: the typed model and its JSON Schema, importers, participants.csv, and import.

Public entry points: :func:`read_transcript`, :func:`validate_files`, :func:`import_files`,
:class:`ImportOptions`, :class:`Transcript`, :func:`register_importer`,
:func:`schema_text` (the shipped ``transcript.schema.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .model import (
    SCHEMA_VERSION,
    InterviewMetadata,
    Participant,
    SpeakerRole,
    Transcript,
    Turn,
    transcript_json_schema,
)

#: The JSON Schema shipped as package data; a test keeps it equal to the generated one.
SCHEMA_PATH = Path(__file__).with_name("transcript.schema.json")


def schema_text(schema: dict[str, Any] | None = None) -> str:
    """The transcript JSON Schema as the text of ``transcript.schema.json``."""
    return json.dumps(schema if schema is not None else transcript_json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(path: str | Path = SCHEMA_PATH) -> Path:
    """Regenerate ``transcript.schema.json`` from the model (run after changing model.py)."""
    path = Path(path)
    path.write_text(schema_text(), encoding="utf-8")
    return path


from .importers import detect_format, get_importer, importer_names, register_importer  # noqa: E402
from .importing import (  # noqa: E402
    FileReport,
    ImportedFile,
    ImportResult,
    expand_paths,
    get_transcript,
    import_files,
    list_transcripts,
    read_file,
    read_transcript,
    validate_files,
)
from .anonymity import AnonymityChecker, AnonymityReport, Finding, check_anonymity, count_redactions, load_deny_list  # noqa: E402
from .options import ImportOptions  # noqa: E402
from .pseudonymize import PseudonymMap, pseudonymize  # noqa: E402
from .participants import ParticipantRecord, load_participants  # noqa: E402
from .stored import load_transcript, stored_participants  # noqa: E402

__all__ = [
    "load_transcript",
    "stored_participants",
    "AnonymityChecker",
    "AnonymityReport",
    "Finding",
    "PseudonymMap",
    "check_anonymity",
    "count_redactions",
    "load_deny_list",
    "pseudonymize",
    "FileReport",
    "ImportOptions",
    "ImportResult",
    "ImportedFile",
    "InterviewMetadata",
    "Participant",
    "ParticipantRecord",
    "SCHEMA_PATH",
    "SCHEMA_VERSION",
    "SpeakerRole",
    "Transcript",
    "Turn",
    "detect_format",
    "expand_paths",
    "get_importer",
    "get_transcript",
    "import_files",
    "importer_names",
    "list_transcripts",
    "load_participants",
    "read_file",
    "read_transcript",
    "register_importer",
    "schema_text",
    "transcript_json_schema",
    "validate_files",
    "write_schema",
]
