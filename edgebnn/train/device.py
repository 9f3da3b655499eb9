"""Where training runs: `--device cpu|cuda|auto` (docs/training.md, "Devices").

Everything random — initial weights, feedback matrices, the batch order, augmentation — is
drawn on the CPU before anything moves, so a run's random streams do not depend on the device;
the trained model comes back to the CPU before it is measured and exported. On a machine
without CUDA, `auto` is the CPU and the run is the CPU run byte for byte; on a GPU the float
arithmetic rounds differently, so the weights are those of another, equally valid run (the
exported model then scores identically on every backend as always: export reads only the
weights).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import torch

from edgebnn.errors import UsageError

if TYPE_CHECKING:
    from edgebnn.train.base import Algorithm

#: the --device choices
CHOICES = ("cpu", "cuda", "auto")


def resolve(flag: str) -> torch.device:
    """The torch.device `flag` names: `auto` is CUDA when torch sees a GPU, else the CPU. Under
    torchrun each rank takes the GPU of its LOCAL_RANK (one process per device)."""
    if flag not in CHOICES:
        raise UsageError(f"unknown device {flag!r}", field="--device",
                         expected=" | ".join(CHOICES))
    available = torch.cuda.is_available()
    if flag == "cuda" and not available:
        build = (f"this torch {torch.__version__} is a CPU-only build"
                 if torch.version.cuda is None else "no CUDA device is visible")
        raise UsageError(f"CUDA is not available ({build}; docs/training.md, \"Devices\", "
                         "says how to install the CUDA build)", field="--device")
    if flag == "cpu" or not available:
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def batch_to(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A batch on `device`; through pinned memory, asynchronously, for a GPU (pinning only
    costs a copy on the CPU, so it is done only where a transfer follows)."""
    if device.type == "cpu":
        return t
    return t.pin_memory().to(device, non_blocking=True)


def _move(value: Any, device: torch.device) -> None:
    """Moves the tensors in `value` (a tensor, or a list / tuple / dict of them) in place:
    each tensor object swaps its contents with its copy on `device` (as nn.Module.to does where
    `.data` cannot change devices), so every alias of it (FA's per-layer matrix table, an
    optimizer's parameter list) follows."""
    if isinstance(value, torch.Tensor):
        if value.device != device:
            torch.utils.swap_tensors(value, value.detach().to(device).requires_grad_(
                value.requires_grad))
    elif isinstance(value, (list, tuple, torch.nn.ParameterList)):
        for v in value:
            _move(v, device)
    elif isinstance(value, dict):
        for v in value.values():
            _move(v, device)


def move_training(model: torch.nn.Module, algorithm: "Algorithm", device: torch.device) -> None:
    """Puts the model and the rule's own tensors (feedback matrices, learned scales) on
    `device`, after both were built on the CPU. Parameters keep their identity, so the
    optimizers built on them stay valid; generators stay on the CPU (their draws are moved)."""
    if device.type == "cpu":
        return
    _move([*model.parameters(), *model.buffers()], device)   # in place, as below
    for name, value in vars(algorithm).items():
        if name not in algorithm._NOT_STATE:   # the model (moved above), config, meter
            _move(value, device)
