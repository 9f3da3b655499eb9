"""Small VGG-style binary CNN sized by its input: stages of two 3×3 convolutions (BN → sign)
and a 2×2 max pool, until the feature map is at most 4×4; then one binary dense layer and the
integer-score output layer. The first convolution takes the 8-bit pixels."""
from __future__ import annotations

from torch import nn

from edgebnn import nn as bnn


def vgg_small(input_shape: tuple[int, int, int], n_classes: int, width: int = 32,
              convs_per_stage: int = 2, fc: int = 256) -> nn.Sequential:
    h, w, c = input_shape
    mods: list[nn.Module] = []
    channels = c
    stage = 0
    while True:
        out = width * 2 ** min(stage, 3)
        for _ in range(convs_per_stage):
            conv = bnn.InputConv2d if not mods else bnn.BinaryConv2d
            mods += [conv(channels, out, 3, padding=1), bnn.BatchNorm2d(out), bnn.Sign()]
            channels = out
        if min(h, w) <= 4:
            break
        mods.append(nn.MaxPool2d(2))
        h, w = h // 2, w // 2
        stage += 1
    mods += [nn.Flatten(), bnn.BinaryLinear(channels * h * w, fc), bnn.BatchNorm1d(fc),
             bnn.Sign(), bnn.ScoreLinear(fc, n_classes)]
    return nn.Sequential(*mods)
