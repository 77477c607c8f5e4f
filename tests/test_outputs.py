"""qualkit.outputs: atomic writes keep the umask's permissions and leave no temporary file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from qualkit.outputs import atomic_path, write_output


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_written_file_gets_the_umask_permissions(tmp_path: Path):
    old = os.umask(0o027)
    try:
        path = write_output(tmp_path / "out" / "a.txt", "hello")
    finally:
        os.umask(old)
    assert path.read_text(encoding="utf-8") == "hello"
    assert path.stat().st_mode & 0o777 == 0o640
    assert os.listdir(path.parent) == ["a.txt"]


def test_failed_block_keeps_the_previous_file(tmp_path: Path):
    path = write_output(tmp_path / "a.txt", b"before")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert path.read_bytes() == b"before"
    assert os.listdir(tmp_path) == ["a.txt"]
