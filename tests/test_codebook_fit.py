"""``qualkit codebook fit``: coverage of participant speech, frequent terms no rule touches, verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qualkit.cli import main
from qualkit.codebook import load_codebook
from qualkit.coding.fit import SUBSTANTIVE_WORDS, FitTurn, assess_fit, codebook_fit, fit_texts
from qualkit.transcripts_schema.importing import import_files

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "corpus" / "practicalai"

BOOK = """\
name: retraining-book
codes:
  - id: retraining
    label: Retraining
    definition: Retraining models on fresh data.
    examples: ["we retrain the ranker every night"]
    rules:
      phrases: [retrain, fresh data]
"""

FILLER = "and that is how the whole thing goes along for us over a long stretch of many quiet afternoons"
# Three substantive participant turns (25+ words) per interview, one of them about retraining,
# and a short one. "garden" is frequent and no rule touches it.
INTERVIEW = """\
Interviewer: Tell me about your work.

{pid}: We retrain the ranker every night on fresh data because the garden of features keeps growing, {filler}.

Interviewer: And then?

{pid}: The garden needs weeding and the garden keeps us busy with the garden beds, {filler}.

Interviewer: Anything else?

{pid}: Mostly the garden and the tomatoes in the garden, the garden takes every weekend, {filler}.

Interviewer: Thanks.

{pid}: We retrain often.
"""


def make_study(tmp_path: Path, codebook: str = BOOK) -> Path:
    from qualkit.study import init_study

    study = init_study(tmp_path / "study", name="Fit study")
    (tmp_path / "study" / "codebook.yaml").write_text(codebook, encoding="utf-8")
    folder = tmp_path / "in"
    folder.mkdir()
    for pid in ("P1", "P2"):
        (folder / f"{pid}.txt").write_text(INTERVIEW.format(pid=pid, filler=FILLER), encoding="utf-8")
    import_files(study, [folder / "P1.txt", folder / "P2.txt"])
    study.close()
    return tmp_path / "study"


def test_fit_counts_substantive_turns_words_and_untouched_terms(tmp_path):
    from qualkit.study import Study

    root = make_study(tmp_path)
    study = Study.open(root)
    try:
        fit = codebook_fit(study, load_codebook(root / "codebook.yaml"))
    finally:
        study.close()
    assert (fit.n_turns, fit.n_substantive, fit.n_substantive_coded) == (8, 6, 2)
    first_turn_words = len(f"We retrain the ranker every night on fresh data because the garden of features keeps growing, {FILLER}.".split())
    assert fit.n_words_coded == 2 * (first_turn_words + 3)
    assert fit.turn_share == pytest.approx(2 / 6)
    terms = {term.term: term for term in fit.terms}
    assert terms["garden"].count == 14 and not terms["garden"].touched and terms["garden"].transcripts == 2
    assert terms["retrain"].matched == terms["retrain"].count == 4
    assert fit.terms[0].term == "garden"  # the most frequent content word
    assert "garden" in fit.untouched and "retrain" not in fit.untouched
    # 33% of substantive turns is above the floor, but the rules touch under 20% of the top terms
    assert fit.term_share < 0.2 and fit.verdict == "does not fit"
    assert fit.verdict_line().startswith("The codebook does not fit: it codes 33% of substantive participant turns (2 of 6, 25+ words)")
    assert "(untouched: garden," in fit.verdict_line()


def test_verdict_thresholds(tmp_path):
    (tmp_path / "book.yaml").write_text(BOOK, encoding="utf-8")
    book = load_codebook(tmp_path / "book.yaml")
    long = " ".join(["word"] * SUBSTANTIVE_WORDS)
    coded = [FitTurn("T1", long, SUBSTANTIVE_WORDS, ((0, 4),)) for _ in range(7)]
    uncoded = [FitTurn("T2", long, 0) for _ in range(3)]
    assert assess_fit(coded + uncoded, book).verdict == "fits"  # 70% of turns, 70% of words, the one term touched
    assert assess_fit(coded[:4] + uncoded, book).verdict == "fits partly"  # 4 of 7 turns: 57%
    assert assess_fit(coded[:2] + uncoded * 2, book).verdict == "does not fit"  # 2 of 8 turns: 25%
    untouched = [FitTurn("T1", long, SUBSTANTIVE_WORDS) for _ in range(7)]  # coded, but no match touches "word"
    assert assess_fit(untouched + uncoded, book).verdict == "does not fit"


def test_a_codebook_for_another_domain_does_not_fit():
    book = load_codebook("default")
    texts = [
        ("N1", "The patient came in with chest pain and the nurse took the blood pressure twice before the doctor "
               "arrived on the ward that night, and then the patient slept until the nurse woke him at dawn."),
        ("N2", "On the ward every patient gets a nurse for the night shift and the doctor does the rounds twice, "
               "checking the blood pressure charts and asking each patient how the pain feels now."),
    ]
    fit = fit_texts(texts, book)
    assert fit.verdict == "does not fit"
    assert {"patient", "nurse", "ward"} <= set(fit.untouched)


def test_cli_fit_text_and_json(tmp_path):
    root = make_study(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["--study", str(root), "codebook", "fit", str(root / "codebook.yaml")])
    assert result.exit_code == 0, result.output
    assert "The codebook does not fit" in result.output and "garden" in result.output
    assert "<- no rule touches it" in result.output and "thresholds: fits: >= 60%" in result.output
    data = json.loads(runner.invoke(main, ["--study", str(root), "codebook", "fit", str(root / "codebook.yaml"), "--json"]).output)
    assert data["verdict"] == "does not fit" and data["substantive_turns"] == 6 and data["substantive_turns_coded"] == 2
    assert "garden" in data["untouched"] and data["thresholds"]["fits_turns"] == 0.6


def test_cli_fit_on_a_study_without_transcripts_is_a_clear_error(tmp_path):
    from qualkit.study import init_study

    init_study(tmp_path / "empty", name="Empty").close()
    (tmp_path / "book.yaml").write_text(BOOK, encoding="utf-8")
    result = CliRunner().invoke(main, ["--study", str(tmp_path / "empty"), "codebook", "fit", str(tmp_path / "book.yaml")])
    assert result.exit_code == 1 and "no participant turns" in result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared podcast corpus is not here")
def test_fit_of_the_default_codebook_on_podcast_transcripts(tmp_path):
    from qualkit.study import Study, init_study
    from qualkit.transcripts_schema.options import ImportOptions

    study = init_study(tmp_path / "pod", name="Podcast")
    files = [CORPUS / f"practical-ai-{n}.md" for n in (10, 100, 200)]
    options = ImportOptions(interviewers=["Daniel Whitenack", "Chris Benson"], multi_party=True)
    import_files(study, files, options=options, allow_findings=True, reason="public podcast (test)")
    study.close()
    runner = CliRunner()
    result = runner.invoke(main, ["--study", str(tmp_path / "pod"), "codebook", "fit", "default", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["substantive_turns"] > 20 and 0 < data["substantive_turns_coded"] < data["substantive_turns"]
    assert len(data["terms"]) == 30 and data["untouched"]
    assert data["verdict"] in {"fits", "fits partly", "does not fit"}
    assert data["verdict_line"].startswith(f"The codebook {data['verdict']}")
    Study.open(tmp_path / "pod").close()


def test_report_summary_has_the_fit_line_first_when_the_fit_is_poor(study, tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from analysis_fixture import build_tiny_study
    from bs4 import BeautifulSoup

    from qualkit.reports import build_report
    from qualkit.reports.build import build_context

    tiny = build_tiny_study(study, humans=False)
    context = build_context(tiny.study, coder=f"run:{tiny.run1}")
    assert context.summary.fit_line.startswith("The codebook fits: it codes 100% of substantive participant turns (3 of 3")
    assert not context.summary.fit_poor and not any(note.startswith("The codebook") for note in context.notes)
    keep = tiny.segments[("P1", 1)]
    with tiny.study.store.transaction() as conn:
        conn.execute("DELETE FROM code_applications WHERE run_id = ? AND segment_pk != ?", (tiny.run1, keep))
    context = build_context(tiny.study, coder=f"run:{tiny.run1}")
    assert context.summary.fit_poor and context.notes[0] == context.summary.fit_line
    assert "1 of 3" in context.summary.fit_line
    soup = BeautifulSoup(build_report(tiny.study, formats=("html",), out=tmp_path / "o", coder=f"run:{tiny.run1}")[0].read_text(), "html.parser")
    assert soup.select_one("#summary .notice").get_text().startswith("The codebook fits partly: it codes 33%")
    assert soup.select_one("#summary dd.fit") is None
