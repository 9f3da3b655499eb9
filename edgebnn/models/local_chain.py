"""The chain of sub-networks trained by the `local` rule (Colombo, Pittorino & Roveri, "Local
binary error signals", arXiv 2412.00119).

Sub-network l is a binary hidden layer h_l = sign(x_l · sign(W_l)) with *integer* hidden weights
W_l followed by a frozen random ±1 readout R_l (K_l × C) giving integer class scores h_l · R_l;
h_l is the input of sub-network l + 1, and the last readout predicts. The first input is the
image binarized at its per-feature training median (edgebnn.nn.threshold).

As an nn.Sequential the deployable path is
    InputThreshold (flat H·W·C) → IntegerLinear → Sign → … → IntegerLinear → Sign → ScoreLinear(R_last)
which exports to BINARIZE (to 1 × 1 × H·W·C) → DENSE (T = 0) … → DENSE I32 (docs/format.md). The intermediate
readouts are only a training signal, so they are buffers outside the sequence.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from edgebnn import nn as bnn
from edgebnn.models.mlp import DEFAULT_LAYERS
from edgebnn.nn.threshold import InputThreshold

#: Standard deviation of the integer initialisation W = int(N(0, σ²)) in the paper's code.
INIT_SIGMA = 8.0
#: Default storage width of the hidden weights (the paper's memory model counts them as 8-bit).
DEFAULT_WEIGHT_BITS = 8


def weight_dtype(bits: int) -> torch.dtype:
    """Smallest signed integer dtype that stores `bits`-bit hidden weights."""
    if not 2 <= bits <= 32:
        raise ValueError(f"weight_bits must be 2..32, got {bits}")
    return torch.int8 if bits <= 8 else torch.int16 if bits <= 16 else torch.int32


class IntegerLinear(bnn.BinaryLinear):
    """A BinaryLinear whose hidden weights are saturating integers (no gradient):
    the local rule changes them by integer increments, never by gradients. The forward pass uses
    sign(W) with sign(0) = +1, exactly what the exporter packs."""

    def __init__(self, in_features: int, out_features: int,
                 weight_bits: int = DEFAULT_WEIGHT_BITS) -> None:
        super().__init__(in_features, out_features)
        self.weight_bits = weight_bits
        # An integer Parameter without gradient: saved, counted as a parameter (1 byte each for
        # int8 in the memory report), and never touched by an optimizer.
        self.weight = nn.Parameter(torch.zeros(out_features, in_features,
                                               dtype=weight_dtype(weight_bits)),
                                   requires_grad=False)

    @property
    def limits(self) -> tuple[int, int]:
        """Saturation range [−2^(b−1), 2^(b−1) − 1] of the stored weights."""
        half = 1 << (self.weight_bits - 1)
        return -half, half - 1

    def binary_weight(self) -> torch.Tensor:
        return torch.where(self.weight >= 0, 1.0, -1.0)


class LocalChain(nn.Sequential):
    """Sequential deployable path plus the frozen intermediate readouts (buffers readout_l)."""

    def hidden_layers(self) -> list[IntegerLinear]:
        return [m for m in self if isinstance(m, IntegerLinear)]

    def input_threshold(self) -> InputThreshold:
        return self[0]

    def readout(self, l: int) -> torch.Tensor:
        """R_l as ±1 int8 (K_l, C); the last one is the output layer's weights transposed."""
        if l == len(self.hidden_layers()) - 1:
            return torch.where(self[-1].weight >= 0, 1, -1).to(torch.int8).t().contiguous()
        return getattr(self, f"readout_{l}")


def local_chain(input_shape: tuple[int, int, int], n_classes: int,
                layers: Sequence[int] = DEFAULT_LAYERS,
                weight_bits: int = DEFAULT_WEIGHT_BITS) -> LocalChain:
    """Builds the chain with W = trunc(N(0, 8²)) saturated to the storage width and random ±1
    readouts, both from torch's global generator (the runner seeds it)."""
    h, w, c = input_shape
    sizes = [h * w * c, *layers]
    mods: list[nn.Module] = [InputThreshold((h, w, c))]   # outputs (N, H·W·C), flat
    hidden = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        layer = IntegerLinear(n_in, n_out, weight_bits)
        lo, hi = layer.limits
        with torch.no_grad():
            layer.weight.copy_(torch.trunc(torch.randn(n_out, n_in) * INIT_SIGMA).clamp(lo, hi))
        hidden.append(layer)
        mods += [layer, bnn.Sign()]
    readouts = [torch.randint(0, 2, (k, n_classes)).to(torch.int8) * 2 - 1 for k in layers]
    out = bnn.ScoreLinear(sizes[-1], n_classes)
    out.requires_grad_(False)
    with torch.no_grad():
        out.weight.copy_(readouts[-1].t().float())
    chain = LocalChain(*mods, out)
    for l, r in enumerate(readouts[:-1]):
        chain.register_buffer(f"readout_{l}", r)
    return chain
