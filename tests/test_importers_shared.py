"""Real files from ../shared/data: the Zoom VTT and the Practical AI podcast transcripts (skipped when absent)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from qualkit.cli import main
from qualkit.transcripts_schema import ImportOptions
from qualkit.transcripts_schema.importing import read_file

pytestmark = pytest.mark.shared

HOSTS = ("Daniel Whitenack", "Chris Benson")
#: A ``**Name:**`` label line (all three spellings seen in the corpus).
LABEL_LINE = re.compile(r"(?m)^\*\*[^*\n]{1,60}?(?::\*\*|\*\*\s*:|:)")


def _podcasts(shared_data: Path, count: int = 20) -> list[Path]:
    files = sorted((shared_data / "corpus" / "practicalai").glob("practical-ai-*.md"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return files[:count]


def test_zoom_vtt_parses_every_cue_once_roles_are_mapped(shared_data):
    path = shared_data / "vtt" / "zoom-cloud-transcript.vtt"
    cues = path.read_text(encoding="utf-8").count("-->")
    # unmapped, the five speakers are refused, each named with its first cue
    runner = CliRunner()
    refused = runner.invoke(main, ["transcripts", "validate", "--json", str(path)])
    assert refused.exit_code == 1
    error = json.loads(refused.stdout)["files"][0]["error"]
    assert {p["message"].split("'")[1] for p in error["problems"]} == {
        "Andrew Knight", "Paul McCartney", "George Harrison", "Ringo Starr", "John Lennon",
    }
    options = ImportOptions(speaker_roles={"Andrew Knight": "interviewer", "Paul McCartney": "participant",
                                           "George Harrison": "other", "Ringo Starr": "other", "John Lennon": "other"})
    result = read_file(path, options=options)
    assert result.units == cues == 300
    # every cue's words end up in exactly one turn (two cues have no label: they continue the turn before)
    blocks = path.read_text(encoding="utf-8").replace("\r\n", "\n").split("\n\n")[1:]
    payloads = ["\n".join(block.strip().split("\n")[2:]) for block in blocks if "-->" in block]
    assert sum(not re.match(r"^[A-Z][a-z]+ [A-Z][A-Za-z]+: ", text) for text in payloads) == 2
    cue_words = sum(len(re.sub(r"^[A-Z][a-z]+ [A-Z][A-Za-z]+: ", "", text).split()) for text in payloads)
    assert result.transcript.word_count == cue_words
    assert result.transcript.participant.id == "zoom-cloud-transcript"
    starts = [turn.start for turn in result.transcript.turns]
    assert starts == sorted(starts) and starts[0] == pytest.approx(4.859)


def test_zoom_vtt_validate_with_multi_party_parses_and_refuses_real_looking_names(shared_data):
    path = shared_data / "vtt" / "zoom-cloud-transcript.vtt"
    result = CliRunner().invoke(
        main, ["transcripts", "validate", "--json", "--interviewer", "Andrew Knight", "--multi-party", str(path)]
    )
    [report] = json.loads(result.stdout)["files"]
    assert report["parsed"] and report["units"] == 300
    assert {s["label"]: s["role"] for s in report["speakers"]}["Andrew Knight"] == "interviewer"
    kinds = {finding["kind"] for finding in report["anonymity"]["findings"]}
    assert "speaker-name" in kinds
    assert result.exit_code == 1


def test_twenty_podcasts_parse_every_turn_and_are_refused_with_findings(shared_data, tmp_path):
    files = _podcasts(shared_data)
    assert len(files) == 20
    deny = tmp_path / "deny.txt"
    deny.write_text("Changelog\nGopherCon\n", encoding="utf-8")
    args = ["transcripts", "validate", "--json", "--multi-party", "--deny-list", str(deny)]
    for host in HOSTS:
        args += ["--interviewer", host]
    result = CliRunner().invoke(main, [*args, *map(str, files)])
    assert result.exit_code == 1
    reports = json.loads(result.stdout)["files"]
    assert len(reports) == 20
    for path, report in zip(files, reports):
        assert report["parsed"], report
        text = path.read_text(encoding="utf-8")
        dropped = sum(int(note.split()[1]) for note in report["notes"] if note.startswith("dropped"))
        assert report["turns"] == len(LABEL_LINE.findall(text)) - dropped, path.name
        assert not report["ok"]
        kinds = {finding["kind"] for finding in report["anonymity"]["findings"]}
        assert "speaker-name" in kinds, path.name
        roles = {s["label"]: s["role"] for s in report["speakers"]}
        assert all(roles[host] == "interviewer" for host in HOSTS if host in roles)
    assert any(f["kind"] == "deny-list" for r in reports for f in r["anonymity"]["findings"])


def test_podcast_markdown_quirks_are_cleaned(shared_data):
    path = shared_data / "corpus" / "practicalai" / "practical-ai-1.md"
    result = read_file(path, options=ImportOptions(interviewers=HOSTS, multi_party=True))
    texts = [turn.text for turn in result.transcript.turns]
    assert not any("\\[" in text for text in texts)
    assert not any(re.search(r"\[\d{1,2}:\d{2}\]", text) for text in texts)
    assert any("[laughter]" in text for text in texts)
    chris = next(turn for turn in result.transcript.turns if turn.text.startswith("Well, that's a little bit of a roundabout way"))
    assert chris.start == 4 * 60 + 5
