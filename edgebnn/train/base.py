"""The interface every training algorithm implements, and their registry.

An algorithm owns how one batch changes the model (gradients, feedback matrices, integer
updates, its optimizer); the runner owns everything else (data, epochs, evaluation, the run
folder). Adding an algorithm is one new module in train/algorithms/ defining a subclass with a
`name`: modules there are discovered on first use.
"""
from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from edgebnn.train.config import TrainConfig


@dataclass
class StepResult:
    loss: float
    correct: int


class Algorithm(ABC):
    name: ClassVar[str]
    #: learning rate used when the config gives none (the value its paper used)
    default_lr: ClassVar[float] = 1e-3

    def __init__(self, model: nn.Module, config: TrainConfig) -> None:
        self.model = model
        self.config = config
        self.lr = config.lr if config.lr is not None else self.default_lr

    @abstractmethod
    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> StepResult:
        """One update from a batch (x float NCHW 0..255, y int64); model is in train mode."""

    def end_epoch(self, epoch: int, train_accuracy: float) -> None:
        """Hook for per-epoch state (schedules, reinforcement probabilities)."""


_REGISTRY: dict[str, type[Algorithm]] = {}


def _discover() -> None:
    if _REGISTRY:
        return
    from edgebnn.train import algorithms
    for info in pkgutil.iter_modules(algorithms.__path__):
        importlib.import_module(f"{algorithms.__name__}.{info.name}")
    for cls in _all_subclasses(Algorithm):
        if getattr(cls, "name", None):
            _REGISTRY[cls.name] = cls


def _all_subclasses(cls: type) -> list[type]:
    return [s for c in cls.__subclasses__() for s in (c, *_all_subclasses(c))]


def algorithm_names() -> list[str]:
    _discover()
    return sorted(_REGISTRY)


def get_algorithm(name: str) -> type[Algorithm]:
    _discover()
    if name not in _REGISTRY:
        raise ValueError(f"unknown algorithm {name!r}, expected one of {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]
