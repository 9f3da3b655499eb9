"""Image folders, ImageNette / torchvision ImageFolder style (``folder:DIR``).

Two layouts:

* ``DIR/train/<class>/*.jpg`` plus ``DIR/val/<class>/…`` (ImageNette) or ``DIR/test/<class>/…``:
  the val/test folder is the source's own held-out set and becomes our test split.
* ``DIR/<class>/*.jpg`` with no split folders: everything is one pool, split at random later.

Classes are the sorted names of the class folders that contain at least one image (hidden
folders ignored). Images are decoded with Pillow, converted to RGB, and fitted to a square
``image_size`` (shorter side resized, center crop) so the dataset is one dense uint8 array.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ._image import fit_square
from .dataset import Dataset, sample_indices
from .errors import DataError

from edgebnn.errors import UsageError

__all__ = ["load_folder", "IMAGE_EXTENSIONS", "DEFAULT_IMAGE_SIZE"]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp",
                              ".tif", ".tiff", ".ppm", ".pgm", ".pbm"})
DEFAULT_IMAGE_SIZE = 32
_TEST_DIRS = ("val", "test")


def _image_files(class_dir: Path) -> list[Path]:
    return sorted(p for p in class_dir.rglob("*")
                  if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(class_dir).parts))


def _scan(root: Path) -> dict[str, list[Path]]:
    """class name -> image files, for the class folders under ``root`` that have images."""
    found = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = _image_files(d)
        if files:
            found[d.name] = files
    return found


def _decode(path: Path, size: int) -> np.ndarray:
    try:
        with Image.open(path) as img:
            img.draft("RGB", (size, size))  # JPEG: decode at reduced scale, still >= size
            rgb = img.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DataError(path, f"cannot read image ({type(e).__name__}: {e}); expected a file "
                              "Pillow can decode") from e
    return np.asarray(fit_square(rgb, size), dtype=np.uint8)


def _build(files: list[tuple[Path, int]], classes: list[str], size: int, name: str,
           limit: int | None, seed: int) -> Dataset:
    labels = np.array([label for _, label in files], dtype=np.int64)
    if limit is not None and len(files) > limit:
        # Choose the subset before decoding: decoding is the slow part for photo folders.
        keep = sample_indices(labels, limit, seed)
        files, labels = [files[i] for i in keep], labels[keep]
    x = np.empty((len(files), size, size, 3), dtype=np.uint8)
    # Pillow releases the GIL while decoding, so threads give a real speed-up here.
    workers = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for i, arr in enumerate(pool.map(lambda f: _decode(f[0], size), files)):
            x[i] = arr
    return Dataset(x, labels, classes, name)


def _labelled(found: dict[str, list[Path]], classes: list[str]) -> list[tuple[Path, int]]:
    index = {c: i for i, c in enumerate(classes)}
    return [(p, index[c]) for c, paths in found.items() for p in paths]


def load_folder(directory: Path, name: str, image_size: int = DEFAULT_IMAGE_SIZE,
                limit: int | None = None, seed: int = 0) -> tuple[Dataset, Dataset | None]:
    """(train, official test or None) from an image folder; images (N, S, S, 3) uint8.

    ``limit`` caps each part (seeded, stratified) before any image is decoded.
    """
    if image_size < 1:
        raise UsageError(f"image_size must be >= 1, got {image_size}")
    train_root = directory / "train"
    split_layout = train_root.is_dir()
    found = _scan(train_root if split_layout else directory)
    if not found:
        where = train_root if split_layout else directory
        raise DataError(where, "no classes found, expected one sub-folder per class containing "
                               f"images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    classes = list(found)
    train = _build(_labelled(found, classes), classes, image_size, name, limit, seed)
    if not split_layout:
        return train, None
    test_root = next((directory / d for d in _TEST_DIRS if (directory / d).is_dir()), None)
    if test_root is None:
        return train, None
    test_found = _scan(test_root)
    unknown = sorted(set(test_found) - set(classes))
    if unknown:
        raise DataError(test_root / unknown[0], f"class folder not in {train_root}, expected only "
                                                f"the training classes ({', '.join(classes)})")
    if not test_found:
        raise DataError(test_root, "no images found, expected one sub-folder per class")
    test = _build(_labelled(test_found, classes), classes, image_size, name, limit, seed)
    return train, test
