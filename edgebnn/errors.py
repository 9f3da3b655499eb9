"""The one root of edgebnn's errors: `EdgebnnError` is a user's mistake, anything else a bug.

Every error the package raises for bad input (a missing or corrupt file, a flag value that
does not fit, a board that does not answer) derives from EdgebnnError, so the command line
catches exactly these and prints one line, while a genuine bug keeps its traceback. The
optional structured context says where the mistake is and what was wrong with it:

- ``file``: the file, folder, port or data spec at fault, as the user named it;
- ``field``: the part of it (a section, a layer's field, a flag such as ``--out``);
- ``expected`` / ``found``: what should have been there, and what was.

When the message is built from these it names them in order:
``model.ebnn: layer 3 weights: expected 1024 bytes, found 512``. This module imports nothing
of edgebnn, so every layer may use it (docs/errors.md).
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["EdgebnnError", "UsageError", "FileError", "read_bytes", "write_bytes",
           "write_text"]


class EdgebnnError(Exception):
    """A user's mistake, told in one line naming the file/field/flag at fault."""

    file: str | None = None
    field: str | None = None
    expected: object = None
    found: object = None

    def __init__(self, message: str = "", *, file: str | os.PathLike[str] | None = None,
                 field: str | None = None, expected: object = None,
                 found: object = None) -> None:
        self.file = os.fspath(file) if file is not None else None
        self.field, self.expected, self.found = field, expected, found
        super().__init__(describe(message, self.file, field, expected, found))


def describe(message: str, file: str | None = None, field: str | None = None,
             expected: object = None, found: object = None) -> str:
    """``file: field: message: expected E, found F``, leaving out the parts not given."""
    parts = [str(p) for p in (file, field, message) if p not in (None, "")]
    comparison = ", ".join(f"{what} {value}" for what, value in
                           (("expected", expected), ("found", found)) if value is not None)
    return ": ".join(parts + ([comparison] if comparison else []))


class UsageError(EdgebnnError, ValueError):
    """A command-line argument or option value that does not fit (a ValueError as well, as
    callers of the library functions catch it)."""


class FileError(EdgebnnError):
    """A file the user named cannot be read or written (the message gives the system's reason)."""


def _reason(e: OSError) -> str:
    return e.strerror or str(e)


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a file the user named, or FileError `PATH: cannot read (reason)`."""
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise FileError(f"cannot read ({_reason(e)})", file=path) from None


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Writes a file the user named, or FileError `PATH: cannot write (reason)`."""
    try:
        Path(path).write_bytes(data)
    except OSError as e:
        raise FileError(f"cannot write ({_reason(e)})", file=path) from None


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """write_bytes for text (UTF-8)."""
    write_bytes(path, text.encode())
