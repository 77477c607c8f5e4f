"""Names never reach a report: speaker labels, names in the text without NER, the pseudonymizer's re-check.

Each reproduction of issue 11 ("Names never reach a report") has a test here; before the change the
check missed Zoom display names ("Bin Hu"), user names ("au774186"), "Professor …" and "thanks, Duncan"
without a NER model, and `pseudonymize` marked such files ``anonymized: true``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qualkit.errors import AnonymityError
from qualkit.transcripts_schema.anonymity import AnonymityChecker, non_pseudonym_reason
from qualkit.transcripts_schema.model import Transcript
from qualkit.transcripts_schema.names import NameDetector, default_lexicon

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "qualkit" / "sample_study"


def make(*turns: tuple[str, str] | str) -> Transcript:
    rows = []
    for turn in turns:
        speaker, text = ("P1", turn) if isinstance(turn, str) else turn
        role = "interviewer" if speaker.lower().startswith("interviewer") else "participant"
        rows.append({"speaker": speaker, "role": role, "text": text})
    return Transcript(id="T1", participant={"id": "P1"}, turns=rows)


CHECKER = AnonymityChecker([], ner=False)


def names_in(text: str, detector: NameDetector | None = None) -> list[str]:
    return [span.text for span in (detector or NameDetector()).spans(text)]


# ---------------------------------------------------------------- speaker labels


@pytest.mark.parametrize("label", ["Bin Hu", "au774186", "Break", "jsmith", "Mary Kate", "Dr. Smith", "ChatGPT"])
def test_any_label_that_is_not_a_pseudonym_is_a_finding(label: str) -> None:
    report = CHECKER.check(make(("Interviewer 1", "Hello."), (label, "hello.")))
    assert [(f.kind, f.text) for f in report.findings] == [("speaker-name", label)]
    assert non_pseudonym_reason(label)


def test_user_names_are_reported_as_such() -> None:
    assert "user name" in (non_pseudonym_reason("au774186") or "")


@pytest.mark.parametrize(
    "label",
    ["P3", "Participant 3", "Interviewer 2", "Speaker 1", "Interviewee", "Interviewer", "Host", "Moderator",
     "[REDACTED]", "[NAME]", "[PERSON-1]", "Respondent 4", "A"],
)
def test_pseudonym_forms_are_not_findings(label: str) -> None:
    assert non_pseudonym_reason(label) is None
    assert CHECKER.check(make((label, "fine."))).ok


def test_allow_list_silences_a_label_that_names_no_one() -> None:
    checker = AnonymityChecker([], ner=False, allow_terms=["Break"])
    assert checker.check(make(("Break", "music."), ("P1", "ok."))).ok


# ---------------------------------------------------------------- names in the text, no model


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("That was great, thanks, Duncan.", ["Duncan"]),
        ("We asked Professor Okafor about it.", ["Professor Okafor"]),
        ("Dr. Nakamura signed it off.", ["Dr. Nakamura"]),
        ("My name is Bin Hu and I lead the team.", ["Bin Hu"]),
        ("Hi Godliver, welcome to the show.", ["Godliver"]),
        ("Right, Latifa? Did I get that right?", ["Latifa"]),
        ("Chris, why don't you start?", ["Chris"]),
        ("I met Will Ramey at the conference.", ["Will Ramey"]),
        ("It's like Mary Kate's here.", ["Mary Kate"]),
        ("Both me and Anshul started in 2018.", ["Anshul"]),
        ("Before we welcome Professor liberty visitors today.", ["Professor liberty"]),  # speech recognition, lower case
    ],
)
def test_names_in_text_without_ner(text: str, expected: list[str]) -> None:
    assert names_in(text) == expected
    report = CHECKER.check(make(text))
    assert [f.text for f in report.findings if f.kind == "person-name"] == expected
    assert report.ner_model is None


@pytest.mark.parametrize(
    "text",
    [
        "We moved the DAGs from Airflow to Spark in May.",
        "Will it scale? Mark the date in June.",
        "So I think we used TensorFlow, then PyTorch, then JAX.",
        "The team in London and the one in Berlin use Slack.",
        "Fortunately, we caught it. However, it cost us a week.",
        "I'm not sure. Can you say more?",
        "We deployed it on Monday. Python is fine.",
        "[P1] said that [PERSON-2] owns the ranker.",
    ],
)
def test_tools_months_places_and_sentence_starts_are_not_names(text: str) -> None:
    assert names_in(text) == []


def test_allow_list_silences_a_tool_the_lists_call_a_name() -> None:
    text = "Then we moved the vectors into Lance over the summer."
    assert names_in(text) == ["Lance"]
    assert names_in(text, NameDetector(["lance"])) == []
    assert AnonymityChecker([], ner=False, allow_terms=["Lance"]).check(make(text)).ok


def test_known_tools_silence_only_the_bare_surname_rule() -> None:
    assert names_in("We rewrote it in Scala and ran it in Docker on Jenkins.") == []
    assert names_in("I asked Mr Jenkins about it.") == ["Mr Jenkins"]
    assert names_in("Bob Jenkins wrote the pipeline.") == ["Bob Jenkins"]


def test_a_name_found_once_is_found_everywhere_in_the_transcript() -> None:
    turns = ["Welcome, Godliver.", "Godliver has done her PhD in this.", "we use no capitals here"]
    spans = NameDetector().spans_many(turns)
    assert [[s.text for s in line] for line in spans] == [["Godliver"], ["Godliver"], []]
    assert NameDetector().spans(turns[1]) == []  # alone, that turn gives no evidence


def test_offsets_point_at_the_name() -> None:
    text = "Thanks so much, Priya. Talk soon."
    (finding,) = CHECKER.check(make(text)).findings
    assert (finding.kind, text[finding.start:finding.end]) == ("person-name", "Priya")
    assert "turn 1, chars 16-21" in finding.as_problem("t.txt").format()
    assert "allow_list" in finding.as_problem("t.txt").fix


def test_deny_list_and_contact_details_win_over_the_name_check() -> None:
    checker = AnonymityChecker(["Marguerite Okonkwo"], ner=False)
    report = checker.check(make("Marguerite Okonkwo wrote from marguerite@example.com."))
    assert [f.kind for f in report.findings] == ["deny-list", "email"]


def test_the_shipped_lists_cover_several_regions() -> None:
    lexicon = default_lexicon()
    for first in ["chris", "priya", "hiroshi", "chinedu", "ngozi", "kwame", "giulia", "mehmet", "jurgen", "fatima", "minh"]:
        assert first in lexicon.first, first
    for surname in ["smith", "benson", "nakamura", "okafor", "okonkwo", "kowalski", "nguyen", "garcia"]:
        assert surname in lexicon.surnames, surname
    assert "will" in lexicon.common and "chris" not in lexicon.common
    licence = (Path(__file__).resolve().parents[1] / "src" / "qualkit" / "transcripts_schema" / "namedata" / "LICENSE.md").read_text()
    assert "MIT" in licence and "public domain" in licence


def test_ner_adds_to_the_lists_and_does_not_replace_them() -> None:
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PERSON", "pattern": "Zyxwerth"}, {"label": "PERSON", "pattern": "Duncan"}])
    checker = AnonymityChecker([], ner_pipeline=nlp)
    report = checker.check(make("Zyxwerth joined us, thanks, Duncan."))
    assert [(f.kind, f.text) for f in report.findings] == [("ner-person", "Zyxwerth"), ("person-name", "Duncan")]


# ---------------------------------------------------------------- the pseudonymizer re-checks its output


def _zoom_like(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "session.vtt"
    path.write_text(
        "WEBVTT\n\n1\n00:00:01.000 --> 00:00:03.000\nBin Hu: It's like Mary Kate's here, thanks, Duncan.\n\n"
        "2\n00:00:04.000 --> 00:00:06.000\nau774186: Hi Bin, the pipeline broke again.\n",
        encoding="utf-8",
    )
    return path


def test_pseudonymize_refuses_to_mark_a_file_anonymized_while_names_remain(tmp_path: Path) -> None:
    from qualkit.transcripts_schema import read_transcript
    from qualkit.transcripts_schema.options import ImportOptions
    from qualkit.transcripts_schema.pseudonymize import pseudonymize_files

    source = _zoom_like(tmp_path / "raw")

    def reader(path: Path) -> Transcript:
        return read_transcript(path, options=ImportOptions(multi_party=True))

    with pytest.raises(AnonymityError) as caught:
        pseudonymize_files([source], tmp_path / "out", reader=reader, mapping_path=tmp_path / "map.json")
    rendered = caught.value.render()
    assert "out/session.json" in rendered and "turn 1" in rendered and "Mary Kate" in rendered and "Duncan" in rendered
    assert "deny-list" in rendered
    written = json.loads((tmp_path / "out" / "session.json").read_text(encoding="utf-8"))
    assert written["metadata"]["anonymized"] is False
    assert {turn["speaker"] for turn in written["turns"]} == {"P1", "P2"}  # labels were rewritten
    assert "Bin Hu" not in json.dumps(written) and "au774186" not in json.dumps(written)

    # with the remaining names on the deny-list the file is anonymized
    (tmp_path / "deny.txt").write_text("Mary Kate\nDuncan\n", encoding="utf-8")
    summary = pseudonymize_files(
        [source], tmp_path / "out2", reader=reader, mapping_path=tmp_path / "map.json", deny_terms=["Mary Kate", "Duncan"]
    )
    assert [item.anonymized for item in summary.files] == [True]
    assert json.loads((tmp_path / "out2" / "session.json").read_text(encoding="utf-8"))["metadata"]["anonymized"] is True


def test_pseudonymize_cli_exits_non_zero_and_names_file_turn_and_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qualkit.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QUALKIT_STUDY", raising=False)
    source = _zoom_like(tmp_path / "raw")
    result = CliRunner().invoke(main, ["transcripts", "pseudonymize", str(source), "--out", "out", "--mapping", "m.json"])
    assert result.exit_code == 1
    assert "out/session.json" in result.output and "turn 1, chars" in result.output
    assert "fix: add the name to the deny-list" in result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- real data and the sample study


def test_the_sample_study_passes_the_stricter_check() -> None:
    from qualkit.transcripts_schema import read_transcript
    from qualkit.transcripts_schema.anonymity import load_deny_list
    from qualkit.transcripts_schema.options import ImportOptions

    options = ImportOptions(interviewers=["Interviewer", "Interviewer 1", "Interviewer 2"])
    transcripts = [read_transcript(path, options=options) for path in sorted((SAMPLE / "transcripts").iterdir())]
    checker = AnonymityChecker(load_deny_list(SAMPLE / "deny-list.txt"), ner=False, allow_terms=load_deny_list(SAMPLE / "allow-list.txt"))
    reports = checker.check_many(transcripts)
    assert [(r.transcript_id, f.format()) for r in reports for f in r.findings] == []


def test_zoom_transcript_labels_and_names_in_text(shared_data: Path) -> None:
    from qualkit.transcripts_schema import read_transcript
    from qualkit.transcripts_schema.options import ImportOptions

    transcript = read_transcript(shared_data / "vtt" / "zoom-cloud-transcript.vtt", options=ImportOptions(multi_party=True))
    report = AnonymityChecker([], ner=False).check(transcript)
    labels = {f.text for f in report.findings if f.kind == "speaker-name"}
    assert labels == {turn.speaker for turn in transcript.turns}  # every display name
    in_text = {f.text for f in report.findings if f.kind == "person-name"}
    assert {"Mary Kate", "Kate", "Andrew"} <= in_text


def test_podcast_hosts_are_found_in_the_text(shared_data: Path) -> None:
    import re

    path = shared_data / "corpus" / "practicalai" / "practical-ai-100.md"
    texts = [m.group(2) for m in re.finditer(r"^\*\*(.+?):\*\*\s*(.+)$", path.read_text(encoding="utf-8"), re.MULTILINE)]
    found = {span.text for spans in NameDetector().spans_many(texts) for span in spans}
    assert {"Chris", "Daniel", "Jerod", "Stuart Russell"} <= found
    assert not found & {"Python", "TensorFlow", "Google"}
