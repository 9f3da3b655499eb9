#!/usr/bin/env python3
"""Measures each training rule's memory relative to backprop at ImageNette's 224×224 input and
writes a markdown table, to set beside the comparative study's GPU figures (DRTP / HSIC /
SigpropTL = 0.45 / 0.51 / 0.59 of BP's peak on VGG-19, 0.62 / 0.60 / 0.75 on MobileNetV2,
0.42 / 0.31 / 0.40 on MLP-Mixer; DFA = BP on all three, because its code kept the graph).

Why a separate tool and not a test: one 224×224 training step of a VGG-style network costs
billions of MACs per image, minutes on a CPU, which the default test run cannot afford. Why
one step suffices: a rule's peak learning-signal memory is the same every step (it depends on
shapes, not values), so synthetic random inputs measure it as well as real images do. The meter
is the runner's (edgebnn/train/memory.py): autograd's saved tensors and the tensors a rule
holds outside autograd, counted while `train_step` runs, plus feedback matrices, parameters,
gradients and optimizer state after the step (Adam's moments exist only after one).

Batch size: the study used 64; here it is the largest of 64, 32, 16, … whose backprop learning
signal, doubled for headroom (the widest rule and torch's transient buffers), fits the budget
(--budget-gib, default 8), measured from a 2-image probe. --batch overrides it.

    OMP_NUM_THREADS=1 .venv/bin/python tools/memory_ratios.py --models vgg,mobilenetv2,mixer \
        --out ratios.md

Time: `--steps N` trains N steps and reports the mean time of steps 2..N (the first also
allocates Adam's moments and warms torch's kernels), per step and per image, and the training
MACs per image (train/memory.py's count), from which docs/results.md extrapolates an epoch
("ImageNette at 224 px on a GPU, on paper"). Memory is the peak over all N steps, the same as
one step's.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgebnn.models import build_from_spec  # noqa: E402
from edgebnn.train import TrainConfig, algorithm_names, get_algorithm  # noqa: E402
from edgebnn.train import memory  # noqa: E402

N_CLASSES = 10           # ImageNette
#: the study's peak GPU memory ÷ BP's, by our model name (`cnn` is a VGG-style network)
_VGG19 = {"bp": 1.0, "dfa": 1.0, "drtp": 0.45, "hsic": 0.51, "sigprop": 0.59}
LITERATURE = {
    "vgg": ("VGG-19", _VGG19),
    "cnn": ("VGG-19", _VGG19),
    "mobilenetv2": ("MobileNetV2", {"bp": 1.0, "dfa": 1.0, "drtp": 0.62, "hsic": 0.60,
                                    "sigprop": 0.75}),
    "mixer": ("MLP-Mixer", {"bp": 1.0, "dfa": 1.0, "drtp": 0.42, "hsic": 0.31, "sigprop": 0.40}),
}


@dataclass
class Measurement:
    algo: str
    batch: int
    memory: dict[str, Any] | None = None   # metrics.json's "memory" entry
    seconds: float = float("nan")          # per step (the mean of steps 2..N when N > 1)
    macs_per_image: int = 0                # training MACs per sample (train/memory.py)
    error: str = ""


def _spec(model: str, size: int, model_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The spec the runner would build for `--model` on 224×224 RGB, 10 classes."""
    return {"name": model, "input_shape": [size, size, 3], "n_classes": N_CLASSES,
            "kwargs": dict(model_kwargs), "classes": [str(c) for c in range(N_CLASSES)]}


def measure(algo: str, model: str, size: int, batch: int, model_kwargs: dict[str, Any],
            seed: int = 0, steps: int = 1) -> Measurement:
    """`steps` training steps of `algo` on random uint8-range images: their "memory" report,
    step time and training MACs per image."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    try:
        algo_cls = get_algorithm(algo)
        spec = algo_cls.model_spec(_spec(model, size, model_kwargs))
    except ValueError as e:   # e.g. `local` trains MLP chains only
        return Measurement(algo, batch, error=str(e))
    net = build_from_spec(spec)
    rule = algo_cls(net, TrainConfig(model=model, model_kwargs=model_kwargs, algo=algo,
                                     batch_size=batch, epochs=1, seed=seed))
    images = rng.integers(0, 256, size=(batch, size, size, 3), dtype=np.uint8)
    rule.prepare(images)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    y = torch.from_numpy(rng.integers(0, N_CLASSES, size=batch)).long()
    net.train()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        with rule.meter.measure():
            rule.train_step(x, y)
        times.append(time.perf_counter() - start)
    costs = memory.layer_costs(net, (size, size, 3), N_CLASSES, batch)
    report = memory.report(rule, costs)
    return Measurement(algo, batch, report["memory"], float(np.mean(times[1:] or times)),
                       report["compute"]["training_macs_per_sample"])


def choose_batch(model: str, size: int, model_kwargs: dict[str, Any], budget: float) -> int:
    per_image = measure("bp", model, size, 2, model_kwargs).memory["learning_signal_bytes"] / 2
    batch = 64
    while batch > 1 and 2 * per_image * batch > budget:
        batch //= 2
    return batch


def _mib(n: float) -> str:
    return f"{n / 2**20:,.1f}"


def table(model: str, size: int, rows: list[Measurement], steps: int = 1) -> str:
    bp = next((r.memory for r in rows if r.algo == "bp" and r.memory), None)
    arch, figures = LITERATURE.get(model, ("none", {}))
    head = ("| algorithm | learning signal, MiB | ÷ bp | training memory, MiB | ÷ bp | "
            f"published ÷ bp ({arch}, GPU peak) | step, s | s / image | training GMACs / image |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        published = f"{figures[r.algo]:.2f}" if r.algo in figures else "–"
        if r.memory is None:
            lines.append(f"| `{r.algo}` | not measured: {r.error} | | | | {published} | | | |")
            continue
        ls, total = r.memory["learning_signal_bytes"], r.memory["total_bytes"]
        ratio = (lambda v, k: f"{v / bp[k]:.2f}") if bp else (lambda v, k: "–")
        lines.append(f"| `{r.algo}` | {_mib(ls)} | {ratio(ls, 'learning_signal_bytes')} | "
                     f"{_mib(total)} | {ratio(total, 'total_bytes')} | {published} | "
                     f"{r.seconds:.1f} | {r.seconds / r.batch:.3f} | {r.macs_per_image / 1e9:.3g} |")
    batch = rows[0].batch if rows else 0
    return (f"Model `{model}` at {size}×{size}×3, {N_CLASSES} classes, batch {batch}, "
            + ("one training step" if steps == 1 else f"{steps} training steps (time: mean of "
               "steps 2..N)") + " on random images.\n\n" + "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="vgg,mobilenetv2,mixer",
                   help="comma-separated model names (vgg, mobilenetv2, mixer, resnet18, cnn, mlp)")
    p.add_argument("--algos", default=",".join(algorithm_names()))
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, help="images per step (default: as fits the budget)")
    p.add_argument("--budget-gib", type=float, default=8.0)
    p.add_argument("--steps", type=int, default=1,
                   help="training steps per rule; time is the mean of steps 2..N")
    p.add_argument("--layers", help="mlp hidden sizes (default 700,500,300,200)",
                   default="700,500,300,200")
    p.add_argument("--width", type=int, help="cnn base channel count (default: the model's)")
    p.add_argument("--out", type=Path, help="markdown file to write (default: stdout only)")
    args = p.parse_args(argv)

    sections = []
    for model in [m for m in args.models.split(",") if m]:
        kwargs: dict[str, Any] = {}
        if model == "mlp":
            kwargs["layers"] = [int(v) for v in args.layers.split(",")]
        elif args.width:
            kwargs["width"] = args.width
        batch = args.batch or choose_batch(model, args.size, kwargs, args.budget_gib * 2**30)
        rows = []
        for algo in [a for a in args.algos.split(",") if a]:
            print(f"{model} {algo} batch {batch} ...", file=sys.stderr, flush=True)
            rows.append(measure(algo, model, args.size, batch, kwargs, steps=args.steps))
        sections.append(table(model, args.size, rows, args.steps))
    text = "\n".join(sections)
    print(text, end="")
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
