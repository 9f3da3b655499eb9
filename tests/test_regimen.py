"""The training regimen: learning-rate schedules, early stopping, augmentation, per-epoch
checkpoints and a `--resume` that continues bit-exactly, and its refusals."""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from edgebnn.cli import main
from edgebnn.train import augment, checkpoint, schedule
from edgebnn.train.early_stop import EarlyStopping

#: a small run: digits, 400 samples, one hidden layer, three epochs
RUN = ["--limit", "400", "--layers", "32", "--epochs", "3", "--batch-size", "50", "--quiet"]


def test_schedule_factors():
    cosine = schedule.factor("cosine", 10)
    assert cosine(0) == 1.0 and math.isclose(cosine(5), 0.5) and math.isclose(cosine(10), 0.0)
    step = schedule.factor("step", 9, gamma=0.5)   # step size 9 // 3 = 3
    assert [step(e) for e in (0, 2, 3, 6)] == [1.0, 1.0, 0.5, 0.25]
    assert schedule.factor("constant", 4)(3) == 1.0


def test_schedule_scales_every_optimizer_group():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [p], "lr": 0.1}, {"params": [], "lr": 0.01}])
    (s,) = schedule.schedulers([opt], "bp", "step", 4, 1, 0.1)
    opt.step()
    s.step()
    assert [round(g["lr"], 6) for g in opt.param_groups] == [0.01, 0.001]


def test_early_stopping_rule():
    stop = EarlyStopping()
    # improves, then moves by no more than 0.001 for 5 epochs: stops on the 5th
    losses = [1.0, 0.9, 0.8995, 0.8992, 0.8999, 0.9, 0.8991]
    assert [stop.update(v) for v in losses] == [False] * 6 + [True]


def test_augmentation_is_seeded_and_keeps_integer_pixels():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8) % 256
    a = augment.crop_flip(x, np.random.default_rng(1))
    b = augment.crop_flip(x, np.random.default_rng(1))
    assert torch.equal(a, b) and a.shape == x.shape and torch.equal(a, a.round())
    assert augment.enabled("auto", "cifar10:/d") and augment.enabled("auto", "folder:/d")
    assert not augment.enabled("auto", "digits") and not augment.enabled("auto", "mnist")


def test_early_stop_ends_the_run_when_the_validation_loss_stalls(tmp_path):
    from edgebnn.train import TrainConfig, train
    # a rate too small to move the loss: the first epoch sets the best, five more stall
    metrics = train(TrainConfig(limit=400, model_kwargs={"layers": [16]}, epochs=9, lr=1e-9,
                                early_stop=True), tmp_path, progress=False)
    assert metrics["epochs_run"] == 6 and len(metrics["val_loss"]) == 6


def test_early_stop_needs_a_validation_split(tmp_path, capsys):
    from edgebnn.train import TrainConfig, train
    from edgebnn.errors import UsageError
    with pytest.raises(UsageError, match="--early-stop: needs a validation split"):
        train(TrainConfig(limit=200, epochs=1, val_fraction=0.0, early_stop=True), tmp_path,
              progress=False)
    assert not tmp_path.joinpath("config.json").exists()


@pytest.mark.parametrize("flags", [["--algo", "cyclic", "--lr-schedule", "cosine"],
                                   ["--algo", "local", "--lr-schedule", "step"],
                                   ["--lr-schedule", "cosine", "--lr-gamma", "0.5"]])
def test_schedules_that_cannot_apply_are_refused(tmp_path, capsys, flags):
    assert main(["train", *flags, "--limit", "100", "--out", str(tmp_path / "r")]) == 2
    assert "--lr-schedule" in capsys.readouterr().err


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return torch.load(folder / "model.pt", weights_only=True)["state_dict"]


@pytest.fixture
def deterministic():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(False)
    torch.set_num_threads(threads)


def _interrupted(args: list[str], out: Path, fault: str = "0:2:1") -> subprocess.CompletedProcess:
    """`edgebnn train` in a process that exits mid-way through epoch 2 (after checkpoint 1)."""
    env = {**os.environ, "EDGEBNN_FAULT_EXIT": fault, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "edgebnn.cli", "train", *args, "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("algo", ["bp", "local", "cyclic", "sigprop"])
def test_resume_continues_bit_exactly(tmp_path, deterministic, algo):
    args = [*RUN, "--algo", algo, "--early-stop"] + (
        ["--lr-schedule", "cosine"] if algo == "bp" else [])
    assert main(["train", *args, "--out", str(tmp_path / "whole")]) == 0
    cut = _interrupted(args, tmp_path / "cut")
    assert cut.returncode == 17, cut.stderr
    assert not (tmp_path / "cut" / "metrics.json").exists()
    assert checkpoint.contents(tmp_path / "cut" / "checkpoint.pt")["epoch"] == 1
    assert main(["train", "--resume", str(tmp_path / "cut"), "--quiet"]) == 0
    whole, resumed = _weights(tmp_path / "whole"), _weights(tmp_path / "cut")
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


@pytest.fixture(scope="module")
def cut_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cut") / "run"
    assert _interrupted(RUN, out).returncode == 17
    return out


def _refused(folder: Path, capsys, *flags: str) -> str:
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert main(["train", "--resume", str(folder), "--quiet", *flags]) == 2
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before   # nothing written
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    return err


def test_resume_refuses_damaged_truncated_and_foreign_checkpoints(cut_run, tmp_path, capsys):
    ckpt = cut_run / "checkpoint.pt"
    for name, damage in [("truncated", lambda b: b[:len(b) // 2]),
                         ("damaged", lambda b: b[:100] + bytes(200) + b[300:])]:
        bad = tmp_path / name
        shutil.copytree(cut_run, bad)
        (bad / "checkpoint.pt").write_bytes(damage(ckpt.read_bytes()))
        assert f"{bad / 'checkpoint.pt'}: damaged or truncated" in _refused(bad, capsys)
    # fuzz: a byte changed anywhere is refused, never resumed and never a traceback
    rng = np.random.default_rng(0)
    body = ckpt.read_bytes()
    fuzzed = tmp_path / "fuzzed"
    shutil.copytree(cut_run, fuzzed)
    for at in rng.integers(0, len(body), 12):
        (fuzzed / "checkpoint.pt").write_bytes(body[:at] + bytes([body[at] ^ 0x5A]) + body[at + 1:])
        assert f"{fuzzed / 'checkpoint.pt'}: " in _refused(fuzzed, capsys)
    # another run's checkpoint (bp's) in a local run's folder: the field is named
    other = tmp_path / "other"
    assert _interrupted([*RUN, "--algo", "local"], other).returncode == 17
    shutil.copy(ckpt, other / "checkpoint.pt")
    assert "checkpoint.pt: config.algo: another run's checkpoint" in _refused(other, capsys)
    # a flag that contradicts the stored run
    assert "--algo: the run in" in _refused(cut_run, capsys, "--algo", "dfa")
    missing = tmp_path / "missing"
    shutil.copytree(cut_run, missing)
    (missing / "checkpoint.pt").unlink()
    assert "no checkpoint to resume from" in _refused(missing, capsys)
