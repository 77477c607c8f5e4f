"""Run the workbench: one lock per study, the app on waitress, the address printed once."""

from __future__ import annotations

import errno
import logging
import signal
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import InputError
from ..workbench.edits import check_coder
from ..workbench.lock import ServeLock
from .app import LOCAL_HOSTS, create_app

DEFAULT_PORT = 8421
HOST_HINT = "pass --host 127.0.0.1 (this machine only) or an IP address of one of its network interfaces"


@dataclass(frozen=True)
class ServeInfo:
    """Where the workbench listens and the one URL that carries its token."""

    host: str
    port: int
    token: str
    coder: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/?token={self.token}"


def _check_host(host: str) -> None:
    """Refuse a --host that is no address this machine can bind, before any port is probed."""
    try:
        socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        reason = error.strerror if isinstance(error, socket.gaierror) else "not a valid host name"
        raise InputError(f"cannot listen on --host {host!r}: {reason}", hint=HOST_HINT) from None


def _bind_hint(error: OSError) -> str:
    """The fix for a failed bind: another port, another address, or a port above 1023."""
    if error.errno == errno.EADDRNOTAVAIL:
        return HOST_HINT
    if error.errno == errno.EACCES:
        return "ports below 1024 need administrator rights: pass --port N with N above 1023, or leave --port out"
    return "pass --port N with a free port, or leave --port out to take the next free one"


def _free_port(host: str, start: int, tries: int = 20) -> int:
    for port in range(start, start + tries):
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise InputError(f"ports {start}..{start + tries - 1} on {host} are all taken", hint="pass --port N with a free port")


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def serve(
    study_root: str | Path, *, coder: str, host: str = "127.0.0.1", port: int | None = None, token: str | None = None,
    announce: Callable[[ServeInfo], None] = lambda info: None, threads: int = 4,
) -> None:
    """Serve the workbench until interrupted; refuses when another ``serve`` holds the study."""
    from waitress import create_server

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" notes are noise here

    coder = check_coder(coder)
    root = Path(study_root).resolve()
    app = create_app(root, coder=coder, token=token, host=None if host in LOCAL_HOSTS else host)
    settings = app.config["WORKBENCH"]
    lock = ServeLock(root)
    other = lock.holder()
    if other is not None:  # refuse before binding a port
        lock.acquire(host=host, port=0)  # raises the ConflictError naming the other server
    _check_host(host)
    chosen = port if port is not None else _free_port(host, DEFAULT_PORT)
    try:
        server = create_server(app, host=host, port=chosen, threads=threads, ident="qualkit")
    except OSError as error:
        raise InputError(f"cannot listen on {host}:{chosen}: {error.strerror}", hint=_bind_hint(error)) from None
    except ValueError:  # waitress: "Invalid host/port specified." (a name that resolves to nothing bindable)
        raise InputError(f"cannot listen on {host}:{chosen}: not an address of this machine", hint=HOST_HINT) from None
    if threading.current_thread() is threading.main_thread():  # SIGTERM stops cleanly too (lock released)
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        lock.acquire(host=host, port=int(server.effective_port))  # type: ignore[attr-defined]
        announce(ServeInfo(host, int(server.effective_port), settings.token, coder))  # type: ignore[attr-defined]
        try:
            server.run()
        except KeyboardInterrupt:
            pass
    finally:
        server.close()
        lock.release()
