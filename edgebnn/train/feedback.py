"""Fixed random feedback matrices and how a class-space signal reaches a layer through them.

DFA, DRTP (and FA, with one matrix per weight) replace the transported weights of backprop by
random matrices drawn once and never trained. As in the comparative study (Crulis et al. 2024),
B ~ N(0, 1) with shape (classes, channels): a per-sample signal s ∈ R^C becomes s·B ∈ R^channels,
broadcast over the spatial positions of a conv feature map. They are drawn from their own
generator seeded by config.seed, so a run is reproducible and independent of how much of the
global RNG the model's initialisation consumed.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

#: added to config.seed so feedback matrices are not the stream that initialised the weights
_SEED_OFFSET = 0x5EED


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed + _SEED_OFFSET)


def random_matrices(shapes: Sequence[tuple[int, ...]], seed: int, std: float | Sequence[float] = 1.0
                    ) -> list[torch.Tensor]:
    """One fixed N(0, std²) matrix per shape, all from one seeded stream (deterministic)."""
    g = generator(seed)
    stds = [std] * len(shapes) if isinstance(std, (int, float)) else list(std)
    return [torch.randn(shape, generator=g) * s for shape, s in zip(shapes, stds)]


def project(signal: torch.Tensor, matrix: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """signal (N, C) · matrix (C, channels), shaped like `like` (N, channels[, H, W]).

    A conv feature map gets the same value at every spatial position of a channel (the
    broadcast of the study's code): one (C × channels) product per sample, not per position."""
    out = signal @ matrix
    return out.view(*out.shape, *([1] * (like.dim() - 2))).expand_as(like)


def centred_onehot(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """onehot − 1/C: DRTP's target signal and HSIC's label representation (zero mean per row)."""
    return F.one_hot(y, n_classes).float() - 1.0 / n_classes


def output_error(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """e = ∂CE/∂logits per sample (softmax − onehot), without the batch-mean 1/N factor."""
    return torch.softmax(logits.detach(), 1) - F.one_hot(y, logits.shape[1]).float()
