"""The training loop shared by every algorithm: data, seeds, epochs, validation, the run
folder. The weights kept are those of the epoch with the best validation accuracy. Around the
rule it runs the regimen (schedule.py, early_stop.py, augment.py), writes a checkpoint after
every epoch that `resume` continues bit-exactly (checkpoint.py), and under torchrun gives each
rank its shard of every batch (distributed.py; docs/training.md).

After every epoch the batch-norm running statistics are recomputed for the weights the epoch
ended with (`recalibrate_batchnorm`), before validation: they are what the eval-mode model
folds into integer thresholds, i.e. what deploys. The running averages kept during training
lag a binary network whose latent weights keep flipping signs, and in deep models the lag
alone ruined the eval-mode accuracy (docs/results.md, "Architectures")."""
from __future__ import annotations

import copy
import dataclasses
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from edgebnn import data
from edgebnn.export import ExportError, export_model
from edgebnn import format as fmt
from edgebnn.models import build_from_spec
from edgebnn.runs import run_folder
from edgebnn.runs.config import TrainConfig
from edgebnn.runs.provenance import Provenance
from edgebnn.errors import UsageError
from edgebnn.train import augment, checkpoint, device as devices, distributed, memory, schedule
from edgebnn.train.early_stop import EarlyStopping
from edgebnn.train.base import get_algorithm


def evaluate(model: torch.nn.Module, dataset: data.Dataset, batch_size: int = 512,
             device: torch.device = torch.device("cpu")) -> tuple[float, float]:
    """Eval-mode (accuracy, mean cross-entropy) with the model on `device`: the accuracy is
    the integer scores' argmax, as on the deployed model; the loss is what early stopping
    watches."""
    if len(dataset) == 0:
        return float("nan"), float("nan")
    model.eval()
    correct, loss = 0, 0.0
    with torch.no_grad():
        for x, y in data.batches(dataset, batch_size):
            scores = model(devices.batch_to(x, device))
            y = devices.batch_to(y, device)
            correct += int((scores.argmax(1) == y).sum())
            loss += float(F.cross_entropy(scores.float(), y, reduction="sum"))
    return correct / len(dataset), loss / len(dataset)


def accuracy(model: torch.nn.Module, dataset: data.Dataset, batch_size: int = 512) -> float:
    """Eval-mode accuracy (the integer scores' argmax, as on the device)."""
    return evaluate(model, dataset, batch_size)[0]


#: training samples the batch-norm statistics are recomputed on after each epoch
RECALIBRATION_SAMPLES = 4096


def recalibrate_batchnorm(model: torch.nn.Module, dataset: data.Dataset, batch_size: int,
                          limit: int = RECALIBRATION_SAMPLES,
                          device: torch.device = torch.device("cpu")) -> None:
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
            model(devices.batch_to(x, device))
    for m, momentum in zip(bns, momenta):
        m.momentum = momentum


def _measured(value: float) -> float | None:
    """None (JSON null) for the accuracy of an empty split, which has none: NaN is not JSON."""
    return None if np.isnan(value) else value


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


#: the second word of the augmentation generator's seed, so its stream is not the batch order's
AUGMENT_STREAM = 0xA06


def _check_regimen(config: TrainConfig, splits: data.Splits) -> None:
    """Refuses, before training, settings the loop cannot honour."""
    if config.early_stop and len(splits.val) == 0:
        raise UsageError("needs a validation split carved from the training set, found none "
                         "(val_fraction 0 or too few samples)", field="--early-stop")
    rank, size = distributed.world()
    last = len(splits.train) % config.batch_size
    if size > 1 and (config.batch_size < size or 0 < last < size):
        raise UsageError(f"every rank needs a sample of every batch: {size} ranks, batches of "
                         f"{config.batch_size}, the last of {last}", field="--batch-size")


def train(config: TrainConfig, out: Path | None = None, progress: bool = True,
          resume: bool = False, device: str = "cpu") -> dict[str, Any]:
    """Trains as configured on `device` (cpu | cuda | auto, train/device.py: not part of the
    config, as the run is the same wherever it trains); writes the run folder to `out` if given
    (with a checkpoint after every epoch); `resume`: continues the run whose checkpoint is in
    `out`. Under torchrun, each rank trains on its shard of every batch and rank 0 alone writes
    (distributed.py)."""
    where = devices.resolve(device)
    distributed.init(where)
    rank, _ = distributed.world()
    writes = out is not None and rank == 0
    seed_everything(config.seed)
    splits = Provenance.of_config(config).rebuild(config.limit)
    present = [splits.classes[c] for c in np.unique(splits.train.y)]
    if len(present) < 2:   # nothing to learn: accuracy would be trivially 1 or undefined
        raise data.DataError(config.data, f"training samples of {len(present)} class "
                                          f"({', '.join(present)}), expected at least 2")
    _check_regimen(config, splits)
    spec = {"name": config.model, "input_shape": list(splits.train.image_shape),
            "n_classes": len(splits.classes), "kwargs": dict(config.model_kwargs),
            "classes": list(splits.classes)}
    algo_cls = get_algorithm(config.algo)
    spec = algo_cls.model_spec(spec)
    model = build_from_spec(spec)
    algo = algo_cls(model, config)
    algo.prepare(splits.train.x)
    devices.move_training(model, algo, where)   # everything random was drawn on the CPU
    schedulers = schedule.schedulers(algo.optimizers(), config.algo, config.lr_schedule,
                                     config.epochs, config.lr_step_size, config.lr_gamma)
    distributed.average_gradients(algo.optimizers())
    rng = np.random.default_rng(config.seed)
    augment_rng = np.random.default_rng([config.seed, AUGMENT_STREAM])
    augmenting = augment.enabled(config.augment, config.data)
    stopper = EarlyStopping()

    history: dict[str, list[float | None]] = {"train_loss": [], "train_accuracy": [],
                                              "val_accuracy": [], "val_loss": [],
                                              "epoch_seconds": []}
    best_val, best_state, best_epoch, first = -1.0, copy.deepcopy(model.state_dict()), 0, 1
    if resume:
        saved = checkpoint.read(Path(out), config, spec)
        with checkpoint.restoring(out, "model"):
            model.load_state_dict(saved["model"])
        with checkpoint.restoring(out, "algorithm"):
            algo.load_state_dict(saved["algorithm"])
        with checkpoint.restoring(out, "schedulers"):
            for s, state in zip(schedulers, saved["schedulers"], strict=True):
                s.load_state_dict(state)
        with checkpoint.restoring(out, "runner"):
            r = saved["runner"]
            history = {k: list(r["history"][k]) for k in history}
            best_val, best_epoch = float(r["best_val"]), int(r["best_epoch"])
            best_state = r["best_state"]
            stopper = EarlyStopping(**r["early_stop"])
            rng.bit_generator.state = r["batch_rng"]
            augment_rng.bit_generator.state = r["augment_rng"]
        with checkpoint.restoring(out, "rng"):
            checkpoint.set_rng_states(saved["rng"])
        first = saved["epoch"] + 1
        if r.get("stopped"):
            first = config.epochs + 1
        devices.move_training(model, algo, where)   # state restored on the CPU (sigprop's F)
    elif writes:
        run_folder.save_config(Path(out), config)

    n_batches = -(-len(splits.train) // config.batch_size)
    try:
        for epoch in range(first, config.epochs + 1):
            model.train()
            start = time.perf_counter()
            loss_sum, correct = 0.0, 0
            bar = tqdm(data.batches(splits.train, config.batch_size, shuffle=True, rng=rng),
                       total=n_batches, desc=f"{config.algo} epoch {epoch}/{config.epochs}",
                       disable=None if progress and rank == 0 else True, leave=False)
            for index, (x, y) in enumerate(bar):
                if augmenting:   # the global batch, so every rank count sees the same images
                    x = augment.crop_flip(x, augment_rng)
                part = distributed.shard(len(y))
                distributed.set_share(part.stop - part.start, len(y))
                x, y = devices.batch_to(x[part], where), devices.batch_to(y[part], where)
                distributed.fault_point(epoch, index)
                with algo.meter.measure(), distributed.global_batch_norm(model):
                    step = algo.train_step(x, y)  # the meter counts what the signal keeps
                loss_sum += step.loss * len(y)
                correct += step.correct
                bar.set_postfix(loss=f"{step.loss:.3f}")
            totals = distributed.sum_(torch.tensor([loss_sum, float(correct)], dtype=torch.float64))
            loss_sum, correct = float(totals[0]), int(totals[1])
            train_acc = correct / len(splits.train)
            algo.end_epoch(epoch, train_acc)
            for s in schedulers:
                s.step()
            recalibrate_batchnorm(model, splits.train, config.batch_size, device=where)
            seconds = time.perf_counter() - start
            val_acc, val_loss = evaluate(model, splits.val, device=where)
            history["train_loss"].append(loss_sum / len(splits.train))
            history["train_accuracy"].append(train_acc)
            history["val_accuracy"].append(_measured(val_acc))
            history["val_loss"].append(_measured(val_loss))
            history["epoch_seconds"].append(seconds)
            if progress and rank == 0:
                tqdm.write(f"epoch {epoch}: loss {history['train_loss'][-1]:.4f} "
                           f"train {train_acc:.4f} val {val_acc:.4f} ({seconds:.1f} s)")
            if not val_acc <= best_val:  # also takes the first epoch when val is empty (nan)
                best_val, best_state, best_epoch = val_acc, copy.deepcopy(model.state_dict()), epoch
            stop = config.early_stop and stopper.update(val_loss)
            if writes:
                checkpoint.save(Path(out), config, spec, epoch=epoch, model=model.state_dict(),
                                algorithm=algo.state_dict(),
                                schedulers=[s.state_dict() for s in schedulers],
                                runner={"history": history, "best_val": best_val,
                                        "best_epoch": best_epoch, "best_state": best_state,
                                        "early_stop": dataclasses.asdict(stopper),
                                        "batch_rng": rng.bit_generator.state,
                                        "augment_rng": augment_rng.bit_generator.state,
                                        "stopped": stop})
            if stop:
                if progress and rank == 0:
                    tqdm.write(f"early stop after epoch {epoch}: validation loss not better "
                               f"than {stopper.best:.4f} by {stopper.min_delta} for "
                               f"{stopper.patience} epochs")
                break
    except RuntimeError as e:
        if not distributed.is_collective_failure(e):
            raise
        raise distributed.collective_failed(e) from None
    model.load_state_dict(best_state)
    model.to("cpu").eval()   # measured and exported where it deploys from
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
        "epochs_run": len(history["epoch_seconds"]),
        "ranks": distributed.world()[1],
        "seconds_per_epoch": float(np.mean(history["epoch_seconds"])),
        "parameters": n_params,
        "model_size_bytes": model_size,
        "float32_size_bytes": 4 * n_params,
        **memory.report(algo, costs := memory.layer_costs(model, tuple(spec["input_shape"]),
                                                          spec["n_classes"], config.batch_size)),
    }
    metrics["compute"].update(algo.compute_details(costs))
    if writes:
        run_folder.save(Path(out), config, spec, model, metrics)
    return metrics
