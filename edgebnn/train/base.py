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
from typing import Any, ClassVar, Iterable

import numpy as np
import torch
from torch import nn

from edgebnn.nn.layers import _BinaryWeights
from edgebnn.runs.config import TrainConfig
from edgebnn.train.memory import LayerCosts, MemoryMeter
from edgebnn.errors import UsageError


@dataclass
class StepResult:
    loss: float
    correct: int


def decay_groups(params: Iterable[nn.Parameter], model: nn.Module,
                 weight_decay: float) -> list[dict[str, Any]]:
    """Optimizer parameter groups: `weight_decay` on real-valued weights only.

    L2 decay means nothing for a latent binary weight — sign() ignores its magnitude — and all
    it does is pull the latent value to 0, where every step flips the sign: measured on the
    edge ResNet-18 (docs/results.md), decay 1e-5 over all parameters left 55 % where none gave
    89 %. Batch-norm scales and shifts (which fold into integer thresholds), the classifier's
    temperature and per-channel scales are not weights either. What decays is the float
    weights of the `--binarize acts|none` ablations, the one place L2 regularises a function."""
    params = list(params)
    decayed = {id(m.weight) for m in model.modules()
               if isinstance(m, _BinaryWeights) and not m.binary}
    groups = [{"params": [p for p in params if id(p) in decayed], "weight_decay": weight_decay},
              {"params": [p for p in params if id(p) not in decayed], "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


class Algorithm(ABC):
    name: ClassVar[str]
    #: learning rate used when the config gives none (the value its paper used)
    default_lr: ClassVar[float] = 1e-3

    def __init__(self, model: nn.Module, config: TrainConfig) -> None:
        self.model = model
        self.config = config
        self.lr = config.lr if config.lr is not None else self.default_lr
        #: counts what train_step keeps for its learning signal (train/memory.py)
        self.meter = MemoryMeter(model)

    @classmethod
    def model_spec(cls, spec: dict) -> dict:
        """The spec of the model this algorithm trains, given the one asked for (`--model`).
        Default: that model. An algorithm with its own architecture (`local`'s chain of
        sub-networks) maps the request onto it; the run folder stores the returned spec."""
        return spec

    def prepare(self, train_x: np.ndarray) -> None:
        """Called once before the first epoch with the uint8 training images (N, H, W, C), for
        data statistics a model needs (`local`: the per-feature input medians)."""

    @abstractmethod
    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> StepResult:
        """One update from a batch (x float NCHW 0..255, y int64); model is in train mode."""

    def end_epoch(self, epoch: int, train_accuracy: float) -> None:
        """Hook for per-epoch state (schedules, reinforcement probabilities)."""

    # Checkpoints (train/checkpoint.py). An algorithm's mutable state is its attributes of the
    # kinds below, so a new rule is checkpointed without code of its own; the model, the config
    # and what is rebuilt from them (segments, readouts, the meter) are not state.

    _NOT_STATE = ("model", "config", "meter")

    def state_dict(self) -> dict[str, Any]:
        """Optimizers, schedulers, generators, tensors (feedback matrices, learned scales),
        lists of tensors and numbers, by attribute name."""
        state: dict[str, Any] = {}
        for name, value in vars(self).items():
            if name in self._NOT_STATE:
                continue
            if isinstance(value, (torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler)):
                state[name] = value.state_dict()
            elif isinstance(value, torch.Generator):
                state[name] = value.get_state()
            elif isinstance(value, torch.Tensor):
                state[name] = value.detach().clone()
            elif isinstance(value, (list, nn.ParameterList)) and value and all(
                    isinstance(v, torch.Tensor) for v in value):
                state[name] = [v.detach().clone() for v in value]
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                state[name] = value
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores `state_dict`'s output in place (tensors are copied into the existing ones,
        so aliases such as FA's per-layer matrix table stay valid). KeyError / ValueError
        naming the attribute when the state is not this algorithm's."""
        mine = self.state_dict()
        lazy = {name for name in state if getattr(self, name, 0) is None}  # made on first use
        if set(mine) != set(state) - lazy:
            raise KeyError(f"expected entries {sorted(mine)}, found {sorted(state)}")
        for name, saved in state.items():
            value = getattr(self, name)
            if name in lazy:
                setattr(self, name, saved)
                continue
            if isinstance(value, (torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler)):
                value.load_state_dict(saved)
            elif isinstance(value, torch.Generator):
                value.set_state(saved)
            elif isinstance(value, (torch.Tensor, list, nn.ParameterList)):
                pairs = zip([value] if isinstance(value, torch.Tensor) else value,
                            [saved] if isinstance(value, torch.Tensor) else saved)
                if len(mine[name] if isinstance(mine[name], list) else [0]) != len(
                        saved if isinstance(saved, list) else [0]):
                    raise ValueError(f"{name}: expected {len(mine[name])} tensors")
                with torch.no_grad():
                    for v, s in pairs:
                        if v.shape != s.shape:
                            raise ValueError(f"{name}: expected shape {tuple(v.shape)}, "
                                             f"found {tuple(s.shape)}")
                        v.copy_(s)
            else:
                setattr(self, name, type(value)(saved))

    # Memory and compute accounting (train/memory.py). Autograd's saved tensors are measured
    # generically; a rule declares only what autograd cannot see.

    def feedback_tensors(self) -> list[torch.Tensor]:
        """Fixed tensors the rule keeps besides the model (feedback matrices)."""
        return []

    def optimizers(self) -> list[torch.optim.Optimizer]:
        """The optimizers whose state counts as training memory (found among attributes)."""
        return [v for v in vars(self).values() if isinstance(v, torch.optim.Optimizer)]

    def training_macs(self, costs: LayerCosts) -> int:
        """MACs per sample of one training step; the default is backprop's cost model,
        forward + input gradients (none for the first layer) + weight gradients."""
        return 3 * costs.total - costs.forward[0]

    def compute_details(self, costs: LayerCosts) -> dict[str, Any]:
        """Extra entries for metrics.json's "compute" (`cyclic`: its bit-weighted cost model,
        the full-precision count and the saving); none by default."""
        return {}


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
        raise UsageError(f"unknown algorithm {name!r}, expected one of {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]
