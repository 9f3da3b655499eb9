"""The in-memory dataset type and deterministic, stratified splitting.

Images are kept as raw 8-bit HWC arrays because that is exactly what the exported model's first
layer consumes (see docs/format.md: U8 input tensors are HWC); conversion to float NCHW for
PyTorch happens only at batch time (:mod:`edgebnn.data.tensors`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from edgebnn.errors import UsageError

__all__ = ["Dataset", "Splits", "split", "subsample", "sample_indices"]


@dataclass(frozen=True)
class Dataset:
    """Images ``x`` (N, H, W, C) uint8 0–255, labels ``y`` (N,) int64 indexing ``classes``."""

    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    name: str

    def __post_init__(self) -> None:
        # Internal invariant checks: loaders report bad files as DataError before getting here.
        if self.x.dtype != np.uint8 or self.x.ndim != 4:
            raise ValueError(f"Dataset.x must be uint8 (N, H, W, C), got {self.x.dtype} {self.x.shape}")
        if self.y.dtype != np.int64 or self.y.shape != (self.x.shape[0],):
            raise ValueError(f"Dataset.y must be int64 ({self.x.shape[0]},), got {self.y.dtype} {self.y.shape}")
        if self.y.size and (self.y.min() < 0 or self.y.max() >= len(self.classes)):
            raise ValueError(f"Dataset.y has labels outside 0..{len(self.classes) - 1}")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of one image — the model's input tensor shape."""
        return tuple(int(d) for d in self.x.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subset(self, indices: np.ndarray) -> "Dataset":
        """A new Dataset with the examples at ``indices`` (copied, so the parent can be freed)."""
        idx = np.asarray(indices, dtype=np.int64)
        return Dataset(self.x[idx], self.y[idx], list(self.classes), self.name)


class Splits(NamedTuple):
    """Train / validation / test datasets; unpacks as ``train, val, test = splits``."""

    train: Dataset
    val: Dataset
    test: Dataset

    @property
    def classes(self) -> list[str]:
        return self.train.classes


def _allocate(counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` across classes proportionally to ``counts`` (largest remainder).

    Gives exactly ``total`` items overall and never more than a class has, so small classes
    still get their fair (possibly zero) share and split sizes do not drift with rounding.
    """
    n = int(counts.sum())
    if n == 0 or total <= 0:
        return np.zeros_like(counts)
    quota = counts * (total / n)
    take = np.minimum(np.floor(quota).astype(np.int64), counts)
    short = total - int(take.sum())
    # Hand the remaining items to the largest fractional parts (ties: lower class first).
    order = sorted(range(len(counts)), key=lambda c: (-(quota[c] - take[c]), c))
    for c in order:
        if short <= 0:
            break
        if take[c] < counts[c]:
            take[c] += 1
            short -= 1
    return take


def _stratified_parts(y: np.ndarray, sizes: list[int], seed: int) -> list[np.ndarray]:
    """Partition indices of ``y`` into len(sizes) stratified parts of those sizes, plus the rest.

    Each class's indices are shuffled once with ``seed``; part k takes the next share of every
    class. Returned index arrays are sorted, so the result depends only on (y, sizes, seed).
    """
    rng = np.random.default_rng(seed)
    classes, y_inv = np.unique(y, return_inverse=True)
    per_class = [rng.permutation(np.flatnonzero(y_inv == c)) for c in range(len(classes))]
    remaining = np.array([len(p) for p in per_class], dtype=np.int64)
    start = np.zeros(len(classes), dtype=np.int64)
    parts: list[np.ndarray] = []
    for size in sizes:
        take = _allocate(remaining, min(size, int(remaining.sum())))
        chunk = [per_class[c][start[c]:start[c] + take[c]] for c in range(len(classes))]
        parts.append(np.sort(np.concatenate(chunk)) if chunk else np.zeros(0, np.int64))
        start += take
        remaining -= take
    rest = [per_class[c][start[c]:] for c in range(len(classes))]
    parts.append(np.sort(np.concatenate(rest)) if rest else np.zeros(0, np.int64))
    return parts


def _count(n: int, fraction: float) -> int:
    return int(n * fraction + 0.5)


def split(dataset: Dataset, val_fraction: float, test_fraction: float, seed: int) -> Splits:
    """Deterministic stratified split into train/val/test by fractions of ``len(dataset)``.

    Test and validation sizes are ``round(N * fraction)`` overall and are spread over classes in
    proportion to class sizes, so class balance carries over to every split. The same
    (dataset, fractions, seed) always gives the same splits; the three are disjoint and cover
    the dataset.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise UsageError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} must be in [0, 1) "
            "and leave a non-empty training fraction"
        )
    n = len(dataset)
    test_idx, val_idx, train_idx = _stratified_parts(
        dataset.y, [_count(n, test_fraction), _count(n, val_fraction)], seed
    )
    return Splits(dataset.subset(train_idx), dataset.subset(val_idx), dataset.subset(test_idx))


def subsample(dataset: Dataset, limit: int | None, seed: int) -> Dataset:
    """At most ``limit`` examples, a seeded stratified subset (unchanged if already small enough).

    Used for quick runs; keeping class proportions means a small run still sees every class.
    """
    if limit is None or len(dataset) <= limit:
        return dataset
    return dataset.subset(sample_indices(dataset.y, limit, seed))


def sample_indices(y: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded stratified sample of ``min(limit, len(y))`` labels ``y``.

    Separate from :func:`subsample` so a loader can choose files before decoding them.
    """
    if limit < 0:
        raise UsageError(f"limit must be >= 0, got {limit}")
    keep, _ = _stratified_parts(y, [limit], seed)
    return keep
