"""The host's optimized paths on shapes larger than the C kernel tests draw (those stay at
<= 12x12 maps and <= 258 channels to run under ASan and QEMU in seconds): whole models run in
the C core, with the kernel the CPU selects, give PyTorch's integer scores bit for bit.

The shapes aim at the x86 paths' internal limits (tests/native/test_kernels_arch.c checks
every kernel against the reference on small random layers):
- more channel groups than one pass of the channels-in-lanes conv holds (600 channels: 38
  groups of 16 against 32 per pass), windows of 54 words, stride 2 with padding;
- the 8-bit first layer as a convolution (lanes) and as a dense layer (masked sums);
- depthwise with an odd number of words per pixel (600 channels = 19 words), 5x5 taps;
- output blocks of 8 pixels that end mid-row and past the last pixel (odd map sizes)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from edgebnn import format as fmt
from edgebnn import nn as bnn
from edgebnn.backends import torch_scores
from edgebnn.export import export_model
from edgebnn.native import NativeModel, build_info
from tests.conftest import random_images, randomize_batch_norm


def _agree(model: nn.Sequential, shape: tuple[int, int, int], classes: int, seed: int) -> None:
    randomize_batch_norm(model, seed)
    images = random_images(shape, 6, seed=seed)
    native = NativeModel(fmt.to_bytes(export_model(model, shape, classes))).infer(images)
    expected = torch_scores(model, images)
    assert np.array_equal(native, expected), f"C core ({build_info()}) differs from PyTorch"
    assert len(np.unique(native, axis=0)) > 1, "the scores should depend on the input"


def test_wide_strided_and_depthwise_layers():
    torch.manual_seed(11)
    model = nn.Sequential(
        bnn.InputConv2d(3, 48, 3, padding=1), bnn.BatchNorm2d(48), bnn.Sign(),
        bnn.BinaryConv2d(48, 600, 3, stride=2, padding=1), bnn.BatchNorm2d(600), bnn.Sign(),
        bnn.BinaryConv2d(600, 600, 5, padding=2, groups=600), bnn.BatchNorm2d(600), bnn.Sign(),
        bnn.BinaryConv2d(600, 40, 1), bnn.BatchNorm2d(40), bnn.Sign(),
        nn.MaxPool2d(2), nn.Flatten(), bnn.ScoreLinear(40 * 3 * 3, 9))
    _agree(model, (13, 13, 3), 9, seed=12)


def test_dense_first_layer_and_wide_dense():
    torch.manual_seed(21)
    model = nn.Sequential(
        nn.Flatten(), bnn.InputLinear(27 * 29 * 1, 333), bnn.BatchNorm1d(333), bnn.Sign(),
        bnn.BinaryLinear(333, 1000), bnn.BatchNorm1d(1000), bnn.Sign(),
        bnn.ScoreLinear(1000, 10))
    _agree(model, (27, 29, 1), 10, seed=22)
