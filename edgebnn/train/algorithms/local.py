"""`local`: gradient-free training with local binary error signals (Colombo, Pittorino & Roveri,
"Local binary error signals", arXiv 2412.00119) — the PyTorch trainer behind the common
interface. The rule itself, its integer update `local_step`, its γ and seed defaults and its
reinforcement schedule, lives in edgebnn/ondevice/local.py, where the device's C port is checked
against it; this module runs it on a LocalChain (edgebnn/models/local_chain.py) batch by batch,
fits the input thresholds and makes the disabled input features cancel (`cancel_disabled`).
By default the steps run in the C core (local_native.py, the same weights byte for byte);
`--algo-arg engine=torch` runs them here, the reference.
"""
from __future__ import annotations

import numpy as np
import torch

from edgebnn.models.local_chain import LocalChain
from edgebnn.ondevice import local
from edgebnn.runs.config import TrainConfig
from edgebnn.train import distributed
from edgebnn.train.algorithms import local_native
from edgebnn.train.base import Algorithm, StepResult
from edgebnn.errors import UsageError


def cancel_disabled(layer: torch.nn.Module, disabled: np.ndarray) -> None:
    """Weights ±1, alternating along each row (starting with +1 on even rows, −1 on odd ones),
    in the columns of the disabled features, whose inputs are a constant +1: they then add 0 (or
    ±1) to every unit's z instead of a bias that the update would keep moving."""
    cols = np.flatnonzero(disabled)
    rows = np.arange(layer.weight.shape[0])[:, None]
    pattern = 1 - 2 * ((rows + np.arange(len(cols))[None, :]) % 2)
    with torch.no_grad():
        layer.weight[:, torch.from_numpy(cols)] = torch.from_numpy(pattern).to(layer.weight.dtype)


class LocalRule(Algorithm):
    """`--algo local`: trains LocalChain sub-networks with `local.local_step`."""

    name = "local"

    def __init__(self, model: LocalChain, config: TrainConfig) -> None:
        super().__init__(model, config)
        if not isinstance(model, LocalChain):
            raise UsageError("--algo local trains the local_chain model (given an `mlp` spec it "
                             f"builds one), not {type(model).__name__}")
        self.hidden = model.hidden_layers()
        self.gammas = local.gammas([l.out_features for l in self.hidden],
                                   config.algo_kwargs.get("gamma"))
        self.seed = local.rule_seed(config.algo_kwargs, config.seed)
        self.readouts = [model.readout(l).numpy() for l in range(len(self.hidden))]
        self.train_accuracy = 0.0   # "previous epoch" before the first one
        self.step = 0
        self.native = (local_native.NativeEngine(self)
                       if local_native.engine(config.algo_kwargs) == "native" else None)

    @classmethod
    def model_spec(cls, spec: dict) -> dict:
        """`--model mlp --layers …` becomes the chain with those hidden sizes. The chain is
        binary only (integer hidden weights, ±1 activations), so a partial binarization is an
        error rather than an option silently left out."""
        binarize = spec["kwargs"].get("binarize", "both")
        if binarize != "both":
            raise UsageError(f"--binarize: --algo local trains a fully binary chain (integer "
                             f"weights, ±1 activations), expected both, got {binarize!r}")
        if spec["name"] == "mlp":
            kwargs = {k: v for k, v in spec["kwargs"].items() if k in ("layers", "weight_bits")}
            return {**spec, "name": "local_chain", "kwargs": kwargs}
        if spec["name"] != "local_chain":
            raise UsageError(f"--algo local trains an MLP chain (--model mlp), not {spec['name']!r}")
        return spec

    def prepare(self, train_x: np.ndarray) -> None:
        threshold = self.model.input_threshold()
        threshold.fit(train_x)
        cancel_disabled(self.hidden[0], threshold.disabled_features())

    def thresholds(self) -> list[int]:
        """This epoch's reinforcement thresholds p_q per sub-network."""
        return local.thresholds(self.train_accuracy, [l.in_features for l in self.hidden])

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> StepResult:
        if self.native is not None:
            return self.native.train_step(x, y)
        with torch.no_grad():
            h = self.model.input_threshold()(x).flatten(1).to(torch.int8).numpy()
        labels = y.numpy()
        frozen = self.model.input_threshold().disabled_features()
        for l, (layer, p_q) in enumerate(zip(self.hidden, self.thresholds())):
            w = layer.weight.numpy()
            res = local.local_step(w, h, labels, self.readouts[l], self.gammas[l], layer.limits,
                                   p_q, self.seed, self.step, l, frozen if l == 0 else None,
                                   apply=False)
            # data-parallel ranks: the batch's increment is the sum of the ranks' increments
            increment = distributed.sum_(torch.from_numpy(res.weights)).numpy()
            new = local.apply_increment(w, increment, layer.limits, p_q, self.seed, self.step, l)
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(new))
            h = res.h
        self.step += 1
        return StepResult(float(res.wrong.mean()), int((res.pred == labels).sum()))

    def end_epoch(self, epoch: int, train_accuracy: float) -> None:
        self.train_accuracy = train_accuracy

    def training_macs(self, costs) -> int:
        """Per sample: the forward pass (hidden layers and output readout), the intermediate
        readouts K_l·C, and at most one increment row of N_in per group of every layer. They are
        XNOR-popcount or increment operations, not multiplies; counted as MACs for comparison."""
        hidden = self.hidden
        readouts = sum(l.out_features * costs.n_classes for l in hidden[:-1])
        increments = sum(-(-l.out_features // g) * l.in_features
                         for l, g in zip(hidden, self.gammas))
        return costs.total + readouts + increments
