"""The report's lens section: direct and reached passages per lens, tensions and synergies."""

from __future__ import annotations

import copy

import pytest
from analysis_fixture import CODEBOOK, build_tiny_study
from bs4 import BeautifulSoup

from qualkit.reports import build_report
from qualkit.reports.build import build_context
from qualkit.store import canonical_json


@pytest.fixture
def tied(study):
    """The tiny study with debugging tied to the Vs: it hinders velocity and serves validation."""
    tiny = build_tiny_study(study, humans=False)
    resolved = copy.deepcopy(CODEBOOK)
    resolved["relations"] = [
        {"from": "debugging", "type": "hinders", "to": "velocity", "note": "bugs slow the loop"},
        {"from": "debugging", "type": "serves", "to": "validation"},
    ]
    with study.store.transaction() as conn:
        conn.execute("UPDATE codebooks SET resolved = ? WHERE hash = ?", (canonical_json(resolved), tiny.codebook_hash))
    return tiny


def test_lens_section_keeps_direct_and_reached_apart(tied, tmp_path):
    paths = build_report(tied.study, formats=("html", "md"), out=tmp_path / "out", coder=f"run:{tied.run1}")
    soup = BeautifulSoup(paths[0].read_text(encoding="utf-8"), "html.parser")
    section = soup.find(id="lenses")
    assert section is not None and section.h2.get_text() == "Lenses: Velocity, Validation"
    assert soup.select_one('nav.toc a[href="#lenses"]') is not None
    velocity = soup.find(id="lens-velocity")
    assert " ".join(velocity.select_one(".prevalence.direct").get_text().split()) == "Coded directly: 4 segments (P1, P10)"
    assert " ".join(velocity.select_one(".prevalence.reached").get_text().split()) == "Reached only through tied codes: 1 segment (P2)"
    reached = velocity.select("blockquote.reached footer")
    assert len(reached) == 1 and "reached through Debugging (hinders)" in reached[0].get_text()
    assert all("coded directly" in footer.get_text() for footer in velocity.select("blockquote.direct footer"))
    tie_row = [td.get_text() for td in velocity.select("table.lens-ties tbody tr")[0].find_all("td")]
    assert tie_row[:6] == ["Debugging", "hinders", "2", "1", "1", "(P10)"] and tie_row[6] == "bugs slow the loop"
    validation = soup.find(id="lens-validation")
    assert " ".join(validation.select_one(".prevalence.reached").get_text().split()) == "Reached only through tied codes: 1 segment (P10)"
    [pair] = section.select("table.lens-pairs tbody tr")
    cells = [td.get_text() for td in pair.find_all("td")]
    assert cells[:5] == ["Velocity & Validation", "tension", "2", "(P2, P10)", "Debugging (2)"]
    assert "Debugging serves one and hinders the other" in cells[5]
    # quoted turns link into the transcript appendix
    for link in section.select("blockquote a, table.lens-pairs a"):
        assert soup.find(id=link["href"][1:]) is not None, link["href"]
    markdown = paths[1].read_text(encoding="utf-8")
    assert "## Lenses: Velocity, Validation" in markdown
    assert "| Velocity & Validation | tension | 2 | (P2, P10) | Debugging (2) |" in markdown


def test_no_lens_section_without_serves_or_hinders_ties(study):
    tiny = build_tiny_study(study, humans=False)
    assert build_context(tiny.study, coder=f"run:{tiny.run1}").lenses is None
