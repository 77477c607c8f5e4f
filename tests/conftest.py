"""Shared fixtures: tiny studies in tmp_path, the path to ../shared/data when present, and the
workbench web app of a module's ``tiny`` study (``app``, ``client``, ``csrf``)."""

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


@pytest.fixture
def app(study: Study, tiny):  # type: ignore[no-untyped-def]
    """The workbench web app (Flask) on ``study``, after the module's ``tiny`` fixture has built it."""
    from qualkit.web import create_app
    from web_fixture import TOKEN

    return create_app(study.root, coder="reviewer", token=TOKEN)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    """A test client of ``app`` holding the token cookie."""
    from web_fixture import TOKEN

    client = app.test_client()
    assert client.get(f"/?token={TOKEN}").status_code == 303  # sets the cookie
    return client


@pytest.fixture
def csrf(app) -> str:  # type: ignore[no-untyped-def]
    """The app's CSRF token, for POSTs."""
    return app.config["WORKBENCH"].csrf
