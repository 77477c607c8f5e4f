"""The anonymity gate: every detector with positives and negatives, the deny-list, NER, labels."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from qualkit.errors import InputError
from qualkit.transcripts_schema.anonymity import (
    NO_NER_MESSAGE,
    AnonymityChecker,
    AnonymityReport,
    Finding,
    check_anonymity,
    count_redactions,
    load_deny_list,
    looks_like_personal_name,
    looks_like_pseudonym,
    parse_deny_term,
)
from qualkit.transcripts_schema.model import Transcript


def make(*turns: tuple[str, str] | str, tid: str = "T1") -> Transcript:
    """A transcript from (speaker, text) pairs, or texts spoken by P1."""
    rows = []
    for turn in turns:
        speaker, text = ("P1", turn) if isinstance(turn, str) else turn
        role = "interviewer" if speaker.lower().startswith("interviewer") else "participant"
        rows.append({"speaker": speaker, "role": role, "text": text})
    return Transcript(id=tid, participant={"id": "P1"}, turns=rows)


CHECKER = AnonymityChecker([], ner=False)


def found(text: str, kind: str, checker: AnonymityChecker = CHECKER) -> list[str]:
    return [f.text for f in checker.check(make(text)).findings if f.kind == kind]


# ---------------------------------------------------------------- e-mail


@pytest.mark.parametrize(
    "text, expected",
    [
        ("write to jo.smith@example.co.uk today", ["jo.smith@example.co.uk"]),
        ("Mail: A_B+tag@sub.uni-x.edu.", ["A_B+tag@sub.uni-x.edu"]),
        ("two: a@b.io and c@d.org", ["a@b.io", "c@d.org"]),
    ],
)
def test_email_positives(text: str, expected: list[str]) -> None:
    assert found(text, "email") == expected


@pytest.mark.parametrize("text", ["@channel we met", "the user@ prefix", "a@b", "ping me @ 10:30", "mention @john_doe on Slack"])
def test_email_negatives(text: str) -> None:
    assert found(text, "email") == []


def test_email_domain_is_not_also_a_url() -> None:
    kinds = [f.kind for f in CHECKER.check(make("jo@example.com")).findings]
    assert kinds == ["email"]


# ---------------------------------------------------------------- phone


@pytest.mark.parametrize(
    "text, expected",
    [
        ("call +44 20 7946 0958 now", "+44 20 7946 0958"),
        ("call +1 (555) 123-4567.", "+1 (555) 123-4567"),
        ("office 0049 30 1234567", "0049 30 1234567"),
        ("cell (555) 123-4567", "(555) 123-4567"),
        ("cell 555-123-4567", "555-123-4567"),
        ("cell 555.123.4567", "555.123.4567"),
        ("toll free 1-800-555-0199", "1-800-555-0199"),
        ("London 020 7946 0958", "020 7946 0958"),
        ("Paris 06 12 34 56 78", "06 12 34 56 78"),
        ("Berlin 030/1234567", "030/1234567"),
        ("mobile 07700900123", "07700900123"),
    ],
)
def test_phone_positives(text: str, expected: str) -> None:
    assert found(text, "phone") == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "we retrain every 24 hours",
        "95.5% accuracy on 10,000 samples",
        "Python 3.11 with GPT-2 and GPT-3.5",
        "the sync is at 10:30, or 14:45:10",
        "between 2019 and 2021, maybe 2022",
        "on 2021-03-04, 04/03/2021 or 01.02.2021",
        "we had 100 200 300 models",
        "1,000,000 users and 12345678 rows",
        "version 1.2.3 and v10.4.1",
        "a 0.05 learning rate and 0.001 decay",
        "we had 3 or 4 people, 12 GPUs, 128 batch",
        "numbers like 555 1234 are too short",
        "timestamp [00:01:02] then [01:15:40]",
    ],
)
def test_phone_negatives_in_ml_talk(text: str) -> None:
    assert found(text, "phone") == []


# ---------------------------------------------------------------- URL


@pytest.mark.parametrize(
    "text, expected",
    [
        ("see https://example.com/path?x=1.", ["https://example.com/path?x=1"]),
        ("(link: http://foo.org/a_(b))", ["http://foo.org/a_(b)"]),
        ("go to www.example.org, then", ["www.example.org"]),
        ("example.com and docs.python.org/3/library", ["example.com", "docs.python.org/3/library"]),
        ("the course at fast.ai and Changelog.com/community", ["fast.ai", "Changelog.com/community"]),
        ("our site bbc.co.uk", ["bbc.co.uk"]),
    ],
)
def test_url_positives(text: str, expected: list[str]) -> None:
    assert found(text, "url") == expected


@pytest.mark.parametrize(
    "text",
    [
        "pickle it to model.pkl and read config.yaml",
        "run train.py, see README.md and setup.cfg",
        "data.csv, weights.h5, notes.txt, index.html, run.sh, lib.so",
        "import sklearn.model_selection and torch.nn, np.array",
        "we use ML.NET and ASP.NET",
        "e.g. this, i.e. that, etc. and so on.",
        "Python 3.11 is out",
        "no space.Then a sentence",
    ],
)
def test_url_negatives(text: str) -> None:
    assert found(text, "url") == []


# ---------------------------------------------------------------- IP


@pytest.mark.parametrize(
    "text, expected",
    [
        ("the box at 192.168.1.10 died", ["192.168.1.10"]),
        ("ssh 10.0.0.1.", ["10.0.0.1"]),
        ("v6 2001:db8::1 and fe80::1ff:fe23:4567:890a", ["2001:db8::1", "fe80::1ff:fe23:4567:890a"]),
        ("full 2001:0db8:85a3:0000:0000:8a2e:0370:7334", ["2001:0db8:85a3:0000:0000:8a2e:0370:7334"]),
    ],
)
def test_ip_positives(text: str, expected: list[str]) -> None:
    assert found(text, "ip") == expected


@pytest.mark.parametrize(
    "text",
    ["version 1.2.3 shipped", "numpy 1.26.4", "an invalid 300.1.2.3", "at 10:30:15", "timestamps 01:02:03:04", "C++ std::vector"],
)
def test_ip_negatives(text: str) -> None:
    assert found(text, "ip") == []


# ---------------------------------------------------------------- the deny-list


def test_deny_list_case_insensitive_whole_words_and_multiword() -> None:
    checker = AnonymityChecker(["Tessellate Bank = COMPANY", "Okonkwo", "Ana"], ner=False)
    text = "At TESSELLATE\n  bank, okonkwo said hi. Okonkwo's team; Banana, Anaconda and Tessellate alone, ana."
    hits = [(f.start, f.end, f.text) for f in checker.check(make(text)).findings if f.kind == "deny-list"]
    assert [h[2] for h in hits] == ["TESSELLATE\n  bank", "okonkwo", "Okonkwo", "ana"]
    for start, end, matched in hits:
        assert text[start:end] == matched
    details = [f.detail for f in checker.check(make(text)).findings]
    assert details[0] == "deny-listed company"


def test_deny_list_matches_inside_speaker_labels() -> None:
    checker = AnonymityChecker(["Okonkwo"], ner=False)
    report = checker.check(make(("Interviewer", "Hi."), ("Dr Okonkwo", "Hello."), ("Dr Okonkwo", "Yes.")))
    label_hits = [f for f in report.findings if f.kind == "deny-list"]
    assert len(label_hits) == 1
    assert (label_hits[0].turn, label_hits[0].start, label_hits[0].end) == (1, 3, 10)
    assert "in speaker label" in label_hits[0].detail and "2 turns" in label_hits[0].detail
    assert "speaker label" in label_hits[0].format()


def test_deny_list_unicode_and_punctuation_terms() -> None:
    checker = AnonymityChecker(["Zoë Müller", "AT&T", "O'Neil"], ner=False)
    text = "zoë müller met at&t and O'Neil; not ATT or ONeil"
    assert [f.text for f in checker.check(make(text)).findings] == ["zoë müller", "at&t", "O'Neil"]


def test_deny_matcher_is_fast_on_a_long_list() -> None:
    terms = [f"Firstname{i} Lastname{i}" for i in range(300)] + ["Quillfeather Analytics"]
    checker = AnonymityChecker(terms, ner=False)
    text = ("we deployed the model and monitored it with Quillfeather Analytics dashboards. " * 200 + "Firstname7 lastname7\n")
    transcript = make(*[text] * 10)
    started = time.perf_counter()
    report = checker.check(transcript)
    elapsed = time.perf_counter() - started
    assert report.counts_by_kind() == {"deny-list": 2010}
    assert elapsed < 2.0


@pytest.mark.parametrize(
    "line, term, category",
    [("Tessellate Bank = COMPANY", "Tessellate Bank", "COMPANY"), ("Jane  Doe", "Jane Doe", "PERSON"), ("Acme=org", "Acme", "ORG")],
)
def test_parse_deny_term(line: str, term: str, category: str) -> None:
    parsed = parse_deny_term(line)
    assert (parsed.term, parsed.category) == (term, category)


def test_load_deny_list(tmp_path: Path) -> None:
    path = tmp_path / "deny.txt"
    path.write_bytes("\ufeff# names\n\nMarguerite Okonkwo\n  Tessellate Bank = COMPANY  \n# end\n".encode("utf-8"))
    assert load_deny_list(path) == ["Marguerite Okonkwo", "Tessellate Bank = COMPANY"]


def test_load_deny_list_reports_every_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "deny.txt"
    path.write_text("Good Name\n= COMPANY\nAcme = two words\n---\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_deny_list(path)
    locations = [p.location for p in caught.value.problems]
    assert locations == ["line 2", "line 3", "line 4"]
    assert all(p.file.endswith("deny.txt") for p in caught.value.problems)


def test_load_deny_list_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "deny.txt"
    path.write_bytes(b"Jos\xe9\n")
    with pytest.raises(InputError) as caught:
        load_deny_list(path)
    assert caught.value.problems[0].location == "byte 3"


def test_load_deny_list_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the deny-list"):
        load_deny_list(tmp_path / "nope.txt")


# ---------------------------------------------------------------- speaker labels


@pytest.mark.parametrize(
    "label",
    ["P3", "Lg2", "Sm4", "P-12", "Interviewer", "Interviewer 1", "Interviewer B", "Interviewee", "Speaker 2", "Speaker_01",
     "Participant 7", "Host", "Co-host", "Guest", "[NAME]", "[PERSON-1]", "A", "Audience member", "Moderator", "Respondent 3"],
)
def test_pseudonymous_labels(label: str) -> None:
    assert looks_like_pseudonym(label)
    assert looks_like_personal_name(label) is None


@pytest.mark.parametrize(
    "label",
    ["Chris Benson", "Daniel Whitenack", "José Valim", "Mary-Jane van der Berg", "Lucy D'Agostino McGowan", "Dr. Smith",
     "Daniel", "priya", "Chris B."],
)
def test_real_looking_labels(label: str) -> None:
    assert not looks_like_pseudonym(label)
    assert looks_like_personal_name(label)


@pytest.mark.parametrize("label", ["ML Engineer", "Break", "Song of Arrakis", "ChatGPT", "Selection 1", "Data team"])
def test_labels_that_are_neither(label: str) -> None:
    assert looks_like_personal_name(label) is None


def test_speaker_name_findings_once_per_label() -> None:
    report = CHECKER.check(
        make(("Interviewer 1", "Hi."), ("Chris Benson", "Hello."), ("Interviewer 1", "So?"), ("Chris Benson", "Well."))
    )
    names = [f for f in report.findings if f.kind == "speaker-name"]
    assert len(names) == 1
    finding = names[0]
    assert (finding.turn, finding.start, finding.end, finding.text) == (1, 0, 12, "Chris Benson")
    assert "2 turns" in finding.detail
    assert finding.format().startswith("turn 2, speaker label: speaker-name 'Chris Benson'")


# ---------------------------------------------------------------- redactions and the report


def test_count_redactions() -> None:
    text = "[NAME] from [COMPANY-1] said [REDACTED] [PERSON 2] [inaudible] [INAUDIBLE] [00:01:02] \\[04:06\\] [x]"
    assert count_redactions(text) == 4
    assert count_redactions("nothing here") == 0


def test_redaction_markers_are_not_findings() -> None:
    report = CHECKER.check(make(("[NAME]", "I told [NAME] at [COMPANY-1] about [EMAIL]."), ("P2", "OK.")))
    assert report.ok


def test_report_offsets_and_order() -> None:
    report = CHECKER.check(make("Clean turn.", "mail a@b.io or see example.com", ("Interviewer", "call 555-123-4567")))
    assert [(f.kind, f.turn) for f in report.findings] == [("email", 1), ("url", 1), ("phone", 2)]
    for finding in report.findings:
        assert make("Clean turn.", "mail a@b.io or see example.com", ("Interviewer", "call 555-123-4567")).turns[
            finding.turn
        ].text[finding.start : finding.end] == finding.text
    assert report.counts_by_kind() == {"email": 1, "phone": 1, "url": 1}
    assert not report.ok
    data = report.as_dict()
    assert data["findings"][0] == {"kind": "email", "turn": 1, "start": 5, "end": 11, "text": "a@b.io", "detail": ""}
    assert report.findings[0].format() == "turn 2, chars 5-11: email 'a@b.io'"
    problem = report.problems("t.txt")[0]
    assert (problem.file, problem.location) == ("t.txt", "turn 2, chars 5-11")


def test_offsets_are_code_points() -> None:
    text = "Zoë 😀 mail zoë@example.com"
    name, finding = CHECKER.check(make(text)).findings
    assert (name.kind, name.start, name.end) == ("person-name", 0, 3)  # a first name, before the emoji
    assert (finding.start, finding.end) == (11, 26)
    assert text[finding.start : finding.end] == "zoë@example.com" == finding.text


# ---------------------------------------------------------------- NER


def test_ner_reported_unavailable_when_model_missing() -> None:
    checker = AnonymityChecker(["Okonkwo"], ner=True, ner_model="en_core_web_sm")
    assert checker.ner_model is None
    report = checker.check(make("Marguerite works at Brightmoor Health."))
    assert report.ner_model is None
    assert report.ner_message == NO_NER_MESSAGE
    # no NER: the name lists still catch the first name; the organisation only a deny-list would
    assert [(f.kind, f.text) for f in report.findings] == [("person-name", "Marguerite")]


def test_ner_turned_off_says_so() -> None:
    report = AnonymityChecker([], ner=False).check(make("Hello."))
    assert report.ner_model is None and "turned off" in report.ner_message


def entity_ruler_pipeline():
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [
            {"label": "PERSON", "pattern": [{"LOWER": "marguerite"}, {"LOWER": "okonkwo"}]},
            {"label": "PERSON", "pattern": "Devansh"},
            {"label": "ORG", "pattern": [{"LOWER": "brightmoor"}, {"LOWER": "health"}]},
            {"label": "GPE", "pattern": "Oslo"},
            {"label": "PERSON", "pattern": "P3"},
        ]
    )
    return nlp


def test_ner_pipeline_person_and_org_findings_end_to_end() -> None:
    checker = AnonymityChecker(["Devansh"], ner=True, ner_pipeline=entity_ruler_pipeline(), names=False)
    assert checker.ner_model is not None
    text = "Marguerite Okonkwo from Brightmoor Health met Devansh in Oslo with P3."
    report = checker.check(make("no capitals here at all.", text))
    got = [(f.kind, f.turn, f.text, text[f.start : f.end]) for f in report.findings]
    assert ("ner-person", 1, "Marguerite Okonkwo", "Marguerite Okonkwo") in got
    assert ("ner-org", 1, "Brightmoor Health", "Brightmoor Health") in got
    # Devansh is a deny-list hit already; GPE is not reported; pseudonyms are not names
    assert [k for k, *_ in got] == ["ner-person", "ner-org", "deny-list"]
    assert report.ner_model == checker.ner_model
    assert "NER model" in report.ner_message


def test_ner_runs_only_on_turns_that_may_name_someone() -> None:
    class CountingPipeline:
        meta = {"lang": "en", "name": "counting"}

        def __init__(self, inner) -> None:
            self.inner = inner
            self.seen: list[str] = []

        def pipe(self, texts, batch_size: int = 64):
            texts = list(texts)
            self.seen.extend(texts)
            return self.inner.pipe(texts, batch_size=batch_size)

    counting = CountingPipeline(entity_ruler_pipeline())
    checker = AnonymityChecker([], ner_pipeline=counting, names=False)
    reports = checker.check_many([make("all lower case.", "Marguerite Okonkwo here."), make("we retrain daily.")])
    assert counting.seen == ["Marguerite Okonkwo here."]
    assert [r.counts_by_kind() for r in reports] == [{"ner-person": 1}, {}]


def test_check_anonymity_convenience() -> None:
    report = check_anonymity(make("mail a@b.io"), ["Nobody"], ner=False)
    assert isinstance(report, AnonymityReport) and report.counts_by_kind() == {"email": 1}
    assert isinstance(report.findings[0], Finding)


# ---------------------------------------------------------------- real data


def test_podcast_transcripts_have_speaker_name_findings(shared_data: Path) -> None:
    files = sorted((shared_data / "corpus" / "practicalai").glob("practical-ai-1*.md"))[:5]
    assert files
    label = re.compile(r"^\*\*(.+?):\*\*\s*(.*)$")
    transcripts = []
    for path in files:
        turns = []
        for line in path.read_text(encoding="utf-8").splitlines():
            match = label.match(line)
            if match and match.group(2).strip():
                turns.append({"speaker": match.group(1), "role": "participant", "text": match.group(2)})
        transcripts.append(Transcript(id=path.stem, participant={"id": "P1"}, turns=turns))
    reports = AnonymityChecker([], ner=True).check_many(transcripts)
    for report in reports:
        names = {f.text for f in report.findings if f.kind == "speaker-name"}
        assert names, report.transcript_id
        assert report.ner_message == NO_NER_MESSAGE
    all_names = {f.text for r in reports for f in r.findings if f.kind == "speaker-name"}
    assert {"Daniel Whitenack", "Chris Benson"} & all_names


def test_podcast_transcripts_through_the_importer(shared_data: Path) -> None:
    from qualkit.transcripts_schema import read_transcript
    from qualkit.transcripts_schema.options import ImportOptions

    path = shared_data / "corpus" / "practicalai" / "practical-ai-10.md"
    transcript = read_transcript(path, options=ImportOptions(multi_party=True))
    report = AnonymityChecker([]).check(transcript)
    assert {f.text for f in report.findings if f.kind == "speaker-name"} >= {"Daniel Whitenack", "Chris Benson"}


def test_ner_model_loaded_from_a_folder_on_disk(tmp_path: Path) -> None:
    from qualkit.transcripts_schema.anonymity import load_ner_pipeline

    entity_ruler_pipeline().to_disk(tmp_path / "tiny_ner")
    checker = AnonymityChecker([], ner_model=str(tmp_path / "tiny_ner"), names=False)
    assert checker.ner_model == str(tmp_path / "tiny_ner")
    report = checker.check(make("Devansh joined Brightmoor Health."))
    assert [(f.kind, f.text) for f in report.findings] == [("ner-person", "Devansh"), ("ner-org", "Brightmoor Health")]
    assert load_ner_pipeline("en_core_web_sm") is None
    assert load_ner_pipeline(str(tmp_path / "no-such-model")) is None


def test_allow_list_silences_ner_for_non_identifying_names() -> None:
    # e.g. a tool a NER model tags as ORG; the deny-list still wins over the allow-list
    checker = AnonymityChecker(["Devansh"], ner_pipeline=entity_ruler_pipeline(), allow_terms=["brightmoor  HEALTH", "Devansh"], names=False)
    text = "Marguerite Okonkwo from Brightmoor Health met Devansh."
    kinds = [(f.kind, f.text) for f in checker.check(make("Hello.", text)).findings]
    assert ("ner-org", "Brightmoor Health") not in kinds
    assert ("ner-person", "Marguerite Okonkwo") in kinds and ("deny-list", "Devansh") in kinds


def test_study_allow_list_reaches_the_import_checker(tmp_path) -> None:
    from qualkit.study import init_study
    from qualkit.transcripts_schema.importing import _anonymity_settings

    study = init_study(tmp_path / "s")
    (study.root / "allow.txt").write_text("# tools\nAirflow\nWeights & Biases\n", encoding="utf-8")
    config = study.root / "qualkit.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('# allow_list = "allow-list.txt"', 'allow_list = "allow.txt"'), encoding="utf-8")
    study.close()
    reopened = type(study)(study.root)
    assert _anonymity_settings(reopened, None, None)[3] == ["Airflow", "Weights & Biases"]
    reopened.close()
