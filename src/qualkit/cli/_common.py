"""Shared plumbing for CLI commands: opening the study once, clean errors, JSON output."""

from __future__ import annotations

import functools
import getpass
import json
import os
import sys
from typing import Any, Callable, TypeVar

import click

from ..errors import QualkitError
from ..study import Study

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USER_ERROR = 1


class StudyContext:
    """Carried in ``ctx.obj``: the study is opened on first use, once."""

    def __init__(self, study_path: str | None) -> None:
        self.study_path = study_path
        self._study: Study | None = None

    @property
    def study(self) -> Study:
        if self._study is None:
            self._study = Study.open(self.study_path)
        return self._study

    def close(self) -> None:
        if self._study is not None:
            self._study.close()


def coder_name(given: str | None) -> str:
    """The human coder: ``given`` (--coder), else $QUALKIT_CODER, else the user name (``serve``, ``memos``, ``codings``)."""
    if given:
        return given
    try:
        return os.environ.get("QUALKIT_CODER") or getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name on this system
        return "researcher"


def get_study(ctx: click.Context) -> Study:
    obj = ctx.find_object(StudyContext)
    if obj is None:  # invoked outside the root group (tests calling a subcommand directly)
        obj = StudyContext(None)
        ctx.obj = obj
    return obj.study


def handle_errors(func: F) -> F:
    """Turn every :class:`QualkitError` into a clean message on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except QualkitError as error:
            ctx = click.get_current_context(silent=True)
            if ctx is not None and ctx.params.get("as_json"):
                click.echo(json.dumps({"ok": False, "error": error.as_dict()}, indent=2))
            click.secho(error.render(), fg="red", err=True)
            sys.exit(EXIT_USER_ERROR)

    return wrapper  # type: ignore[return-value]


def json_option(func: F) -> F:
    """Add ``--json`` (stored as ``as_json``) for machine-readable output."""
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(func)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
