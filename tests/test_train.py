"""The backprop trainer learns, is deterministic, and leaves a complete run folder."""
from __future__ import annotations

import json
import time

import pytest
import torch

from edgebnn.train import TrainConfig, algorithm_names, get_algorithm, train
from edgebnn.runs import run_folder
from edgebnn import nn as bnn


def test_bp_mlp_on_digits_reaches_90_percent_within_a_minute(tmp_path):
    start = time.perf_counter()
    metrics = train(TrainConfig(data="digits", model="mlp", algo="bp", epochs=10), tmp_path,
                    progress=False)
    elapsed = time.perf_counter() - start
    # Measured: 0.944 test accuracy with seed 0 (10 epochs, lr 3e-3, batch 64).
    assert metrics["accuracy"]["test"] >= 0.90
    # The bar is "in under a minute on 2 cores"; typical is ~5 s. Generous margin so
    # a loaded CI machine does not flake; it still catches an order-of-magnitude regression.
    assert elapsed < 60
    for name in ("config.json", "model.pt", "metrics.json"):
        assert (tmp_path / name).is_file()
    saved = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("accuracy", "train_loss", "val_accuracy", "epoch_seconds", "seconds_per_epoch",
                "parameters", "model_size_bytes", "float32_size_bytes"):
        assert key in saved
    assert len(saved["train_loss"]) == 10
    assert saved["train_loss"][-1] < saved["train_loss"][0]
    assert saved["model_size_bytes"] < saved["float32_size_bytes"] / 8


def test_training_is_deterministic(tmp_path):
    cfg = TrainConfig(epochs=2, model="cnn", model_kwargs={"width": 4, "fc": 16}, limit=300)
    a = train(cfg, tmp_path / "a", progress=False)
    b = train(cfg, tmp_path / "b", progress=False)
    assert a["train_loss"] == b["train_loss"] and a["accuracy"] == b["accuracy"]
    sa = torch.load(tmp_path / "a" / "model.pt", weights_only=True)["state_dict"]
    sb = torch.load(tmp_path / "b" / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_run_folder_rebuilds_the_model(trained_runs):
    model, spec, config = run_folder.load(trained_runs["cnn"])
    assert not model.training and spec["name"] == "cnn" and config.model == "cnn"
    assert spec["classes"] == [str(i) for i in range(10)]


def test_latent_weights_stay_clipped(trained_runs):
    model, _, _ = run_folder.load(trained_runs["mlp"])
    for m in model.modules():
        if isinstance(m, bnn.BinaryLinear):
            assert m.weight.abs().max() <= 1.0


def test_registry():
    assert "bp" in algorithm_names()
    assert get_algorithm("bp").name == "bp"
    with pytest.raises(ValueError, match="unknown algorithm 'nope'"):
        get_algorithm("nope")


def test_bad_run_folder_is_named(tmp_path):
    with pytest.raises(run_folder.RunFolderError, match="no config.json"):
        run_folder.load(tmp_path)
