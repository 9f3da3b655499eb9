"""PyTorch (eval mode), the NumPy reference interpreter and the C core give identical integer
scores for the MLP and the CNN, on real test images and on random inputs."""
from __future__ import annotations

import numpy as np
import pytest

from edgebnn import format as fmt
from edgebnn import reference
from edgebnn.backends import torch_scores
from edgebnn.export import export_model, export_run
from edgebnn.native import NativeModel
from edgebnn.runs import run_folder
from tests.conftest import random_images, random_model


def _all_agree(model, exported: fmt.Model, images: np.ndarray) -> np.ndarray:
    native = NativeModel(fmt.to_bytes(exported)).infer(images)
    expected = torch_scores(model, images)
    assert native.dtype == np.int32 and native.shape == expected.shape
    assert np.array_equal(native, expected), "C core differs from PyTorch"
    few = images[:16]
    assert np.array_equal(reference.infer(exported, few), expected[:16]), \
        "NumPy reference differs from PyTorch"
    return native


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_trained_models_on_real_and_random_images(trained_runs, digits, kind):
    model, spec, _ = run_folder.load(trained_runs[kind])
    exported = export_run(trained_runs[kind])
    scores = _all_agree(model, exported, digits.test.x)
    _all_agree(model, exported, random_images((8, 8, 1), 200, seed=1))
    # identical scores imply identical accuracy; and the model did learn something
    assert (scores.argmax(1) == digits.test.y).mean() > 0.5


@pytest.mark.parametrize("name, shape, kwargs", [
    ("mlp", (8, 8, 1), {"layers": [33, 70]}),
    ("mlp", (28, 28, 1), {"layers": [65]}),
    ("cnn", (8, 8, 3), {"width": 5, "fc": 40}),
    ("cnn", (28, 28, 1), {"width": 4, "convs_per_stage": 1, "fc": 31}),
    ("cnn", (32, 32, 3), {"width": 6, "convs_per_stage": 1, "fc": 16}),
])
def test_random_models_of_every_input_size(name, shape, kwargs):
    model = random_model(name, shape, 10, seed=7, **kwargs)
    exported = export_model(model, shape, 10)
    _all_agree(model, exported, random_images(shape, 24, seed=2))


def test_depthwise_grouped_and_strided_convolutions():
    """Layers the bundled models don't use: depthwise, grouped, strided, padded 8-bit input,
    a padded max pool, and a dense layer reading a 3×3 map of 36 channels."""
    import torch
    from torch import nn
    from edgebnn import nn as bnn
    from tests.conftest import randomize_batch_norm

    torch.manual_seed(3)
    model = nn.Sequential(
        bnn.InputConv2d(3, 12, 3, stride=2, padding=2), bnn.BatchNorm2d(12), bnn.Sign(),
        bnn.BinaryConv2d(12, 12, 3, padding=1, groups=12), bnn.BatchNorm2d(12), bnn.Sign(),
        bnn.BinaryConv2d(12, 36, 3, stride=2, padding=1, groups=3), bnn.BatchNorm2d(36),
        bnn.Sign(), nn.MaxPool2d(3, stride=2, padding=1),
        nn.Flatten(), bnn.ScoreLinear(36 * 3 * 3, 7))
    randomize_batch_norm(model, 5)
    images = random_images((19, 21, 3), 16, seed=4)
    exported = export_model(model, (19, 21, 3), 7)
    assert [layer.groups for layer in exported.layers][:3] == [1, 12, 3]
    _all_agree(model, exported, images)
