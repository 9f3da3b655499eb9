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

import contextlib
import json
import os
import secrets
import stat
from pathlib import Path
from typing import BinaryIO, Iterator

__all__ = ["EdgebnnError", "UsageError", "FileError", "read_bytes", "replacing", "write_bytes",
           "write_text", "write_json"]


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


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str], field: str | None = None) -> Iterator[BinaryIO]:
    """The one way edgebnn writes a file: a binary file to write the new contents to, which
    replace `path` only when the block ends without an error.

    Why: a full disk, a kill or a bug half-way through must never leave a truncated model or
    run folder behind. The contents go to a temporary file in the same directory (so the
    rename cannot cross file systems), are fsynced, then renamed over `path` (and the directory
    fsynced, so the rename itself survives a crash). On any failure the old file is as it was
    and the temporary file is removed; an OSError becomes FileError `PATH: cannot write
    (reason)`, naming `field` (a flag) too when given. A symbolic link is followed, so the
    file it points to is replaced, not the link; an existing file keeps its permissions; a
    device or pipe (/dev/null) has no contents to keep and is written directly.
    """
    try:
        with _replacement(Path(os.path.realpath(path))) as f:
            yield f
    except OSError as e:
        raise FileError(f"cannot write ({_reason(e)})", file=path, field=field) from None


@contextlib.contextmanager
def _replacement(target: Path) -> Iterator[BinaryIO]:
    try:
        mode: int | None = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        with open(target, "wb") as f:
            yield f
        return
    temp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            if mode is not None:
                os.chmod(f.fileno(), stat.S_IMODE(mode))
            os.fsync(f.fileno())
        os.replace(temp, target)   # fails on a directory, leaving it as it was
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(target.parent)


def _fsync_directory(folder: Path) -> None:
    """Makes a rename in `folder` durable (best effort: some file systems refuse it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes(path: str | os.PathLike[str], data: bytes, field: str | None = None) -> None:
    """Replaces a file with `data` atomically (`replacing`), or FileError `PATH: cannot write
    (reason)`."""
    with replacing(path, field) as f:
        f.write(data)


def write_text(path: str | os.PathLike[str], text: str, field: str | None = None) -> None:
    """write_bytes for text (UTF-8)."""
    write_bytes(path, text.encode(), field)


def write_json(path: str | os.PathLike[str], value: object, *, sort_keys: bool = False) -> None:
    """Writes `value` as indented JSON (write_text). NaN and infinity are not JSON: a value
    holding one is refused (EdgebnnError naming the file) rather than written as a file that
    JSON readers reject."""
    try:
        text = json.dumps(value, indent=2, sort_keys=sort_keys, allow_nan=False)
    except ValueError as e:
        raise EdgebnnError(f"cannot write as JSON ({e})", file=path) from None
    write_text(path, text + "\n")
