"""The theme report: structure (parsed with BeautifulSoup), escaping, edge cases, the template
context contract, a golden Markdown file, and the CLI."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

import jinja2
import jinja2.meta
import pytest
from analysis_fixture import NASTY, PEOPLE, build_tiny_study
from bs4 import BeautifulSoup
from click.testing import CliRunner

from qualkit.cli import main
from qualkit.reports import build_report, context as ctx_mod
from qualkit.reports.build import TEMPLATES, build_context, template_environment

GOLDEN = Path(__file__).parent / "golden" / "tiny_report.md"
TEMPLATE_DIR = Path(ctx_mod.__file__).parent / "templates"


def build_html(study, tmp_path, **kwargs) -> BeautifulSoup:
    paths = build_report(study, formats=("html",), out=tmp_path / "out", **kwargs)
    return BeautifulSoup(paths[0].read_text(encoding="utf-8"), "html.parser")


def without_transcript_text(soup: BeautifulSoup) -> str:
    """The page with every transcript-derived text (in <bdi>) removed."""
    copy = BeautifulSoup(str(soup), "html.parser")
    for element in copy.find_all("bdi"):
        element.decompose()
    return str(copy)


@pytest.fixture
def tiny(study):
    return build_tiny_study(study, humans=False)


def test_html_report_sections_counts_and_participant_lists(tiny, tmp_path):
    soup = build_html(tiny.study, tmp_path, coder=f"run:{tiny.run1}")
    ids = [section["id"] for section in soup.select("main > section")]
    assert ids == [
        "summary", "participants", "themes", "frequency", "cooccurrence", "saturation", "matrix",
        "appendix-codebook", "appendix-methods", "appendix-transcripts",
    ]
    # every table-of-contents link points at an element of the page
    for link in soup.select("nav.toc a"):
        assert soup.find(id=link["href"][1:]) is not None, link["href"]
    stat = {s["data-stat"]: s.get_text(strip=True) for s in soup.select("[data-stat]")}
    assert stat["participants"] == "3" and stat["segments-coded"] == "5 / 6" and stat["codes-used"] == "3 / 6"
    # participant table in participant order
    assert [row.td.get_text() for row in soup.select("table.participants tbody tr")] == ["P1", "P2", "P10"]
    # themes in codebook order, codes with prevalence and participant lists
    assert [h.get_text() for h in soup.select(".theme h3")] == ["Three Vs", "Pain points"]
    velocity = soup.find(id="code-velocity")
    assert "2 of 3 participants" in velocity.select_one(".prevalence").get_text()
    assert velocity.select_one(".participant-list").get_text() == "(P1, P10)"
    assert soup.find(id="theme-three-vs").select_one(".prevalence").get_text(" ", strip=True).endswith("5 segments (P1, P2, P10)")
    # exemplar quotes are attributed and link to a turn in the transcript appendix
    quotes = velocity.select("blockquote.quote")
    assert [q.footer.a.get_text() for q in quotes][:2] == ["P10", "P1"]
    for quote in soup.select("blockquote.quote"):
        target = soup.find(id=quote.footer.a["href"][1:])
        assert target is not None and "turn" in target["class"]
    # a code nobody mentions is still there, saying so
    assert "No participant mentions" in soup.find(id="code-versioning").get_text()
    # frequency table
    rows = [[td.get_text(strip=True) for td in tr.find_all("td")] for tr in soup.select("table.frequency tbody tr")]
    assert rows[0] == ["1", "Velocity", "Three Vs", "4", "2", "67%", "(P1, P10)"]
    assert [r[1] for r in rows] == ["Velocity", "Validation", "Debugging", "Versioning"]
    # three inline SVG charts, no script, no external resources
    assert len(soup.select("figure svg.chart")) == 3
    assert soup.find("script") is None
    assert not soup.select("link[href], img[src^=http], script[src]")
    # provenance
    methods = soup.find(id="appendix-methods").get_text(" ", strip=True)
    assert tiny.codebook_hash in methods and "Interviewer speech: 6 turns" in methods
    # no template syntax left outside transcript text
    rest = without_transcript_text(soup)
    assert "{{" not in rest and "{%" not in rest


def test_transcript_text_renders_as_text_never_markup(tiny, tmp_path):
    soup = build_html(tiny.study, tmp_path, coder=f"run:{tiny.run1}")
    assert soup.find("script") is None
    texts = [b.get_text() for b in soup.find_all("bdi")]
    assert any(NASTY in text for text in texts)  # <script>, {{ }}, & and RTL characters verbatim
    raw = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in raw and "&lt;script&gt;" in raw and "&amp; ship" in raw
    assert "\u202e" in raw and "שלום" in raw
    md = build_report(tiny.study, formats=("md",), out=tmp_path / "md", coder=f"run:{tiny.run1}")[0].read_text(encoding="utf-8")
    assert "<script>" not in md and "&lt;script&gt;" in md


def test_a_study_with_no_coded_segments_renders(study, tmp_path):
    tiny = build_tiny_study(study, humans=False)
    with study.store.transaction() as conn:
        conn.execute("DELETE FROM code_applications")
    soup = build_html(study, tmp_path, coder=f"run:{tiny.run1}")
    assert "applied no codes" in soup.select_one(".notice").get_text()
    assert soup.find(id="code-velocity").select_one(".prevalence").get_text() == "No participant mentions this code."
    assert not soup.select("figure svg.chart")
    assert len(soup.select("table.participants tbody tr")) == 3


def test_a_study_without_any_run_renders(study, tmp_path):
    build_tiny_study(study, runs=False)
    soup = build_html(study, tmp_path)
    assert "No codings yet" in soup.select_one(".notice").get_text()


def test_a_study_with_one_participant_renders(study, tmp_path):
    tiny = build_tiny_study(study, people=PEOPLE[:1], humans=False)
    soup = build_html(study, tmp_path, coder=f"run:{tiny.run1}")
    assert [row.td.get_text() for row in soup.select("table.participants tbody tr")] == ["P1"]
    velocity = soup.find(id="code-velocity")
    assert "1 of 1 participant," in velocity.select_one(".prevalence").get_text()
    assert velocity.select_one(".participant-list").get_text() == "(P1)"
    assert len(soup.select("#saturation tbody tr")) == 1


def test_report_is_deterministic(tiny, tmp_path):
    first = build_report(tiny.study, out=tmp_path / "a", coder=f"run:{tiny.run1}")
    second = build_report(tiny.study, out=tmp_path / "b", coder=f"run:{tiny.run1}")
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_study_templates_override_the_package(tiny, tmp_path):
    folder = tiny.study.root / "reports" / "templates"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.md.j2").write_text("# {{ title }}: {{ summary.n_segments_coded }} coded\n", encoding="utf-8")
    path = build_report(tiny.study, formats=("md",), out=tmp_path / "o", coder=f"run:{tiny.run1}")[0]
    assert path.read_text(encoding="utf-8") == "# Test study: 5 coded\n"


def test_a_study_template_that_cannot_render_is_a_clear_error(tiny, tmp_path):
    from qualkit.errors import QualkitError

    folder = tiny.study.root / "reports" / "templates"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.md.j2").write_text('{% include "no-such-part.j2" %}\n', encoding="utf-8")
    with pytest.raises(QualkitError, match="report.md.j2 cannot be rendered: TemplateNotFound: no-such-part.j2") as raised:
        build_report(tiny.study, formats=("md",), out=tmp_path / "o", coder=f"run:{tiny.run1}")
    assert "reports/templates/" in raised.value.hint
    assert not (tmp_path / "o" / "report.md").exists()


def test_md_report_matches_the_golden_file(tiny, tmp_path):
    path = build_report(tiny.study, formats=("md",), out=tmp_path / "o", coder=f"run:{tiny.run1}")[0]
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", "RUN-DATE", text)
    text = re.sub(r"qualkit \d+\.\d+\.\d+[\w.+-]*", "qualkit VERSION", text)
    text = re.sub(r"qualkit: \d+\.\d+\.\d+[\w.+-]*", "qualkit: VERSION", text)
    if not GOLDEN.exists():  # write it once, review it, commit it
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
        pytest.fail(f"wrote {GOLDEN}: review it and run the test again")
    assert text == GOLDEN.read_text(encoding="utf-8")


# -- the template context contract -------------------------------------------------------------

LOOP_TYPES = {
    "entry": None, "note": str, "p": ctx_mod.ParticipantRow, "theme": ctx_mod.Theme, "code": ctx_mod.CodeSection,
    "quote": ctx_mod.Quote, "co": ctx_mod.CoCode, "g": ctx_mod.GroupShare, "row": None, "pair": ctx_mod.PairRow,
    "ex": None, "topic": ctx_mod.EmergentTopic, "t": ctx_mod.TranscriptExcerpt, "turn": ctx_mod.TurnExcerpt,
    "item": str, "lens": ctx_mod.LensSection, "passage": ctx_mod.LensPassage, "tie": ctx_mod.LensTieRow,
    "lp": ctx_mod.LensPairRow,
}


def _dataclasses() -> list[type]:
    return [getattr(ctx_mod, n) for n in ctx_mod.__all__ if dataclasses.is_dataclass(getattr(ctx_mod, n))]


def test_every_context_field_is_documented():
    for cls in _dataclasses():
        for name, help_text in ctx_mod.field_help(cls).items():
            assert help_text.strip(), f"{cls.__name__}.{name} has no help text"


@pytest.mark.parametrize("fmt", sorted(TEMPLATES))
def test_templates_use_exactly_the_documented_context(fmt):
    source = (TEMPLATE_DIR / TEMPLATES[fmt]).read_text(encoding="utf-8")
    env = jinja2.Environment()
    env.filters.update(template_environment(None, fmt).filters)  # the report's own filters (participants, ...)
    used = jinja2.meta.find_undeclared_variables(env.parse(source))
    assert used == {f.name for f in dataclasses.fields(ctx_mod.ReportContext)}
    # attributes used on top-level dataclass fields exist
    hints = typing.get_type_hints(ctx_mod.ReportContext)
    for name, hint in hints.items():
        cls = next((a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)), hint)
        if not dataclasses.is_dataclass(cls):
            continue
        known = {f.name for f in dataclasses.fields(cls)}
        for attribute in re.findall(rf"(?<![\w.]){name}\.(\w+)", source):
            assert attribute in known, f"{TEMPLATES[fmt]} uses {name}.{attribute}, not a field of {cls.__name__}"
    # attributes used on loop variables exist on the loop item's class
    for var, cls in LOOP_TYPES.items():
        if cls is None or cls is str:
            continue
        known = {f.name for f in dataclasses.fields(cls)}
        for attribute in re.findall(rf"(?<![\w.]){var}\.(\w+)", source):
            assert attribute in known, f"{TEMPLATES[fmt]} uses {var}.{attribute}, not a field of {cls.__name__}"


def test_emergent_themes_slot_renders_when_filled(tiny, tmp_path):
    from qualkit.reports.build import render

    context = build_context(tiny.study, coder=f"run:{tiny.run1}")
    context.emergent_themes = ctx_mod.EmergentThemes(
        intro="Topics <found> by BERTopic.",
        topics=[ctx_mod.EmergentTopic(label="gpu & cost", terms=["gpu", "cost"], size=4, coverage="not covered")],
    )
    soup = BeautifulSoup(render(context, "html", study=tiny.study), "html.parser")
    section = soup.find(id="emergent-themes")
    assert section is not None and section.h4.get_text() == "gpu & cost"
    assert "Topics <found> by BERTopic." in section.get_text()


# -- CLI ---------------------------------------------------------------------------------------------


def test_cli_report_build(tiny, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli"
    result = runner.invoke(
        main, ["--study", str(tiny.study.root), "report", "build", "--run", str(tiny.run1), "--format", "html", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "index.html" in result.output and (out / "index.html").is_file() and not (out / "report.md").exists()
    bad = runner.invoke(main, ["--study", str(tiny.study.root), "report", "build", "--run", "99", "--out", str(out)])
    assert bad.exit_code == 1 and "no run 99" in bad.output
    listed = runner.invoke(main, ["report", "context"])
    assert listed.exit_code == 0 and "emergent_themes" in listed.output


def test_participant_heatmap_is_capped_for_large_corpora():
    import pandas as pd

    from qualkit.reports import charts

    people = [f"P{i}" for i in range(1, 61)]
    counts = pd.DataFrame({"a": range(60), "b": [1] * 60}, index=people)
    chart = charts.matrix_chart(counts, {"a": "Code A", "b": "Code B"})
    assert f"Shown for the {charts.MAX_MATRIX_PARTICIPANTS} participants with the most coded segments of 60" in chart.caption
    assert ">P60<" in chart.svg and ">P1<" not in chart.svg  # P60 has the most segments, P1 the fewest


def test_participant_lists_longer_than_a_dozen_collapse_to_a_count() -> None:
    from bs4 import BeautifulSoup

    from qualkit.reports.templating import MAX_LISTED_PARTICIPANTS, participants_html, participants_md

    short = "(" + ", ".join(f"P{i}" for i in range(1, MAX_LISTED_PARTICIPANTS + 1)) + ")"
    long = "(" + ", ".join(f"P{i}" for i in range(1, 301)) + ")"
    soup = BeautifulSoup(str(participants_html(short)), "html.parser")
    assert soup.select_one("span.participant-list").get_text() == short and not soup.select("details")
    soup = BeautifulSoup(str(participants_html(long)), "html.parser")
    details = soup.select_one("details.participant-list")
    assert details.summary.get_text() == "300 participants"
    assert details.select_one(".ids").get_text() == long  # the whole list, one click away
    topic = BeautifulSoup(str(participants_html("40 participants " + long)), "html.parser")
    assert topic.summary.get_text() == "40 participants"
    assert "P1, P2" not in str(participants_md(long)) and "300 participants" in str(participants_md(long))
    assert "code\\_frequency" in str(participants_md(long))  # points the reader to the exports
    assert str(participants_md(short)) == short


def test_charts_stay_readable_at_300_participants() -> None:
    """Saturation axis labels are thinned, heatmaps keep to the columns that fit, text never shrinks below 8 pt."""
    import numpy as np
    import pandas as pd

    from qualkit.reports import charts

    ids = [f"P{i}" for i in range(1, 301)]
    table = pd.DataFrame({"transcript_id": ids, "new_codes": [3, 2] + [0] * 298, "cumulative": [3] + [5] * 299,
                          "saturated": [False, False, True] + [False] * 297, "position": range(1, 301)})
    svg = str(charts.saturation_chart(table, 2).svg)
    named = [i for i in ids if re.search(rf">\s*{i}\s*<", svg)]
    assert 2 <= len(named) <= charts.MAX_SATURATION_LABELS + 1 and "P1" in named and "P300" in named
    assert "named on the axis" in charts.saturation_chart(table, 2).caption
    assert "rotate(-45" in svg  # the labels that remain are rotated
    counts = pd.DataFrame(np.ones((300, 30), dtype=int), index=ids, columns=[f"code number {c} with a long name" for c in range(30)])
    matrix = str(charts.matrix_chart(counts, {}).svg)
    shown = [i for i in ids if re.search(rf">\s*{i}\s*<", matrix)]
    assert len(shown) == charts.MAX_MATRIX_PARTICIPANTS <= charts.columns_that_fit()
    width_pt = float(re.search(r'width="([\d.]+)pt"', matrix).group(1))
    assert width_pt / 72 <= charts.MAX_WIDTH_IN + 0.5  # drawn at its natural size in the report column
    sizes = [float(s) for s in re.findall(r"font-size:\s*([\d.]+)px", matrix + svg)]
    assert sizes and min(sizes) >= charts.MIN_FONT_PT


def test_topic_map_labels_never_overlap() -> None:
    from matplotlib.figure import Figure

    from qualkit.reports.topics import place_topic_labels

    import numpy as np

    rng = np.random.default_rng(3)
    items = [{"topic": t, "terms": ["retraining", "pipeline"], "size": int(rng.integers(5, 90)),
              "x": float(rng.normal()), "y": float(rng.normal())} for t in range(50)]
    figure = Figure(figsize=(6.4, 4.2))
    axes = figure.subplots()
    axes.scatter([i["x"] for i in items], [i["y"] for i in items])
    axes.margins(0.15)
    boxes = place_topic_labels(figure, axes, items)
    assert len(boxes) >= 10  # most topics get a label
    assert not any(a.overlaps(b) for n, a in enumerate(boxes) for b in boxes[n + 1 :])
