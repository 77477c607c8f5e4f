"""One ``qualkit serve`` per study: a lock file in ``.qualkit/`` naming the serving process.

A second ``serve`` on the same study is refused with the address of the first. A lock left by
a process that no longer runs (killed, machine restarted) is taken over. The CLI and the web app
may still run side by side: they share the store through SQLite's WAL and its transactions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import ConflictError

LOCK_NAME = "serve.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ServeLock:
    """Hold ``.qualkit/serve.lock`` for the life of one server (a context manager)."""

    def __init__(self, study_root: str | Path) -> None:
        self.path = Path(study_root) / ".qualkit" / LOCK_NAME
        self.held = False

    def holder(self) -> dict[str, Any] | None:
        """The running server that holds the lock, or None (no lock, or a stale one)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            pid = int(data["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return data if pid != os.getpid() and _alive(pid) else None

    def acquire(self, *, host: str, port: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"pid": os.getpid(), "host": host, "port": port})
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                other = self.holder()
                if other is not None:
                    raise ConflictError(
                        f"this study is already served by process {other['pid']} at http://{other['host']}:{other['port']}/",
                        hint="use that workbench (its address with the token was printed where it started), "
                        "or stop it first; the CLI can run alongside it",
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
            self.held = True
            return
        raise ConflictError(f"cannot take the lock {self.path}", hint="remove the file if no `qualkit serve` runs")

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "ServeLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
