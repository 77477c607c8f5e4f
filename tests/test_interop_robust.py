"""REFI-QDA files that broke the readers (issue 11): codes nested thousands deep, a huge project.qde."""

from __future__ import annotations

import io
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from _interop_fixtures import make_study
from qualkit.cli import main
from qualkit.errors import InteropError
from qualkit.interop.qdc import qdc_to_codebook_dict
from qualkit.interop.qdpx import read_qdpx
from qualkit.interop.safezip import MAX_XML_BYTES, Limits

CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
PROJECT_NS = "urn:QDA-XML:project:1.0"


def _nested_codes(depth: int) -> str:
    opening = "".join(f'<Code guid="00000000-0000-0000-0000-{n:012d}" name="c{n}" isCodable="true">' for n in range(depth))
    return f"<Codes>{opening}{'</Code>' * depth}</Codes>"


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize("depth", [1_500, 20_000])
def test_a_qdc_nested_deeper_than_the_limit_is_a_clear_error(depth):
    assert sys.getrecursionlimit() < depth  # a recursive walk would raise RecursionError here
    data = f'<?xml version="1.0"?><CodeBook xmlns="{CODEBOOK_NS}">{_nested_codes(depth)}</CodeBook>'.encode()
    with pytest.raises(InteropError, match="nested more than 100 levels"):
        qdc_to_codebook_dict(data)


def test_a_qdpx_nested_deeper_than_the_limit_is_refused_by_the_cli(tmp_path):
    project = f'<?xml version="1.0"?><Project xmlns="{PROJECT_NS}" name="deep"><CodeBook>{_nested_codes(3_000)}</CodeBook></Project>'
    path = _zip(tmp_path / "deep.qdpx", {"project.qde": project.encode()})
    with pytest.raises(InteropError, match="nested more than 100 levels"):
        read_qdpx(path)
    study = make_study(tmp_path / "study")
    try:
        result = CliRunner().invoke(main, ["--study", str(study.root), "codings", "import", str(path), "--coder", "ann"])
    finally:
        study.close()
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "nested more than 100 levels" in result.output


def test_deep_but_allowed_trees_keep_parents_and_document_order():
    tree = f'<CodeBook xmlns="{CODEBOOK_NS}">{_nested_codes(90)}</CodeBook>'.replace(
        "</Codes>", '<Code guid="00000000-0000-0000-0000-999999999999" name="sibling"/></Codes>'
    )
    codes = qdc_to_codebook_dict(tree.encode())["codes"]
    assert [code["label"] for code in codes] == [f"c{n}" for n in range(90)] + ["sibling"]
    assert [code.get("parent") for code in codes[:3]] == [None, "c0", "c1"]
    assert "parent" not in codes[-1]


def test_a_huge_project_file_is_refused_by_its_declared_size(tmp_path):
    qde = f'<Project xmlns="{PROJECT_NS}" name="x">'.encode() + b" " * 3_000_000 + b"</Project>"
    path = _zip(tmp_path / "huge.qdpx", {"project.qde": qde})
    assert path.stat().st_size < 100_000  # a small archive holding a large file
    with pytest.raises(InteropError, match="more than the allowed 1000000"):
        read_qdpx(path, limits=Limits(max_xml_bytes=1_000_000))
    assert Limits().max_xml_bytes == MAX_XML_BYTES


def test_the_project_file_is_streamed_into_the_parser(tmp_path):
    """20 MB of XML comments (which the parser drops) are read with a small peak: never held whole."""
    comment = b"<!--" + b"x" * 1_000_000 + b"-->"
    qde = f'<Project xmlns="{PROJECT_NS}" name="streamed">'.encode() + comment * 20 + b"</Project>"
    path = _zip(tmp_path / "big.qdpx", {"project.qde": qde})
    tracemalloc.start()
    try:
        project = read_qdpx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert project.name == "streamed"
    assert peak < 8_000_000, f"peak {peak / 1e6:.1f} MB for a 20 MB project file"


@pytest.mark.parametrize(
    "source, message",
    [(b"P1: hello\x00 world\n", "NUL character"), (b"\xff\xfeP\x001\x00:", "not valid UTF-16")],
)
def test_broken_project_sources_are_clear_errors(tmp_path, source, message):
    project = (
        f'<?xml version="1.0"?><Project xmlns="{PROJECT_NS}" name="p"><Sources>'
        '<TextSource guid="55555555-5555-5555-5555-555555555555" name="P1" plainTextPath="internal://P1.txt"/>'
        "</Sources></Project>"
    )
    path = _zip(tmp_path / "p.qdpx", {"project.qde": project.encode(), "sources/P1.txt": source})
    with pytest.raises(InteropError) as caught:
        read_qdpx(path)
    assert any(message in problem.message for problem in caught.value.problems)


def test_codebook_import_of_a_deep_qdc_is_a_clean_cli_error(tmp_path):
    path = tmp_path / "deep.qdc"
    path.write_text(f'<?xml version="1.0"?><CodeBook xmlns="{CODEBOOK_NS}">{_nested_codes(5_000)}</CodeBook>', encoding="utf-8")
    study = make_study(tmp_path / "study")
    try:
        result = CliRunner().invoke(main, ["--study", str(study.root), "codebook", "import", str(path), "--out", str(tmp_path / "out.yaml")])
    finally:
        study.close()
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "nested more than 100 levels" in result.output
    assert not (tmp_path / "out.yaml").exists()
