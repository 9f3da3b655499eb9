"""Partial binarization, for the ablations of `--binarize both|weights|acts|none`.

Every model is built fully binary (`both`, the default and the only mode that deploys); the
other modes switch the rounding off in place, on the same architecture, so an accuracy
difference is due to binarization alone:
- `weights`: ±1 weights, float activations (hardtanh where `both` has sign);
- `acts`: float weights, ±1 activations;
- `none`: the full-precision baseline (float weights, hardtanh activations).
The first layer (8-bit pixels × weights) and the last (features × weights → class scores)
follow the same switch: they have ±1 weights in `both`/`weights` and float weights otherwise;
their inputs are integers (pixels, ±1 features or counts) in every mode, so that in `both` they
deploy as integer arithmetic instead of staying float as the literature keeps them.
"""
from __future__ import annotations

from torch import nn

from edgebnn.nn.binarize import Sign
from edgebnn.nn.layers import _BinaryWeights

BINARIZE_MODES = ("both", "weights", "acts", "none")


def set_binarization(model: nn.Module, mode: str) -> nn.Module:
    """Sets every weight layer and every Sign of `model` to the given mode; returns the model."""
    if mode not in BINARIZE_MODES:
        raise ValueError(f"binarize is {mode!r}, expected one of {', '.join(BINARIZE_MODES)}")
    for m in model.modules():
        if isinstance(m, _BinaryWeights):
            m.binary = mode in ("both", "weights")
        elif isinstance(m, Sign):
            m.binary = mode in ("both", "acts")
    return model


def float_parts(model: nn.Module) -> list[str]:
    """Names of the modules that are not binary (float weights or float activations); empty
    for a fully binary model."""
    return [name for name, m in model.named_modules()
            if isinstance(m, (_BinaryWeights, Sign)) and not m.binary]
