"""MNIST / Fashion-MNIST in IDX format (``idx:DIR``).

DIR holds the four files of the original distribution, each optionally gzipped::

    train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte

(the ``train-images.idx3-ubyte`` spelling of some mirrors is accepted too). The t10k files are
the official test set. Class names come from DIR/classes.txt (one per line) if present;
otherwise the Fashion-MNIST names if DIR or its parent has "fashion" in its name (so
torchvision's ``FashionMNIST/raw`` works), otherwise the digits "0".."9".
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ._files import check_labels, find_file, read_bytes, read_class_names
from .dataset import Dataset
from .errors import DataError

__all__ = ["read_idx", "load_idx_dir", "FASHION_MNIST_CLASSES", "DIGIT_CLASSES"]

DIGIT_CLASSES = [str(d) for d in range(10)]
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]

# IDX element types (third magic byte); only unsigned bytes are images/labels we can use.
_IDX_TYPES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "int16", 0x0C: "int32",
              0x0D: "float32", 0x0E: "float64"}
_IDX_UBYTE = 0x08

_FILES = {  # role -> accepted base names (the first is the canonical one)
    "train_images": ["train-images-idx3-ubyte", "train-images.idx3-ubyte"],
    "train_labels": ["train-labels-idx1-ubyte", "train-labels.idx1-ubyte"],
    "test_images": ["t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"],
    "test_labels": ["t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"],
}


def read_idx(path: Path, ndims: int) -> np.ndarray:
    """Parse one IDX file of unsigned bytes with ``ndims`` dimensions into a uint8 array.

    Header: 4-byte magic ``0x00 0x00 type ndims``, then ``ndims`` big-endian u32 sizes, then the
    data. Anything else — other magic, other type, other dims, wrong length — is a DataError
    naming the file, since a silently misread header would give garbage images.
    """
    data = read_bytes(path)
    expected_magic = _IDX_UBYTE << 8 | ndims
    if len(data) < 4:
        raise DataError(path, f"file is {len(data)} bytes, too short for an IDX header "
                              f"(expected magic 0x{expected_magic:08X})")
    magic = int.from_bytes(data[:4], "big")
    zero, dtype, nd = data[0:2], data[2], data[3]
    if zero != b"\0\0":
        raise DataError(path, f"IDX magic is 0x{magic:08X}, expected 0x{expected_magic:08X} "
                              "(not an IDX file)")
    if dtype != _IDX_UBYTE:
        kind = _IDX_TYPES.get(dtype, "unknown type")
        raise DataError(path, f"IDX magic is 0x{magic:08X}: element type 0x{dtype:02X} ({kind}) "
                              f"is not supported, expected 0x08 unsigned byte "
                              f"(magic 0x{expected_magic:08X})")
    if nd != ndims:
        raise DataError(path, f"IDX magic is 0x{magic:08X} with {nd} dims, expected {ndims} dims "
                              f"(magic 0x{expected_magic:08X})")
    header = 4 + 4 * nd
    if len(data) < header:
        raise DataError(path, f"file is {len(data)} bytes, shorter than its {header}-byte IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd))
    expected = header + math.prod(shape)
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        dims = "×".join(str(s) for s in shape)
        raise DataError(path, f"file {what}: {len(data)} bytes (after any gunzip), expected "
                              f"{expected} ({header}-byte header + {dims} bytes)")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _class_names(directory: Path) -> list[str]:
    names = read_class_names(directory / "classes.txt")
    if names is not None:
        return names
    resolved = directory.resolve()
    if any("fashion" in part.lower() for part in (resolved.name, resolved.parent.name)):
        return list(FASHION_MNIST_CLASSES)
    return list(DIGIT_CLASSES)


def _load_part(directory: Path, role: str, classes: list[str], name: str) -> Dataset:
    img_path = _require(directory, f"{role}_images")
    lbl_path = _require(directory, f"{role}_labels")
    images = read_idx(img_path, 3)
    labels = read_idx(lbl_path, 1).astype(np.int64)
    if len(labels) != len(images):
        raise DataError(lbl_path, f"{len(labels)} labels, expected {len(images)} "
                                  f"(one per image in {img_path.name})")
    check_labels(lbl_path, labels, len(classes))
    return Dataset(np.ascontiguousarray(images[:, :, :, None]), labels, classes, name)


def _require(directory: Path, key: str) -> Path:
    names = _FILES[key]
    path = find_file(directory, names)
    if path is None:
        raise DataError(directory / names[0], "file not found (also tried .gz); expected "
                        "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte "
                        "and t10k-labels-idx1-ubyte, each optionally .gz")
    return path


def load_idx_dir(directory: Path, name: str) -> tuple[Dataset, Dataset]:
    """(train, official test) from an IDX directory; images (N, H, W, 1) uint8."""
    classes = _class_names(directory)
    train = _load_part(directory, "train", classes, name)
    test = _load_part(directory, "test", classes, name)
    if train.image_shape != test.image_shape:
        raise DataError(_require(directory, "test_images"),
                        f"images are {test.x.shape[1]}×{test.x.shape[2]}, expected "
                        f"{train.x.shape[1]}×{train.x.shape[2]} like the training images")
    return train, test
