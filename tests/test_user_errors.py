"""User mistakes across the CLI: a clear message (file, place, fix), exit 1 (usage: 2), no traceback,
and the store exactly as it was."""

from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import qualkit.store
from qualkit.cli import main
from qualkit.study import Study
from cli_fixture import assert_user_error, dump, invoke

GOOD = "Interviewer: How do you deploy models?\nP1: We ship a container every Tuesday, more or less.\n"
OTHER = "Interviewer: What breaks?\nP2: The feature pipeline breaks when upstream tables change.\n"


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


@pytest.fixture
def seeded(study: Study, tmp_path: Path) -> Study:
    """A study holding one imported transcript (P1) and so one import run."""
    result = invoke(study, "transcripts", "import", str(write(tmp_path / "in" / "P1.txt", GOOD)))
    assert result.exit_code == 0, result.output
    return study


def set_config(study: Study, old: str, new: str) -> None:
    path = study.root / "qualkit.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(study: Study, needle: str) -> int:
    lines = (study.root / "qualkit.toml").read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, start=1) if needle in line)


# -- the store ---------------------------------------------------------------------------------
def test_a_corrupt_store_is_a_clean_error(study: Study) -> None:
    study.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{study.store_path}{suffix}").unlink(missing_ok=True)
    garbage = b"this is not an SQLite database " * 200
    study.store_path.write_bytes(garbage)
    result = invoke(study, "runs", "list")
    assert_user_error(result, "store.sqlite", "cannot be read", "restore it from a backup")
    assert study.store_path.read_bytes() == garbage


def test_a_store_folder_instead_of_a_file(study: Study) -> None:
    study.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{study.store_path}{suffix}").unlink(missing_ok=True)
    study.store_path.mkdir()
    assert_user_error(invoke(study, "runs", "list"), "store.sqlite", "is a folder", "move the folder")


def test_a_locked_store_refuses_writes_and_changes_nothing(seeded: Study, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(qualkit.store, "BUSY_TIMEOUT_S", 0.2)
    before = dump(seeded)
    new_file = write(tmp_path / "in2" / "P2.txt", OTHER)
    locker = sqlite3.connect(seeded.store_path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        result = invoke(seeded, "transcripts", "import", str(new_file))
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert_user_error(result, "store.sqlite", "is locked", "another process", "run this command again")
    assert dump(seeded) == before


def test_a_store_from_a_newer_qualkit(seeded: Study) -> None:
    conn = sqlite3.connect(seeded.store_path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    seeded.close()
    before = dump(seeded)
    assert_user_error(invoke(seeded, "transcripts", "list"), "store.sqlite", "schema version 999", "upgrade qualkit")
    assert dump(seeded) == before


# -- ids that do not exist ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "parts"),
    [
        (("transcripts", "show", "NOPE"), ("no transcript 'NOPE'", "known transcripts: P1")),
        (("transcripts", "show", "P1", "--version", "7"), ("transcript 'P1' has no version 7", "versions are: 1")),
        (("code", "explain", "999999"), ("no segment 999999",)),
        (("runs", "show", "0"), ("no run 0", "qualkit runs list")),
        (("report", "build", "--run", "999"), ("no run 999",)),
        (("agree", "human:nobody", "run:1"), ("no human coder 'nobody'",)),
    ],
)
def test_unknown_ids(seeded: Study, args: tuple[str, ...], parts: tuple[str, ...]) -> None:
    before = dump(seeded)
    assert_user_error(invoke(seeded, *args), *parts)
    assert dump(seeded) == before


@pytest.mark.parametrize("args", [("report", "build", "--run", "1"), ("agree", "run:1", "human:nobody"), ("export", "--coder", "run:1")])
def test_a_run_that_is_not_a_rules_run_has_no_codings(seeded: Study, tmp_path: Path, args: tuple[str, ...]) -> None:
    kind = seeded.store.run(1)["kind"]
    assert kind == "import"
    before = dump(seeded)
    result = invoke(seeded, *args, *(["--out", str(tmp_path / "out")] if args[0] in ("report", "export") else []))
    assert_user_error(result, "run 1 is of kind 'import', not a rules run", "qualkit runs list")
    assert dump(seeded) == before
    assert not (tmp_path / "out").exists()


# -- qualkit.toml ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new", "parts"),
    [
        ("min_topic_size = 5", 'min_topic_size = "five"', ("topics.min_topic_size", "valid integer", "for example min_topic_size = 5")),
        ('formats = ["html", "md"]', 'formats = "html"', ("report.formats", "valid list", 'for example formats = ["html", "md"]')),
        ("formats = []", 'formats = ["pdf"]', ("export.formats", "'csv', 'xlsx', 'parquet' or 'qdpx'")),
        ('unit = "turn"', 'unit = "paragraph"', ("coding.unit", "unknown unit 'paragraph'", 'for example unit = "turn"')),
        ('unit = "window:3"', 'unit = "window:0"', ("topics.unit", "invalid unit 'window:0'")),
        ("speaker_roles = {}", 'speaker_roles = {P1 = "boss"}', ("speaker_roles", "'interviewer', 'participant' or 'other'")),
        ('format = "auto"', 'format = "pdf"', ("transcripts.format", "unknown transcript format 'pdf'", "vtt")),
    ],
)
def test_wrong_types_in_qualkit_toml_name_the_line_and_the_fix(
    seeded: Study, old: str, new: str, parts: tuple[str, ...]
) -> None:
    set_config(seeded, old, new)
    line = line_of(seeded, new)
    before = dump(seeded)
    for args in (("runs", "list"), ("run", "--dry-run"), ("run",)):
        result = invoke(seeded, *args)
        assert_user_error(result, "qualkit.toml", f"line {line}", *parts)
    assert dump(seeded) == before  # `qualkit run` records no failed pipeline run for a config mistake


# -- transcripts -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "data", "parts"),
    [
        ("interview.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", ("a PDF document", "byte 0", "does not read PDFs")),
        ("P2.txt", b"P2\x00\x01\x02\xff\xfe binary", ("binary content", "byte 2", "NUL byte")),
        ("P2.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", ("old Office file", "save it as .docx")),
        ("P2.docx", b"\x89\xfe\x00 random bytes", ("not a Word document: not a ZIP archive",)),
    ],
)
def test_binary_files_given_as_transcripts(
    seeded: Study, tmp_path: Path, name: str, data: bytes, parts: tuple[str, ...]
) -> None:
    path = write(tmp_path / "bad" / name, data)
    before = dump(seeded)
    for verb in ("validate", "import"):
        assert_user_error(invoke(seeded, "transcripts", verb, str(path)), name, *parts)
    assert "invalid UTF-8" not in invoke(seeded, "transcripts", "validate", str(path)).output
    assert dump(seeded) == before


def test_a_folder_without_transcripts(seeded: Study, tmp_path: Path) -> None:
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    write(empty / "notes.pdfx", "not a transcript extension")
    before = dump(seeded)
    for verb in ("validate", "import"):
        assert_user_error(invoke(seeded, "transcripts", verb, str(empty)), "nothing-here", "holds no transcript files", ".vtt")
    assert dump(seeded) == before


def test_participants_csv_that_is_a_folder(seeded: Study, tmp_path: Path) -> None:
    (seeded.root / "participants.csv").mkdir()
    before = dump(seeded)
    result = invoke(seeded, "transcripts", "import", str(write(tmp_path / "in2" / "P2.txt", OTHER)))
    assert_user_error(result, "participants.csv", "directory", "not a folder")
    assert dump(seeded) == before


# -- outputs -----------------------------------------------------------------------------------
def test_report_into_a_folder_that_cannot_be_made(seeded: Study, tmp_path: Path) -> None:
    blocker = write(tmp_path / "afile", "x")
    assert_user_error(
        invoke(seeded, "report", "build", "--out", str(blocker / "sub")),
        "cannot create the output folder", "afile", "--out or [report] out",
    )


def test_export_into_a_folder_that_cannot_be_made(seeded: Study, tmp_path: Path) -> None:
    blocker = write(tmp_path / "afile", "x")
    for fmt in ("csv", "qdpx"):
        assert_user_error(
            invoke(seeded, "export", "--format", fmt, "--out", str(blocker / "sub")), "cannot create the output folder", "afile"
        )


def test_codebook_export_and_import_outputs(tmp_path: Path) -> None:
    blocker = write(tmp_path / "afile", "x")
    result = invoke(None, "codebook", "export", "default", "--format", "md", "--out", str(blocker / "book.md"))
    assert_user_error(result, "afile", "it is a file, not a folder", "choose a folder with --out")
    qdc = write(
        tmp_path / "book.qdc",
        '<?xml version="1.0"?><CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>'
        '<Code guid="00000000-0000-0000-0000-000000000001" name="Alpha" isCodable="true"/></Codes></CodeBook>',
    )
    assert_user_error(invoke(None, "codebook", "import", str(qdc), "--out", str(blocker / "b.yaml")), "afile")
    # and it works where the folder can be made
    result = invoke(None, "codebook", "import", str(qdc), "--out", str(tmp_path / "new" / "b.yaml"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new" / "b.yaml").is_file()


def test_pseudonymize_checks_the_mapping_folder_before_writing(study: Study, tmp_path: Path) -> None:
    source = write(tmp_path / "in" / "P1.txt", GOOD)
    blocker = write(tmp_path / "afile", "x")
    out = tmp_path / "pseudo"
    result = invoke(study, "transcripts", "pseudonymize", str(source), "--out", str(out), "--mapping", str(blocker / "m.json"))
    assert_user_error(result, "afile", "--mapping")
    assert not out.exists()  # nothing written whose mapping could not be saved


def test_a_zip_codebook_under_another_name_is_reported_by_its_own_name(tmp_path: Path) -> None:
    archive = tmp_path / "codes.qdc"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("readme.txt", "hello")
    result = invoke(None, "codebook", "import", str(archive), "--out", str(tmp_path / "b.yaml"))
    assert_user_error(result, "codes.qdc", "no project.qde")
    assert ".qdpx has no" not in result.output.replace("codes.qdc", "")


def test_demo_refuses_a_folder_with_other_files(tmp_path: Path) -> None:
    folder = tmp_path / "my-interviews"
    write(folder / "notes.txt", "my own notes")
    result = invoke(None, "demo", str(folder))
    assert_user_error(result, "my-interviews", "not empty", "choose a new or empty folder")
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


# -- human codings -----------------------------------------------------------------------------
def test_codings_csv_spans_out_of_range_and_bad_map_yaml(seeded: Study, tmp_path: Path) -> None:
    before = dump(seeded)
    codings = write(tmp_path / "c.csv", "transcript,start,end,code\nP1,0,999999,velocity\nP1,x,5,velocity\n")
    result = invoke(seeded, "codings", "import", str(codings), "--coder", "alice")
    assert_user_error(result, "c.csv:line 2", "outside the transcript", "0 <= start < end", "c.csv:line 3", "whole number")
    good = write(tmp_path / "g.csv", "transcript,turn,code\nP1,2,no-such-code\n")
    bad_map = write(tmp_path / "map.yaml", "a: [b\n")
    result = invoke(seeded, "codings", "import", str(good), "--coder", "alice", "--map", str(bad_map))
    assert_user_error(result, "map.yaml:line 2", "YAML syntax error", "fix:")
    assert dump(seeded) == before


# -- outside a study, help, usage ----------------------------------------------------------------
def test_commands_outside_a_study(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QUALKIT_STUDY", raising=False)
    for args in (("runs", "list"), ("transcripts", "list"), ("report", "build"), ("run",)):
        assert_user_error(invoke(None, *args), "no qualkit.toml", "qualkit init")


def test_a_folder_named_qualkit_toml(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "qualkit.toml").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QUALKIT_STUDY", raising=False)
    assert_user_error(invoke(None, "runs", "list"), "qualkit.toml is a folder", "move the folder away")
    assert_user_error(invoke(tmp_path, "runs", "list"), "qualkit.toml is a folder")


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*path, name)))
        else:
            found.append((*path, name))
    return found


def test_every_command_has_help_and_usage_errors_exit_2() -> None:
    commands = _commands(main)
    assert len(commands) > 20
    runner = CliRunner()
    for path in commands:
        helped = runner.invoke(main, [*path, "--help"])
        assert helped.exit_code == 0, (path, helped.output)
        assert "Usage:" in helped.output
        wrong = runner.invoke(main, [*path, "--no-such-option"])
        assert wrong.exit_code == 2, (path, wrong.output)
        assert "No such option" in wrong.output


def test_a_participants_file_named_in_the_config_must_exist(tmp_path):
    from qualkit.study import init_study

    study = init_study(tmp_path / "s")
    (study.root / "transcripts" / "P1.txt").write_text("Interviewer: Hi?\nP1: We retrain weekly.\n", encoding="utf-8")
    config = study.root / "qualkit.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('participants = "participants.csv"', 'participants = "people.csv"'), encoding="utf-8")
    study.close()
    result = CliRunner().invoke(main, ["--study", str(study.root), "transcripts", "import"])
    assert result.exit_code == 1
    assert "people.csv" in result.output and "transcripts.participants" in result.output
    # the default name stays optional
    config.write_text(config.read_text(encoding="utf-8").replace('participants = "people.csv"', 'participants = "participants.csv"'), encoding="utf-8")
    assert CliRunner().invoke(main, ["--study", str(study.root), "transcripts", "import"]).exit_code == 0
