"""The integer residual stream of the residual models (resnet18, mobilenetv2, mixer).

A binary network cannot add ±1 maps and stay binary, so the residual stream is kept as exact
integers: sums of ±1 products (and of the 8-bit stem's pixel × ±1 products), held in float32
and exact while below 2^24 (the exporter checks the bound). Every block reads the stream
through batch norm + sign, which folds into one integer threshold per channel (.ebnn THRESHOLD,
I32 → BIN); its last weight layer outputs integers (I32) which are added to the stream (ADD).
Without the skip (`--remove-skips`) the stream simply becomes that last layer's output.

At the end of a network the stream is read once more and each channel's +1s are counted over
all positions (GlobalCount, .ebnn GAP: BIN → U8 counts ≤ 255), for a ±1 classifier on counts.
"""
from __future__ import annotations

import torch
from torch import nn

from edgebnn.nn.binarize import Sign
from edgebnn.nn.layers import BatchNorm2d


def stream_reader(channels: int) -> nn.Sequential:
    """batch norm → sign on an integer stream: a per-channel integer threshold once exported."""
    return nn.Sequential(BatchNorm2d(channels), Sign())


class StreamBlock(nn.Module):
    """out = body(t) + shortcut, t = reader(x) = sign(bn(x)) for an integer stream x.

    The shortcut is x itself (identity), or `shortcut(t)` — a strided ±1 1×1 convolution of the
    thresholded stream, for a block that changes resolution or width — or absent when `skip` is
    False (`--remove-skips`, or a MobileNetV2 block that changes shape). One class serves
    ResNet's basic block (pre-activation), MobileNetV2's inverted residual and the Mixer's
    token- and channel-mixing MLPs: only `body` differs."""

    def __init__(self, in_channels: int, body: nn.Sequential, out_channels: int,
                 shortcut: nn.Module | None = None, skip: bool = True) -> None:
        super().__init__()
        if shortcut is not None and not skip:
            raise ValueError("a block without skip connection has no shortcut")
        if skip and shortcut is None and in_channels != out_channels:
            raise ValueError(f"identity shortcut needs in_channels == out_channels, got "
                             f"{in_channels} and {out_channels}")
        self.reader = stream_reader(in_channels)
        self.body = body
        self.shortcut = shortcut
        self.skip = skip
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.reader(x)
        y = self.body(t)
        if not self.skip:
            return y
        return y + (x if self.shortcut is None else self.shortcut(t))


class StreamFromBinary(nn.Module):
    """A ±1 map entering the stream as the integers ±1 (after a binary max pool, where a stem
    ends in BIN). Exported as a depthwise 1×1 convolution with weights +1, BIN → I32."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class GlobalCount(nn.Module):
    """Global pooling of a ±1 map as counts: (N, C, H, W) → (N, C), the number of +1 per channel.

    count = Σ (x + 1)/2, exact for ±1 inputs (and a soft count for the float activations of the
    ablations). The classifier after it is a ScoreLinear on these small integers."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x + 1) * 0.5).sum((2, 3))
