"""Data-parallel training on torch.distributed (gloo, 2 CPU processes on 127.0.0.1 through
`edgebnn train --nproc`, i.e. torchrun's entry point): `local` equals one process bit for bit,
the gradient rules within float rounding; a rank that dies is named and the last complete
checkpoint kept; --nproc above the devices present is refused."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edgebnn.cli import main
from edgebnn.train import checkpoint, distributed

RUN = ["--limit", "400", "--layers", "32", "--epochs", "2", "--batch-size", "50", "--quiet"]
needs_two_cores = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one CPU core")


def _train(out: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgebnn.cli", "train", *RUN, *args,
                           "--out", str(out)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return torch.load(folder / "model.pt", weights_only=True)["state_dict"]


@needs_two_cores
@pytest.mark.parametrize("algo", ["local", "bp", pytest.param("dfa", marks=pytest.mark.slow)])
def test_two_processes_train_as_one(tmp_path, algo):
    for n in (1, 2):
        proc = _train(tmp_path / str(n), "--algo", algo, "--nproc", str(n))
        assert proc.returncode == 0, proc.stderr
    one, two = _weights(tmp_path / "1"), _weights(tmp_path / "2")
    for k in one:
        if algo == "local":   # summed integer increments: exactly one process's weights
            assert torch.equal(one[k], two[k]), k
        else:                 # mean gradients, global batch-norm statistics: float rounding
            torch.testing.assert_close(two[k], one[k], rtol=1e-4, atol=1e-5)


@needs_two_cores
def test_one_step_gradients_with_batch_norm_2d_equal_one_process(tmp_path):
    """Per step the ranks' combined gradients (global batch-norm statistics included) are one
    process's within float rounding. Over whole runs of deep models, latent sign flips and
    Adam's normalisation of near-zero gradients amplify that rounding (docs/training.md)."""
    script = str(Path(__file__).with_name("dist_grads.py"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, script, str(tmp_path / "one.pt")], check=True, env=env,
                   timeout=120)
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                          "--rdzv-backend", "c10d", "--rdzv-endpoint", "127.0.0.1:0", script,
                          str(tmp_path / "two.pt")], env=env, timeout=120,
                         capture_output=True, text=True)
    assert two.returncode == 0, two.stderr[-4000:]
    one, two = (torch.load(tmp_path / f, weights_only=True) for f in ("one.pt", "two.pt"))
    assert one.keys() == two.keys()
    for k in one:
        torch.testing.assert_close(two[k], one[k], rtol=1e-4, atol=1e-6)


def test_shards_cover_the_batch(monkeypatch):
    for n, size in [(50, 2), (7, 3), (64, 5)]:
        parts = []
        for rank in range(size):
            monkeypatch.setattr(distributed, "world", lambda r=rank, s=size: (r, s))
            parts.append(distributed.shard(n))
        assert [i for p in parts for i in range(p.start, p.stop)] == list(range(n))


@needs_two_cores
def test_a_rank_that_dies_is_named_and_the_checkpoint_kept(tmp_path):
    """…and `--resume` on 2 processes then ends with the weights of one uninterrupted process."""
    out, args = tmp_path / "run", ["--algo", "local", "--epochs", "3"]
    proc = _train(out, *args, "--nproc", "2", env={distributed.FAULT_ENV: "1:2:1"})
    assert proc.returncode == 2
    assert "edgebnn: error: rank 1 stopped (exit code 17)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (out / "metrics.json").exists()
    assert checkpoint.contents(out / "checkpoint.pt")["epoch"] == 1
    resumed = subprocess.run([sys.executable, "-m", "edgebnn.cli", "train", "--resume", str(out),
                              "--nproc", "2", "--quiet"], capture_output=True, text=True,
                             timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert resumed.returncode == 0, resumed.stderr
    assert _train(tmp_path / "whole", *args).returncode == 0
    whole, again = _weights(tmp_path / "whole"), _weights(out)
    assert all(torch.equal(whole[k], again[k]) for k in whole)


def test_nproc_above_the_cores_is_refused(tmp_path, capsys):
    n = (os.cpu_count() or 1) + 1
    assert main(["train", "--nproc", str(n), "--out", str(tmp_path / "r")]) == 2
    assert "--nproc: one process per device" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
