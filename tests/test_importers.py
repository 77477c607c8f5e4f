"""Importers, speaker roles, ids, decoding and participants.csv, on tiny fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qualkit.errors import InputError, TranscriptValidationError
from qualkit.transcripts_schema import (
    SCHEMA_PATH,
    ImportOptions,
    Transcript,
    detect_format,
    read_transcript,
    register_importer,
    schema_text,
)
from qualkit.transcripts_schema.decoding import decode_bytes
from qualkit.transcripts_schema.importers import Parsed, RawTurn, importer_names, unregister_importer
from qualkit.transcripts_schema.importing import read_file
from qualkit.transcripts_schema.participants import load_participants

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "transcripts"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _shape(transcript: Transcript) -> list[tuple[str, str]]:
    return [(turn.speaker, turn.role.value) for turn in transcript.turns]


# -- every format on a small fixture ------------------------------------------------------
def test_otter_blocks_join_lines_and_read_start_times():
    result = read_file(FIXTURES / "otter.txt", options=ImportOptions())
    transcript = result.transcript
    assert result.format == "text"
    assert _shape(transcript) == [("Interviewer", "interviewer"), ("P4", "participant")] * 2
    assert transcript.id == transcript.participant.id == "P4"
    assert transcript.turns[1].start == 7.0 and transcript.turns[3].start == 62.0
    assert transcript.turns[1].text == "Sure. We build the perception models for the delivery robots, mostly object detection. And some tracking on top of that."
    assert transcript.metadata.interviewers == ["Interviewer"]


def test_teams_vtt_voice_spans_merge_consecutive_cues():
    transcript = read_transcript(FIXTURES / "teams.vtt")
    assert _shape(transcript) == [("Interviewer 1", "interviewer"), ("P2", "participant"), ("Interviewer 1", "interviewer")]
    merged = transcript.turns[1]
    assert merged.text == "We have a dashboard, but nobody really looks at it until something breaks."
    assert (merged.start, merged.end) == (5.0, 12.0)
    assert transcript.metadata.source_format == "vtt"


def test_srt_labels_merge_and_keep_times():
    transcript = read_transcript(FIXTURES / "interview.srt")
    assert _shape(transcript) == [("Interviewer", "interviewer"), ("P9", "participant"), ("Interviewer", "interviewer")]
    assert transcript.turns[1].text == "Mostly data work. Cleaning labels, chasing down why a feature went null."
    assert (transcript.turns[1].start, transcript.turns[1].end) == (3.5, 10.0)


def test_markdown_labels_timestamps_escapes_and_breaks():
    result = read_file(FIXTURES / "interview.md", options=ImportOptions())
    turns = result.transcript.turns
    assert _shape(result.transcript) == [("Interviewer", "interviewer"), ("P6", "participant")] * 2
    assert turns[1].start == 12 * 60 + 40
    assert turns[1].text == "Last month, I think. The click-through dropped and we rolled back within an hour.\nIt took longer to find out why. [laughter]"
    assert "\\[" not in turns[1].text and "12:40" not in turns[1].text
    assert turns[2].text == "And why was it?"  # **Interviewer**: variant
    assert turns[3].text == "A stale feature table, as always."  # **P6: A**... quirk
    assert any("Break" in note for note in result.notes)


def test_csv_one_turn_per_row_with_seconds_and_clock_times():
    transcript = read_transcript(FIXTURES / "interview.csv")
    assert len(transcript.turns) == 4
    assert transcript.id == "P5"
    assert (transcript.turns[3].start, transcript.turns[3].end) == (9.0, 11.0)
    assert transcript.turns[1].text == "Five of us, if you count the intern."


def test_csv_columns_named_by_options(tmp_path):
    path = _write(tmp_path, "p8.csv", "who,said,role\nMod,Hello?,interviewer\nP8,Hi there.,participant\n")
    with pytest.raises(InputError) as caught:
        read_transcript(path)
    assert "--csv-speaker" in caught.value.render()
    options = ImportOptions(csv_columns={"speaker": "who", "text": "said", "role": "role"})
    transcript = read_transcript(path, options=options)
    assert _shape(transcript) == [("Mod", "interviewer"), ("P8", "participant")]


def test_qualkit_json_round_trips():
    transcript = read_transcript(FIXTURES / "P7.json")
    assert transcript.participant.role == "MLE"
    assert transcript.turns[1].end == 9.5
    assert transcript.metadata.source_file == "P7.json"


def test_docx_paragraphs_and_two_column_tables(tmp_path):
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_paragraph("Interview 3, remote")  # a title before the first label
    document.add_paragraph("Interviewer: Where do your features live?")
    document.add_paragraph("P3: In a feature store we built ourselves.")
    document.add_paragraph("It is mostly Parquet files.")
    table = document.add_table(rows=3, cols=2)
    for row, (speaker, text) in zip(table.rows, [("Speaker", "Text"), ("Interviewer", "And who owns it?"), ("P3", "Nobody, really.")]):
        row.cells[0].text, row.cells[1].text = speaker, text
    path = tmp_path / "P3.docx"
    document.save(path)
    result = read_file(path, options=ImportOptions())
    assert result.format == "docx"
    assert [(t.speaker, t.text) for t in result.transcript.turns] == [
        ("Interviewer", "Where do your features live?"),
        ("P3", "In a feature store we built ourselves.\nIt is mostly Parquet files."),
        ("Interviewer", "And who owns it?"),
        ("P3", "Nobody, really."),
    ]
    assert any("skipped 1" in note for note in result.notes)


# -- text labels ---------------------------------------------------------------------------
def test_text_label_variants_and_continuations(tmp_path):
    path = _write(
        tmp_path,
        "session-12.txt",
        "[00:01:02] Interviewer 1: Tell me about retraining.\n"
        "Interviewer 2: And the schedule.\n"
        "[00:01:30] Interviewee: We retrain nightly,\n"
        "unless the data is late.\n\n"
        "Which it often is.\n",
    )
    transcript = read_transcript(path)
    assert _shape(transcript) == [("Interviewer 1", "interviewer"), ("Interviewer 2", "interviewer"), ("Interviewee", "participant")]
    assert transcript.turns[0].start == 62.0 and transcript.turns[2].start == 90.0
    assert transcript.turns[2].text == "We retrain nightly, unless the data is late.\nWhich it often is."
    # "Interviewee" is not a pseudonym, so the ids come from the file name
    assert transcript.id == transcript.participant.id == "session-12"


def test_ids_can_be_overridden(tmp_path):
    path = _write(tmp_path, "x.txt", "Interviewer: Hi.\nP3: Hello.\n")
    transcript = read_transcript(path, options=ImportOptions(transcript_id="P3-b", participant_id="P3"))
    assert (transcript.id, transcript.participant.id) == ("P3-b", "P3")


# -- roles ---------------------------------------------------------------------------------
GROUP = "Moderator: Welcome.\nAna: Thanks.\nBo: Hi.\nMod Two: Next question.\n"


def test_several_unmapped_speakers_are_an_unknown_speaker_error(tmp_path):
    path = _write(tmp_path, "group.txt", GROUP)
    with pytest.raises(InputError) as caught:
        read_transcript(path)
    problems = {problem.message.split("'")[1]: problem for problem in caught.value.problems}
    assert set(problems) == {"Moderator", "Ana", "Bo", "Mod Two"}
    assert problems["Bo"].location == "line 3"
    assert "--speaker-role 'Bo=participant'" in problems["Bo"].fix


def test_roles_from_mapping_interviewers_and_multi_party(tmp_path):
    path = _write(tmp_path, "group.txt", GROUP)
    mapped = read_transcript(
        path,
        options=ImportOptions(interviewers=("moderator",), speaker_roles={"Mod Two": "interviewer", "Bo": "other"}),
    )
    assert _shape(mapped) == [("Moderator", "interviewer"), ("Ana", "participant"), ("Bo", "other"), ("Mod Two", "interviewer")]
    assert mapped.participant.id == "group"  # "Ana" is not a pseudonym
    group = read_transcript(path, options=ImportOptions(interviewers=("Moderator", "Mod Two"), multi_party=True))
    assert [turn.role.value for turn in group.turns] == ["interviewer", "participant", "participant", "interviewer"]


def test_bad_role_in_mapping_is_reported(tmp_path):
    path = _write(tmp_path, "P1.txt", "Interviewer: Hi.\nP1: Hello.\n")
    with pytest.raises(InputError, match="interviewee"):
        read_transcript(path, options=ImportOptions(speaker_roles={"P1": "interviewee"}))


def test_options_from_config_merge_with_overrides(study):
    config = study.config.model_copy(deep=True)
    config.transcripts.interviewers = ["Host"]
    config.transcripts.speaker_roles = {"Guest": "participant"}
    options = ImportOptions.from_config(config, interviewers=["Cohost"], speaker_roles={"Producer": "other"}, format="auto")
    assert options.interviewers == ("Host", "Cohost")
    assert options.speaker_roles == {"Guest": "participant", "Producer": "other"}
    assert options.format is None and options.max_mb == config.transcripts.max_file_mb


# -- detection and the registry -----------------------------------------------------------
def test_detection_by_extension_then_content(tmp_path):
    assert detect_format(Path("a.vtt"), b"") == "vtt"
    assert detect_format(Path("a.docx"), b"garbage") == "docx"
    assert detect_format(Path("a.txt"), b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n") == "vtt"
    assert detect_format(Path("a.txt"), b"1\n00:00:01,000 --> 00:00:02,000\nP1: x\n") == "srt"
    assert detect_format(Path("notes"), b"**P1:** hello\n") == "markdown"
    assert detect_format(Path("a.txt"), b"P1: hello\n") == "text"
    # a .txt that is really VTT is read as VTT; --format overrides detection
    path = _write(tmp_path, "zoom.txt", "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nP1: Hello there.\n")
    assert read_file(path, options=ImportOptions()).format == "vtt"
    md = _write(tmp_path, "P2.txt", "**Interviewer:** Hi.\n\n**P2:** Hello.\n")
    assert read_file(md, options=ImportOptions()).format == "markdown"
    assert read_file(md, format="markdown", options=ImportOptions()).transcript.turns[1].text == "Hello."
    with pytest.raises(InputError, match="no speaker labels"):
        read_file(md, format="text", options=ImportOptions())


def test_a_registered_importer_is_used_and_can_be_removed(tmp_path):
    def sniff(head: bytes) -> bool:
        return head.startswith(b"QK-PIPE")

    def read(source, options) -> Parsed:
        rows = [line.split("|") for line in source.text.splitlines()[1:] if line]
        return Parsed("pipe", [RawTurn(s, t, f"line {i + 2}") for i, (s, t) in enumerate(rows)], units=len(rows))

    register_importer("pipe", sniff, read, extensions=(".pipe",))
    try:
        assert "pipe" in importer_names()
        path = _write(tmp_path, "P4.dat", "QK-PIPE\nInterviewer|Hi?\nP4|Hello.\n")
        result = read_file(path, options=ImportOptions())
        assert result.format == "pipe" and result.transcript.id == "P4"
    finally:
        unregister_importer("pipe")
    assert "pipe" not in importer_names()


# -- decoding ------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_utf8_bom_and_utf16_utf32_with_bom_are_read(tmp_path, encoding):
    text = "Interviewer: Qu'avez-vous appris ?\nP1: Beaucoup — surtout sur les données.\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    path = tmp_path / "P1.txt"
    path.write_bytes(data)
    transcript = read_transcript(path)
    assert transcript.turns[1].text == "Beaucoup — surtout sur les données."


def test_non_utf8_bytes_report_every_byte_offset_and_line():
    data = "P1: caf\u00e9\nInterviewer: na\u00efve\n".encode("cp1252")
    with pytest.raises(InputError) as caught:
        decode_bytes(data, "x.txt")
    locations = [problem.location for problem in caught.value.problems]
    first, second = data.index(b"\xe9"), data.index(b"\xef")
    assert locations == [f"byte {first} (line 1)", f"byte {second} (line 2)"]
    assert "UTF-8" in caught.value.message


def test_crlf_newlines_are_normalised():
    assert decode_bytes(b"a\r\nb\rc") == "a\nb\nc"


# -- JSON schema validation -----------------------------------------------------------------
def test_json_violations_are_all_listed_with_json_paths(tmp_path):
    data = json.loads((FIXTURES / "P7.json").read_text())
    data["participant"]["id"] = "7 bad"
    data["turns"][0]["role"] = "moderator"
    data["turns"][1]["text"] = "   "
    data["turns"][1]["start"] = -1
    data["colour"] = "blue"
    path = _write(tmp_path, "bad.json", json.dumps(data))
    with pytest.raises(TranscriptValidationError) as caught:
        read_transcript(path)
    paths = {problem.location for problem in caught.value.problems}
    assert paths == {"participant.id", "turns[0].role", "turns[1].text", "turns[1].start", "colour"}
    assert all(problem.file.endswith("bad.json") for problem in caught.value.problems)


def test_json_syntax_error_names_line_and_column(tmp_path):
    path = _write(tmp_path, "P1.json", '{\n  "id": "P1",\n  "turns": [,]\n}')
    with pytest.raises(InputError) as caught:
        read_transcript(path)
    assert caught.value.problems[0].location == "line 3 column 13"


def test_shipped_schema_equals_the_generated_one():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text()
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "turns" in schema["required"]


# -- participants.csv -------------------------------------------------------------------------
def test_participants_csv_fills_attributes_and_interview_metadata(tmp_path):
    csv_path = _write(
        tmp_path,
        "participants.csv",
        "id,role,company_size,sector,years_experience,interview_date,duration_minutes,team_size\n"
        "P3,MLE,medium,health,8,2026-01-26,64,6\n",
    )
    records = load_participants(csv_path)
    path = _write(tmp_path, "P3.txt", "Interviewer: Hi.\nP3: Hello.\n")
    transcript = read_transcript(path, participants=records)
    person = transcript.participant
    assert (person.role, person.company_size, person.sector, person.years_experience) == ("MLE", "medium", "health", 8.0)
    assert person.attributes == {"team_size": "6"}
    assert str(transcript.metadata.date) == "2026-01-26" and transcript.metadata.duration_minutes == 64.0


def test_participants_csv_problems_are_collected_with_line_and_column(tmp_path):
    csv_path = _write(
        tmp_path,
        "participants.csv",
        "id,years_experience,interview_date\nP1,ten,2026-01-01\nP2,3,26/01/2026\nP1,4,\n",
    )
    with pytest.raises(InputError) as caught:
        load_participants(csv_path)
    assert [problem.location for problem in caught.value.problems] == [
        "line 2, column years_experience",
        "line 3, column interview_date",
        "line 4, column id",
    ]


def test_builtin_importers_are_registered():
    assert set(importer_names()) >= {"text", "vtt", "srt", "docx", "markdown", "csv", "json"}
