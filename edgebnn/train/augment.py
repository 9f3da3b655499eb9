"""Training-time augmentation for image sets (cifar10:, folder:): random crop with zero
padding and a random horizontal flip, the CIFAR regimen of the papers. None for MNIST,
digits and idx: (digit shapes are not mirror-symmetric, and the studies used none).

Drawn from the runner's own seeded numpy generator (checkpointed), so a run, and a resumed
run, are reproducible. Works on the float NCHW 0..255 batches the trainer sees; pixels stay
integers, so what the network is trained on is still what the device can be given."""
from __future__ import annotations

import numpy as np
import torch

#: data spec prefixes that are augmented under `--augment auto`
IMAGE_SETS = ("cifar10:", "folder:")
MODES = ("auto", "on", "off")


def enabled(mode: str, data_spec: str) -> bool:
    return mode == "on" or (mode == "auto" and data_spec.startswith(IMAGE_SETS))


def padding(height: int) -> int:
    """4 pixels at 32 × 32 (the usual CIFAR crop), in proportion elsewhere, at least 1."""
    return max(1, height // 8)


def crop_flip(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Each image of x (N, C, H, W) shifted by a random crop of its zero-padded copy and
    mirrored with probability ½."""
    n, _, h, w = x.shape
    pad = padding(h)
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dy, dx = rng.integers(0, 2 * pad + 1, size=(2, n))
    flip = rng.random(n) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        crop = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        out[i] = crop.flip(-1) if flip[i] else crop
    return out
