"""Binary MobileNetV2 over an integer residual stream (edgebnn/nn/stream.py).

Sandler et al.'s inverted residuals: 1×1 expansion (BN → sign), 3×3 depthwise convolution
(BN → sign), 1×1 linear projection — here its integer output, added to the stream when the
block keeps resolution and width (stride 1, same channels), else the stream becomes it. Each
block reads the stream through BN → sign first. The head reads the stream, applies the 1×1
convolution to the last width (BN → sign), counts the +1s per channel (global pooling) and the
±1 classifier gives the scores.

Width multiplier `width` scales every layer, rounded to a multiple of 8 (at least 8), the last
1×1 convolution (1280) included — the paper keeps it at 1280 below width 1, which would dominate
an edge-sized network. Inputs under 112 px use the CIFAR strides (stem and the second stage at
stride 1), as is usual for 32×32 images, and a block strides only while its output map stays
at least 7×7 (sizes.keeps_map), the map the paper ends with at 224 px: 32 px images stride
twice (32 → 16 → 8), 8×8 digits never. With the full schedule (8 → 4 → 2 → 1) the depthwise
network stayed at chance on digits (11.1 %); with this one it learns (47.9 … 66.9 % over
three seeds at width 0.25, docs/results.md). First and last layers keep ±1 weights on integer
inputs so the network deploys (edgebnn/nn/ablation.py).
"""
from __future__ import annotations

from torch import nn

from edgebnn import nn as bnn
from edgebnn.models.resnet import IMAGENET_STEM_FROM
from edgebnn.models.sizes import keeps_map, positive_number

#: (expansion t, channels c, blocks n, stride s) per stage, from the paper's Table 2
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
            (6, 160, 3, 2), (6, 320, 1, 1))
STEM, LAST = 32, 1280


def scaled(channels: int, width: float) -> int:
    """channels × width rounded to the nearest multiple of 8, at least 8 and never more than
    10 % below the exact product (the paper's rounding)."""
    exact = channels * width
    out = max(8, int(exact + 4) // 8 * 8)
    return out + 8 if out < 0.9 * exact else out


def inverted_residual(c_in: int, c_out: int, stride: int, expansion: int,
                      skip: bool, depthwise: bool = True) -> bnn.StreamBlock:
    hidden = c_in * expansion
    mods: list[nn.Module] = []
    if expansion != 1:
        mods += [bnn.BinaryConv2d(c_in, hidden, 1), bnn.BatchNorm2d(hidden), bnn.Sign()]
    mods += [bnn.BinaryConv2d(hidden, hidden, 3, stride=stride, padding=1,
                              groups=hidden if depthwise else 1),
             bnn.BatchNorm2d(hidden), bnn.Sign(), bnn.BinaryConv2d(hidden, c_out, 1)]
    return bnn.StreamBlock(c_in, nn.Sequential(*mods), c_out, None,
                           skip and stride == 1 and c_in == c_out)


def mobilenetv2(input_shape: tuple[int, int, int], n_classes: int, width: float = 1.0,
                remove_skips: bool = False, depthwise: bool = True) -> nn.Sequential:
    h, w, c = input_shape
    width = positive_number(width, "width", "mobilenetv2")
    small = min(h, w) < IMAGENET_STEM_FROM
    channels = scaled(STEM, width)
    if not small:
        h, w = -(-h // 2), -(-w // 2)       # a 3×3 convolution, padding 1: ceil(side / stride)
    mods: list[nn.Module] = [bnn.InputConv2d(c, channels, 3, stride=1 if small else 2,
                                             padding=1)]
    for stage, (t, out, n, s) in enumerate(SETTINGS):
        out = scaled(out, width)
        for b in range(n):
            stride = 1 if b > 0 or (small and stage == 1) or not keeps_map(h, w, s) else s
            h, w = -(-h // stride), -(-w // stride)
            mods.append(inverted_residual(channels, out, stride, t, not remove_skips, depthwise))
            channels = out
    last = scaled(LAST, width)
    mods += [*bnn.stream_reader(channels), bnn.BinaryConv2d(channels, last, 1),
             bnn.BatchNorm2d(last), bnn.Sign(), bnn.GlobalCount(), bnn.ScoreLinear(last, n_classes)]
    return nn.Sequential(*mods)
