"""The memory-light gradient-based rules (fa, dfa, drtp, hsic, sigprop): each learns the MLP on
digits, its model runs bit-exactly on the C core, each handles a conv model, and the memory they
keep for their learning signal is measured below backprop's on the same model."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from edgebnn import data
from edgebnn import format as fmt
from edgebnn import nn as bnn
from edgebnn.backends import torch_scores
from edgebnn.export import export_model
from edgebnn.models import build_model
from edgebnn.native import NativeModel
from edgebnn.train import TrainConfig, algorithm_names, get_algorithm, train
from edgebnn.runs import run_folder
from edgebnn.train.memory import MemoryMeter
from edgebnn.train.segments import split_segments

#: algo -> (learning rate override or None for the default, epochs, bar on digits test accuracy).
#: Measured with seed 0 on 5 epochs: fa 0.928, dfa 0.914 (lr 1e-3), drtp 0.847,
#: hsic 0.875 (lr 1e-3), sigprop 0.844; chance is 0.10. DFA's and HSIC's study defaults for the
#: MLP (1e-4, tuned for 80 epochs of ImageNette) reach only 0.28 / 0.41 in 5 epochs (0.56 / 0.70
#: in 10), so the short run uses 1e-3. The bars sit ~0.1 under the measured values to absorb
#: platform float differences while still catching a rule that stopped learning.
DIGITS_RUNS = {"fa": (None, 5, 0.80), "dfa": (1e-3, 5, 0.80), "drtp": (None, 5, 0.75),
               "hsic": (1e-3, 5, 0.75), "sigprop": (None, 5, 0.70)}
LOCAL_RULES = ("dfa", "drtp", "hsic", "sigprop")
TINY_CNN = {"width": 4, "fc": 16}


def test_registered():
    assert set(DIGITS_RUNS) <= set(algorithm_names())


@pytest.mark.parametrize("algo", sorted(DIGITS_RUNS))
def test_learns_digits_and_runs_bit_exactly(tmp_path, digits, algo):
    lr, epochs, bar = DIGITS_RUNS[algo]
    metrics = train(TrainConfig(algo=algo, lr=lr, epochs=epochs), tmp_path, progress=False)
    assert metrics["accuracy"]["test"] >= bar, metrics["accuracy"]
    model, spec, _ = run_folder.load(tmp_path)
    for m in model.modules():
        if isinstance(m, (bnn.BinaryLinear, bnn.BinaryConv2d)):
            assert m.weight.abs().max() <= 1.0
    exported = export_model(model, tuple(spec["input_shape"]), spec["n_classes"])
    native = NativeModel(fmt.to_bytes(exported)).infer(digits.test.x)
    assert np.array_equal(native, torch_scores(model, digits.test.x))
    saved = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("learning_signal_bytes", "saved_peak_bytes", "feedback_bytes", "parameter_bytes",
                "gradient_bytes", "optimizer_state_bytes", "total_bytes", "process_peak_rss_bytes"):
        assert saved["memory"][key] >= 0
    assert saved["memory"]["optimizer_state_bytes"] > saved["memory"]["parameter_bytes"]
    assert saved["compute"]["training_macs_per_iteration"] > saved["compute"]["forward_macs_per_sample"]


@pytest.fixture(scope="module")
def tiny_runs() -> dict[tuple[str, str], dict]:
    """One epoch of bp and of every rule on a 200-sample MLP and a width-4 CNN."""
    runs = {}
    for model in ("mlp", "cnn"):
        for algo in ("bp", *DIGITS_RUNS):
            cfg = TrainConfig(algo=algo, model=model, epochs=1, limit=200,
                              model_kwargs=TINY_CNN if model == "cnn" else {})
            runs[model, algo] = train(cfg, progress=False)
    return runs


@pytest.mark.parametrize("algo", sorted(DIGITS_RUNS))
def test_handles_conv_models(tiny_runs, algo):
    metrics = tiny_runs["cnn", algo]
    assert np.isfinite(metrics["train_loss"][0]) and metrics["model_size_bytes"] > 0


@pytest.mark.parametrize("model", ["mlp", "cnn"])
@pytest.mark.parametrize("algo", LOCAL_RULES)
def test_learning_signal_memory_is_below_backprop(tiny_runs, model, algo):
    bp = tiny_runs[model, "bp"]["memory"]
    mem = tiny_runs[model, algo]["memory"]
    assert bp["saved_peak_bytes"] > 0 and mem["saved_peak_bytes"] > 0  # really measured
    # measured on this model (MLP / CNN, bp vs rule), learning-signal bytes:
    # dfa 223 k / 338 k, drtp 221 k / 334 k, hsic 381 k / 415 k, sigprop 84 k / 84 k,
    # against bp 696 k / 794 k
    assert mem["learning_signal_bytes"] < 0.75 * bp["learning_signal_bytes"]


def test_fa_with_feedback_equal_to_the_weights_is_backprop(digits):
    """With B_l = sign(W_l), FA's gradients must be exactly backprop's (on MLP and CNN, which
    checks the transposed linear map and the transposed, padded convolution)."""
    x, y = next(data.batches(digits.train, 32))
    for name, kwargs in (("mlp", {}), ("cnn", TINY_CNN)):
        torch.manual_seed(0)
        model = build_model(name, (8, 8, 1), 10, **kwargs).train()
        F.cross_entropy(model(x), y).backward()
        expected = [p.grad.clone() for p in model.parameters()]
        model.zero_grad(set_to_none=True)
        fa = get_algorithm("fa")(model, TrainConfig(model=name))
        for layer in fa._matrices:
            fa._matrices[layer] = layer.binary_weight().detach()
        with fa._feedback_paths():
            F.cross_entropy(model(x), y).backward()
        for p, g in zip(model.parameters(), expected):
            torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, kwargs, n", [("mlp", {}, 3), ("cnn", TINY_CNN, 6)])
def test_segments_follow_weight_layers(name, kwargs, n):
    model = build_model(name, (8, 8, 1), 10, **kwargs)
    segments = split_segments(model)
    assert len(segments) == n and segments[-1].is_output
    assert sum(len(s.body) for s in segments) == len(model)   # every module, once
    h = torch.rand(2, 1, 8, 8) * 255
    model.eval()
    with torch.no_grad():
        expected = model(h)
        for s in segments:
            h = s(h)
    assert torch.equal(h, expected)


def test_meter_counts_saved_tensors_until_freed():
    w = torch.randn(100, requires_grad=True)
    meter = MemoryMeter(torch.nn.Linear(1, 1))
    with meter.measure():
        loss = (w * torch.ones(100)).exp().sum()   # saves the ones (400 B) and exp's output
        assert meter.current == 800
        loss.backward()
    assert meter.current == 0 and meter.peak == 800


def test_dfa_recompute_counts_each_batch_once_in_batch_norm(digits):
    """DFA runs each hidden segment twice per step; the running statistics must move exactly
    as under one training-mode forward pass."""
    x, y = next(data.batches(digits.train, 32))
    torch.manual_seed(0)
    reference = build_model("mlp", (8, 8, 1), 10).train()
    torch.manual_seed(0)
    model = build_model("mlp", (8, 8, 1), 10).train()
    with torch.no_grad():
        reference(x)
    get_algorithm("dfa")(model, TrainConfig()).train_step(x, y)
    for a, b in zip(reference.modules(), model.modules()):
        if isinstance(a, torch.nn.BatchNorm1d):
            assert torch.equal(a.running_mean, b.running_mean)
            assert torch.equal(a.running_var, b.running_var)
            assert int(b.num_batches_tracked) == 1


def test_feedback_and_perturbation_are_deterministic():
    """Fixed random matrices come from config.seed: two runs are identical (conv path too)."""
    cfg = TrainConfig(algo="sigprop", model="cnn", model_kwargs=TINY_CNN, epochs=1, limit=100)
    assert train(cfg, progress=False)["train_loss"] == train(cfg, progress=False)["train_loss"]
    cfg = TrainConfig(algo="dfa", epochs=1, limit=100)
    assert train(cfg, progress=False)["train_loss"] == train(cfg, progress=False)["train_loss"]


#: the study's learning-rate grid choice (Mixer / MobileNetV2 / VGG-19), /work/shared/reference
STUDY_GRID = {"dfa": (1e-4, 1e-3, 1e-5), "drtp": (1e-3, 1e-3, 1e-4), "hsic": (1e-4, 1e-4, 1e-5),
              "sigprop": (1e-3, 1e-3, 1e-4)}


@pytest.mark.parametrize("algo", LOCAL_RULES)
def test_default_learning_rates_cover_every_model(algo):
    from edgebnn.models import MODELS
    mixer, mobilenet, vgg = STUDY_GRID[algo]
    cls = get_algorithm(algo)
    expected = {"mlp": mixer, "mixer": mixer, "mobilenetv2": mobilenet, "resnet18": mobilenet,
                "vgg": vgg, "vgg_small": vgg, "cnn": vgg}
    assert set(expected) == set(MODELS) - {"local_chain"}   # a new model needs its column
    assert cls.default_lrs == expected and cls.default_lr == mixer
    for model, lr in expected.items():
        kwargs = {"width": 4, "fc": 16} if model in ("cnn", "vgg_small", "vgg") else {}
        net = build_model(model, (8, 8, 1), 10, **kwargs)
        assert cls(net, TrainConfig(model=model, model_kwargs=kwargs)).lr == lr


def test_dfa_and_drtp_project_through_the_same_segment_matrices():
    model = build_model("cnn", (8, 8, 1), 10, **TINY_CNN)
    cfg = TrainConfig(model="cnn", model_kwargs=TINY_CNN, seed=3)
    dfa, drtp = get_algorithm("dfa")(model, cfg), get_algorithm("drtp")(model, cfg)
    shapes = [(10, s.channels) for s in dfa.hidden]
    assert [tuple(b.shape) for b in dfa.feedback] == shapes
    assert all(torch.equal(a, b) for a, b in zip(dfa.feedback, drtp.feedback))
