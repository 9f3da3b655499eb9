#!/usr/bin/env python3
"""Times one full-MNIST-sized training epoch of `--algo local` on its two engines (the C core,
the default, and the torch reference) beside backprop's, side by side in one process, and
checks that the two local engines end with the same weights byte for byte.

Why random data: the speed depends on the shapes (60,000 × 784 uint8 inputs, the study's
700-500-300-200 widths, batch 100 as the rule's paper), not on the pixels; uniform random
images and labels keep nearly every sample wrong, so every step also runs the rule's full
selection and increment work (the slowest case). Written as IDX files, they go through the same
`--data idx:DIR` loader and runner as a user's MNIST. One thread each (torch.set_num_threads(1),
the C trainer is single-threaded), as the figures in docs/training.md.

    .venv/bin/python tools/local_epoch_speed.py [--samples 60000] [--skip-torch]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from edgebnn.runs import run_folder
from edgebnn.train import TrainConfig, train

LAYERS = [700, 500, 300, 200]


def write_idx(folder: Path, n_train: int, n_test: int, seed: int = 0) -> None:
    """Random uint8 28 × 28 images and labels 0..9 as the four IDX files of MNIST."""
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        head = np.array([0x0803, n, 28, 28], dtype=">u4").tobytes()
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(head + images.tobytes())
        head = np.array([0x0801, n], dtype=">u4").tobytes()
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(head + labels.tobytes())


def epoch(folder: Path, out: Path, algo: str, **algo_kwargs: str) -> float:
    """Seconds of one epoch's training steps (the runner's own epoch_seconds)."""
    config = TrainConfig(data=f"idx:{folder}", algo=algo, model="mlp",
                         model_kwargs={"layers": LAYERS}, epochs=1, batch_size=100, seed=0,
                         algo_kwargs=algo_kwargs)
    start = time.perf_counter()
    metrics = train(config, out, progress=False)
    seconds = float(metrics["epoch_seconds"][0])
    print(f"{algo} {algo_kwargs or ''}: epoch {seconds:.1f} s (whole run "
          f"{time.perf_counter() - start:.1f} s)", flush=True)
    return seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=60_000, help="training images (MNIST: 60,000)")
    p.add_argument("--skip-torch", action="store_true",
                   help="leave out the torch engine of local (the slow reference)")
    args = p.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "idx").mkdir()
        write_idx(tmp / "idx", args.samples, 10_000)
        native = epoch(tmp / "idx", tmp / "native", "local")
        bp = epoch(tmp / "idx", tmp / "bp", "bp")
        print(f"local native vs bp: {bp / native:.1f}x faster")
        if not args.skip_torch:
            reference = epoch(tmp / "idx", tmp / "torch", "local", engine="torch")
            print(f"local native vs torch: {reference / native:.1f}x faster")
            a = run_folder.load(tmp / "native")[0].state_dict()
            b = run_folder.load(tmp / "torch")[0].state_dict()
            same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
            print(f"weights native == torch: {same}")
            if not same:
                raise SystemExit(1)


if __name__ == "__main__":
    main()
