"""`edgebnn compare`: trains several algorithms over several seeds on one data set and model,
then tabulates what each reached and what it cost.

Why a separate module: the comparison is the project's evidence for the memory/accuracy
trade-off of the learning rules, so it has to be reproducible from one command, resumable (a
full study takes tens of minutes on a laptop-class CPU and gets interrupted) and read its numbers
only from the run folders' metrics.json, i.e. from the same measurements `edgebnn train` records
(train/memory.py), never from a separate estimate.

Layout of the output folder DIR:
- runs/<algo>-s<seed>/: one ordinary run folder per (algorithm, seed); a run whose metrics.json
  exists and whose config.json equals the one asked for is complete and is not trained again.
- results.md, results.csv: per algorithm, mean ± sample std over seeds (see `summarize`).
- accuracy_vs_memory.png: test accuracy against measured peak training memory.
"""
from __future__ import annotations

import csv
import io
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from edgebnn.runs import run_folder
from edgebnn.runs.config import TrainConfig
from edgebnn.train.base import algorithm_names
from edgebnn.train.sweep import FAILED, is_complete, train_missing
from edgebnn.errors import FileError, UsageError, replacing, write_text

RESULTS_MD, RESULTS_CSV, PLOT = "results.md", "results.csv", "accuracy_vs_memory.png"

#: (CSV column, where it lives in metrics.json) for the per-run numbers that get mean ± std
METRICS: dict[str, tuple[str, ...]] = {
    "test_accuracy": ("accuracy", "test"),
    "learning_signal_bytes": ("memory", "learning_signal_bytes"),
    "total_training_bytes": ("memory", "total_bytes"),
    "process_peak_rss_bytes": ("memory", "process_peak_rss_bytes"),
    "seconds_per_epoch": ("seconds_per_epoch",),
    "training_macs_per_iteration": ("compute", "training_macs_per_iteration"),
}
#: metrics whose ratio to bp's mean is reported (the measured, per-step figures only)
RATIO_METRICS = ("learning_signal_bytes", "total_training_bytes")

TABLE_NOTE = (
    "Mean ± sample standard deviation over seeds. *Learning signal*: peak bytes a rule holds "
    "to produce its update (autograd's saved tensors measured during each step, tensors kept "
    "outside autograd, feedback matrices); *training memory*: learning signal + parameters + "
    "gradients + optimizer state (edgebnn/train/memory.py). Ratios are to bp's mean. "
    "*Process peak RSS* is the Python process's high-water mark, which also holds the "
    "interpreter, torch and the data set; with `--jobs 1` it only grows across the runs of "
    "one `compare` process, so it depends on run order (with `--jobs` ≥ 2 every run has a "
    "process of its own); it is reported but not used for any ratio. "
    "Training MACs per iteration are counted from layer shapes (bit-weighted, 32×32-bit "
    "equivalents, for `cyclic`)."
)


@dataclass
class CompareSpec:
    """What to compare: the shared training settings and the (algorithm, seed) grid."""

    data: str
    model: str
    algos: list[str]
    seeds: int = 3
    epochs: int = 10
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    lr: float | None = None
    batch_size: int = 64
    limit: int | None = None
    image_size: int | None = None
    lr_schedule: str = "constant"    # the regimen, as for `train` (docs/training.md)
    early_stop: bool = False
    augment: str = "auto"
    device: str = "cpu"              # where each run trains (train/device.py), not a setting
    jobs: int = 1                    # runs trained at once (train/sweep.py), not a setting
    #: per algorithm, the values `edgebnn tune` chose ({"lr": …, "algo_kwargs": {…}}, from
    #: train/tune.py's read_tuned); an algorithm not in it keeps `lr` / its default
    tuned: dict[str, dict[str, Any]] = field(default_factory=dict)

    def config(self, algo: str, seed: int) -> TrainConfig:
        chosen = self.tuned.get(algo, {})
        return TrainConfig(data=self.data, model=self.model, model_kwargs=dict(self.model_kwargs),
                           algo=algo, algo_kwargs=dict(chosen.get("algo_kwargs", {})),
                           epochs=self.epochs, batch_size=self.batch_size,
                           lr=chosen.get("lr", self.lr), seed=seed, image_size=self.image_size,
                           limit=self.limit, lr_schedule=self.lr_schedule,
                           early_stop=self.early_stop, augment=self.augment)

    def runs(self) -> list[tuple[str, int]]:
        return [(algo, seed) for algo in self.algos for seed in range(self.seeds)]


def check_algos(algos: Sequence[str]) -> list[str]:
    """The names, de-duplicated in order; raises ValueError naming the known ones otherwise,
    so a typo fails before any training rather than after an hour of it."""
    known = algorithm_names()
    unknown = [a for a in algos if a not in known]
    if unknown:
        raise UsageError(f"unknown algorithm(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if not algos:
        raise UsageError(f"no algorithms given; known: {', '.join(known)}")
    return list(dict.fromkeys(algos))


def run_dir(out: Path, algo: str, seed: int) -> Path:
    return out / "runs" / f"{algo}-s{seed}"


def run_all(spec: CompareSpec, out: Path, progress: bool = True) -> dict[str, list[int]]:
    """Trains every missing (algo, seed) run (train_missing), in spec.runs() order."""
    spec.algos = check_algos(spec.algos)
    runs = [(f"{algo} seed {seed}", run_dir(out, algo, seed), spec.config(algo, seed))
            for algo, seed in spec.runs()]
    return train_missing(runs, spec.device, progress, jobs=spec.jobs)


def _lookup(metrics: dict[str, Any], path: tuple[str, ...]) -> float:
    """The number at `path`; NaN where metrics.json has null (an empty split's accuracy)."""
    value: Any = metrics
    for key in path:
        value = value[key]
    return math.nan if value is None else float(value)


def _mean_std(values: list[float]) -> tuple[float, float]:
    """Sample std (n − 1); 0 for one seed, where there is no spread to estimate."""
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(spec: CompareSpec, out: Path) -> list[dict[str, Any]]:
    """One row per algorithm, from the run folders present: n (runs completed), failures with
    their last error line, mean/std of each METRICS entry, and ratios to bp's means."""
    rows = []
    for algo in spec.algos:
        per_run: list[dict[str, Any]] = []
        failures: list[str] = []
        for seed in range(spec.seeds):
            folder = run_dir(out, algo, seed)
            if is_complete(folder, spec.config(algo, seed)):
                per_run.append(json.loads((folder / run_folder.METRICS).read_text()))
            elif (folder / FAILED).is_file():
                lines = (folder / FAILED).read_text().strip().splitlines()
                failures.append(f"seed {seed}: {lines[-1] if lines else 'unknown error'}")
        row: dict[str, Any] = {"algo": algo, "n": len(per_run), "failures": "; ".join(failures)}
        for name, path in METRICS.items():
            row[f"{name}_mean"], row[f"{name}_std"] = _mean_std([_lookup(m, path) for m in per_run])
        rows.append(row)
    bp = next((r for r in rows if r["algo"] == "bp" and r["n"]), None)
    for row in rows:
        for name in RATIO_METRICS:
            row[f"{name}_vs_bp"] = (row[f"{name}_mean"] / bp[f"{name}_mean"]) if bp else math.nan
    return rows


UNITS = ("B", "KiB", "MiB", "GiB")


def _unit(n: float) -> int:
    """Power of 1024 that puts n in [1, 1024): memory spans bytes to GiB across models."""
    power = 0
    while abs(n) >= 1024 and power < len(UNITS) - 1:
        n, power = n / 1024, power + 1
    return power


def _bytes(n: float) -> str:
    return "–" if math.isnan(n) else _in_unit(n, _unit(n))


def _in_unit(n: float, power: int) -> str:
    return f"{n:.0f} B" if power == 0 else f"{n / 1024 ** power:.3g} {UNITS[power]}"


def _pm(mean: float, std: float, fmt: Callable[[float], str]) -> str:
    if math.isnan(mean):
        return "–"
    return f"{fmt(mean)} ± {fmt(std)}"


def _pm_bytes(mean: float, std: float) -> str:
    """Both in the mean's unit, so the spread reads against the value ("1.5 MiB ± 0 MiB")."""
    if math.isnan(mean):
        return "–"
    power = _unit(mean)
    std_text = _in_unit(std, power) if std else f"0 {UNITS[power]}"
    return f"{_in_unit(mean, power)} ± {std_text}"


def _ratio(r: float) -> str:
    return "–" if math.isnan(r) else f"{r:.2f}"


def _tuned_text(tuned: dict[str, dict[str, Any]]) -> str:
    """"bp lr 0.001, hsic lr 0.0001 gamma 20": the chosen values, so the table says its rates."""
    return ", ".join(f"{algo} lr {v['lr']}" + "".join(f" {k} {a}" for k, a in
                                                     v.get("algo_kwargs", {}).items())
                     for algo, v in tuned.items())


def markdown_table(spec: CompareSpec, rows: list[dict[str, Any]]) -> str:
    has_bp = any(r["algo"] == "bp" and r["n"] for r in rows)
    head = ["algorithm", "runs", "test accuracy (%)", "learning signal"]
    head += ["÷ bp"] if has_bp else []
    head += ["training memory"] + (["÷ bp"] if has_bp else [])
    head += ["process peak RSS", "s / epoch", "training MACs / iteration"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [f"`{r['algo']}`", f"{r['n']}/{spec.seeds}",
                 _pm(100 * r["test_accuracy_mean"], 100 * r["test_accuracy_std"],
                     lambda v: f"{v:.2f}"),
                 _pm_bytes(r["learning_signal_bytes_mean"], r["learning_signal_bytes_std"])]
        cells += [_ratio(r["learning_signal_bytes_vs_bp"])] if has_bp else []
        cells += [_pm_bytes(r["total_training_bytes_mean"], r["total_training_bytes_std"])]
        cells += [_ratio(r["total_training_bytes_vs_bp"])] if has_bp else []
        cells += [_bytes(r["process_peak_rss_bytes_mean"]),
                  _pm(r["seconds_per_epoch_mean"], r["seconds_per_epoch_std"],
                      lambda v: f"{v:.2f}"),
                  "–" if math.isnan(r["training_macs_per_iteration_mean"])
                  else f"{r['training_macs_per_iteration_mean']:.3g}"]
        lines.append("| " + " | ".join(cells) + " |")
    settings = (f"`{spec.data}`, model `{spec.model}`"
                + (f" {json.dumps(spec.model_kwargs)}" if spec.model_kwargs else "")
                + f", {spec.epochs} epochs, batch {spec.batch_size}, seeds 0–{spec.seeds - 1}, "
                + (f"lr {spec.lr}" if spec.lr is not None else "each algorithm's default lr")
                + (f", tuned ({_tuned_text(spec.tuned)})" if spec.tuned else "")
                + (f", limit {spec.limit}" if spec.limit else ""))
    failures = [f"- `{r['algo']}` failed: {r['failures']}" for r in rows if r["failures"]]
    return "\n".join([f"Data {settings}.", "", *lines, "", TABLE_NOTE, *([""] + failures
                                                                          if failures else [])]) + "\n"


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, text.getvalue())


def plot(spec: CompareSpec, rows: list[dict[str, Any]], path: Path) -> None:
    """Accuracy against measured memory, one labelled point per algorithm, error bars = std.
    Two panels because the learning signal is what the rules differ in, while the total
    (parameters, gradients, Adam state) is what a device must actually hold."""
    import matplotlib
    matplotlib.use("Agg")   # no display on servers and CI
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, key, title in ((axes[0], "learning_signal_bytes", "learning signal (peak)"),
                           (axes[1], "total_training_bytes", "training memory (peak)")):
        for r in rows:
            if not r["n"]:
                continue
            x, y = r[f"{key}_mean"] / 2**20, 100 * r["test_accuracy_mean"]
            ax.errorbar(x, y, xerr=r[f"{key}_std"] / 2**20, yerr=100 * r["test_accuracy_std"],
                        fmt="o", capsize=3)
            ax.annotate(r["algo"], (x, y), textcoords="offset points", xytext=(5, 5))
        ax.set_xlim(left=0)   # linear from 0: a rule that holds nothing (local) stays visible
        ax.set_xlabel(f"{title}, MiB")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("test accuracy, %")
    fig.suptitle(f"{spec.data}, {spec.model}: mean ± std over {spec.seeds} seeds, "
                 f"{spec.epochs} epochs")
    fig.tight_layout()
    with replacing(path) as f:
        fig.savefig(f, format="png", dpi=120)
    plt.close(fig)


def compare(spec: CompareSpec, out: Path, progress: bool = True) -> list[dict[str, Any]]:
    """Runs what is missing, then writes results.md, results.csv and the plot; returns the rows."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FileError(f"cannot create the folder ({e.strerror or e})", file=out) from None
    run_all(spec, out, progress)
    rows = summarize(spec, out)
    write_text(out / RESULTS_MD, markdown_table(spec, rows))
    write_csv(rows, out / RESULTS_CSV)
    plot(spec, rows, out / PLOT)
    return rows
