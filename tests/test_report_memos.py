"""The memos appendix of the report: shown when asked ([report] memos or --memos), escaped like transcript text."""

from __future__ import annotations

from analysis_fixture import build_tiny_study
from bs4 import BeautifulSoup
from click.testing import CliRunner

from qualkit.cli import main
from qualkit.reports.build import build_context, render
from qualkit.study import Study
from qualkit.workbench.memos import add_memo

SCRIPT = 'Said <script>alert("x")</script> & *meant* it.'


def _memos(study):
    add_memo(study, coder="alice", text="Speed as morale.", title="Velocity", code="velocity")
    add_memo(study, coder="bob", text=SCRIPT + "\nSecond line.", transcript="P2", turn_idx=1)


def test_memos_appendix_only_when_asked(study):
    tiny = build_tiny_study(study)
    _memos(study)
    coder = f"run:{tiny.run1}"
    assert build_context(study, coder=coder).memos is None  # [report] memos defaults to false
    context = build_context(study, coder=coder, memos=True)
    assert [(m.target, m.coder, m.anchor) for m in context.memos] == [
        ("code Velocity", "alice", "codebook-velocity"), ("P2 turn 2", "bob", "")]
    assert context.toc[-1].anchor == "appendix-memos"

    soup = BeautifulSoup(render(context, "html"), "html.parser")
    section = soup.find(id="appendix-memos")
    memos = section.find_all(class_="memo")
    assert len(memos) == 2
    assert memos[0].find("a")["href"] == "#codebook-velocity" and soup.find(id="codebook-velocity") is not None
    assert memos[1].find(class_="text").get_text("\n").split("\n") == [SCRIPT, "Second line."]
    assert soup.find("script") is None  # the memo's <script> is text
    markdown = render(context, "md")
    assert "## Appendix D: Memos" in markdown and "&lt;script&gt;" in markdown and r"\*meant\*" in markdown

    no_appendix = BeautifulSoup(render(build_context(study, coder=coder), "html"), "html.parser")
    assert no_appendix.find(id="appendix-memos") is None


def test_config_and_cli_switch_the_appendix(study, tmp_path):
    tiny = build_tiny_study(study)
    _memos(study)
    config = study.root / "qualkit.toml"
    config.write_text(config.read_text(encoding="utf-8").replace("[report]\n", "[report]\nmemos = true\n"), encoding="utf-8")
    reopened = Study(study.root)
    assert reopened.config.report.memos is True
    assert build_context(reopened, coder=f"run:{tiny.run1}").memos is not None
    runner = CliRunner()
    args = ["--study", str(study.root), "report", "build", "--run", str(tiny.run1), "--format", "html"]
    result = runner.invoke(main, [*args, "--out", str(tmp_path / "with")])
    assert result.exit_code == 0, result.output
    assert 'id="appendix-memos"' in (tmp_path / "with" / "index.html").read_text(encoding="utf-8")
    result = runner.invoke(main, [*args, "--no-memos", "--out", str(tmp_path / "without")])
    assert result.exit_code == 0, result.output
    assert 'id="appendix-memos"' not in (tmp_path / "without" / "index.html").read_text(encoding="utf-8")
    reopened.close()
