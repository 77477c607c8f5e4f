"""The pseudonymizer: labels, deny-listed terms, contact details, stable mappings, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qualkit.errors import InputError, QualkitError
from qualkit.transcripts_schema.anonymity import AnonymityChecker, count_redactions
from qualkit.transcripts_schema.model import Transcript
from qualkit.transcripts_schema.pseudonymize import (
    PseudonymMap,
    pseudonymize,
    pseudonymize_files,
    pseudonymize_with_stats,
)

DENY = ["Tessellate Bank = COMPANY", "Marguerite Okonkwo", "Brightmoor Health = company", "Halvard"]


def make(*turns: tuple[str, str], tid: str = "T1", interviewers: list[str] | None = None) -> Transcript:
    rows = []
    for speaker, text in turns:
        role = "interviewer" if speaker.lower().startswith("interviewer") or speaker in (interviewers or []) else "participant"
        rows.append({"speaker": speaker, "role": role, "text": text})
    return Transcript(
        id=tid,
        participant={"id": "P1"},
        metadata={"interviewers": interviewers or []},
        turns=rows,
    )


def texts(transcript: Transcript) -> list[tuple[str, str]]:
    return [(turn.speaker, turn.text) for turn in transcript.turns]


def test_speaker_labels_become_pseudonyms_by_role() -> None:
    source = make(
        ("Maria Lopez", "Hello, welcome."),
        ("Chris Benson", "Thanks."),
        ("P1", "I am already pseudonymous."),
        ("Daniel Whitenack", "Me too."),
        ("Interviewer 2", "Next question."),
        interviewers=["Maria Lopez"],
    )
    result, mapping = pseudonymize(source, deny_terms=[])
    assert [turn.speaker for turn in result.turns] == ["Interviewer 1", "P2", "P1", "P3", "Interviewer 2"]
    assert result.metadata.interviewers == ["Interviewer 1"]
    assert mapping.speakers["chris benson"] == {"original": "Chris Benson", "pseudonym": "P2", "role": "participant"}
    assert "P1" in mapping.reserved and "Interviewer 2" in mapping.reserved
    assert AnonymityChecker([], ner=False).check(result).counts_by_kind().get("speaker-name") is None


def test_deny_terms_get_stable_category_pseudonyms() -> None:
    source = make(
        ("Interviewer", "Was that at Tessellate Bank, with marguerite okonkwo?"),
        ("P1", "Yes, TESSELLATE BANK. Marguerite   Okonkwo and Halvard, then Brightmoor Health."),
        ("P1", "Halvardsen is a different word; Tessellate alone too."),
    )
    result, mapping = pseudonymize(source, deny_terms=DENY)
    assert texts(result) == [
        ("Interviewer", "Was that at [COMPANY-1], with [PERSON-1]?"),
        ("P1", "Yes, [COMPANY-1]. [PERSON-1] and [PERSON-2], then [COMPANY-2]."),
        ("P1", "Halvardsen is a different word; Tessellate alone too."),
    ]
    assert mapping.terms["tessellate bank"]["original"] == "Tessellate Bank"
    assert result.metadata.redaction_count == 6
    assert AnonymityChecker(DENY, ner=False).check(result).ok


def test_contact_details_become_markers() -> None:
    source = make(("P1", "Mail jo@example.com, call +44 20 7946 0958, see https://example.org/x or host 10.0.0.1. Python 3.11 stays."))
    result, stats_map, stats = pseudonymize_with_stats(source)
    assert result.turns[0].text == "Mail [EMAIL], call [PHONE], see [URL] or host [IP]. Python 3.11 stays."
    assert stats.replacements == {"email": 1, "phone": 1, "url": 1, "ip": 1}
    assert count_redactions(result.turns[0].text) == result.metadata.redaction_count == 4


def test_deny_term_inside_a_url_is_replaced_once() -> None:
    result, _ = pseudonymize(make(("P1", "see https://halvard.example.com/about now")), deny_terms=["Halvard"])
    assert result.turns[0].text == "see [URL] now"


def test_speaker_names_in_text_are_replaced() -> None:
    source = make(
        ("Interviewer", "Welcome Chris Benson and Will Ramey. Chris, you first? Then Ramey."),
        ("Chris Benson", "Sure, I will. Benson here; chris benson in lower case."),
        ("Will Ramey", "And I will go after Chris."),
    )
    result, _ = pseudonymize(source)
    assert texts(result) == [
        ("Interviewer", "Welcome [P1] and [P2]. [P1], you first? Then [P2]."),
        ("P1", "Sure, I will. [P1] here; [P1] in lower case."),
        ("P2", "And I will go after [P1]."),
    ]


def test_shared_first_names_are_not_replaced_alone() -> None:
    source = make(("Chris Benson", "Hi Chris."), ("Chris Evans", "Hi Chris Benson."))
    result, _ = pseudonymize(source)
    assert texts(result) == [("P1", "Hi Chris."), ("P2", "Hi [P1].")]


def test_labels_that_are_not_names_are_renamed_but_not_hunted_in_text() -> None:
    result, _ = pseudonymize(make(("Break", "We take a break now."), ("P1", "OK.")))
    assert texts(result) == [("P2", "We take a break now."), ("P1", "OK.")]


def test_stable_across_two_transcripts() -> None:
    first, mapping = pseudonymize(
        make(("Interviewer", "Hi"), ("Chris Benson", "At Tessellate Bank."), ("Maria Lopez", "And Marguerite Okonkwo.")),
        deny_terms=DENY,
    )
    second, mapping2 = pseudonymize(
        make(("Interviewer", "Hi"), ("Maria Lopez", "Brightmoor Health, then Tessellate Bank."), ("Jo Park", "Marguerite Okonkwo"), tid="T2"),
        deny_terms=DENY,
        mapping=mapping,
    )
    assert texts(first)[1:] == [("P1", "At [COMPANY-1]."), ("P2", "And [PERSON-1].")]
    assert texts(second)[1:] == [("P2", "[COMPANY-2], then [COMPANY-1]."), ("P3", "[PERSON-1]")]
    assert len(mapping.speakers) == 2 and len(mapping2.speakers) == 3  # the given mapping is not changed


def test_stable_across_two_runs_through_the_saved_file(tmp_path: Path) -> None:
    path = tmp_path / "private" / "pseudonyms.json"
    source = make(("Interviewer", "Hi"), ("Chris Benson", "Tessellate Bank and Halvard."))
    _, mapping = pseudonymize(source, deny_terms=DENY)
    mapping.save(path)
    assert json.loads(path.read_text(encoding="utf-8"))["format"] == "qualkit-pseudonyms"
    # second run: a new transcript first, then the same one again
    loaded = PseudonymMap.load(path)
    other, loaded = pseudonymize(make(("Jo Park", "Halvard!"), ("Chris Benson", "Hi"), tid="T2"), deny_terms=DENY, mapping=loaded)
    again, _ = pseudonymize(source, deny_terms=DENY, mapping=loaded)
    assert texts(again)[1] == ("P1", "[COMPANY-1] and [PERSON-1].")
    assert texts(other) == [("P2", "[PERSON-1]!"), ("P1", "Hi")]


def test_new_pseudonyms_avoid_labels_already_used() -> None:
    _, mapping = pseudonymize(make(("P1", "one"), ("P2", "two")))
    result, _ = pseudonymize(make(("Chris Benson", "three"), tid="T2"), mapping=mapping)
    assert result.turns[0].speaker == "P3"


def test_mapping_clash_with_an_existing_label_is_an_error() -> None:
    _, mapping = pseudonymize(make(("Chris Benson", "one")))
    with pytest.raises(QualkitError, match="already uses as a label"):
        pseudonymize(make(("Chris Benson", "again"), ("P1", "I am P1 here"), tid="T2"), mapping=mapping)


def test_participant_id_follows_its_label() -> None:
    source = Transcript(
        id="interview-a",
        participant={"id": "Daniel"},
        turns=[{"speaker": "Daniel", "role": "participant", "text": "Hello"}],
    )
    result, _ = pseudonymize(source)
    assert result.participant.id == "P1" and result.turns[0].speaker == "P1"


def test_mapping_file_errors(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        PseudonymMap.load(bad_json)
    assert caught.value.problems[0].location == "line 1, column 2"
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"format": "qualkit-pseudonyms", "version": 1, "speakers": [{"original": "X"}, {"original": "Y", "pseudonym": "P1", "role": "boss"}]}), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        PseudonymMap.load(wrong)
    assert [p.location for p in caught.value.problems] == ["speakers -> 0", "speakers -> 1 -> role"]
    other = tmp_path / "other.json"
    other.write_text("[]", encoding="utf-8")
    with pytest.raises(InputError, match="not a qualkit pseudonym mapping"):
        PseudonymMap.load(other)
    assert len(PseudonymMap.load(tmp_path / "missing.json")) == 0


# ---------------------------------------------------------------- files and the CLI


def _reader(path: Path) -> Transcript:
    turns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        speaker, _, text = line.partition(": ")
        if not text:
            raise InputError(f"{path.name}: no label", hint="write 'Name: text'")
        turns.append({"speaker": speaker, "role": "interviewer" if speaker == "Interviewer" else "participant", "text": text})
    return Transcript(id=path.stem, participant={"id": "P1"}, turns=turns)


def test_pseudonymize_files_refuses_a_mapping_inside_out(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Chris Benson: hi\n", encoding="utf-8")
    with pytest.raises(QualkitError, match="would be inside"):
        pseudonymize_files([tmp_path / "a.txt"], tmp_path / "out", reader=_reader, mapping_path=tmp_path / "out" / "m.json")
    assert not (tmp_path / "out").exists()


def test_pseudonymize_files_writes_nothing_when_a_file_is_bad(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Chris Benson: hi\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("no label here\n", encoding="utf-8")
    with pytest.raises(InputError, match="nothing was written"):
        pseudonymize_files([tmp_path / "a.txt", tmp_path / "b.txt"], tmp_path / "out", reader=_reader, mapping_path=tmp_path / "m.json")
    assert not (tmp_path / "out").exists() and not (tmp_path / "m.json").exists()


def test_pseudonymize_files_round_trip(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Interviewer: Hi Chris\nChris Benson: At Tessellate Bank\n", encoding="utf-8")
    summary = pseudonymize_files([tmp_path / "a.txt"], tmp_path / "out", reader=_reader, deny_terms=DENY, mapping_path=tmp_path / "m.json")
    written = Transcript.model_validate_json((tmp_path / "out" / "a.json").read_text(encoding="utf-8"))
    assert texts(written) == [("Interviewer", "Hi [P1]"), ("P1", "At [COMPANY-1]")]
    assert summary.totals() == {"speaker labels": 1, "speaker name": 1, "deny-list company": 1}
    assert {e["pseudonym"] for e in summary.new_entries} == {"P1", "[COMPANY-1]"}
    assert "Chris" not in json.dumps(summary.as_dict())
    assert "Chris Benson" in json.dumps(summary.as_dict(show_mapping=True))


def _cli():
    from qualkit.cli import main

    assert "pseudonymize" in main.commands["transcripts"].commands  # type: ignore[attr-defined]
    return main


def _write_sources(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    first = folder / "one.txt"
    first.write_text(
        "Interviewer: Hello Chris, thanks for joining.\n"
        "Chris Benson: Happy to. I work at Tessellate Bank; mail chris@tessellate.example.com.\n"
        "Interviewer: And Marguerite Okonkwo?\n"
        "Chris Benson: She moved to Brightmoor Health.\n",
        encoding="utf-8",
    )
    second = folder / "two.txt"
    second.write_text(
        "Interviewer: Welcome Daniel.\n"
        "Daniel Whitenack: I worked with Marguerite Okonkwo at Brightmoor Health, call 555-123-4567.\n",
        encoding="utf-8",
    )
    return first, second


def test_cli_outside_a_study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    main = _cli()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QUALKIT_STUDY", raising=False)
    first, second = _write_sources(tmp_path / "src")
    (tmp_path / "deny.txt").write_text("# names\nMarguerite Okonkwo\nTessellate Bank = COMPANY\nBrightmoor Health = COMPANY\n", encoding="utf-8")
    runner = CliRunner()
    args = ["transcripts", "pseudonymize", str(first), "--out", "out", "--deny-list", "deny.txt", "--mapping", "private/map.json"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    for name in ("Chris", "Benson", "Marguerite", "Tessellate", "Brightmoor"):
        assert name not in result.output
    assert "private/map.json" in result.output and "1 speaker labels" in result.output
    written = json.loads((tmp_path / "out" / "one.json").read_text(encoding="utf-8"))
    assert [t["text"] for t in written["turns"]] == [
        "Hello [P1], thanks for joining.",
        "Happy to. I work at [COMPANY-1]; mail [EMAIL].",
        "And [PERSON-1]?",
        "She moved to [COMPANY-2].",
    ]
    # the second run extends the mapping: the same names keep their pseudonyms
    args2 = ["transcripts", "pseudonymize", str(second), "--out", "out", "--deny-list", "deny.txt", "--mapping", "private/map.json", "--show-mapping"]
    result = runner.invoke(main, args2)
    assert result.exit_code == 0, result.output
    assert "P2 = Daniel Whitenack" in result.output
    written = json.loads((tmp_path / "out" / "two.json").read_text(encoding="utf-8"))
    assert written["turns"][1] == {"speaker": "P2", "role": "participant", "text": "I worked with [PERSON-1] at [COMPANY-2], call [PHONE]."}
    mapping = json.loads((tmp_path / "private" / "map.json").read_text(encoding="utf-8"))
    assert [e["pseudonym"] for e in mapping["speakers"]] == ["P1", "P2"]
    # without --mapping outside a study: a usage error
    result = runner.invoke(main, ["transcripts", "pseudonymize", str(first), "--out", "out"])
    assert result.exit_code == 2 and "--mapping" in result.output


def test_cli_inside_a_study_uses_its_deny_list_and_default_mapping(study, monkeypatch: pytest.MonkeyPatch) -> None:
    main = _cli()
    monkeypatch.delenv("QUALKIT_STUDY", raising=False)
    (study.root / "deny-list.txt").write_text("Tessellate Bank = COMPANY\nMarguerite Okonkwo\n", encoding="utf-8")
    config = study.root / "qualkit.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('# deny_list = "deny-list.txt"', 'deny_list = "deny-list.txt"'), encoding="utf-8")
    first, _ = _write_sources(study.root / "raw")
    runner = CliRunner()
    result = runner.invoke(main, ["--study", str(study.root), "transcripts", "pseudonymize", str(first), "--out", str(study.root / "transcripts"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] and data["totals"]["deny-list company"] == 1
    assert Path(data["mapping_path"]) == study.root / ".qualkit" / "pseudonyms.json"
    assert (study.root / ".qualkit" / "pseudonyms.json").is_file()
    # a mapping inside the reports folder is refused
    result = runner.invoke(
        main,
        ["--study", str(study.root), "transcripts", "pseudonymize", str(first), "--out", str(study.root / "x"), "--mapping", str(study.root / "reports" / "m.json")],
    )
    assert result.exit_code == 1 and "would be inside" in result.output


def test_cli_bad_deny_list_is_a_clean_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    main = _cli()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QUALKIT_STUDY", raising=False)
    first, _ = _write_sources(tmp_path / "src")
    (tmp_path / "deny.txt").write_text("Acme = not a category\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["transcripts", "pseudonymize", str(first), "--out", "out", "--deny-list", "deny.txt", "--mapping", "m.json"])
    assert result.exit_code == 1
    assert "deny.txt:line 1" in result.output
    assert not (tmp_path / "out").exists()


def test_cli_on_a_podcast_transcript(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    main = _cli()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QUALKIT_STUDY", raising=False)
    source = shared_data / "corpus" / "practicalai" / "practical-ai-10.md"
    result = CliRunner().invoke(main, ["transcripts", "pseudonymize", str(source), "--out", "out", "--mapping", "m.json"])
    # the speakers are renamed, but the guests and people they talk about are still named in the
    # text: the re-check refuses to call the file anonymized and says where and how to fix it
    assert result.exit_code == 1, result.output
    assert "still identify someone" in result.output and "out/practical-ai-10.json" in result.output
    assert "person-name" in result.output and "deny-list" in result.output
    written = Transcript.model_validate_json((tmp_path / "out" / "practical-ai-10.json").read_text(encoding="utf-8"))
    assert written.metadata.anonymized is False
    report = AnonymityChecker([], ner=False).check(written)
    assert not [f for f in report.findings if f.kind == "speaker-name"]
    assert "Whitenack" not in (tmp_path / "out" / "practical-ai-10.json").read_text(encoding="utf-8")


def test_out_must_not_be_the_folder_of_the_originals(tmp_path):
    from qualkit.errors import InputError
    from qualkit.transcripts_schema.pseudonymize import pseudonymize_files

    folder = tmp_path / "transcripts"
    folder.mkdir()
    source = folder / "P1.txt"
    source.write_text("Interviewer: Hi.\nP1: Hello.\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        pseudonymize_files([source], folder, reader=lambda path: None, mapping_path=tmp_path / "map.json")
    assert "--out" in caught.value.render() and "another folder" in caught.value.render()
    assert sorted(p.name for p in folder.iterdir()) == ["P1.txt"]
