"""Output folders: created on demand, with a clear error when they cannot be.

Every command that writes files (reports, exports, pseudonymized transcripts, codebooks)
prepares its folder with :func:`ensure_output_folder`, so a typo in ``--out`` or a read-only
location gives a :class:`~qualkit.errors.InputError` naming the folder and the fix, not a
traceback, and nothing is written.
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Iterator

from .errors import InputError, Problem, display_path


def ensure_output_folder(path: str | Path, *, option: str = "--out") -> Path:
    """Create the folder ``path`` (and its parents) for writing; raise :class:`InputError` if impossible.

    ``option`` names the setting the user can change (``--out``, ``[report] out`` ...).
    """
    folder = Path(path)
    shown = display_path(folder)
    fix = f"choose another folder with {option}, or create it and check its permissions"
    if folder.exists() and not folder.is_dir():
        raise InputError(
            f"cannot write into {shown}: it is a file, not a folder",
            problems=[Problem("a file, not a folder", shown, "", f"choose a folder with {option}")],
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or str(error)
        raise InputError(
            f"cannot create the output folder {shown}: {reason}",
            problems=[Problem(reason, display_path(error.filename) if error.filename else shown, "", fix)],
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(
            f"cannot write into the output folder {shown}: permission denied",
            problems=[Problem("permission denied", shown, "", fix)],
        )
    return folder


def ensure_parent_folder(path: str | Path, *, option: str = "--out") -> Path:
    """Prepare the folder a single output file goes into; return the file's path."""
    path = Path(path)
    if path.is_dir():
        shown = display_path(path)
        raise InputError(
            f"cannot write the file {shown}: it is a folder",
            problems=[Problem("a folder, not a file", shown, "", f"give a file name with {option}")],
        )
    ensure_output_folder(path.parent if str(path.parent) else Path("."), option=option)
    return path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary file in ``path``'s folder to write to; it replaces ``path`` (``os.replace``)
    only when the block succeeds, so a reader never sees a half-written output and a failure
    leaves the previous file as it was."""
    path = Path(path)
    tmp = _new_temporary(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def _new_temporary(path: Path) -> Path:
    """A new empty file beside ``path``, created with mode 0666 so the kernel applies the umask:
    the output gets the permissions any new file would (``mkstemp`` makes 0600, and reading the
    umask means setting it, process-wide, under the web app's threads)."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name beside {path}")


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` through :func:`atomic_path`."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
    return path


def write_output(path: str | Path, data: str | bytes, *, option: str = "--out") -> Path:
    """Write ``data`` (text as UTF-8) to the file ``path`` atomically, creating its folder; a clear error on failure."""
    path = ensure_parent_folder(path, option=option)
    try:
        write_atomic(path, data)
    except OSError as error:
        shown = display_path(path)
        reason = error.strerror or str(error)
        raise InputError(
            f"cannot write {shown}: {reason}",
            problems=[Problem(reason, shown, "", f"choose another file with {option}, or check the folder's permissions")],
        ) from None
    return path


__all__ = ["atomic_path", "ensure_output_folder", "ensure_parent_folder", "write_atomic", "write_output"]
