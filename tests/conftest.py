"""Shared fixtures: small trained models (session-scoped, trained once) and randomized ones."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from edgebnn import data
from edgebnn.models import build_model
from edgebnn.train import TrainConfig, train

#: (model name, model kwargs, epochs) of the models every cross-check runs on
TRAINED = {"mlp": ("mlp", {}, 3), "cnn": ("cnn", {"width": 8, "fc": 32}, 2)}


@pytest.fixture(scope="session")
def digits() -> data.Splits:
    return data.load("digits")


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory) -> dict[str, Path]:
    """Run folders of an MLP and a CNN trained briefly on digits."""
    runs = {}
    for key, (model, kwargs, epochs) in TRAINED.items():
        out = tmp_path_factory.mktemp(f"run_{key}")
        train(TrainConfig(model=model, model_kwargs=kwargs, epochs=epochs), out, progress=False)
        runs[key] = out
    return runs


def randomize_batch_norm(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Gives every batch norm random statistics and affine parameters, with negative and zero
    scales and shifts far outside the reachable range, so folding meets every case."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(c, generator=g) * 20)
                m.running_var.copy_(torch.rand(c, generator=g) * 50 + 1e-3)
                m.weight.copy_(torch.randn(c, generator=g))
                m.weight[::7] = 0.0
                m.weight[1::5] *= -1
                m.bias.copy_(torch.randn(c, generator=g) * 3)
                m.bias[2::11] = 1e4
                m.bias[3::13] = -1e4
    return model.eval()


def random_model(name: str, input_shape, n_classes: int, seed: int, **kwargs) -> torch.nn.Module:
    torch.manual_seed(seed)
    return randomize_batch_norm(build_model(name, input_shape, n_classes, **kwargs), seed)


def random_images(shape, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


@pytest.fixture(scope="session")
def firmware_build(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Every board of firmware/boards.mk built once from scratch into a temporary build root:
    (root, {board: make's stdout}); shared by the bring-up tests (tests/test_firmware_boot.py)
    and the first-install files (tests/test_first_install.py). Callers skip without a
    toolchain first."""
    import subprocess

    from edgebnn.device.qemu import FIRMWARE_DIR, load_boards

    out = tmp_path_factory.mktemp("fw")
    stdout = {}
    for board in load_boards():
        r = subprocess.run(["make", "-C", str(FIRMWARE_DIR), "-j2", f"BOARD={board}",
                            f"BUILD={out}"], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"make BOARD={board} failed:\n{r.stdout}\n{r.stderr}"
        stdout[board] = r.stdout
    return out, stdout
