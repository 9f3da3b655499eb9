"""Fully binary multilayer perceptron: 8-bit input layer, binary hidden layers (each
BN → sign), and a ±1 output layer giving integer scores."""
from __future__ import annotations

from typing import Sequence

from torch import nn

from edgebnn import nn as bnn

#: Hidden sizes of the MLP in the 2023 comparative study of BNN training rules.
STUDY_LAYERS = (700, 500, 300, 200)
DEFAULT_LAYERS = (256, 256)


def mlp(input_shape: tuple[int, int, int], n_classes: int,
        layers: Sequence[int] = DEFAULT_LAYERS) -> nn.Sequential:
    h, w, c = input_shape
    sizes = [h * w * c, *layers]
    mods: list[nn.Module] = [nn.Flatten()]
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        linear = bnn.InputLinear if i == 0 else bnn.BinaryLinear
        mods += [linear(n_in, n_out), bnn.BatchNorm1d(n_out), bnn.Sign()]
    mods.append(bnn.ScoreLinear(sizes[-1], n_classes))
    return nn.Sequential(*mods)
