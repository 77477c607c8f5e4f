"""`transcripts import` and `transcripts validate` read each file with the options `qualkit run`
gives it: [transcripts], the matching [[transcripts.files]] entries (allow_findings and reason
too), then the command's flags, which win. One library function resolves them for every face."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from qualkit.cli import main
from qualkit.pipeline.steps import import_groups
from qualkit.study import Study
from qualkit.transcripts_schema.file_options import CommandOptions, group_files, resolve_file_options

from test_pipeline_config import BASE, CODEBOOK, INTERVIEW, PANEL, PANEL_RULE, panel  # noqa: F401  (fixture)
from qualkit.transcripts_schema.stored import load_transcript

NAMED_PANEL = """\
Interviewer: Welcome back. How often do you retrain?
P5: Every week, thanks, Duncan.
P6: Only when the data drifts.
"""

CONSENT_RULE = """
[[transcripts.files]]
glob = "panels/named-*.txt"
allow_findings = true
reason = "public panel: the host is named with consent"
"""


def _cli(root: Path, *args: str):
    return CliRunner().invoke(main, ["--study", str(root), "transcripts", *args], catch_exceptions=False)


def test_validate_and_import_apply_the_file_entries_of_qualkit_toml(panel: Path):  # noqa: F811
    (panel / "qualkit.toml").write_text(BASE + PANEL_RULE, encoding="utf-8")
    panel_file = str(panel / "panels" / "panel-1.txt")
    checked = _cli(panel, "validate", panel_file, "--json")
    assert checked.exit_code == 0, checked.output  # multi_party comes from the entry: no "several speakers" refusal
    report = json.loads(checked.output)["files"][0]
    assert report["parsed"] and {s["label"]: s["role"] for s in report["speakers"]}["P3"] == "participant"
    imported = _cli(panel, "import")  # the study's sources: the interview and the panel, each with its options
    assert imported.exit_code == 0, imported.output
    assert "1 file(s) read with [[transcripts.files]] entry 1: panels/*.txt" in imported.output
    study = Study(panel)
    try:
        roles = {turn.speaker: turn.role.value for turn in load_transcript(study.store, "panel-1").turns}
        assert roles == {"Interviewer": "interviewer", "P2": "participant", "P3": "participant", "P4": "participant"}
        params = json.loads(study.store.latest_run("import")["parameters"])
        assert params["options"]["multi_party"] is True
    finally:
        study.close()


def test_import_honours_allow_findings_and_reason_of_an_entry_and_flags_override_it(panel: Path):  # noqa: F811
    (panel / "panels" / "named-1.txt").write_text(NAMED_PANEL, encoding="utf-8")
    (panel / "qualkit.toml").write_text(BASE + PANEL_RULE + CONSENT_RULE, encoding="utf-8")
    named = str(panel / "panels" / "named-1.txt")
    checked = _cli(panel, "validate", named)
    assert checked.exit_code == 1  # validate still lists the findings, and says the toml allows them
    assert "allowed by qualkit.toml (" in checked.output and "2: panels/named-*.txt; reason: public panel" in checked.output
    imported = _cli(panel, "import", named)
    assert imported.exit_code == 0, imported.output
    assert "anonymity override" in imported.output
    study = Study(panel)
    try:
        row = study.store.query("SELECT anonymity_override FROM transcripts WHERE id = 'named-1'")[0]
        assert json.loads(row[0])["reason"] == "public panel: the host is named with consent"
    finally:
        study.close()
    # a flag wins over the entry: the new version records the flag's reason
    (panel / "panels" / "named-1.txt").write_text(NAMED_PANEL + "P6: And thanks, Duncan, again.\n", encoding="utf-8")
    again = _cli(panel, "import", named, "--allow-findings", "--reason", "the flag's reason")
    assert again.exit_code == 0, again.output
    study = Study(panel)
    try:
        row = study.store.query("SELECT anonymity_override FROM transcripts WHERE id = 'named-1' AND is_current = 1")[0]
        assert json.loads(row[0])["reason"] == "the flag's reason"
    finally:
        study.close()
    # without the entry the same file is refused and nothing is stored
    (panel / "qualkit.toml").write_text(BASE + PANEL_RULE, encoding="utf-8")
    (panel / "panels" / "named-2.txt").write_text(NAMED_PANEL, encoding="utf-8")
    refused = _cli(panel, "import", str(panel / "panels" / "named-2.txt"))
    assert refused.exit_code == 1 and "not anonymized" in refused.output


def test_flags_override_the_entry_and_the_pipeline_resolves_the_same_options(panel: Path):  # noqa: F811
    (panel / "qualkit.toml").write_text(BASE + PANEL_RULE + '\n[[transcripts.files]]\nglob = "panels/*.txt"\ninterviewers = ["P4"]\n', encoding="utf-8")
    study = Study(panel)
    try:
        files = [panel / "transcripts" / "P1.txt", panel / "panels" / "panel-1.txt"]
        by_file = {group.files[0].name: group for group in group_files(study, files)}
        assert by_file["panel-1.txt"].options.multi_party and "P4" in by_file["panel-1.txt"].options.interviewers
        assert by_file["panel-1.txt"].rules == ["1: panels/*.txt", "2: panels/*.txt"]
        assert not by_file["P1.txt"].options.multi_party and by_file["P1.txt"].rules == []
        pipeline = {group.files[0].name: group.options for group in import_groups(study, files, files)}
        assert pipeline == {name: group.options for name, group in by_file.items()}
        flagged = resolve_file_options(study, files[1], command=CommandOptions({"interviewers": ("P2",), "format": "text", "max_mb": 1.0}))
        assert set(flagged.options.interviewers) == {"P4", "P2"} and flagged.options.format == "text" and flagged.options.max_mb == 1.0
    finally:
        study.close()
    result = _cli(panel, "import", str(panel / "panels" / "panel-1.txt"), "--interviewer", "P2", "--json")
    assert result.exit_code == 0, result.output
    study = Study(panel)
    try:
        # one participant left: the transcript takes its pseudonym as id
        roles = {turn.speaker: turn.role.value for turn in load_transcript(study.store, "P3").turns}
        assert roles == {"Interviewer": "interviewer", "P2": "interviewer", "P3": "participant", "P4": "interviewer"}
    finally:
        study.close()


def test_pseudonymize_reads_each_file_with_its_entry(panel: Path, tmp_path: Path):  # noqa: F811
    (panel / "qualkit.toml").write_text(BASE + '\n[[transcripts.files]]\nglob = "panels/*.txt"\ninterviewers = ["P4"]\n', encoding="utf-8")
    out = tmp_path / "pseudo"
    result = _cli(panel, "pseudonymize", str(panel / "panels" / "panel-1.txt"), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    written = json.loads((out / "panel-1.json").read_text(encoding="utf-8"))
    roles = [turn["role"] for turn in written["turns"]]
    assert roles == ["interviewer", "participant", "participant", "interviewer", "interviewer"]  # P4 asks, as the entry says
