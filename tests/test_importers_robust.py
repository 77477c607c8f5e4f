"""Real-file robustness of the importers (issue 11): each test reproduces one failure seen with real files."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from qualkit.cli import main
from qualkit.errors import InputError, QualkitError
from qualkit.transcripts_schema import ImportOptions
from qualkit.transcripts_schema.importing import read_file
from qualkit.transcripts_schema.participants import load_participants


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _turns(result) -> list[tuple[str, str]]:
    return [(turn.speaker, turn.text) for turn in result.transcript.turns]


# -- empty turns: one rule for every importer --------------------------------------------
EMPTY_CASES = {
    "text": ("t.txt", "Interviewer: How are you?\nInterviewee: \n\nInterviewer: Anything else?\nInterviewee: No, that is all.\n"),
    "otter": ("t.txt", "Interviewer  0:00\nHow are you?\n\nInterviewee  0:03\n\nInterviewer  0:04\nAnything else?\n\nInterviewee  0:06\nNo, that is all.\n"),
    "vtt": (
        "t.vtt",
        "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nInterviewer: How are you?\n\n"
        "2\n00:00:02.000 --> 00:00:03.000\nInterviewee:\n\n"
        "3\n00:00:03.000 --> 00:00:04.000\nInterviewer: Anything else?\n\n"
        "4\n00:00:04.000 --> 00:00:05.000\nInterviewee: No, that is all.\n",
    ),
    "srt": (
        "t.srt",
        "1\n00:00:01,000 --> 00:00:02,000\nInterviewer: How are you?\n\n"
        "2\n00:00:02,000 --> 00:00:03,000\nInterviewee: \n\n"
        "3\n00:00:03,000 --> 00:00:04,000\nInterviewer: Anything else?\n\n"
        "4\n00:00:04,000 --> 00:00:05,000\nInterviewee: No, that is all.\n",
    ),
    "markdown": ("t.md", "**Interviewer:** How are you?\n\n**Interviewee:**\n\n**Interviewer:** Anything else?\n\n**Interviewee:** No, that is all.\n"),
    "csv": ("t.csv", "speaker,text\nInterviewer,How are you?\nInterviewee,\nInterviewer,Anything else?\nInterviewee,\"No, that is all.\"\n"),
    "jsonl": (
        "t.jsonl",
        '{"speaker": "Interviewer", "text": "How are you?"}\n{"speaker": "Interviewee", "text": ""}\n'
        '{"speaker": "Interviewer", "text": "Anything else?"}\n{"speaker": "Interviewee", "text": "No, that is all."}\n',
    ),
    "json": (
        "t.json",
        json.dumps(
            {
                "id": "P1",
                "participant": {"id": "P1"},
                "turns": [
                    {"speaker": "Interviewer", "role": "interviewer", "text": "How are you?"},
                    {"speaker": "Interviewee", "role": "participant", "text": " "},
                    {"speaker": "Interviewer", "role": "interviewer", "text": "Anything else?"},
                    {"speaker": "Interviewee", "role": "participant", "text": "No, that is all."},
                ],
            }
        ),
    ),
}


@pytest.mark.parametrize("kind", sorted(EMPTY_CASES))
def test_an_empty_turn_is_dropped_and_counted_never_merged(tmp_path, kind):
    name, text = EMPTY_CASES[kind]
    result = read_file(_write(tmp_path, name, text), options=ImportOptions())
    assert _turns(result) == [
        ("Interviewer", "How are you?"),
        ("Interviewer", "Anything else?"),
        ("Interviewee", "No, that is all."),
    ]
    assert result.dropped["empty_turns"] == 1
    assert any("1 empty turn" in note for note in result.notes)


def test_an_empty_turn_in_docx_is_dropped_and_counted(tmp_path):
    import docx

    document = docx.Document()
    for line in ("Interviewer: How are you?", "Interviewee:", "Interviewer: Anything else?", "Interviewee: No, that is all."):
        document.add_paragraph(line)
    path = tmp_path / "t.docx"
    document.save(str(path))
    result = read_file(path, options=ImportOptions())
    assert [turn.text for turn in result.transcript.turns] == ["How are you?", "Anything else?", "No, that is all."]
    assert result.dropped["empty_turns"] == 1


def test_a_file_of_only_empty_turns_is_refused_clearly(tmp_path):
    with pytest.raises(InputError, match="no turn has any words"):
        read_file(_write(tmp_path, "t.txt", "P1:\n\nP1: \n"), options=ImportOptions())


def test_import_summary_reports_dropped_empty_turns_and_footers(tmp_path):
    runner = CliRunner()
    study_dir = tmp_path / "s"
    assert runner.invoke(main, ["init", str(study_dir)]).exit_code == 0
    path = _write(tmp_path, "P3.txt", "Interviewer: Hi?\nP3: \n\nP3: Fine.\n\nTranscribed by https://otter.ai\n")
    result = runner.invoke(main, ["--study", str(study_dir), "transcripts", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "dropped 1 empty turn(s), 1 tool footer/header line(s)" in result.output
    data = runner.invoke(main, ["--study", str(study_dir), "transcripts", "validate", "--json", str(path)])
    [report] = json.loads(data.stdout)["files"]
    assert report["dropped"] == {"empty_turns": 1, "boilerplate": 1}


# -- tool footers and headers -------------------------------------------------------------
OTTER_EXPORT = """Speaker 1  0:00
Thanks for joining. How do you version your models?

P1  0:05
We keep them in a registry.

Speaker 1  0:12
Anything else?

P1  0:14
No.



Transcribed by https://otter.ai
"""


def test_otter_footer_is_dropped_so_the_export_passes_the_anonymity_check(tmp_path):
    path = _write(tmp_path, "P1.txt", OTTER_EXPORT)
    result = read_file(path, options=ImportOptions(interviewers=("Speaker 1",)))
    assert result.transcript.turns[-1].text == "No."
    assert result.dropped["boilerplate"] == 1
    assert any("Otter 1" in note for note in result.notes)
    validated = CliRunner().invoke(main, ["transcripts", "validate", "--json", "--interviewer", "Speaker 1", str(path)])
    assert validated.exit_code == 0, validated.output


@pytest.mark.parametrize(
    "line",
    [
        "Transcribed by https://otter.ai",
        "Transcribed by Otter.ai",
        "transcribed by https://otter.ai.",
        "This transcript was exported on Oct 2, 2020 - view latest version here.",
        "Transcribed by Trint",
        "Transcription generated by Microsoft Teams",
        "Alex Doe started transcription",
        "Alex Doe stopped transcription",
        "Transcribed with Rev.com",
        "Transcript by Rev.com",
    ],
)
def test_known_tool_lines_are_boilerplate(line):
    from qualkit.transcripts_schema.importers._tidy import boilerplate_tool

    assert boilerplate_tool(line) is not None


@pytest.mark.parametrize(
    "line",
    [
        "I was transcribed by Otter once and it was wrong about everything I said that day.",
        "We started transcription of the interviews in May, which took us weeks.",
        "the rev counter",
        "Zoom",
        "The transcript was good, by the way, Zoom did it.",
    ],
)
def test_speech_is_not_taken_for_boilerplate(line):
    from qualkit.transcripts_schema.importers._tidy import boilerplate_tool

    assert boilerplate_tool(line) is None


def test_teams_transcription_notices_are_dropped_from_vtt(tmp_path):
    text = (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Interviewer>Hello.</v>\n\n"
        "00:00:01.000 --> 00:00:02.000\n<v Interviewer>Alex Doe started transcription</v>\n\n"
        "00:00:02.000 --> 00:00:03.000\n<v P2>Hi there.</v>\n"
    )
    result = read_file(_write(tmp_path, "P2.vtt", text), options=ImportOptions())
    assert _turns(result) == [("Interviewer", "Hello."), ("P2", "Hi there.")]
    assert result.dropped["boilerplate"] == 1


def test_otter_footer_glued_to_the_last_line_is_dropped(tmp_path):
    text = "Interviewer: Hi?\nP1: Bye now.\nTranscribed by https://otter.ai\n"
    result = read_file(_write(tmp_path, "P1.txt", text), options=ImportOptions())
    assert result.transcript.turns[-1].text == "Bye now."


# -- Otter labels and patterns --------------------------------------------------------------
def test_unknown_otter_labels_offer_both_roles_and_a_pattern(tmp_path):
    path = _write(tmp_path, "t.txt", "A1  0:00\nHow are you?\n\nP1  0:03\nFine.\n")
    with pytest.raises(InputError) as caught:
        read_file(path, options=ImportOptions())
    fixes = {problem.message.split("'")[1]: problem.fix for problem in caught.value.problems}
    assert set(fixes) == {"A1", "P1"}
    assert "--interviewer 'A1'" in fixes["A1"] and "'A1=participant'" in fixes["A1"]
    assert 'interviewers = ["A*"]' in fixes["A1"]


def test_interviewer_patterns_map_otter_labels(tmp_path):
    path = _write(tmp_path, "t.txt", "A1  0:00\nHow are you?\n\nP1  0:03\nFine.\n\nA2  0:05\nAnd you?\n")
    result = read_file(path, options=ImportOptions(interviewers=("a*",)))
    assert [(turn.speaker, turn.role.value) for turn in result.transcript.turns] == [
        ("A1", "interviewer"), ("P1", "participant"), ("A2", "interviewer"),
    ]
    assert result.transcript.metadata.interviewers == ["A1", "A2"]


def test_speaker_role_patterns_and_exact_labels(tmp_path):
    path = _write(tmp_path, "t.txt", "Speaker 1: Hi.\nSpeaker 2: Hello.\nSpeaker 3: Hey.\n")
    options = ImportOptions(speaker_roles={"Speaker ?": "other", "Speaker 2": "participant"})
    result = read_file(path, options=options)
    assert [turn.role.value for turn in result.transcript.turns] == ["other", "participant", "other"]


def test_patterns_from_qualkit_toml(tmp_path):
    runner = CliRunner()
    study_dir = tmp_path / "s"
    assert runner.invoke(main, ["init", str(study_dir)]).exit_code == 0
    toml = study_dir / "qualkit.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("interviewers = []", 'interviewers = ["A*"]'), encoding="utf-8")
    path = _write(study_dir / "transcripts", "P1.txt", "A1  0:00\nHow are you?\n\nP1  0:03\nFine.\n")
    result = runner.invoke(main, ["--study", str(study_dir), "transcripts", "validate", "--json", str(path)])
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.stdout)["files"]
    assert {speaker["label"]: speaker["role"] for speaker in report["speakers"]} == {"A1": "interviewer", "P1": "participant"}


# -- JSON Lines ------------------------------------------------------------------------------
def test_jsonl_reads_one_turn_per_line(tmp_path):
    text = (
        '{"speaker": "Interviewer", "text": "How do you test?", "start": 0, "end": 2.5}\n'
        "\n"
        '{"speaker": "P4", "text": "Mostly by hand.", "start": "00:00:03", "end": 6, "confidence": 0.9}\n'
    )
    result = read_file(_write(tmp_path, "P4.jsonl", text), options=ImportOptions())
    assert result.format == "jsonl"
    assert _turns(result) == [("Interviewer", "How do you test?"), ("P4", "Mostly by hand.")]
    assert [turn.start for turn in result.transcript.turns] == [0.0, 3.0]
    assert any("confidence" in note for note in result.notes)


def test_jsonl_bad_lines_are_listed_with_their_line(tmp_path):
    text = '{"speaker": "P4", "text": "ok"}\n[1, 2]\n{"text": "who?"}\n{"speaker": "P4", "text": "x", "start": "soon"}\n{broken\n'
    with pytest.raises(InputError) as caught:
        read_file(_write(tmp_path, "P4.jsonl", text), options=ImportOptions())
    assert [problem.location.split(" column")[0] for problem in caught.value.problems] == ["line 2", "line 3", "line 4", "line 5"]


def test_json_lines_under_a_json_name_say_what_they_are(tmp_path):
    text = '{"speaker": "P4", "text": "ok"}\n{"speaker": "P4", "text": "more"}\n'
    with pytest.raises(InputError) as caught:
        read_file(_write(tmp_path, "P4.json", text), options=ImportOptions())
    assert "--format jsonl" in caught.value.problems[0].fix
    assert read_file(tmp_path / "P4.json", format="jsonl", options=ImportOptions()).transcript.word_count == 2


# -- encodings and NUL bytes ---------------------------------------------------------------
@pytest.mark.parametrize("codec, order", [("utf-16-le", "little-endian"), ("utf-16-be", "big-endian")])
@pytest.mark.parametrize("name, text", [("t.txt", "P1: Hello there.\nInterviewer: Hi.\n"), ("t.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nP1: Hello.\n")])
def test_utf16_without_bom_is_diagnosed_as_such(tmp_path, codec, order, name, text):
    path = tmp_path / name
    path.write_bytes(text.encode(codec))
    with pytest.raises(InputError) as caught:
        read_file(path, options=ImportOptions())
    assert f"UTF-16 ({order}) text without a byte-order mark" in caught.value.message
    assert "re-save it as UTF-8" in caught.value.problems[0].fix


def test_utf16_with_bom_still_reads(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("\ufeffP1: Hello there.\nInterviewer: Hi.\n".encode("utf-16-le"))
    assert read_file(path, options=ImportOptions()).transcript.word_count == 3


def test_nul_bytes_in_valid_utf8_are_refused_with_their_offset(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"P1: Hello there.\nInterviewer: Hi\x00 you.\n")
    with pytest.raises(InputError) as caught:
        read_file(path, options=ImportOptions())
    [problem] = caught.value.problems
    assert problem.location == "byte 32, line 2, column 16"
    assert b"P1: Hello there.\nInterviewer: Hi\x00"[32:33] == b"\x00"


def test_nul_escapes_in_json_are_refused(tmp_path):
    data = {"id": "P1", "participant": {"id": "P1"}, "turns": [{"speaker": "P1", "role": "participant", "text": "a\u0000b"}]}
    path = _write(tmp_path, "t.json", json.dumps(data))
    with pytest.raises(InputError, match="NUL"):
        read_file(path, options=ImportOptions())


# -- CSV cells over the csv module's default field limit -----------------------------------
BIG = "word " * 30_000  # 150,000 characters, over csv's default limit of 131,072


def test_transcript_csv_with_a_huge_cell_reads(tmp_path):
    path = _write(tmp_path, "P1.csv", f'speaker,text\nInterviewer,Hi\nP1,"{BIG}"\n')
    result = read_file(path, options=ImportOptions())
    assert result.transcript.word_count == 30_001


def test_participants_csv_with_a_huge_cell_reads(tmp_path):
    path = _write(tmp_path, "participants.csv", f'id,notes\nP1,"{BIG}"\n')
    assert len(load_participants(path)["P1"].participant.attributes["notes"]) == len(BIG.strip())


def test_codings_csv_with_a_huge_cell_gives_no_traceback(tmp_path):
    from _interop_fixtures import make_study

    study = make_study(tmp_path / "study")
    try:
        path = _write(tmp_path, "codings.csv", f'transcript,turn,code,memo\nP1,1,velocity,"{BIG}"\n')
        result = CliRunner().invoke(main, ["--study", str(study.root), "codings", "import", str(path), "--coder", "ann"])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert "field larger than field limit" not in result.output
    finally:
        study.close()


# -- VTT/SRT time on unclosed voice tags ----------------------------------------------------
def test_unclosed_voice_tags_parse_correctly_at_size(tmp_path):
    """Correctness on a large pathological cue (its speed is in benchmarks/bench_import.py)."""
    noise = "<v " * 100_000  # 300 KB of unclosed tags: minutes when parsing was quadratic
    text = f"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nP1: hello {noise}\n\n00:00:02.000 --> 00:00:03.000\n<v P1>bye</v>\n"
    result = read_file(_write(tmp_path, "P1.vtt", text), options=ImportOptions())
    [turn] = result.transcript.turns
    assert turn.speaker == "P1" and turn.text.startswith("hello <v <v") and turn.text.endswith("bye")


# -- found by the fuzz test ------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, text",
    [
        ("t.json", '{"id": "P1", "participant": {"id": "P1"}, "turns": [{"speaker": "P1", "role": "participant", "text": "x", "start": ' + "9" * 5000 + "}]}"),
        ("t.jsonl", '{"speaker": "P1", "text": "x", "start": ' + "9" * 5000 + "}\n"),
        ("t.json", "[" * 100_000 + "]" * 100_000),
        ("t.jsonl", '{"speaker": "P1", "text": ' + "[" * 100_000 + "]" * 100_000 + "}\n"),
    ],
)
def test_json_with_huge_numbers_or_deep_nesting_is_a_clear_error(tmp_path, name, text):
    with pytest.raises(InputError, match="not valid JSON|nested too deeply"):
        read_file(_write(tmp_path, name, text), options=ImportOptions())


def test_a_docx_with_a_damaged_body_is_a_clear_error(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("P1: hello")
    buffer = io.BytesIO()
    document.save(buffer)
    path = tmp_path / "t.docx"
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/document.xml":
                data = data.replace(b"<w:body>", b"<w:bodx>").replace(b"</w:body>", b"</w:bodx>")
            target.writestr(info.filename, data)
    with pytest.raises(InputError, match="cannot read the Word document's content"):
        read_file(path, options=ImportOptions())


def test_a_codebook_with_an_unknown_encoding_or_nameless_codes_reads_or_fails_clearly():
    from qualkit.errors import InteropError
    from qualkit.interop.qdc import qdc_to_codebook_dict

    with pytest.raises(InteropError, match="not readable XML"):
        qdc_to_codebook_dict(b'<?xml version="1.0" encoding="tf-8"?><CodeBook/>')
    nameless = b'<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes><Code guid="a"/><Code guid="b" name="B"/></Codes></CodeBook>'
    assert [code["label"] for code in qdc_to_codebook_dict(nameless)["codes"]] == ["a", "B"]
    twice = b'<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes><Code guid="a" name="A"/><Code guid="{A}" name="B"/></Codes></CodeBook>'
    with pytest.raises(InteropError, match="used by two codes"):
        qdc_to_codebook_dict(twice)


def test_utf32_without_bom_and_binary_files_are_told_apart(tmp_path):
    cases = {
        "a.txt": ("P1: Hello there.\n".encode("utf-32-le"), "looks like UTF-32 text without a byte-order mark"),
        "b.txt": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "old Office file"),
        "c.txt": ("P1: Grüße, ça va?\n".encode("utf-16-be"), "UTF-16 (big-endian)"),
    }
    for name, (data, expected) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InputError) as caught:
            read_file(tmp_path / name, options=ImportOptions())
        assert expected in caught.value.message


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e400"])
def test_participants_csv_refuses_numbers_that_are_not_finite_and_non_negative(tmp_path, value):
    path = _write(tmp_path, "participants.csv", f"id,years_experience\nP1,{value}\n")
    with pytest.raises(InputError) as caught:
        load_participants(path)
    assert caught.value.problems[0].location == "line 2, column years_experience"


def test_a_one_line_qualkit_transcript_named_jsonl_gets_the_right_fix(tmp_path):
    data = {"id": "P1", "participant": {"id": "P1"}, "turns": [{"speaker": "P1", "role": "participant", "text": "hi"}]}
    with pytest.raises(InputError) as caught:
        read_file(_write(tmp_path, "P1.jsonl", json.dumps(data) + "\n"), options=ImportOptions())
    assert "--format json" in caught.value.problems[0].fix


def test_labels_with_brackets_still_match_exactly(tmp_path):
    path = _write(tmp_path, "t.csv", "speaker,text\n[NAME],Hello.\nP2,Hi.\nN,no.\n")
    options = ImportOptions(speaker_roles={"[NAME]": "interviewer"}, interviewers=("N",))
    result = read_file(path, options=options)
    assert [turn.role.value for turn in result.transcript.turns] == ["interviewer", "participant", "interviewer"]


def test_codings_csv_encodings_are_diagnosed_like_transcripts(tmp_path):
    from _interop_fixtures import make_study

    study = make_study(tmp_path / "study")
    try:
        path = tmp_path / "codings.csv"
        path.write_bytes("transcript,turn,code\nP1,1,velocity\n".encode("utf-16-le"))
        result = CliRunner().invoke(main, ["--study", str(study.root), "codings", "import", str(path), "--coder", "ann"])
        assert result.exit_code == 1 and "without a byte-order mark" in result.output, result.output
        path.write_bytes("\ufefftranscript\tturn\tcode\nP1\t1\tvelocity\n".encode("utf-16-le"))  # Excel's "Unicode text"
        result = CliRunner().invoke(main, ["--study", str(study.root), "codings", "import", str(path), "--coder", "ann"])
        assert result.exit_code == 0, result.output
    finally:
        study.close()


# -- long runs of blanks: every label pattern rejects them in linear time --------------------
BLANKS = " " * 300_000  # minutes to hours when a pattern had two overlapping blank runs


@pytest.mark.parametrize(
    "name, text, first",
    [
        ("t.txt", f"P1: hi\na{BLANKS}b\n", "hi a"),  # "a   b" is not a label: it continues P1's turn
        ("t.txt", f"P1: hi\nP2{BLANKS}[00:01]x\n", "hi P2"),
        ("t.md", f"**P1:** hi\n**P2: {BLANKS}x\n", "hi **P2:"),
        ("t.txt", f"P1: hi {BLANKS}\nTranscribed by https://otter.ai\n", "hi"),
    ],
)
def test_long_blank_runs_are_read_correctly(tmp_path, name, text, first):
    result = read_file(_write(tmp_path, name, text), options=ImportOptions())
    [turn] = result.transcript.turns
    assert turn.speaker == "P1" and turn.text.startswith(first)
