"""Docs that cannot drift: every command has help and is named in the README."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from qualkit.cli import main
from qualkit.config import StudyConfig

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: tuple[str, ...] = ("qualkit",)):
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, path)


COMMANDS = list(_commands(main))


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help_and_is_documented(path, command):
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"
    words = path[1:]
    assert f"qualkit {words[0]}" in README, f"`qualkit {words[0]}` is not in the README"
    if len(words) > 1:
        assert f"{words[0]} {words[1]}" in README, f"`{' '.join(path)}` is not in the README"


def test_every_config_key_is_documented():
    for section, field in StudyConfig.model_fields.items():
        for key in field.annotation.model_fields:
            assert f"`{section}.{key}`" in README, f"{section}.{key} is missing from the README's qualkit.toml reference"


def test_cli_defaults_mirror_the_library():
    from qualkit.analysis.agreement import DEFAULT_UNCODED_SAMPLE
    from qualkit.cli import agree

    assert agree.DEFAULT_UNCODED_SAMPLE == DEFAULT_UNCODED_SAMPLE


def test_loading_the_cli_imports_nothing_heavy():
    import subprocess
    import sys

    code = "import sys, qualkit.cli; print(','.join(m for m in ('pandas', 'spacy', 'bertopic', 'torch', 'sklearn') if m in sys.modules))"
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert heavy == "", f"importing the CLI loads {heavy}: a no-op `qualkit run` must stay fast"
