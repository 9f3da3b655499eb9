"""The training runs of a study (`compare`, `tune`): which are complete, and training the rest,
one after another in this process or `jobs` at a time in processes of their own.

Why processes and not threads: a run holds the interpreter for its Python-level loop, so only
separate processes train side by side — on a machine of many cores, or several runs sharing
one GPU (`--device cuda --jobs N`), which a study of small models leaves mostly idle. Each run
seeds everything itself (runner.train), so its figures do not depend on `jobs` at a fixed
number of threads per run (OMP_NUM_THREADS; without it each process takes cores / jobs). A
process trains one run and exits, so its peak RSS in metrics.json is that run's alone.
"""
from __future__ import annotations

import dataclasses
import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from edgebnn.errors import write_text
from edgebnn.runs import run_folder
from edgebnn.runs.config import TrainConfig
from edgebnn.train import device as devices
from edgebnn.train.runner import train

FAILED = "failed.txt"

Run = tuple[str, Path, TrainConfig]   # (label, run folder, config)


def is_complete(folder: Path, config: TrainConfig) -> bool:
    """metrics.json is written last by run_folder.save, so its presence marks a finished run;
    the config must also match, so changing --epochs (say) retrains instead of mixing settings."""
    try:
        saved = json.loads((folder / run_folder.CONFIG).read_text())
        return (folder / run_folder.METRICS).is_file() and saved == dataclasses.asdict(config)
    except (OSError, ValueError):
        return False


def _train_one(run: Run, device: str, progress: bool, desc: str) -> bool:
    """Trains one run into its folder; False, with the error in failed.txt, if it raised."""
    label, folder, config = run
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FAILED).unlink(missing_ok=True)
    try:
        train(config, folder, progress=progress, device=device)
    except Exception as e:  # noqa: BLE001 — recorded, reported in the table
        write_text(folder / FAILED, traceback.format_exc() + f"{type(e).__name__}: {e}\n")
        tqdm.write(f"{desc}: {label} failed: {type(e).__name__}: {e}")
        return False
    return True


def _worker(run: Run, device: str, threads: int | None, desc: str) -> None:
    """A job's process: exit status 0 trained, 1 failed (failed.txt written)."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    try:
        sys.exit(0 if _train_one(run, device, False, desc) else 1)
    except KeyboardInterrupt:   # Ctrl-C reaches every job: the study reports it once
        sys.exit(130)


def _stopped(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"the process training it was killed by {name} (out of memory, or stopped)"
    return f"the process training it exited with status {exitcode} before its run ended"


def train_missing(runs: Sequence[Run], device: str, progress: bool = True,
                  desc: str = "compare", jobs: int = 1) -> dict[str, list[int]]:
    """Trains every (label, folder, config) whose folder is not complete, `jobs` at a time;
    returns {"trained": …, "skipped": …, "failed": …} as run indices. A failing run is recorded
    in its folder's failed.txt (last line: the error) and the others go on, so one diverging
    rule does not cost the rest of the study; a killed sweep, run again, skips what finished."""
    devices.resolve(device)   # a device that is not there fails the study, not each run
    outcome: dict[str, list[int]] = {"trained": [], "skipped": [], "failed": []}
    todo = []
    for i, (_, folder, config) in enumerate(runs):
        (outcome["skipped"] if is_complete(folder, config) else todo).append(i)
    bar = tqdm(total=len(runs), initial=len(outcome["skipped"]), desc=desc, unit="run",
               disable=not progress)
    if jobs <= 1:
        for i in todo:
            bar.set_postfix_str(runs[i][0])
            outcome["trained" if _train_one(runs[i], device, progress, desc) else "failed"] \
                .append(i)
            bar.update()
    else:
        _train_in_processes(runs, todo, device, jobs, desc, outcome, bar)
    bar.close()
    for key in outcome:
        outcome[key].sort()
    return outcome


def _train_in_processes(runs: Sequence[Run], todo: list[int], device: str, jobs: int,
                        desc: str, outcome: dict[str, list[int]], bar: tqdm) -> None:
    """Keeps up to `jobs` processes (spawned: no forked torch state) training one run each."""
    threads = None if "OMP_NUM_THREADS" in os.environ else max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")
    pending, running = list(reversed(todo)), {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                i = pending.pop()
                proc = context.Process(target=_worker, args=(runs[i], device, threads, desc),
                                       name=f"edgebnn {desc}: {runs[i][0]}")
                proc.start()
                running[i] = proc
            ended = multiprocessing.connection.wait([p.sentinel for p in running.values()])
            for i, proc in list(running.items()):
                if proc.sentinel not in ended:
                    continue
                proc.join()
                del running[i]
                label, folder, _ = runs[i]
                if proc.exitcode == 0:
                    outcome["trained"].append(i)
                else:
                    if proc.exitcode != 1 or not (folder / FAILED).is_file():
                        message = _stopped(proc.exitcode)
                        folder.mkdir(parents=True, exist_ok=True)
                        write_text(folder / FAILED, message + "\n")
                        tqdm.write(f"{desc}: {label} failed: {message}")
                    outcome["failed"].append(i)
                bar.update()
    finally:   # an interrupted study stops its jobs; their runs resume when it is run again
        for proc in running.values():
            proc.terminate()
        for proc in running.values():
            proc.join()
