"""Helpers for tests of the command line's answers to bad input: run a command on a study, dump
the store to compare before and after, and check a clean user error."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner, Result

from qualkit.cli import main
from qualkit.study import Study


def invoke(study: Study | Path | None, *args: str) -> Result:
    prefix = ["--study", str(study.root if isinstance(study, Study) else study)] if study is not None else []
    return CliRunner().invoke(main, [*prefix, *args])


def invoke_ok(root: Path, *args: str) -> Result:
    """Run a command on the study at ``root`` (exceptions propagate) and check it exited 0."""
    result = CliRunner().invoke(main, ["--study", str(root), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def dump(study: Study) -> str:
    """The whole store as SQL, read through a fresh connection."""
    conn = sqlite3.connect(study.store_path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def assert_user_error(result: Result, *parts: str) -> None:
    """Exit 1 through the CLI's error handler (no traceback), with every part in the message."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not an uncaught exception
    assert "Traceback" not in result.output
    for part in parts:
        assert part in result.output, f"{part!r} not in:\n{result.output}"
