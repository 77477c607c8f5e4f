"""Reading archives and XML from someone else's machine, safely.

A QDPX project is a ZIP of XML and source files written by another tool. Before anything
is parsed:

- every member name is checked: absolute paths, drive letters and ``..`` parts are refused
  (a "zip slip" member could otherwise name a file outside the archive);
- the number of members and the total uncompressed size are capped, and the size is
  enforced while reading (a member's declared size is not trusted), so a zip bomb stops early;
- a corrupt or truncated archive is an :class:`~qualkit.errors.InteropError` naming the file.

XML is parsed with :mod:`defusedxml`: no external entities, no entity declarations (which
stops "billion laughs" expansion bombs), no network access. An XML member (``project.qde``) is
streamed into the parser through :meth:`SafeArchive.open_capped`, never read whole into memory,
and refused past ``Limits.max_xml_bytes`` (:data:`MAX_XML_BYTES`), whatever size it declares.
"""

from __future__ import annotations

import io
import re
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Iterator
from xml.etree.ElementTree import Element

from ..errors import InteropError, Problem, display_path

MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 1024 * 1024 * 1024  # 1 GiB uncompressed
MAX_XML_BYTES = 256 * 1024 * 1024

_DRIVE = re.compile(r"^[A-Za-z]:")
#: What reading a member of a corrupt or truncated archive raises.
_READ_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError)


def _unreadable(shown: str, member: str, error: Exception) -> InteropError:
    return InteropError(
        f"{shown}: member {member!r} cannot be read ({error})",
        hint="the archive is corrupt or truncated; export the project again",
    )


@dataclass(frozen=True)
class Limits:
    """Caps applied while reading an archive."""

    max_members: int = MAX_MEMBERS
    max_total_bytes: int = MAX_TOTAL_BYTES
    max_xml_bytes: int = MAX_XML_BYTES


def check_member_name(name: str) -> str | None:
    """Why ``name`` is not a safe archive member path, or ``None`` when it is."""
    if not name:
        return "empty member name"
    if "\x00" in name:
        return "member name contains a NUL byte"
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or _DRIVE.match(normalized):
        return "absolute path"
    if any(part == ".." for part in PurePosixPath(normalized).parts):
        return "path escapes the archive ('..')"
    return None


class SafeArchive:
    """A validated, read-only view of a ZIP archive.

    Member names are looked up exactly or case-insensitively (:meth:`find`); reading a
    member counts its bytes against the archive's total cap.
    """

    def __init__(self, path: str | Path, *, limits: Limits = Limits()) -> None:
        self.path = Path(path)
        self.shown = display_path(self.path)
        self.limits = limits
        self._read_bytes = 0
        try:
            self._zip = zipfile.ZipFile(self.path)
        except FileNotFoundError as error:
            raise InteropError(f"{self.shown} does not exist", hint="check the path") from error
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as error:
            raise InteropError(
                f"{self.shown} is not a readable ZIP archive ({error})",
                hint="a .qdpx file is a ZIP archive; export the project again from its tool",
            ) from error
        infos = self._zip.infolist()
        if len(infos) > limits.max_members:
            self._zip.close()
            raise InteropError(
                f"{self.shown} has {len(infos)} members, more than the limit of {limits.max_members}",
                hint="this is not a plausible project archive",
            )
        problems = []
        declared = 0
        for info in infos:
            reason = check_member_name(info.filename)
            if reason is not None:
                problems.append(Problem(f"refused member {info.filename!r}: {reason}", self.shown, "archive"))
            declared += info.file_size
        if problems:
            self._zip.close()
            raise InteropError(
                f"{self.shown} contains unsafe member paths",
                problems=problems,
                hint="only open archives from a trusted tool; this one tries to write outside itself",
            )
        if declared > limits.max_total_bytes:
            self._zip.close()
            raise InteropError(
                f"{self.shown} would uncompress to {declared} bytes, more than the limit of {limits.max_total_bytes}",
                hint="this is not a plausible project archive (a zip bomb?)",
            )
        self.names = [info.filename for info in infos if not info.is_dir()]

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> "SafeArchive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def find(self, name: str) -> tuple[str | None, bool]:
        """The stored member for ``name``: ``(member, exact)``; ``(None, False)`` when absent.

        ``exact`` is False when only a case-insensitive match (or one with backslashes) exists,
        so callers can report the difference.
        """
        if name in self.names:
            return name, True
        wanted = name.replace("\\", "/").lower()
        for candidate in self.names:
            if candidate.replace("\\", "/").lower() == wanted:
                return candidate, False
        return None, False

    @contextmanager
    def open_capped(self, member: str, *, max_bytes: int | None = None) -> Iterator[IO[bytes]]:
        """A stream over ``member`` for a streaming parser: at most ``max_bytes`` (default
        ``Limits.max_xml_bytes``) come out, checked against the declared size first and enforced
        while decompressing; every byte counts against the archive's total cap.
        """
        cap = min(self.limits.max_xml_bytes if max_bytes is None else max_bytes, self.limits.max_total_bytes - self._read_bytes)
        try:
            declared = self._zip.getinfo(member).file_size
        except KeyError:
            raise InteropError(f"{self.shown}: no member {member!r}", hint="export the project again") from None
        if declared > cap:
            raise InteropError(
                f"{self.shown}: member {member!r} declares {declared} bytes uncompressed, more than the allowed {cap}",
                hint="this is not a plausible project file (a zip bomb?); MAX_XML_BYTES caps an XML member",
            )
        try:
            handle = self._zip.open(member)
        except _READ_ERRORS as error:
            raise _unreadable(self.shown, member, error) from error
        with handle:
            yield io.BufferedReader(_CappedReader(handle, cap, self, member), buffer_size=64 * 1024)

    def read(self, member: str, *, max_bytes: int | None = None) -> bytes:
        """The bytes of ``member``, enforcing the caps while decompressing."""
        remaining = self.limits.max_total_bytes - self._read_bytes
        if max_bytes is not None:
            remaining = min(remaining, max_bytes)
        chunks = []
        size = 0
        try:
            with self._zip.open(member) as handle:
                while True:
                    chunk = handle.read(1024 * 1024)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > remaining:
                        raise InteropError(
                            f"{self.shown}: member {member!r} uncompresses to more than the allowed {remaining} bytes",
                            hint="this is not a plausible project archive (a zip bomb?)",
                        )
                    chunks.append(chunk)
        except InteropError:
            raise
        except _READ_ERRORS as error:
            raise _unreadable(self.shown, member, error) from error
        self._read_bytes += size
        return b"".join(chunks)


class _CappedReader(io.RawIOBase):
    """A read-only stream over an archive member that raises once more than ``cap`` bytes come out."""

    def __init__(self, handle: IO[bytes], cap: int, archive: "SafeArchive", member: str) -> None:
        self._handle, self._cap, self._archive, self._member = handle, cap, archive, member
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        wanted = 1024 * 1024 if size is None or size < 0 else min(size, 1024 * 1024)
        try:
            chunk = self._handle.read(wanted)
        except _READ_ERRORS as error:
            raise _unreadable(self._archive.shown, self._member, error) from error
        self.size += len(chunk)
        self._archive._read_bytes += len(chunk)
        if self.size > self._cap:
            raise InteropError(
                f"{self._archive.shown}: member {self._member!r} uncompresses to more than the allowed {self._cap} bytes",
                hint="this is not a plausible project file (a zip bomb?); MAX_XML_BYTES caps an XML member",
            )
        return chunk

    def readinto(self, buffer: "bytearray | memoryview") -> int:  # type: ignore[override]
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def parse_xml(data: bytes | IO[bytes], file: str) -> Element:
    """Parse untrusted XML with defusedxml; any refusal or syntax error is an InteropError."""
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException
    from xml.etree.ElementTree import ParseError

    try:
        if isinstance(data, (bytes, bytearray)):
            return SafeET.fromstring(bytes(data))
        return SafeET.parse(data).getroot()
    except DefusedXmlException as error:
        raise InteropError(
            f"{file} uses XML features refused for safety ({type(error).__name__}: {error})",
            hint="entity declarations and external references are not allowed in exchange files",
        ) from error
    except (LookupError, ValueError) as error:  # an unknown or broken encoding declaration, bad characters
        raise InteropError(
            f"{file} is not readable XML ({type(error).__name__}: {error})",
            hint="export the file again from its tool (as UTF-8)",
        ) from error
    except ParseError as error:
        line, column = getattr(error, "position", (0, 0))
        raise InteropError(
            f"{file} is not well-formed XML",
            problems=[Problem(str(error), file, f"line {line}, column {column}")],
            hint="export the file again from its tool",
        ) from error


__all__ = ["Limits", "MAX_MEMBERS", "MAX_TOTAL_BYTES", "MAX_XML_BYTES", "SafeArchive", "check_member_name", "parse_xml"]
