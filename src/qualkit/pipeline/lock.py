"""One writer at a time: the pipeline lock (``.qualkit/pipeline.lock``).

``qualkit run`` holds an exclusive advisory lock (``fcntl.flock``; ``msvcrt.locking`` on
Windows) on the lock file for as long as it works. A second run on the same study waits
for it, after saying so, or refuses at once with ``wait=False``. The operating system drops
the lock when the process ends, however it ends, so a killed run never leaves a stale lock.
The file holds the pid and host of the holder, for the message.
"""

from __future__ import annotations

import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from ..errors import PipelineError

LOCK_NAME = "pipeline.lock"
POLL_S = 0.2

try:  # POSIX
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").split()
    except OSError:
        return "another process"
    return f"pid {text[0]} on {text[1]}" if len(text) >= 2 else "another process"


@contextmanager
def pipeline_lock(
    folder: Path,
    *,
    wait: bool = True,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the pipeline lock of the study whose store folder is ``folder``.

    When another process holds it: with ``wait`` (default) call ``on_wait`` with a message and
    wait (at most ``timeout`` seconds, if given); without, raise :class:`PipelineError`.
    """
    path = folder / LOCK_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise PipelineError(
            f"cannot open the pipeline lock {path}: {error.strerror or error}",
            hint=f"check that the folder {folder} is writable; nothing was changed",
        ) from None
    try:
        if not _try_lock(fd):
            holder = _holder(path)
            if not wait:
                raise PipelineError(
                    f"another `qualkit run` ({holder}) is updating this study",
                    hint="wait for it to finish and run again (nothing was changed), or run without --no-wait to wait for it",
                )
            if on_wait is not None:
                on_wait(f"Another `qualkit run` ({holder}) is updating this study: waiting for it to finish...")
            deadline = None if timeout is None else time.monotonic() + timeout
            while not _try_lock(fd):
                if deadline is not None and time.monotonic() > deadline:
                    raise PipelineError(
                        f"another `qualkit run` ({holder}) still holds the study after {timeout:g} s",
                        hint="wait for it to finish and run again; nothing was changed",
                    )
                time.sleep(POLL_S)
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


__all__ = ["LOCK_NAME", "pipeline_lock"]
