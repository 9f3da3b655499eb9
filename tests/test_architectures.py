"""The architectures of the literature at edge size (vgg, resnet18, mobilenetv2, mixer):
they train with backprop and a memory-light rule, the deployable ones export to `.ebnn` and
give identical integer scores in PyTorch (eval), the C core, the NumPy reference and
onnxruntime — trained, with random batch-norm statistics, with and without skips — and the ones
that cannot deploy (mixer, partial binarization) train and are refused by the exporter with a
message saying why."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from edgebnn import format as fmt
from edgebnn import nn as bnn
from edgebnn import reference
from edgebnn.backends import torch_scores
from edgebnn.cli import main
from edgebnn.export import ExportError, export_model, export_run
from edgebnn.export import onnx as onnx_export
from edgebnn.models import build_model
from edgebnn.native import NativeModel
from edgebnn.runs import run_folder
from edgebnn.train import TrainConfig, get_algorithm, train
from tests.conftest import random_images

#: edge-sized variants (8×8 digits): name → model kwargs
EDGE = {"vgg": {"width": 4, "fc": 16}, "resnet18": {"width": 4},
        "mobilenetv2": {"width": 0.25}, "mixer": {"width": 16, "depth": 2}}
#: (model, remove_skips, algo) of the runs trained once for this module
RUNS = [("vgg", False, "bp"), ("resnet18", False, "bp"), ("resnet18", True, "bp"),
        ("resnet18", False, "drtp"), ("mobilenetv2", False, "bp"),
        ("mobilenetv2", True, "bp"), ("mobilenetv2", False, "drtp")]


def _config(model: str, remove_skips: bool = False, algo: str = "bp", **extra) -> TrainConfig:
    kwargs = {**EDGE[model], **({"remove_skips": True} if remove_skips else {}), **extra}
    return TrainConfig(model=model, model_kwargs=kwargs, algo=algo, epochs=1, limit=256)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[tuple, tuple[Path, dict]]:
    """Run folders and metrics of one short epoch (4 batches) per RUNS entry."""
    out = {}
    for key in RUNS:
        folder = tmp_path_factory.mktemp("_".join(map(str, key)))
        out[key] = folder, train(_config(*key), folder, progress=False)
    return out


def random_batch_norm(model: torch.nn.Module, images: np.ndarray, seed: int) -> torch.nn.Module:
    """Random batch-norm affine parameters — negative scales (flipped thresholds), and in layers
    wider than 8 a few zero scales and shifts of ±10⁴ (constant channels) — with running
    statistics measured on `images`.

    conftest's randomize_batch_norm draws the statistics blindly, which in a network this deep
    makes nearly every channel constant, and every input then gets the same scores; measured
    statistics put most thresholds inside their channel's range, so the scores still depend on
    the input and the comparison covers every layer."""
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in bns:
            c = m.num_features
            sign = torch.randint(0, 2, (c,), generator=g) * 2 - 1
            m.weight.copy_(sign * (0.5 + torch.rand(c, generator=g)))
            m.bias.copy_(torch.randn(c, generator=g) * 0.5)
            m.weight[8::9] = 0.0      # only in layers wider than 8: narrow ones stay informative
            m.bias[9::11] = 1e4
            m.bias[10::13] = -1e4
            m.reset_running_stats()
            m.momentum = None          # cumulative average: one batch gives its statistics
        model.train()(torch.from_numpy(images).permute(0, 3, 1, 2).float())
    for m in bns:
        m.momentum = 0.1
    return model.eval()


def _all_agree(model: torch.nn.Module, exported: fmt.Model, images: np.ndarray,
               n_reference: int = 3) -> np.ndarray:
    """PyTorch eval == C core == onnxruntime on `images`, == the NumPy reference on the first
    few (it is slow by design); returns the scores."""
    expected = torch_scores(model, images)
    data = fmt.to_bytes(exported)
    native = NativeModel(data).infer(images)
    assert np.array_equal(native, expected), "C core differs from PyTorch"
    session = ort.InferenceSession(onnx_export.to_onnx(exported).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    assert np.array_equal(session.run(None, {"image": images})[0], expected), \
        "onnxruntime differs from PyTorch"
    few = images[:n_reference]
    assert np.array_equal(reference.infer(fmt.from_bytes(data), few), expected[:len(few)]), \
        "NumPy reference differs from PyTorch"
    return expected


@pytest.mark.parametrize("key", RUNS, ids=lambda k: "-".join(map(str, k)))
def test_trained_models_agree_everywhere(runs, digits, key):
    folder, metrics = runs[key]
    model, _, _ = run_folder.load(folder)
    exported = export_run(folder)
    assert metrics["model_size_bytes"] == len(fmt.to_bytes(export_model(model, (8, 8, 1), 10)))
    _all_agree(model, exported, digits.test.x)
    _all_agree(model, exported, random_images((8, 8, 1), 64, seed=1))
    # random batch norm: thresholds of every sign and flip, stream thresholds included
    random_batch_norm(model, digits.train.x[:256], seed=5)
    scores = _all_agree(model, export_model(model, (8, 8, 1), 10), digits.test.x[:64])
    assert len(np.unique(scores.argmax(1))) > 1, "the scores should depend on the input"


@pytest.mark.parametrize("name, shape, kwargs, stem", [
    ("resnet18", (28, 28, 1), {"width": 4}, 3),
    ("resnet18", (28, 28, 1), {"width": 4, "remove_skips": True}, 3),
    ("resnet18", (112, 112, 3), {"width": 2}, 7),       # ImageNet stem: 7×7 s2, max pool
    ("mobilenetv2", (28, 28, 1), {"width": 0.25}, 3),
    ("mobilenetv2", (8, 8, 1), {"width": 0.25, "depthwise": False}, 3),   # dense 3×3 variant
    ("vgg", (32, 32, 3), {"width": 4, "fc": 16}, 3),
])
def test_random_models_of_larger_inputs(name, shape, kwargs, stem):
    torch.manual_seed(11)
    model = random_batch_norm(build_model(name, shape, 10, **kwargs),
                              random_images(shape, 64, seed=4), seed=11)
    exported = export_model(model, shape, 10)
    assert exported.layers[0].kernel == (stem, stem)
    scores = _all_agree(model, exported, random_images(shape, 16, seed=3), n_reference=2)
    assert len(np.unique(scores, axis=0)) > 1, "the scores should depend on the input"


def _ops(model: fmt.Model) -> list[fmt.Op]:
    return [layer.op for layer in model.layers]


@pytest.mark.parametrize("name, adds", [("resnet18", 8), ("mobilenetv2", 13)])
def test_remove_skips_removes_every_add(name, adds):
    """ResNet-18 adds in all 8 blocks; MobileNetV2 in the blocks that keep stride and width:
    10 of 17 at full width, 13 at width 0.25 for 8×8 images, where no block strides (the map
    stays 8×8, models/sizes.keeps_map) and the first two stages keep the 8 channels of the
    stem (rounding to multiples of 8): all but the 4 blocks that widen the stream add.
    Without skips the stream is each block's output."""
    with_skips = export_model(build_model(name, (8, 8, 1), 10, **EDGE[name]), (8, 8, 1), 10)
    without = export_model(build_model(name, (8, 8, 1), 10, **EDGE[name], remove_skips=True),
                           (8, 8, 1), 10)
    assert _ops(with_skips).count(fmt.Op.ADD) == adds
    assert fmt.Op.ADD not in _ops(without)
    assert _ops(without).count(fmt.Op.THRESHOLD) == _ops(with_skips).count(fmt.Op.THRESHOLD)
    if name == "resnet18":   # the 3 downsampling shortcut convolutions go with the skips
        convs = _ops(with_skips).count(fmt.Op.CONV2D) - _ops(without).count(fmt.Op.CONV2D)
        assert convs == 3


def test_memory_light_rule_keeps_less_than_backprop(runs):
    """The accounting sees the residual models: DRTP keeps one block's graph, backprop all."""
    for name in ("resnet18", "mobilenetv2"):
        bp, drtp = runs[name, False, "bp"][1], runs[name, False, "drtp"][1]
        assert 0 < drtp["memory"]["learning_signal_bytes"] < \
            0.5 * bp["memory"]["learning_signal_bytes"]
        assert drtp["compute"]["training_macs_per_sample"] < \
            bp["compute"]["training_macs_per_sample"]


@pytest.mark.parametrize("algo", ["bp", "fa", "dfa", "drtp", "hsic", "sigprop"])
@pytest.mark.parametrize("name", ["resnet18", "mixer"])
def test_every_rule_updates_every_weight_layer(digits, name, algo):
    """One step of each rule changes the latent weights of every weight layer — the layers
    inside residual blocks (several per block, and the shortcuts) included. (`cyclic` is left
    out: at its first iterations' 2 bits its activation STE passes no gradient to any hidden
    layer, on every model; it runs on these models in test_cyclic_trains_residual_models.)"""
    torch.manual_seed(0)
    model = build_model(name, (8, 8, 1), 10, **EDGE[name]).train()
    config = _config(name, algo=algo)
    rule = get_algorithm(algo)(model, config)
    x, y = digits.train.x[:64], digits.train.y[:64]
    rule.prepare(x)
    layers = [m for m in model.modules() if isinstance(m, (bnn.BinaryLinear, bnn.BinaryConv2d))]
    before = [m.weight.detach().clone() for m in layers]
    rule.train_step(torch.from_numpy(x).permute(0, 3, 1, 2).float(), torch.from_numpy(y).long())
    unchanged = [i for i, (m, w) in enumerate(zip(layers, before)) if torch.equal(m.weight, w)]
    assert not unchanged, f"{algo} left weight layers {unchanged} of {len(layers)} unchanged"


@pytest.mark.parametrize("name", ["resnet18", "mobilenetv2", "mixer"])
def test_cyclic_trains_residual_models(name):
    metrics = train(_config(name, algo="cyclic"), None, progress=False)
    assert np.isfinite(metrics["train_loss"][0])
    assert 0 < metrics["compute"]["training_mac_saving_percent"] < 100


def test_local_rule_refuses_other_models():
    with pytest.raises(ValueError, match="--algo local trains an MLP chain"):
        train(_config("resnet18", algo="local"), None, progress=False)


def test_mixer_trains_and_export_refuses(tmp_path, capsys):
    metrics = train(_config("mixer"), tmp_path / "run", progress=False)
    assert metrics["model_size_bytes"] is None
    assert metrics["accuracy"]["test"] > 0 and metrics["memory"]["learning_signal_bytes"] > 0
    with pytest.raises(ExportError, match="MLP-Mixer is host-only"):
        export_run(tmp_path / "run")
    assert main(["export", str(tmp_path / "run"), "-o", str(tmp_path / "m.ebnn")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("edgebnn: error: ") and "host-only" in err and "\n" not in err
    assert not (tmp_path / "m.ebnn").exists()


@pytest.mark.parametrize("mode", ["weights", "acts", "none"])
def test_partial_binarization_trains_and_export_refuses(digits, mode):
    metrics = train(_config("resnet18", binarize=mode), None, progress=False)
    assert metrics["model_size_bytes"] is None and metrics["accuracy"]["test"] > 0
    model = build_model("resnet18", (8, 8, 1), 10, binarize=mode, **EDGE["resnet18"]).eval()
    x = torch.from_numpy(digits.test.x[:8]).permute(0, 3, 1, 2).float()
    acts = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: acts.append(out))
             for m in model.modules() if isinstance(m, bnn.Sign)]
    model(x)
    for h in hooks:
        h.remove()
    binary_acts = all(bool(((a == 1) | (a == -1)).all()) for a in acts)
    binary_weights = all(bool((m.binary_weight().abs() == 1).all()) for m in model.modules()
                         if isinstance(m, (bnn.BinaryConv2d, bnn.BinaryLinear)))
    assert (binary_weights, binary_acts) == {"weights": (True, False), "acts": (False, True),
                                             "none": (False, False)}[mode]
    with pytest.raises(ExportError, match="not fully binary"):
        export_model(model, (8, 8, 1), 10)


@pytest.mark.parametrize("name, kwargs, message", [
    ("resnet18", {"width": 0.25}, "width: resnet18 takes a positive integer, got 0.25"),
    ("mobilenetv2", {"width": -1}, "width: mobilenetv2 takes a positive number, got -1"),
    ("vgg", {"width": 8, "fc": 0}, "fc: vgg takes a positive integer, got 0"),
    ("mixer", {"patch": 9}, "patch: mixer takes a patch size up to the input side 8, got 9"),
    ("mlp", {"remove_skips": True}, "remove_skips: model 'mlp' has no skip connections"),
    ("resnet18", {"binarize": "half"}, "binarize is 'half', expected one of both, weights"),
    ("resnet18", {"depthwise": False}, "depthwise: model 'resnet18' has no depthwise conv"),
])
def test_bad_model_arguments_name_the_argument(name, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build_model(name, (8, 8, 1), 10, **kwargs)
