"""Helpers for the workbench web app tests; the fixtures ``app``, ``client`` (holding the token
cookie) and ``csrf`` are in ``conftest.py`` and serve the module's ``tiny`` study."""

from __future__ import annotations

from bs4 import BeautifulSoup

TOKEN = "test-token-123"


def soup(response) -> BeautifulSoup:
    """A page's HTML, parsed."""
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")
