"""The training loop shared by every algorithm: data, seeds, epochs, validation, the run
folder. The weights kept are those of the epoch with the best validation accuracy.

After every epoch the batch-norm running statistics are recomputed for the weights the epoch
ended with (`recalibrate_batchnorm`), before validation: they are what the eval-mode model
folds into integer thresholds, i.e. what deploys. The running averages kept during training
lag a binary network whose latent weights keep flipping signs, and in deep models the lag
alone ruined the eval-mode accuracy (docs/results.md, "Architectures")."""
from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from edgebnn import data
from edgebnn.export import ExportError, export_model
from edgebnn import format as fmt
from edgebnn.models import build_from_spec
from edgebnn.runs import run_folder
from edgebnn.runs.config import TrainConfig
from edgebnn.runs.provenance import Provenance
from edgebnn.train import memory
from edgebnn.train.base import get_algorithm


def accuracy(model: torch.nn.Module, dataset: data.Dataset, batch_size: int = 512) -> float:
    """Eval-mode accuracy (the integer scores' argmax, as on the device)."""
    if len(dataset) == 0:
        return float("nan")
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in data.batches(dataset, batch_size):
            correct += int((model(x).argmax(1) == y).sum())
    return correct / len(dataset)


#: training samples the batch-norm statistics are recomputed on after each epoch
RECALIBRATION_SAMPLES = 4096


def recalibrate_batchnorm(model: torch.nn.Module, dataset: data.Dataset, batch_size: int,
                          limit: int = RECALIBRATION_SAMPLES) -> None:
    """Replaces every batch norm's running mean/var by the average of its batch statistics over
    `dataset` (a fixed stratified subset of `limit` samples if larger), for the current weights ("precise BN"). Batches
    of the training batch size, so the statistics are those the network was trained with."""
    bns = [m for m in model.modules()
           if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not bns or len(dataset) == 0:
        return
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None          # cumulative average over the batches below
    model.train()
    with torch.no_grad():
        for x, _ in data.batches(data.subsample(dataset, limit, seed=0), batch_size):
            model(x)
    for m, momentum in zip(bns, momenta):
        m.momentum = momentum


def _measured(value: float) -> float | None:
    """None (JSON null) for the accuracy of an empty split, which has none: NaN is not JSON."""
    return None if np.isnan(value) else value


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def train(config: TrainConfig, out: Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Trains as configured; writes the run folder to `out` if given; returns the metrics."""
    seed_everything(config.seed)
    splits = Provenance.of_config(config).rebuild(config.limit)
    present = [splits.classes[c] for c in np.unique(splits.train.y)]
    if len(present) < 2:   # nothing to learn: accuracy would be trivially 1 or undefined
        raise data.DataError(config.data, f"training samples of {len(present)} class "
                                          f"({', '.join(present)}), expected at least 2")
    spec = {"name": config.model, "input_shape": list(splits.train.image_shape),
            "n_classes": len(splits.classes), "kwargs": dict(config.model_kwargs),
            "classes": list(splits.classes)}
    algo_cls = get_algorithm(config.algo)
    spec = algo_cls.model_spec(spec)
    model = build_from_spec(spec)
    algo = algo_cls(model, config)
    algo.prepare(splits.train.x)
    rng = np.random.default_rng(config.seed)

    history: dict[str, list[float]] = {"train_loss": [], "train_accuracy": [],
                                       "val_accuracy": [], "epoch_seconds": []}
    best_val, best_state, best_epoch = -1.0, copy.deepcopy(model.state_dict()), 0
    n_batches = -(-len(splits.train) // config.batch_size)
    for epoch in range(1, config.epochs + 1):
        model.train()
        start = time.perf_counter()
        loss_sum, correct = 0.0, 0
        bar = tqdm(data.batches(splits.train, config.batch_size, shuffle=True, rng=rng),
                   total=n_batches, desc=f"{config.algo} epoch {epoch}/{config.epochs}",
                   disable=None if progress else True, leave=False)  # None: off when not a tty
        for x, y in bar:
            with algo.meter.measure():  # counts the bytes kept for the learning signal
                step = algo.train_step(x, y)
            loss_sum += step.loss * len(y)
            correct += step.correct
            bar.set_postfix(loss=f"{step.loss:.3f}")
        train_acc = correct / len(splits.train)
        algo.end_epoch(epoch, train_acc)
        recalibrate_batchnorm(model, splits.train, config.batch_size)
        seconds = time.perf_counter() - start
        val_acc = accuracy(model, splits.val)
        history["train_loss"].append(loss_sum / len(splits.train))
        history["train_accuracy"].append(train_acc)
        history["val_accuracy"].append(_measured(val_acc))
        history["epoch_seconds"].append(seconds)
        if progress:
            tqdm.write(f"epoch {epoch}: loss {history['train_loss'][-1]:.4f} "
                       f"train {train_acc:.4f} val {val_acc:.4f} ({seconds:.1f} s)")
        if not val_acc <= best_val:  # also takes the first epoch when val is empty (nan)
            best_val, best_state, best_epoch = val_acc, copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best_state)
    model.eval()

    try:
        model_size: int | None = len(fmt.to_bytes(export_model(
            model, tuple(spec["input_shape"]), spec["n_classes"])))
    except ExportError:   # host-only (mixer) or partially binary: no .ebnn, torch backend only
        model_size = None
    n_params = sum(p.numel() for p in model.parameters())
    metrics = {
        "accuracy": {name: _measured(accuracy(model, getattr(splits, name)))
                     for name in ("train", "val", "test")},
        "best_epoch": best_epoch,
        "n": {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test)},
        **history,
        "seconds_per_epoch": float(np.mean(history["epoch_seconds"])),
        "parameters": n_params,
        "model_size_bytes": model_size,
        "float32_size_bytes": 4 * n_params,
        **memory.report(algo, costs := memory.layer_costs(model, tuple(spec["input_shape"]),
                                                          spec["n_classes"], config.batch_size)),
    }
    metrics["compute"].update(algo.compute_details(costs))
    if out is not None:
        run_folder.save(Path(out), config, spec, model, metrics)
    return metrics
