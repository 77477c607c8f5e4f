"""The codebook JSON Schema, generated from :class:`~qualkit.codebook.model.CodebookSpec`.

``python -m qualkit.codebook.schema`` rewrites the shipped ``codebook.schema.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .model import CodebookSpec

SCHEMA_FILE = Path(__file__).with_name("codebook.schema.json")


def codebook_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a codebook YAML file."""
    schema = CodebookSpec.model_json_schema()
    ordered = {"$schema": schema.pop("$schema"), "$id": schema.pop("$id")}
    ordered.update(schema)
    return ordered


def schema_text() -> str:
    return json.dumps(codebook_json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # pragma: no cover
    SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")
