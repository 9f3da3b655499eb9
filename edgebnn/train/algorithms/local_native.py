"""The native engine of `--algo local`: the rule's update run by the C core's trainer
(native/src/train/local.c, the code a device runs), byte for byte the weights of the torch
reference path (`--algo-arg engine=torch`, local.py's LocalRule.train_step) at the speed of
its XNOR, popcount and integer arithmetic.

The torch model stays the truth between steps: the engine exports the chain with its `trnl`
section (the rule's γ, seed, batch counter and this epoch's p_q) into a C trainer the first time
it steps, and again whenever the counter or the thresholds it was built with no longer match the
rule's (a new epoch, a resumed run); after every step it copies the C core's integer weights back
into the IntegerLinear layers, so evaluation, checkpoints and export read them as ever.

Data-parallel ranks (edgebnn/train/distributed.py) compose as in the torch path: each rank's C
core computes its shard's int32 increments without applying them (ebnn_local_increments), the
ranks sum them (all_reduce SUM), and every rank applies the sum once (ebnn_local_apply), so N
processes give exactly the weights of one.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from edgebnn import format as fmt
from edgebnn.errors import UsageError
from edgebnn.export.ebnn import export_model
from edgebnn.native import LocalTrainer, NativeError
from edgebnn.ondevice import local
from edgebnn.train import distributed
from edgebnn.train.base import StepResult

if TYPE_CHECKING:
    from edgebnn.train.algorithms.local import LocalRule

#: `--algo-arg engine=…`: where the rule's update runs
ENGINES = ("native", "torch")
DEFAULT_ENGINE = "native"
#: the widest hidden weights the C core stores (ebnn_train_local: 1 or 2 bytes)
MAX_WEIGHT_BITS = 16


def engine(algo_kwargs: dict) -> str:
    """The engine asked for (`--algo-arg engine=native|torch`, default native)."""
    name = algo_kwargs.get("engine", DEFAULT_ENGINE)
    if name not in ENGINES:
        raise UsageError(f"--algo-arg engine: expected one of {', '.join(ENGINES)}, got {name!r}")
    return name


class NativeEngine:
    """Runs LocalRule's steps in the host build of the C core's `local` trainer."""

    def __init__(self, rule: "LocalRule") -> None:
        bits = rule.hidden[0].weight_bits
        if bits > MAX_WEIGHT_BITS:
            raise UsageError(f"--algo-arg engine=native: the C core stores hidden weights of at "
                             f"most {MAX_WEIGHT_BITS} bits, weight_bits is {bits}; use "
                             f"--algo-arg engine=torch")
        self.rule = rule
        self._trainer: LocalTrainer | None = None
        self._weights: list[np.ndarray] = []   # views of the trainer's hidden weights
        self._built_for: tuple[int, tuple[int, ...]] | None = None

    def _build(self) -> LocalTrainer:
        """A C trainer over the chain's current weights and the rule's state."""
        chain = self.rule.model
        training = chain.training
        exported = export_model(chain, tuple(chain.input_threshold().threshold.shape),
                                self.rule.readouts[0].shape[1])
        chain.train(training)   # export_model switches to eval mode
        exported.extra_sections[local.TAG] = local.from_rule(self.rule, self.rule.step)
        try:
            return LocalTrainer(fmt.to_bytes(exported), "--algo local (native engine)")
        except NativeError as e:   # a chain beyond the C core's limits (e.g. > 256 classes)
            raise UsageError(f"{e}; use --algo-arg engine=torch") from None

    def trainer(self) -> LocalTrainer:
        """The C trainer for the rule's current batch counter and thresholds."""
        key = (self.rule.step, tuple(self.rule.thresholds()))
        if self._trainer is None or self._built_for != key:
            self._trainer, self._built_for = self._build(), key
            self._weights = local.weight_views(self._trainer.section())
        return self._trainer

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> StepResult:
        """LocalRule.train_step's update (x float NCHW 0..255, y int64), in the C core."""
        if x.device.type != "cpu":   # the C core reads and writes host memory
            raise UsageError(f"--algo local: the native engine trains on the CPU, the model is "
                             f"on {x.device.type}; use --algo-arg engine=torch there")
        trainer = self.trainer()
        # numpy, not torch, for the conversions and copies: torch's intra-op threads cost more
        # than these small copies (and far more on a loaded machine)
        images = x.permute(0, 2, 3, 1).numpy().astype(np.uint8)   # the 0..255 integers
        labels = y.numpy()
        # every rank's shard has samples (the runner refuses batches smaller than the ranks)
        increments, correct, wrong = trainer.increments(images, labels)
        total = distributed.sum_(torch.from_numpy(increments)).numpy()
        trainer.apply(total)
        for layer, w in zip(self.rule.hidden, self._weights):
            np.copyto(layer.weight.detach().numpy(), w)   # the torch weights follow
        self.rule.step += 1
        self._built_for = (self.rule.step, self._built_for[1])
        return StepResult(wrong / len(labels), correct)
