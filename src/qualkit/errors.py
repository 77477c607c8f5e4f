"""One exception hierarchy for qualkit.

Every error a user can cause is a :class:`QualkitError`. It carries a stable code
(``QK1xx`` input, ``QK2xx`` anonymity, ``QK3xx`` codebook, ``QK4xx`` store,
``QK5xx`` config/pipeline, ``QK6xx`` optional dependencies, ``QK7xx`` interop),
a message that names the file and the place, and a hint on how to fix it. The CLI
catches these at its edge and turns them into a clean message and exit code 1;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable


@dataclass(frozen=True)
class Problem:
    """One located problem: where it is, what is wrong, and how to fix it.

    ``location`` is human-readable: ``line 12``, ``turn 7``, ``codes -> 3 -> rules``,
    ``byte 1042``. ``file`` may be empty when the input did not come from a file.
    """

    message: str
    file: str = ""
    location: str = ""
    fix: str = ""

    def format(self) -> str:
        where = ":".join(part for part in (self.file, self.location) if part)
        text = f"{where}: {self.message}" if where else self.message
        if self.fix:
            text += f" (fix: {self.fix})"
        return text

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "location": self.location, "message": self.message, "fix": self.fix}


class QualkitError(Exception):
    """Base class for errors caused by the user's input or environment."""

    code = "QK000"

    def __init__(self, message: str, *, hint: str = "", problems: Iterable[Problem] = ()) -> None:
        self.message = message
        self.hint = hint
        self.problems: list[Problem] = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"[{self.code}] {self.message}"]
        lines.extend(f"  - {problem.format()}" for problem in self.problems)
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def __reduce__(self):  # survive pickling, e.g. when raised on a Dask worker
        return (_restore_error, (type(self), dict(self.__dict__)))

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "problems": [problem.as_dict() for problem in self.problems],
        }


class InputError(QualkitError):
    """A file could not be read or parsed (encoding, format, size, structure)."""

    code = "QK100"


class TranscriptValidationError(InputError):
    """A transcript violates the transcript schema; every violation is listed."""

    code = "QK101"


class AnonymityError(QualkitError):
    """A transcript still contains identifying information."""

    code = "QK200"


class CodebookError(QualkitError):
    """A codebook cannot be loaded, resolved or compiled."""

    code = "QK300"


class StoreError(QualkitError):
    """The project store is missing, locked, or from a newer qualkit."""

    code = "QK400"


class NotFoundError(StoreError):
    """Something asked for by id (a transcript, run, segment, code) does not exist."""

    code = "QK404"


class ConflictError(QualkitError):
    """The data changed since the user last saw it (a stale page); nothing was changed."""

    code = "QK409"


class ConfigError(QualkitError):
    """qualkit.toml is missing, malformed, or names things that do not exist."""

    code = "QK500"


class NoStudyError(ConfigError):
    """No study where one was looked for (no qualkit.toml); a broken qualkit.toml is a plain ConfigError."""


class PipelineError(QualkitError):
    """A pipeline step failed; the store keeps the earlier steps' results."""

    code = "QK510"


class MissingDependencyError(QualkitError):
    """An optional part is needed but not installed."""

    code = "QK600"

    def __init__(self, what: str, install: str) -> None:
        super().__init__(f"{what} is not installed", hint=f"install it with: {install}")


class InteropError(QualkitError):
    """A REFI-QDA (QDPX/QDC) or other exchange file cannot be read or written."""

    code = "QK700"


def _restore_error(cls: type, state: dict[str, object]) -> QualkitError:
    """Rebuild a pickled :class:`QualkitError` without calling its (subclass-specific) __init__."""
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error.render())
    return error


def display_path(path: str | Path) -> str:
    """Return ``path`` relative to the working directory when that is shorter."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


__all__ = [
    "AnonymityError",
    "CodebookError",
    "ConfigError",
    "InputError",
    "InteropError",
    "MissingDependencyError",
    "NoStudyError",
    "NotFoundError",
    "PipelineError",
    "Problem",
    "QualkitError",
    "StoreError",
    "TranscriptValidationError",
    "display_path",
]
