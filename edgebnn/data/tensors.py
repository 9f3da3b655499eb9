"""Bridging uint8 HWC datasets to PyTorch: float NCHW tensors and seeded mini-batches.

Pixel values are NOT normalized: the binary network's first layer is trained on the same raw
0–255 integers the exported model will see on the device, so training and inference agree.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from .dataset import Dataset

__all__ = ["to_tensor", "batches"]


def to_tensor(x: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, C) -> float32 (N, C, H, W), values unchanged (0–255)."""
    if x.ndim != 4:
        raise ValueError(f"expected an (N, H, W, C) array, got shape {x.shape}")
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).to(torch.float32).contiguous()


def batches(dataset: Dataset, batch_size: int, *, shuffle: bool = False,
            rng: np.random.Generator | int | None = None,
            drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (x float32 NCHW, y int64) mini-batches of ``dataset``.

    With ``shuffle``, the order comes from ``rng``: pass one ``np.random.Generator`` and reuse it
    across epochs to get a different but reproducible order each epoch (an int seed gives the
    same order on every call). Only the batch being yielded is converted, so memory stays small.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = len(dataset)
    if shuffle:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        order = gen.permutation(n)
    else:
        order = np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size]
        yield to_tensor(dataset.x[idx]), torch.from_numpy(dataset.y[idx])
