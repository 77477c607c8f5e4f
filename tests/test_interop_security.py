"""A QDPX is a ZIP of XML from someone else's machine: entity bombs, zip slip, size caps, corruption."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from _interop_fixtures import make_study
from qualkit.cli import main
from qualkit.errors import InteropError
from qualkit.interop.qdc import qdc_to_codebook_dict
from qualkit.interop.qdpx import read_qdpx
from qualkit.interop.safezip import Limits, SafeArchive, check_member_name

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&lol9;"/>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&xxe;"/>"""

MINIMAL = '<Project xmlns="urn:QDA-XML:project:1.0" name="x"/>'


def _zip(path: Path, members: dict[str, bytes | str]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data)
    path.write_bytes(buffer.getvalue())
    return path


def test_billion_laughs_is_refused(tmp_path):
    path = _zip(tmp_path / "bomb.qdpx", {"project.qde": BILLION_LAUGHS})
    with pytest.raises(InteropError) as caught:
        read_qdpx(path)
    assert "refused for safety" in caught.value.message
    (tmp_path / "bomb.qdc").write_text(BILLION_LAUGHS.replace("Project", "CodeBook"))
    with pytest.raises(InteropError):
        qdc_to_codebook_dict(tmp_path / "bomb.qdc")


def test_external_entities_are_refused(tmp_path):
    path = _zip(tmp_path / "xxe.qdpx", {"project.qde": EXTERNAL_ENTITY})
    with pytest.raises(InteropError) as caught:
        read_qdpx(path)
    assert "refused for safety" in caught.value.message


@pytest.mark.parametrize("name", ["../evil.txt", "sources/../../evil.txt", "/etc/passwd", "C:/evil.txt", "..\\evil.txt"])
def test_members_escaping_the_archive_are_refused(tmp_path, name):
    assert check_member_name(name) is not None
    path = _zip(tmp_path / "slip.qdpx", {"project.qde": MINIMAL, name: "x"})
    with pytest.raises(InteropError) as caught:
        read_qdpx(path)
    assert "unsafe member" in caught.value.message and repr(name) in caught.value.problems[0].message


def test_member_count_and_size_are_capped(tmp_path):
    path = _zip(tmp_path / "many.qdpx", {"project.qde": MINIMAL, **{f"sources/{i}.txt": "x" for i in range(5)}})
    with pytest.raises(InteropError, match="members"):
        read_qdpx(path, limits=Limits(max_members=3))
    big = _zip(tmp_path / "big.qdpx", {"project.qde": MINIMAL, "sources/a.txt": "a" * 100_000})
    with pytest.raises(InteropError, match="uncompress"):
        read_qdpx(big, limits=Limits(max_total_bytes=10_000))


def test_total_size_is_enforced_while_reading(tmp_path):
    path = _zip(tmp_path / "ok.qdpx", {"project.qde": MINIMAL, "a.txt": "a" * 5000, "b.txt": "b" * 5000})
    with SafeArchive(path) as archive:
        archive.limits = Limits(max_total_bytes=6000)  # counted as members are decompressed
        assert len(archive.read("a.txt")) == 5000
        with pytest.raises(InteropError, match="more than the allowed"):
            archive.read("b.txt")


def test_corrupt_and_non_zip_archives_are_clear_errors(tmp_path):
    good = _zip(tmp_path / "good.qdpx", {"project.qde": MINIMAL * 50})
    truncated = tmp_path / "truncated.qdpx"
    truncated.write_bytes(good.read_bytes()[:-30])
    with pytest.raises(InteropError, match="not a readable ZIP"):
        read_qdpx(truncated)
    garbage = tmp_path / "garbage.qdpx"
    garbage.write_bytes(b"not a zip at all")
    with pytest.raises(InteropError, match="not a readable ZIP"):
        read_qdpx(garbage)
    data = bytearray(good.read_bytes())
    data[40:60] = b"\x00" * 20  # damage the compressed stream
    damaged = tmp_path / "damaged.qdpx"
    damaged.write_bytes(bytes(data))
    with pytest.raises(InteropError):
        read_qdpx(damaged)


def test_missing_project_file_and_bad_xml(tmp_path):
    with pytest.raises(InteropError, match="no project.qde"):
        read_qdpx(_zip(tmp_path / "empty.qdpx", {"sources/a.txt": "x"}))
    with pytest.raises(InteropError) as caught:
        read_qdpx(_zip(tmp_path / "bad.qdpx", {"project.qde": "<Project name='x'>"}))
    assert caught.value.problems[0].location.startswith("line 1")


def test_cli_reports_a_corrupt_archive_and_stores_nothing(tmp_path):
    study = make_study(tmp_path / "study")
    try:
        garbage = tmp_path / "garbage.qdpx"
        garbage.write_bytes(b"PK\x03\x04 broken")
        result = CliRunner().invoke(main, ["--study", str(study.root), "codings", "import", str(garbage)])
        assert result.exit_code == 1 and "QK700" in result.output and "Traceback" not in result.output
        assert study.store.query("SELECT COUNT(*) FROM runs")[0][0] == 0
    finally:
        study.close()
