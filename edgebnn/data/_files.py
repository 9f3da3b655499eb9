"""File helpers shared by the loaders: gz-or-raw reading and class-name files."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from .errors import DataError

_GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: Path) -> bytes:
    """The file's contents, gunzipped if it is gzip data (detected by magic, not by name).

    Sniffing the magic means a ``.gz`` file that was already decompressed by a browser, or a
    gzip file without the suffix, still loads. Read or decompression failures become DataError.
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(path, f"cannot read file ({e.strerror or e})") from e
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(path, f"corrupt or truncated gzip data ({e})") from e
    return data


def find_file(directory: Path, names: list[str]) -> Path | None:
    """The first of ``names`` that exists as a file in ``directory`` (each also tried with .gz)."""
    for name in names:
        for candidate in (name, name + ".gz"):
            p = directory / candidate
            if p.is_file():
                return p
    return None


def read_class_names(path: Path) -> list[str] | None:
    """Class names from a text file, one per line, blank lines ignored; None if there is no file.

    This is the format of CIFAR-10's batches.meta.txt and of the optional classes.txt accepted
    by the IDX loader.
    """
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot read class names as UTF-8 text ({e})") from e
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise DataError(path, "no class names found, expected one class name per line")
    if len(set(names)) != len(names):
        raise DataError(path, "class names are not unique, expected one distinct name per line")
    return names


def check_labels(where: Path, y: np.ndarray, num_classes: int) -> None:
    """Raise DataError naming ``where`` if any label is outside 0..num_classes-1."""
    bad = np.flatnonzero((y < 0) | (y >= num_classes))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            where,
            f"label {int(y[i])} at record {i} is out of range, expected 0..{num_classes - 1} "
            f"({num_classes} classes; {bad.size} bad labels in all)",
        )
