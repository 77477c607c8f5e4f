"""Codebook YAML read with line marks, and the problems located in it.

:func:`read_source` parses one file keeping the line and column of every YAML path, so each
:class:`LintProblem` can name its file, YAML path (``codes -> 3 -> rules -> patterns -> 0``) and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..errors import Problem, display_path

YamlPath = tuple[Any, ...]
#: libyaml's loader when PyYAML was built with it (about 20x faster), else the pure-Python one.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Severity = Literal["error", "warning"]


# -- problems ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LintProblem:
    """One problem in a codebook file, with its YAML path and line (1-based)."""

    severity: Severity
    message: str
    file: str = ""
    path: str = ""
    line: int | None = None
    column: int | None = None
    fix: str = ""

    @property
    def location(self) -> str:
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}" + (f", column {self.column}" if self.column is not None else ""))
        if self.path:
            parts.append(f"({self.path})" if parts else self.path)
        return " ".join(parts)

    def format(self) -> str:
        return f"{self.severity}: {self.to_problem().format()}"

    def to_problem(self) -> Problem:
        return Problem(self.message, self.file, self.location, self.fix)

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "fix": self.fix,
        }


def format_yaml_path(path: YamlPath) -> str:
    return " -> ".join(str(part) for part in path)


# -- YAML with marks ----------------------------------------------------------------------------


@dataclass
class Source:
    """One codebook file as read: its data and the line/column of every YAML path."""

    path: Path
    shown: str
    data: Any = None
    marks: dict[YamlPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: YamlPath) -> tuple[int | None, int | None]:
        """Line and column of ``path``, or of its nearest ancestor present in the file."""
        for end in range(len(path), -1, -1):
            mark = self.marks.get(tuple(path[:end]))
            if mark is not None:
                return mark
        return None, None

    def problem(self, severity: Severity, message: str, path: YamlPath = (), fix: str = "") -> LintProblem:
        line, column = self.locate(path)
        return LintProblem(severity, message, self.shown, format_yaml_path(path), line, column, fix)


def read_source(path: Path, problems: list[LintProblem]) -> Source | None:
    """Read and parse a YAML file keeping marks; syntax and encoding errors become problems."""
    shown = display_path(path)
    source = Source(path, shown)
    try:
        raw = path.read_bytes()
    except OSError as error:
        problems.append(LintProblem("error", f"cannot read the codebook: {error.strerror}", shown))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        problems.append(
            LintProblem(
                "error",
                f"the codebook is not UTF-8 (byte {error.start}: {raw[error.start:error.start + 1]!r})",
                shown,
                f"byte {error.start}",
                fix="save the file as UTF-8",
            )
        )
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            problems.append(LintProblem("error", "the codebook is empty", shown, fix="start from `qualkit codebook show --help`"))
            return None
        source.data = _build(loader, node, (), source, problems)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        what = " ".join(part for part in (error.context, error.problem) if part)
        problems.append(
            LintProblem(
                "error",
                f"YAML syntax error: {what}",
                shown,
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
                fix="fix the YAML at the line and column shown (quote strings that contain ': ' or start with '{', '[', '*', '&')",
            )
        )
        return None
    except yaml.YAMLError as error:  # reader errors (control characters)
        problems.append(LintProblem("error", f"YAML error: {error}", shown))
        return None
    finally:
        loader.dispose()
    return source


def _build(loader: Any, node: yaml.Node, path: YamlPath, source: Source, problems: list[LintProblem]) -> Any:
    source.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, (list, dict)):
                key = str(key)
            child = (*path, key)
            if key in result:
                problems.append(
                    source.problem("error", f"duplicate key {key!r} (YAML keeps only the last one)", path, "remove one of them")
                )
            source.marks[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = _build(loader, value_node, child, source, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, index), source, problems) for index, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


__all__ = ["LintProblem", "Severity", "Source", "YamlPath", "format_yaml_path", "read_source"]
