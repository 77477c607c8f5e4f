"""The tiny coded study of ``analysis_fixture``, with its codebook as the study's YAML codebook,
for the workbench tests (library, web app, browser)."""

from __future__ import annotations

import yaml

from analysis_fixture import CODEBOOK, Tiny, build_tiny_study
from qualkit.study import Study


def build_workbench_study(study: Study) -> Tiny:
    """The tiny study; ``codebook/tiny.yaml`` holds its codebook and qualkit.toml points at it."""
    tiny = build_tiny_study(study)
    path = study.root / "codebook" / "tiny.yaml"
    path.write_text(yaml.safe_dump(CODEBOOK, sort_keys=False), encoding="utf-8")
    config = study.root / "qualkit.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('path = "default"', 'path = "codebook/tiny.yaml"', 1), encoding="utf-8")
    reopened = Study(study.root)
    study.config = reopened.config
    return tiny


def human_rows(study: Study, coder: str = "reviewer") -> list[dict]:
    return [dict(row) for row in study.store.query("SELECT * FROM human_codings WHERE coder = ? ORDER BY pk", (coder,))]


def application_rows(study: Study) -> list[tuple]:
    return [tuple(row) for row in study.store.query("SELECT * FROM code_applications ORDER BY pk")]
