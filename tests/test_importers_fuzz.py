"""Seeded fuzzing of every reader of user files: only qualkit's own errors may come out.

Each importer gets a few thousand inputs made by mutating small valid files (byte flips,
deletions, duplicated stretches, truncation, and tokens that matter to the parsers: ``<v ``,
``-->``, ``:``, NUL, BOMs, quotes, braces, huge numbers). The seeds are fixed, so a failure
reproduces; the failing input is shown. Runs in well under a minute. For a deeper local run,
``QUALKIT_FUZZ_COUNT=50000 QUALKIT_FUZZ_SEED=7 pytest tests/test_importers_fuzz.py``.
"""

from __future__ import annotations

import io
import json
import os
import random
import zipfile
from pathlib import Path
from typing import Callable

import pytest

from qualkit.errors import QualkitError
from qualkit.transcripts_schema import ImportOptions
from qualkit.transcripts_schema.importing import read_data
from qualkit.transcripts_schema.participants import parse_participants

SEEDS: dict[str, list[bytes]] = {
    ".txt": [
        b"Interviewer: How are you?\nP3: Fine, thanks.\n\nWe use [00:01:02] a lot.\nInterviewer 1: ok\nInterviewee: \n",
        b"Speaker 1  0:00\nHello there.\n\nP1  0:05\nWe keep models.\n\nTranscribed by https://otter.ai\n",
        b"[00:00:01] P3: hi\n(00:00:02) Interviewer: yes\nP3 [00:00:03]: more\nAlex Doe started transcription\n",
    ],
    ".vtt": [
        b"WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nInterviewer: How are you?\n\n2\n00:00:02.000 --> 00:00:03.500\nP3: Fine.\n\n"
        b"00:00:04.000 --> 00:00:05.000\n<v P3>More</v> <v Interviewer>ok</v>\n\n00:00:05.000 --> 00:00:06.000\nP3:\n",
        b"WEBVTT\n\nNOTE x\n\n00:01.000 --> 00:02.000\n<v.loud Interviewer>Hello</v>\n\n00:02.000 --> 00:03.000\nno label\n",
    ],
    ".srt": [b"1\n00:00:01,000 --> 00:00:02,000\nInterviewer: How are you?\n\n2\n00:00:02,000 --> 00:00:03,000\nP3: Fine.\n"],
    ".md": [b"# Title\n\n**Interviewer:** How are you?\n\n**P3:** Fine \\[04:05\\] thanks.\n\n**P3**: more **bold**\n\n---\n\n**P4:**\n"],
    ".csv": [
        b"speaker,text,start,end,role\nInterviewer,How are you?,0,1,interviewer\nP3,\"Fine, thanks\",00:00:01,2,participant\nP3,,,,\n",
        b"speaker,text\nP3,hi\n",
    ],
    ".json": [
        json.dumps(
            {
                "id": "P3",
                "participant": {"id": "P3", "role": "MLE", "years_experience": 4},
                "metadata": {"language": "en", "date": "2024-01-02"},
                "turns": [
                    {"speaker": "Interviewer", "role": "interviewer", "text": "How?", "start": 0, "end": 1},
                    {"speaker": "P3", "role": "participant", "text": "Fine."},
                    {"speaker": "P3", "role": "participant", "text": ""},
                ],
            }
        ).encode()
    ],
    ".jsonl": [
        b'{"speaker": "Interviewer", "text": "How?", "start": 0, "end": 1.5}\n'
        b'{"speaker": "P3", "text": "Fine.", "start": "00:00:02", "role": "participant"}\n{"speaker": "P3", "text": ""}\n'
    ],
}

TOKENS = [
    b"<v ", b"</v>", b"-->", b" --> ", b":", b": ", b"\x00", b"\xff", b"\xfe\xff", b"\xff\xfe", b"\xef\xbb\xbf", b"{", b"}",
    b"[", b"]", b'"', b",", b";", b"\n", b"\n\n", b"\r\n", b"\r", b"**", b"\\", b"WEBVTT\n", b"00:00:01.000", b"99:99:99,999",
    b"-1", b"1e309", b"NaN", b"-Infinity", b"\t", b"P3: ", b"Interviewer: ", b"\xe2\x80\xa8", b"\xc2\x85", b"<", b">", b"#",
    b"[00:00:01]", b"\xc3", b"Transcribed by https://otter.ai", b'"text": ""', b'"speaker": ', b"null", b"true", b"[]",
    b"9" * 5000, b"<v " * 50, b"a" * 300, b"[" * 1200,
]


def mutate(rng: random.Random, seed: bytes) -> bytes:
    """One to six random edits of ``seed``."""
    data = bytearray(seed)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(7)
        pos = rng.randint(0, len(data))
        if op == 0 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 1:
            data[pos:pos] = rng.choice(TOKENS)
        elif op == 2 and data:
            del data[pos : pos + rng.randint(1, 20)]
        elif op == 3 and data:
            start = rng.randint(0, len(data))
            data[pos:pos] = data[start : start + rng.randint(1, 40)] * rng.randint(1, 4)
        elif op == 4:
            data = data[: rng.randint(0, len(data))]
        elif op == 5:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        else:
            data[pos:pos] = rng.choice(TOKENS) * rng.randint(1, 30)
    return bytes(data)


def _inputs(rng: random.Random, seeds: list[bytes], count: int) -> list[bytes]:
    """``count`` inputs: mostly mutated seeds, a few random byte strings."""
    out = []
    for _ in range(count):
        if rng.random() < 0.03:
            out.append(bytes(rng.randrange(256) for _ in range(rng.randint(0, 300))))
        else:
            out.append(mutate(rng, rng.choice(seeds)))
    return out


def _only_qualkit_errors(read: Callable[[bytes], object], inputs: list[bytes], what: str) -> int:
    """Feed every input to ``read``; fail on the first exception that is not a QualkitError."""
    refused = 0
    for number, data in enumerate(inputs):
        try:
            read(data)
        except QualkitError:
            refused += 1
        except Exception as error:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{what} input {number} raised {type(error).__name__}: {error}\ninput: {data[:400]!r}", pytrace=False)
    return refused


PER_IMPORTER = int(os.environ.get("QUALKIT_FUZZ_COUNT", "5000"))
SALT = os.environ.get("QUALKIT_FUZZ_SEED", "")


@pytest.mark.parametrize("extension", sorted(SEEDS))
def test_text_importers_raise_only_qualkit_errors(extension):
    rng = random.Random(f"qualkit-fuzz{extension}{SALT}")
    options = (ImportOptions(), ImportOptions(multi_party=True))
    inputs = _inputs(rng, SEEDS[extension], PER_IMPORTER)
    counter = iter(range(len(inputs)))

    def read(data: bytes) -> object:
        return read_data(Path(f"P3{extension}"), data, options=options[next(counter) % 2], shown=f"P3{extension}")

    refused = _only_qualkit_errors(read, inputs, extension)
    assert 0 < refused < len(inputs)  # the mutations both break files and leave some readable


def test_detection_by_content_raises_only_qualkit_errors():
    """Files with a generic extension: the importer is chosen by sniffing the mutated content."""
    rng = random.Random(f"qualkit-fuzz-sniff{SALT}")
    seeds = [seed for group in SEEDS.values() for seed in group]
    inputs = _inputs(rng, seeds, PER_IMPORTER)
    _only_qualkit_errors(lambda data: read_data(Path("P3.txt"), data, options=ImportOptions(multi_party=True), shown="P3.txt"), inputs, "sniffed")


def _docx_seed() -> tuple[bytes, dict[str, bytes]]:
    import docx

    document = docx.Document()
    for line in ("Interviewer: How are you?", "P3: Fine.", "More words.", "P3 [00:00:03]:"):
        document.add_paragraph(line)
    table = document.add_table(rows=2, cols=2)
    for (row, column), text in {(0, 0): "Speaker", (0, 1): "Text", (1, 0): "P3", (1, 1): "In a table."}.items():
        table.cell(row, column).text = text
    buffer = io.BytesIO()
    document.save(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        members = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    return buffer.getvalue(), members


def test_docx_raises_only_qualkit_errors():
    """Mutated document.xml (and now and then other parts) inside a valid package, and mutated packages."""
    rng = random.Random(f"qualkit-fuzz.docx{SALT}")
    seed, members = _docx_seed()
    inputs = []
    for _ in range(max(PER_IMPORTER // 6, 100)):
        if rng.random() < 0.2:
            inputs.append(mutate(rng, seed))
            continue
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for name, content in members.items():
                if name == "word/document.xml" or (name.endswith(".xml") and rng.random() < 0.05):
                    content = mutate(rng, content)
                archive.writestr(name, content)
        inputs.append(out.getvalue())
    _only_qualkit_errors(lambda data: read_data(Path("P3.docx"), data, options=ImportOptions(multi_party=True), shown="P3.docx"), inputs, "docx")


def test_participants_csv_raises_only_qualkit_errors():
    rng = random.Random(f"qualkit-fuzz-participants{SALT}")
    seeds = [
        b"id,role,company_size,sector,years_experience,interview_date,duration_minutes,team\n"
        b"P1,MLE,small,finance,4,2024-01-02,45,infra\nP2,\"MLE, lead\",large,,10.5,,60,\n",
        b"id,years_experience,duration_minutes,interview_date\nP1,nan,inf,2024-02-30\nP2,-0,1e400,\n",
    ]
    inputs = _inputs(rng, seeds, PER_IMPORTER)
    _only_qualkit_errors(lambda data: parse_participants(data, "participants.csv"), inputs, "participants.csv")


def test_qdc_raises_only_qualkit_errors():
    from qualkit.interop.qdc import qdc_to_codebook_dict

    rng = random.Random(f"qualkit-fuzz.qdc{SALT}")
    seeds = [
        b'<?xml version="1.0" encoding="utf-8"?>\n<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="x"><Codes>'
        b'<Code guid="{11111111-1111-1111-1111-111111111111}" name="Velocity" isCodable="true">'
        b"<Description>Definition: speed\nqualkit id: velocity</Description>"
        b'<Code guid="22222222-2222-2222-2222-222222222222" name="Fast &amp; slow" isCodable="false" color="#ff0000"/></Code>'
        b'<Code guid="33333333-3333-3333-3333-333333333333" name="Velocity"/></Codes></CodeBook>'
    ]
    inputs = _inputs(rng, seeds, PER_IMPORTER)
    _only_qualkit_errors(qdc_to_codebook_dict, inputs, "qdc")


def test_codings_csv_raises_only_qualkit_errors(tmp_path):
    """The codings CSV reader needs a study and a file: fewer inputs (each is written to disk)."""
    from _interop_fixtures import make_study
    from qualkit.interop.codings_csv import read_csv_codings as _read_csv

    study = make_study(tmp_path / "study")
    rng = random.Random(f"qualkit-fuzz-codings{SALT}")
    seeds = [
        b"transcript,turn,code,coder,memo\nP1,1,velocity,ann,\"a, b\"\nP1,2,Unknown label,ann,\n",
        b"transcript;start;end;code\nP1;0;10;velocity\nP1;5;2;velocity\n",
    ]
    path = tmp_path / "codings.csv"

    def read(data: bytes) -> object:
        path.write_bytes(data)
        return _read_csv(study, path, "ann")

    try:
        _only_qualkit_errors(read, _inputs(rng, seeds, max(PER_IMPORTER // 16, 100)), "codings.csv")
    finally:
        study.close()


def test_qdpx_raises_only_qualkit_errors(tmp_path):
    """Mutated project.qde (and source) inside a project archive; each input is written to disk."""
    from qualkit.interop.qdpx import read_qdpx

    rng = random.Random(f"qualkit-fuzz.qdpx{SALT}")
    project = (
        b'<?xml version="1.0" encoding="utf-8"?><Project xmlns="urn:QDA-XML:project:1.0" name="p" origin="NVivo 12">'
        b'<Users><User guid="44444444-4444-4444-4444-444444444444" name="ann"/></Users>'
        b'<CodeBook><Codes><Code guid="11111111-1111-1111-1111-111111111111" name="Velocity"/></Codes></CodeBook>'
        b'<Sources><TextSource guid="55555555-5555-5555-5555-555555555555" name="P1" plainTextPath="internal://P1.txt">'
        b'<PlainTextSelection guid="66666666-6666-6666-6666-666666666666" startPosition="0" endPosition="5">'
        b'<Coding guid="77777777-7777-7777-7777-777777777777" creatingUser="44444444-4444-4444-4444-444444444444">'
        b'<CodeRef targetGUID="11111111-1111-1111-1111-111111111111"/></Coding></PlainTextSelection></TextSource></Sources>'
        b'<Cases><Case guid="88888888-8888-8888-8888-888888888888" name="P1"><SourceRef targetGUID="55555555-5555-5555-5555-555555555555"/></Case></Cases>'
        b"</Project>"
    )
    sources = ["P1: Hello \U0001F600 world.\n".encode(), "\ufeffP1: Hello \U0001F600 world.\n".encode("utf-16-le")]
    path = tmp_path / "p.qdpx"

    def read(data: bytes) -> object:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("project.qde", data)
            source = rng.choice(sources)
            archive.writestr("sources/P1.txt", mutate(rng, source) if rng.random() < 0.3 else source)
        return read_qdpx(path)

    _only_qualkit_errors(read, _inputs(rng, [project], max(PER_IMPORTER // 16, 100)), "qdpx")
