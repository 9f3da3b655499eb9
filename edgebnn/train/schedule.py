"""Epoch-wise learning-rate schedules (`--lr-schedule`), applied by the runner to every
optimizer an algorithm owns.

Why per epoch and multiplicative: the studies decay the rate over epochs, and one factor
f(epoch) times each parameter group's starting rate keeps an algorithm's own choice of rate
(per architecture, per segment) intact. A torch LambdaLR holds the state, so a checkpoint
resumes it exactly.

- constant: f = 1.
- cosine: f = ½(1 + cos(π·e/E)) after e of E epochs (decays to 0 at the end of the run).
- step: f = gamma^⌊e/step_size⌋ (defaults: step_size = max(1, E // 3), gamma = 0.1).
`cyclic` has its own per-iteration cosine (the paper's) and `local` no rate, so both accept
only `constant`."""
from __future__ import annotations

import math
from typing import Callable

import torch

from edgebnn.errors import UsageError

SCHEDULES = ("constant", "cosine", "step")
#: algorithms whose rate is not the runner's to schedule
OWN_SCHEDULE = {"cyclic": "has its own per-iteration cosine schedule",
                "local": "has no learning rate"}


def factor(schedule: str, epochs: int, step_size: int | None = None,
           gamma: float = 0.1) -> Callable[[int], float]:
    """f(e): the rate multiplier after e completed epochs of `epochs`."""
    if schedule == "constant":
        return lambda e: 1.0
    if schedule == "cosine":
        return lambda e: 0.5 * (1.0 + math.cos(math.pi * min(e, epochs) / epochs))
    if schedule == "step":
        size = step_size or max(1, epochs // 3)
        return lambda e: gamma ** (e // size)
    raise UsageError(f"unknown schedule {schedule!r}, expected one of {', '.join(SCHEDULES)}",
                     field="--lr-schedule")


def schedulers(optimizers: list[torch.optim.Optimizer], algo: str, schedule: str, epochs: int,
               step_size: int | None, gamma: float) -> list[torch.optim.lr_scheduler.LambdaLR]:
    """One LambdaLR per optimizer (stepped once per epoch); refuses a schedule for an algorithm
    whose rate is not scheduled here."""
    if schedule != "constant" and algo in OWN_SCHEDULE:
        raise UsageError(f"--algo {algo} {OWN_SCHEDULE[algo]}, expected constant, "
                         f"found {schedule!r}", field="--lr-schedule")
    if schedule != "step" and (step_size is not None or gamma != 0.1):
        raise UsageError("--lr-step-size and --lr-gamma shape the step schedule only, found "
                         f"--lr-schedule {schedule}", field="--lr-schedule")
    f = factor(schedule, epochs, step_size, gamma)
    return [torch.optim.lr_scheduler.LambdaLR(o, f) for o in optimizers]
