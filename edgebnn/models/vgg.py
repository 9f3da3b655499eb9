"""VGG-style binary CNNs: VGG-19 with batch norm (`vgg`) and a small VGG for 28×28/32×32
images (`vgg_small`, also registered as `cnn`).

Both are chains of 3×3 convolutions (BN → sign) and 2×2 max pools, then binary dense layers
(BN → sign) and the integer-score output layer; the first convolution takes the 8-bit pixels
(±1 weights, integer input: see edgebnn/nn/ablation.py for why it is not kept real-valued).
"""
from __future__ import annotations

from torch import nn

from edgebnn import nn as bnn
from edgebnn.models.sizes import keeps_map, positive_int

#: VGG-19's 16 convolutions: output channels per stage at width 64, a max pool after each stage
VGG19_STAGES = ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512),
                (512, 512, 512, 512))


def _conv(mods: list[nn.Module], c_in: int, c_out: int) -> None:
    conv = bnn.InputConv2d if not mods else bnn.BinaryConv2d
    mods += [conv(c_in, c_out, 3, padding=1), bnn.BatchNorm2d(c_out), bnn.Sign()]


def _classifier(features: int, hidden: tuple[int, ...], n_classes: int) -> list[nn.Module]:
    mods: list[nn.Module] = [nn.Flatten()]
    for n_in, n_out in zip((features, *hidden), hidden):
        mods += [bnn.BinaryLinear(n_in, n_out), bnn.BatchNorm1d(n_out), bnn.Sign()]
    return mods + [bnn.ScoreLinear(hidden[-1] if hidden else features, n_classes)]


def vgg19(input_shape: tuple[int, int, int], n_classes: int, width: int = 64,
          fc: int | None = None) -> nn.Sequential:
    """VGG-19 (configuration E, with batch norm): 16 convolutions in 5 stages, two hidden dense
    layers of `fc` units (4096 at width 64: fc defaults to 64·width) and the output layer.

    `width` scales every stage (64 → 128 → 256 → 512 → 512 at width 64). A stage pools only
    while the pooled map stays at least 7×7 (sizes.keeps_map), the map VGG-19 ends with at
    224 px: 224 px pools five times as in the paper, 32 px twice (32 → 16 → 8), 28 px twice
    (28 → 14 → 7), 8×8 digits never, and every input keeps all 16 convolutions — the edge-sized
    VGG-19. Pooling down to 1×1 kept it at chance on digits (9.7 %; 90.8 % without)."""
    h, w, c = input_shape
    width = positive_int(width, "width", "vgg")
    fc = positive_int(64 * width if fc is None else fc, "fc", "vgg")
    mods: list[nn.Module] = []
    channels = c
    for stage in VGG19_STAGES:
        for out in stage:
            _conv(mods, channels, out * width // 64)
            channels = out * width // 64
        if keeps_map(h, w, 2):
            mods.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
    return nn.Sequential(*mods, *_classifier(channels * h * w, (fc, fc), n_classes))


def vgg_small(input_shape: tuple[int, int, int], n_classes: int, width: int = 32,
              convs_per_stage: int = 2, fc: int = 256) -> nn.Sequential:
    """Stages of `convs_per_stage` convolutions (width, 2·width, 4·width, 8·width channels) and
    a max pool, until the map is at most 4×4; then one hidden dense layer of `fc` units."""
    h, w, c = input_shape
    width, fc = positive_int(width, "width", "vgg_small"), positive_int(fc, "fc", "vgg_small")
    positive_int(convs_per_stage, "convs_per_stage", "vgg_small")
    mods: list[nn.Module] = []
    channels = c
    stage = 0
    while True:
        out = width * 2 ** min(stage, 3)
        for _ in range(convs_per_stage):
            _conv(mods, channels, out)
            channels = out
        if min(h, w) <= 4:
            break
        mods.append(nn.MaxPool2d(2))
        h, w = h // 2, w // 2
        stage += 1
    return nn.Sequential(*mods, *_classifier(channels * h * w, (fc,), n_classes))
