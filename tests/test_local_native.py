"""`--algo local`'s native engine (edgebnn/train/algorithms/local_native.py, the default): the
same weights byte for byte as the torch reference engine after whole runs on digits at
randomized widths, γ, storage widths and seeds; the C core's step in two halves
(ebnn_local_increments, ebnn_local_apply) against the reference increments and against the
fused device step, with a batch's shards summing to the whole batch's increments (how
data-parallel ranks compose), and 2 native gloo ranks against 1 torch process; and the
engine's bad input named."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from edgebnn.cli import main
from edgebnn.errors import UsageError
from edgebnn.native import LocalTrainer
from edgebnn.ondevice import local as trnl
from edgebnn.runs import run_folder
from edgebnn.train import TrainConfig, train

from tests.test_distributed import _train, _weights, needs_two_cores
from tests.test_native_train import export_with_state, make_rule


def _random_config(seed: int) -> TrainConfig:
    """Widths, depth, γ, storage width, batch size and seeds drawn from `seed`."""
    rng = np.random.default_rng(seed)
    layers = [int(k) for k in rng.integers(16, 90, int(rng.integers(1, 4)))]
    algo = {"gamma": int(rng.integers(1, 12))} if rng.random() < 0.5 else {}
    bits = int(rng.choice([3, 8, 12]))   # 3: saturation every step; 12: int16 storage
    return TrainConfig(algo="local", model_kwargs={"layers": layers, "weight_bits": bits},
                       epochs=3, batch_size=int(rng.integers(30, 130)), seed=int(seed),
                       algo_kwargs=algo)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_native_engine_trains_the_torch_weights_byte_for_byte(tmp_path, seed):
    config = _random_config(seed)
    runs = {}
    for engine in ("torch", "native"):
        c = dataclasses.replace(config, algo_kwargs={**config.algo_kwargs, "engine": engine})
        metrics = train(c, tmp_path / engine, progress=False)
        runs[engine] = (metrics, run_folder.load(tmp_path / engine)[0].state_dict())
    (m_torch, w_torch), (m_native, w_native) = runs["torch"], runs["native"]
    assert w_torch.keys() == w_native.keys()
    for k in w_torch:
        assert w_torch[k].dtype == w_native[k].dtype and torch.equal(w_torch[k], w_native[k]), k
    # the per-epoch figures too (mistakes and accuracy, from the C core's statistics)
    assert m_torch["train_loss"] == m_native["train_loss"]
    assert m_torch["train_accuracy"] == m_native["train_accuracy"]
    # and it learned (chance is 0.1 ± 0.01): runs that changed nothing would compare equal trivially
    assert m_native["train_accuracy"][-1] > 0.13, m_native["train_accuracy"]


def test_split_step_is_the_reference_and_the_device_step(digits):
    """Increments of a batch equal local_step's (apply=False), sub-network after sub-network;
    the shards' increments sum to the batch's; applying the sum gives the fused device step's
    file byte for byte, twice over (the step counter and the reinforcement keys advance)."""
    rule = make_rule(digits, (48, 37), gamma=5)
    data = export_with_state(rule)
    fused, split = LocalTrainer(data), LocalTrainer(data)
    for p in (fused, split):
        p.set_thresholds([1 << 28, 1 << 29])   # reinforce often: every weight's draw matters
    x, y = digits.train.x[:90], digits.train.y[:90]
    for step in range(2):
        increments, correct, wrong = split.increments(x, y)
        assert (correct, wrong) == fused.step(x, y)
        first, _, _ = split.increments(x[:33], y[:33])
        second, _, _ = split.increments(x[33:], y[33:])
        np.testing.assert_array_equal(first + second, increments)
        if step == 0:   # the reference's increments from the same weights
            h = rule.model.input_threshold()(torch.from_numpy(x).permute(0, 3, 1, 2).float())
            h, offset = h.to(torch.int8).numpy(), 0
            frozen = rule.model.input_threshold().disabled_features()
            for l, layer in enumerate(rule.hidden):
                res = trnl.local_step(layer.weight.numpy(), h, y, rule.readouts[l],
                                      rule.gammas[l], layer.limits,
                                      frozen=frozen if l == 0 else None, apply=False)
                n = res.weights.size
                np.testing.assert_array_equal(increments[offset:offset + n],
                                              res.weights.ravel(), err_msg=f"layer {l}")
                assert res.weights.any()
                offset, h = offset + n, res.h
            assert offset == len(increments)
        split.apply(increments)
        assert split.to_bytes() == fused.to_bytes()
    assert split.step_index == 2


def test_an_unknown_engine_is_named(tmp_path, capsys):
    assert main(["train", "--algo", "local", "--layers", "16", "--epochs", "1", "--limit", "200",
                 "--quiet", "--algo-arg", "engine=gpu", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "--algo-arg engine: expected one of native, torch, got 'gpu'" in err
    assert "Traceback" not in err and not (tmp_path / "r" / "model.pt").exists()


def test_weights_wider_than_the_c_core_stores_are_named(tmp_path):
    config = TrainConfig(algo="local", model_kwargs={"layers": [16], "weight_bits": 20},
                         epochs=1, limit=200)
    with pytest.raises(UsageError, match="at most 16 bits, weight_bits is 20; use --algo-arg "
                                         "engine=torch"):
        train(config, tmp_path / "r", progress=False)
    config.algo_kwargs["engine"] = "torch"   # the reference stores up to 32 bits
    assert train(config, tmp_path / "t", progress=False)["epochs_run"] == 1


def test_a_batch_off_the_cpu_is_named(digits):
    """The C core trains host memory: a batch on another device (a GPU's, here torch's meta
    device, which every machine has) is refused, naming the engine that runs there."""
    rule = make_rule(digits, (16,), engine="native")
    x = torch.zeros(4, 1, 8, 8, device="meta")
    with pytest.raises(UsageError, match="native engine trains on the CPU, the model is on "
                                         "meta; use --algo-arg engine=torch"):
        rule.train_step(x, torch.zeros(4, dtype=torch.int64, device="meta"))


@needs_two_cores
def test_two_native_processes_train_the_torch_weights_of_one(tmp_path):
    """Across engines and process counts at once: 2 gloo ranks summing the C core's int32
    increments end with the weights of one process on the torch reference."""
    for out, flags in (("native2", ["--nproc", "2"]),
                       ("torch1", ["--nproc", "1", "--algo-arg", "engine=torch"])):
        proc = _train(tmp_path / out, "--algo", "local", "--layers", "48,24", *flags)
        assert proc.returncode == 0, proc.stderr
    native, reference = _weights(tmp_path / "native2"), _weights(tmp_path / "torch1")
    assert native.keys() == reference.keys()
    for k in native:
        assert torch.equal(native[k], reference[k]), k
