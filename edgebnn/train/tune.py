"""`edgebnn tune`: the comparative study's hyperparameter search, per algorithm, on the
validation split, recorded in a file that `edgebnn compare --tuned FILE` trains with.

Why a grid and not each rule's default: the study (Crulis et al. 2023) chose every rule's
learning rate from {1e-3, 1e-4, 1e-5} per architecture and HSIC's γ from {2, 20, 200}; rules
compared at one shared or untuned rate rank by how well that rate happens to suit them, not by
what they can learn (docs/results.md). Why the validation split: it is carved from the training
set by the data split (data/dataset.py, `val_fraction`), so the chosen values never depend on
the test set; this module reads each run's `accuracy.val` and `val_loss` only and records no
test figure, and tests/test_tune.py trains a sweep with the test split emptied to show it.

Layout of the output folder DIR:
- runs/<algo>-lr<lr>[-gamma<γ>]/: one ordinary run folder per grid point (seed `--seed`); a
  complete one (metrics.json, same config) is not trained again, so a killed sweep run again
  continues where it stopped (sweep.train_missing).
- tuned.json: the settings, per algorithm the chosen values and every grid point's validation
  figures, and the algorithms not tuned with the reason (`read_tuned` checks it).

Selection: the highest validation accuracy of the run's kept model (its best epoch); ties go to
the lower validation loss at that epoch, then to the earlier grid point.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgebnn.errors import FileError, UsageError, read_bytes, write_json
from edgebnn.runs import run_folder
from edgebnn.runs.config import TrainConfig
from edgebnn.train.compare import check_algos
from edgebnn.train.sweep import FAILED, is_complete, train_missing

TUNED = "tuned.json"
FORMAT = "edgebnn-tuned/1"
#: the study's learning-rate grid and HSIC's γ grid
DEFAULT_LRS: tuple[float, ...] = (1e-3, 1e-4, 1e-5)
DEFAULT_GAMMAS: tuple[int, ...] = (2, 20, 200)
#: algorithms with a second grid: the algo_kwargs key that TuneSpec.gammas sweeps
GAMMA_ALGOS = {"hsic": "gamma"}
#: algorithms without a learning rate to tune, and why; `compare --tuned` trains them as given
NOT_TUNED = {
    "local": "no learning rate: its updates are integer increments of ±2; its one setting, the "
             "group size γ, stays the paper's per-width default",
}
#: the settings a tuned file must share with the `compare` that uses it: the rates are chosen
#: for one data set and one model
MATCHED = ("data", "model", "model_kwargs")


@dataclass
class TuneSpec:
    """What to tune: the shared training settings (as CompareSpec's) and the grids."""

    data: str
    model: str
    algos: list[str]
    lrs: list[float] = field(default_factory=lambda: list(DEFAULT_LRS))
    gammas: list[float] = field(default_factory=lambda: list(DEFAULT_GAMMAS))
    epochs: int = 10
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 64
    limit: int | None = None
    image_size: int | None = None
    lr_schedule: str = "constant"
    early_stop: bool = False
    augment: str = "auto"
    seed: int = 0
    device: str = "cpu"
    jobs: int = 1            # runs trained at once (train/sweep.py), not a setting

    def points(self, algo: str) -> list[dict[str, Any]]:
        """The grid of `algo`: {"lr": …, "algo_kwargs": {…}} per point; none if not tuned."""
        if algo in NOT_TUNED:
            return []
        key = GAMMA_ALGOS.get(algo)
        extra = [{key: g} for g in self.gammas] if key else [{}]
        return [{"lr": lr, "algo_kwargs": kwargs} for lr in self.lrs for kwargs in extra]

    def config(self, algo: str, point: dict[str, Any]) -> TrainConfig:
        return TrainConfig(data=self.data, model=self.model, model_kwargs=dict(self.model_kwargs),
                           algo=algo, algo_kwargs=dict(point["algo_kwargs"]), epochs=self.epochs,
                           batch_size=self.batch_size, lr=point["lr"], seed=self.seed,
                           image_size=self.image_size, limit=self.limit,
                           lr_schedule=self.lr_schedule, early_stop=self.early_stop,
                           augment=self.augment)

    def settings(self) -> dict[str, Any]:
        """What tuned.json records of the training the values were chosen under."""
        return {"data": self.data, "model": self.model, "model_kwargs": dict(self.model_kwargs),
                "epochs": self.epochs, "batch_size": self.batch_size, "limit": self.limit,
                "image_size": self.image_size, "lr_schedule": self.lr_schedule,
                "early_stop": self.early_stop, "augment": self.augment, "seed": self.seed,
                "lrs": list(self.lrs), "gammas": list(self.gammas)}


def point_dir(out: Path, algo: str, point: dict[str, Any]) -> Path:
    """runs/bp-lr0.001, runs/hsic-lr0.0001-gamma20: one folder per grid point."""
    extra = "".join(f"-{k}{v:g}" for k, v in point["algo_kwargs"].items())
    return out / "runs" / f"{algo}-lr{point['lr']:g}{extra}"


def _figures(folder: Path, config: TrainConfig) -> dict[str, Any]:
    """A grid point's validation figures from its run folder (never its test accuracy), or
    {"failed": the error} when it did not finish."""
    if not is_complete(folder, config):
        lines = ((folder / FAILED).read_text().strip().splitlines()
                 if (folder / FAILED).is_file() else [])
        return {"failed": lines[-1] if lines else "did not finish"}
    metrics = json.loads((folder / run_folder.METRICS).read_text())
    val, best = metrics["accuracy"]["val"], metrics["best_epoch"]
    if val is None:
        return {"failed": "no validation samples (raise --limit): nothing to choose by"}
    loss = metrics["val_loss"][best - 1] if best >= 1 else None
    return {"val_accuracy": val, "val_loss": loss, "best_epoch": best}


def choose(grid: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The grid point with the highest validation accuracy; ties: lower validation loss, then
    the earlier point. None when every point failed."""
    done = [(i, p) for i, p in enumerate(grid) if "failed" not in p]
    if not done:
        return None

    def key(item: tuple[int, dict[str, Any]]) -> tuple[float, float, int]:
        i, p = item
        loss = math.inf if p["val_loss"] is None else p["val_loss"]
        return (-p["val_accuracy"], loss, i)

    return min(done, key=key)[1]


def tune(spec: TuneSpec, out: Path, progress: bool = True) -> dict[str, Any]:
    """Trains the grid points that are missing, then writes and returns tuned.json's content."""
    spec.algos = check_algos(spec.algos)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FileError(f"cannot create the folder ({e.strerror or e})", file=out) from None
    plan = [(algo, point, point_dir(out, algo, point), spec.config(algo, point))
            for algo in spec.algos for point in spec.points(algo)]
    train_missing([(folder.name, folder, config) for _, _, folder, config in plan],
                  spec.device, progress, desc="tune", jobs=spec.jobs)
    algorithms: dict[str, Any] = {}
    for algo in spec.algos:
        if algo in NOT_TUNED:
            continue
        grid = [{**point, "run": str(folder.relative_to(out)), **_figures(folder, config)}
                for a, point, folder, config in plan if a == algo]
        best = choose(grid)
        algorithms[algo] = {"lr": best["lr"], "algo_kwargs": best["algo_kwargs"],
                            "val_accuracy": best["val_accuracy"], "grid": grid} if best else {
            "failed": "every grid point failed", "grid": grid}
    result = {"format": FORMAT, "settings": spec.settings(),
              "selection": "highest validation accuracy (validation split carved from the "
                           "training set; the test set is not read); ties: lower validation "
                           "loss, then the earlier grid point",
              "algorithms": algorithms,
              "not_tuned": {a: NOT_TUNED[a] for a in spec.algos if a in NOT_TUNED}}
    write_json(out / TUNED, result)
    return result


def _positive(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


def read_tuned(path: Path, algos: list[str], expected: dict[str, Any]) -> dict[str, dict]:
    """{algo: {"lr": …, "algo_kwargs": {…}}} for each of `algos` that was tuned, from a
    tuned.json; `expected` holds compare's MATCHED settings. Refused (UsageError naming the
    file and field) when the file is not one `edgebnn tune` wrote, was tuned for another data
    set or model, lacks an algorithm asked for or holds a value that cannot train."""
    try:
        raw = json.loads(read_bytes(path))
    except (UnicodeDecodeError, ValueError) as e:
        raise UsageError(f"not JSON ({e})", file=path, field="--tuned") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise UsageError("not a file of `edgebnn tune`", file=path, field="format",
                         expected=FORMAT, found=repr(raw.get("format") if isinstance(raw, dict)
                                                     else type(raw).__name__))
    settings, tuned = raw.get("settings"), raw.get("algorithms")
    if not isinstance(settings, dict) or not isinstance(tuned, dict):
        raise UsageError("expected objects \"settings\" and \"algorithms\"", file=path)
    for name in MATCHED:
        if settings.get(name) != expected[name]:
            raise UsageError(f"tuned for another {name.replace('_', ' ')}; tune for this one",
                             file=path, field=f"settings.{name}",
                             expected=json.dumps(expected[name]),
                             found=json.dumps(settings.get(name)))
    not_tuned = raw.get("not_tuned") if isinstance(raw.get("not_tuned"), dict) else {}
    chosen: dict[str, dict] = {}
    for algo in algos:
        entry = tuned.get(algo)
        if entry is None and algo in not_tuned:
            continue
        if not isinstance(entry, dict):
            raise UsageError(f"no tuned values for {algo} (tuned: {', '.join(tuned) or 'none'});"
                             f" tune it too or leave it out of --algos", file=path,
                             field=f"algorithms.{algo}")
        if "failed" in entry:
            raise UsageError(f"no chosen values ({entry['failed']})", file=path,
                             field=f"algorithms.{algo}")
        kwargs = entry.get("algo_kwargs", {})
        if not _positive(entry.get("lr")):
            raise UsageError("expected a positive number", file=path,
                             field=f"algorithms.{algo}.lr", found=repr(entry.get("lr")))
        if not isinstance(kwargs, dict) or not all(_positive(v) for v in kwargs.values()):
            raise UsageError("expected an object of positive numbers", file=path,
                             field=f"algorithms.{algo}.algo_kwargs", found=json.dumps(kwargs))
        chosen[algo] = {"lr": entry["lr"], "algo_kwargs": dict(kwargs)}
    return chosen
