"""Folding batch norm + sign into one integer threshold per channel.

The decision sign(bn(y)) is evaluated with the model's own float32 eval-mode modules, so the
threshold reproduces exactly what PyTorch decides, rounding included. The decision is monotone
in y (scale·y then + shift are monotone rounded operations), so bisection over the reachable
integer range finds the switch point; tests check every reachable y exhaustively.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

Decision = Callable[[torch.Tensor], torch.Tensor]


def bn_sign_decision(bn: torch.nn.Module, sign: torch.nn.Module) -> Decision:
    """d(y): bool (k, C) — is channel c's output +1 for pre-activations y[:, c]?"""
    def decide(y: torch.Tensor) -> torch.Tensor:
        shape = (y.shape[0], y.shape[1]) + ((1, 1) if isinstance(bn, torch.nn.BatchNorm2d) else ())
        with torch.no_grad():
            return sign(bn(y.view(shape))).view(y.shape) > 0
    return decide


def fold(decide: Decision, channels: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds T (int64) and flips (bool) such that the output is +1 iff y >= T (flip 0) or
    y <= T (flip 1), for every integer y in [lo, hi]."""
    def at(y: torch.Tensor) -> torch.Tensor:
        return decide(y.to(torch.float32).view(1, -1)).view(-1)

    a = torch.full((channels,), lo, dtype=torch.int64)
    b = torch.full((channels,), hi, dtype=torch.int64)
    d_lo, d_hi = at(a), at(b)
    # Invariant on channels that switch: d(a) == d_lo != d(b).
    while True:
        open_ = (d_lo != d_hi) & (b - a > 1)
        if not open_.any():
            break
        mid = (a + b) // 2
        same = at(mid) == d_lo
        a = torch.where(open_ & same, mid, a)
        b = torch.where(open_ & ~same, mid, b)

    t = np.where(d_lo.numpy(), INT32_MIN, INT32_MAX).astype(np.int64)  # constant channels
    flip = np.zeros(channels, dtype=bool)
    rising = (~d_lo & d_hi).numpy()
    falling = (d_lo & ~d_hi).numpy()
    t[rising] = b.numpy()[rising]      # smallest y giving +1
    t[falling] = a.numpy()[falling]    # largest y giving +1
    flip[falling] = True
    return t, flip


def apply(t: np.ndarray, flip: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The C core's decision for pre-activations y (..., C): bool."""
    return np.where(flip, y <= t, y >= t)
