"""Folded thresholds reproduce PyTorch's float32 batch-norm-then-sign decision for every
reachable integer pre-activation of every channel (exhaustive)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edgebnn import format as fmt
from edgebnn import nn as bnn
from edgebnn.export import export_model, thresholds
from edgebnn.runs import run_folder
from tests.conftest import randomize_batch_norm, random_model


def _check_layer_exhaustively(bn: torch.nn.Module, sign: torch.nn.Module, layer: fmt.Layer) -> int:
    n_terms = layer.kernel[0] * layer.kernel[1] * layer.in_shape[2] // layer.groups
    reach = n_terms * (255 if layer.in_type == fmt.DType.U8 else 1)
    t, flip = layer.threshold_arrays()
    decide = thresholds.bn_sign_decision(bn, sign)
    checked = 0
    for start in range(-reach, reach + 1, 4096):   # chunks of y values × all channels
        y = np.arange(start, min(start + 4096, reach + 1))
        if layer.in_type == fmt.DType.BIN:   # n - 2·popcount: same parity as n
            y = y[(y - n_terms) % 2 == 0]
        grid = torch.tensor(np.repeat(y[:, None], bn.num_features, 1), dtype=torch.float32)
        expected = decide(grid).numpy()
        assert np.array_equal(thresholds.apply(t, flip, y[:, None]), expected), \
            f"threshold disagrees with PyTorch in y range starting {start}"
        checked += expected.size
    return checked


def _layers_with_bn(model: torch.nn.Sequential, exported: fmt.Model):
    mods = [m for m in model if not isinstance(m, torch.nn.Flatten)]
    bns = [(a, b) for a, b in zip(mods, mods[1:]) if isinstance(a, (torch.nn.BatchNorm1d,
                                                                    torch.nn.BatchNorm2d))]
    with_thr = [layer for layer in exported.layers if layer.out_type == fmt.DType.BIN
                and layer.op != fmt.Op.MAXPOOL]
    assert len(bns) == len(with_thr)
    return zip(bns, with_thr)


@pytest.mark.parametrize("seed", [0, 1])
def test_random_batch_norms_every_reachable_value(seed):
    model = random_model("cnn", (8, 8, 1), 10, seed, width=8, fc=24)
    exported = export_model(model, (8, 8, 1), 10)
    total = sum(_check_layer_exhaustively(bn, sign, layer)
                for (bn, sign), layer in _layers_with_bn(model, exported))
    assert total > 10_000


def test_trained_models_every_reachable_value(trained_runs):
    for run in trained_runs.values():
        model, spec, _ = run_folder.load(run)
        exported = export_model(model, tuple(spec["input_shape"]), spec["n_classes"])
        for (bn, sign), layer in _layers_with_bn(model, exported):
            _check_layer_exhaustively(bn, sign, layer)


def test_constant_and_flipped_channels_are_encoded_as_documented():
    bn = bnn.BatchNorm1d(4).eval()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([0.0, 0.0, -2.0, 3.0]))
        bn.bias.copy_(torch.tensor([1.0, -1.0, 0.5, 0.0]))
    t, flip = thresholds.fold(thresholds.bn_sign_decision(bn, bnn.Sign()), 4, -10, 10)
    assert t[0] == thresholds.INT32_MIN and not flip[0]       # always +1
    assert t[1] == thresholds.INT32_MAX and not flip[1]       # always -1
    assert flip[2] and t[2] == 0                               # -2y + 0.5 >= 0  <=>  y <= 0
    assert not flip[3] and t[3] == 0                           # 3y >= 0  <=>  y >= 0


def test_eval_batch_norm_is_shape_independent():
    """The exporter evaluates batch norm on (k, C) tensors; the model on (N, C, H, W): the
    arithmetic must not depend on the shape."""
    bn = randomize_batch_norm(torch.nn.Sequential(bnn.BatchNorm2d(5)), 3)[0]
    y = torch.randint(-300, 300, (7, 5, 6, 6)).float()
    flat = bn(y.permute(0, 2, 3, 1).reshape(-1, 5, 1, 1)).reshape(7, 6, 6, 5).permute(0, 3, 1, 2)
    assert torch.equal(bn(y), flat)
