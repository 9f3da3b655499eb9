"""sign() with a straight-through estimator.

sign(x) = +1 for x >= 0, -1 otherwise (docs/format.md: bit 1 = +1), so zero is never produced
and the C core's `y >= T` comparison reproduces it. The backward pass lets the gradient through
where |x| <= 1 (the hard-tanh STE of Courbariaux et al. / Hubara et al.).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def binarize(x: torch.Tensor) -> torch.Tensor:
    return _SignSTE.apply(x)


class Sign(nn.Module):
    """Binary activation; after a BatchNorm the pair folds into one integer threshold.

    `binary` False (the `--binarize weights|none` ablations, edgebnn/nn/ablation.py) gives
    hardtanh instead: the function whose gradient the STE uses, so the ablation changes only
    the rounding to ±1, not the shape of the nonlinearity or its gradient window."""

    binary: bool = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return binarize(x) if self.binary else F.hardtanh(x)
