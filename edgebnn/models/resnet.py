"""Binary ResNet-18 over an integer residual stream (edgebnn/nn/stream.py).

He et al.'s ResNet-18 (basic blocks [2, 2, 2, 2], widths 64-128-256-512) in the pre-activation
arrangement (He et al., "Identity Mappings in Deep Residual Networks", 2016): each block reads
the stream through BN → sign, runs 3×3 conv → BN → sign → 3×3 conv, and adds the integer output
to the stream. A block that halves the resolution or widens the stream has a strided ±1 1×1
convolution of the thresholded stream as its shortcut. The head reads the stream once more,
counts each channel's +1s over the map (global pooling) and applies the ±1 classifier.

Stems: the CIFAR stem (3×3 conv, stride 1, straight into the stream) for inputs under 112 px;
the ImageNet stem (7×7 conv stride 2 → BN → sign → 3×3 max pool stride 2, then the ±1 map
enters the stream) from 112 px on. The first layer keeps ±1 weights on the 8-bit pixels and
the classifier ±1 weights on the counts, where the literature keeps both real-valued, so the
whole network deploys as integer arithmetic (edgebnn/nn/ablation.py).
"""
from __future__ import annotations

from torch import nn

from edgebnn import nn as bnn
from edgebnn.models.sizes import positive_int

#: blocks per stage of ResNet-18
BLOCKS = (2, 2, 2, 2)
#: inputs from this size on get the ImageNet stem
IMAGENET_STEM_FROM = 112


def basic_block(c_in: int, c_out: int, stride: int, skip: bool) -> bnn.StreamBlock:
    body = nn.Sequential(bnn.BinaryConv2d(c_in, c_out, 3, stride=stride, padding=1),
                         bnn.BatchNorm2d(c_out), bnn.Sign(),
                         bnn.BinaryConv2d(c_out, c_out, 3, padding=1))
    shortcut = None
    if skip and (stride != 1 or c_in != c_out):
        shortcut = bnn.BinaryConv2d(c_in, c_out, 1, stride=stride)
    return bnn.StreamBlock(c_in, body, c_out, shortcut, skip)


def resnet18(input_shape: tuple[int, int, int], n_classes: int, width: int = 64,
             remove_skips: bool = False) -> nn.Sequential:
    """`width`: channels of the first stage (64 in ResNet-18; the others are 2×, 4×, 8×)."""
    h, w, c = input_shape
    width = positive_int(width, "width", "resnet18")
    if min(h, w) >= IMAGENET_STEM_FROM:
        mods: list[nn.Module] = [bnn.InputConv2d(c, width, 7, stride=2, padding=3),
                                 bnn.BatchNorm2d(width), bnn.Sign(),
                                 nn.MaxPool2d(3, stride=2, padding=1),
                                 bnn.StreamFromBinary(width)]
    else:
        mods = [bnn.InputConv2d(c, width, 3, padding=1)]
    channels = width
    for stage, n_blocks in enumerate(BLOCKS):
        out = width * 2 ** stage
        for b in range(n_blocks):
            stride = 2 if stage > 0 and b == 0 else 1
            mods.append(basic_block(channels, out, stride, not remove_skips))
            channels = out
    mods += [*bnn.stream_reader(channels), bnn.GlobalCount(), bnn.ScoreLinear(channels, n_classes)]
    return nn.Sequential(*mods)
