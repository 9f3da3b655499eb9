"""CIFAR-10, binary version (``cifar10:DIR``).

DIR (or DIR/cifar-10-batches-bin, as the archive unpacks) holds ``data_batch_1.bin`` …
``data_batch_5.bin`` (training) and ``test_batch.bin`` (the official test set). Each record is
1 label byte followed by 3072 pixel bytes: the 32×32 red plane, then green, then blue (CHW).
We transpose to HWC because that is the layout of the exported model's U8 input tensor.
Class names come from ``batches.meta.txt`` if present, else the standard ten.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ._files import check_labels, read_bytes, read_class_names
from .dataset import Dataset
from .errors import DataError

__all__ = ["read_cifar10_batch", "load_cifar10_dir", "CIFAR10_CLASSES"]

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]
_SIDE = 32
_PIXELS = 3 * _SIDE * _SIDE
RECORD_BYTES = 1 + _PIXELS  # 3073
_EXPECTED = "expected data_batch_1.bin … data_batch_5.bin and test_batch.bin"


def read_cifar10_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> (images (N, 32, 32, 3) uint8 HWC, labels (N,) int64)."""
    data = read_bytes(path)
    if len(data) == 0 or len(data) % RECORD_BYTES:
        raise DataError(path, f"size is {len(data)} bytes, expected a non-zero multiple of "
                              f"{RECORD_BYTES} (1 label byte + 3072 pixel bytes per record)")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    images = records[:, 1:].reshape(-1, 3, _SIDE, _SIDE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _batch_dir(directory: Path) -> Path:
    nested = directory / "cifar-10-batches-bin"
    return nested if nested.is_dir() else directory


def _read_batches(paths: list[Path], classes: list[str], name: str) -> Dataset:
    xs, ys = [], []
    for p in paths:
        x, y = read_cifar10_batch(p)
        check_labels(p, y, len(classes))
        xs.append(x)
        ys.append(y)
    return Dataset(np.concatenate(xs), np.concatenate(ys), classes, name)


def load_cifar10_dir(directory: Path, name: str) -> tuple[Dataset, Dataset]:
    """(train, official test) from a CIFAR-10 binary directory.

    Whatever ``data_batch_<n>.bin`` files exist are used, in numeric order, so a subset of the
    batches (e.g. for a quick run) also loads; ``test_batch.bin`` is required.
    """
    d = _batch_dir(directory)
    train_paths = sorted(
        (p for p in d.glob("data_batch_*.bin") if re.fullmatch(r"data_batch_\d+\.bin", p.name)),
        key=lambda p: int(p.stem.rsplit("_", 1)[1]),
    )
    if not train_paths:
        raise DataError(f"cifar10:{d}", f"no data_batch_*.bin files found ({_EXPECTED})")
    test_path = d / "test_batch.bin"
    if not test_path.is_file():
        raise DataError(test_path, f"file not found ({_EXPECTED})")
    classes = read_class_names(d / "batches.meta.txt") or list(CIFAR10_CLASSES)
    return _read_batches(train_paths, classes, name), _read_batches([test_path], classes, name)
