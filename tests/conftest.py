"""Shared fixtures: tiny studies in tmp_path, and the path to ../shared/data when present."""

from __future__ import annotations

from pathlib import Path

import pytest

from qualkit.study import Study, init_study

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data``; tests using it are skipped where it is absent (a clone elsewhere)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def study(tmp_path: Path) -> Study:
    """An empty, initialised study in a temporary folder."""
    opened = init_study(tmp_path / "study", name="Test study")
    yield opened
    opened.close()
