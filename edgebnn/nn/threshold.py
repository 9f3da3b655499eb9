"""Per-feature binarization of the 8-bit input: +1 where x ≥ t, −1 elsewhere.

The local-error rule of Colombo, Pittorino & Roveri (arXiv 2412.00119) feeds its first hidden
layer ±1 inputs made by thresholding each feature at its training-set median. Their
"distributive thermometer" with one bit takes as threshold the sorted training values' element
⌊(n − 1)/2⌋ (the lower median, itself a data value) and maps x < t to −1 and x ≥ t to +1; we do
the same, which fits in u8 and matches the format's `x ≥ T` convention — except that a
threshold of 0 is raised to 1: x ≥ 0 holds for every u8, so such a feature (a background pixel
whose median is 0) would be a constant carrying nothing, while x ≥ 1 still says "ink here". On
`digits`, where a third of the pixels have median 0, this takes the local rule's test accuracy
from about 55% to about 85% (256-unit layer, 30 epochs). It exports as the
.ebnn 1.1 BINARIZE layer (docs/format.md), which the C core runs exactly.

Features that are (almost) constant on the training set — +1 in fewer than `min_fraction` or
more than 1 − `min_fraction` of the samples, like MNIST's border pixels that are ink in a
handful of images — are *disabled*: their threshold is 0, so they are always +1 and carry
nothing. They must be, for the local rule: on mnist5k 82% of the pixels are such features, and
as ±1 inputs they act as a large shared bias that every update moves, so all samples collapsed
onto one hidden code and the rule stayed at chance (10%); with them disabled it learns (see
docs/results.md). A threshold of 0 is the marker the trainers read (`disabled_features`).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

#: Features +1 in fewer than this fraction of the training samples (or in more than 1 − it)
#: are disabled.
MIN_FRACTION = 0.05


def lower_median(x: np.ndarray) -> np.ndarray:
    """Per-feature lower median of uint8 samples (N, ...) → uint8 (...)."""
    if len(x) == 0:
        raise ValueError("cannot take the median of an empty training set")
    return np.sort(x, axis=0)[(len(x) - 1) // 2].astype(np.uint8)


class InputThreshold(nn.Module):
    """U8 image (N, C, H, W, float 0..255) → ±1 float (N, H·W·C), one u8 threshold per feature.

    The output is flattened in the file's H, W, C order (not PyTorch's C, H, W), so it is exactly
    the 1 × 1 × H·W·C BIN tensor the exported BINARIZE layer writes, densely packed 32 features a
    word (an H × W × C BIN tensor would spend a word per pixel when C is 1). The thresholds are a
    buffer (saved with the model), shaped (H, W, C)."""

    def __init__(self, shape_hwc: tuple[int, int, int]) -> None:
        super().__init__()
        self.register_buffer("threshold", torch.zeros(shape_hwc, dtype=torch.uint8))

    def fit(self, images_hwc: np.ndarray, min_fraction: float = MIN_FRACTION) -> None:
        """Thresholds = max(lower median, 1) of uint8 training images (N, H, W, C), and 0 for
        the features whose fraction of +1 is below min_fraction or above 1 − min_fraction."""
        t = np.maximum(lower_median(images_hwc), 1)
        ones = (images_hwc >= t).mean(axis=0)
        t[(ones < min_fraction) | (ones > 1.0 - min_fraction)] = 0
        self.threshold.copy_(torch.from_numpy(t))

    def disabled_features(self) -> np.ndarray:
        """bool (H·W·C,) in the output's order: the features fit() disabled (threshold 0)."""
        return (self.threshold == 0).flatten().numpy()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hwc = x.permute(0, 2, 3, 1)
        return torch.where(hwc >= self.threshold.to(x.dtype), 1.0, -1.0).to(x.dtype).flatten(1)
