"""`local`: gradient-free training with local binary error signals (Colombo, Pittorino & Roveri,
"Local binary error signals", arXiv 2412.00119).

The model is a chain of sub-networks (edgebnn/models/local_chain.py): sub-network l computes
z = x·sign(W)ᵀ with integer hidden weights W (K × N_in), h = sign(z), and integer class scores
o = h·R with a frozen random ±1 readout R (K × C); h is the next sub-network's input. Every
sub-network learns from its own readout only, so no error travels between layers and the update
uses nothing but XNOR/popcount sums, comparisons and integer increments — which is why it can run
on a microcontroller (issue 4 ports `local_step` to C; it must stay bit-identical).

One update of one sub-network from a batch (`local_step`, the reference the C port is checked
against; integers only):
 1. z = x·sign(W)ᵀ, h = sign(z) with sign(0) = +1 (as everywhere in edgebnn), o = h·R.
 2. A sample is *wrong* if argmax o ≠ y (first index of the maximum, as the C core's argmax) or
    its margin o_y − max_{c≠y} o_c is below ⌊K/4⌋ (the paper's top-2 margin ⌊0.25·K⌋).
 3. Its local target is t = R[:, y] (the true class's readout column). Unit j of a wrong sample
    errs if z_j·t_j < 0, as in the paper (a unit at z_j = 0 is never selected).
 4. Units are split into consecutive groups of γ (the last group may be shorter). In each group
    only the erring unit with the smallest |z_j| — the cheapest to flip — is selected (mask m;
    ties go to the lowest index).
 5. W += 2·(t ⊙ m)ᵀ·x summed over the batch, then saturated to the storage width.
 6. Stochastic reinforcement: every weight independently gets W += 2·sign(W) (sign(0) = +1, the
    sign the forward pass already uses), saturated, with probability
    p = 0.5·√(1 − acc)·√(2/(π·N_in)), acc = the previous epoch's training accuracy (0 before the
    first). p is turned into the integer p_q = ⌊p·2³²⌋ once per epoch — the only float, outside
    the update — and weight i is reinforced iff r_i < p_q, with
        key = fmix32(seed ⊕ fmix32(step·256 + layer)),  r_i = fmix32(key ⊕ (i·0x9E3779B9 mod 2³²))
    where fmix32 is MurmurHash3's 32-bit finalizer, step counts batches from 0, layer < 256 and i
    is the row-major index of W. A counter-based generator needs no state and is cheap in C.
Every sub-network sees the h its predecessor computed *before* its own update (one forward
pass per batch).

Disabled input features (edgebnn/nn/threshold.py: threshold 0, always +1) never update: step 5's
increment is zero in their columns of the first sub-network, and `prepare` gives their weights
alternating signs ±1 along each row, so their constant inputs cancel in z (to 0, or ±1 when
their number is odd) instead of acting as a bias. Reinforcement leaves them alone in effect: it
grows |W| without changing a sign.

Storage: hidden weights are int8 by default (`weight_bits`, algo_kwargs; the paper counts them
as 8-bit in its memory model and leaves them unclipped), saturating at [−2^(b−1), 2^(b−1) − 1].
Init W = trunc(N(0, 8²)) as in the paper's code. Defaults: batch 100, γ from the paper's table
(K = 35/75/135/255/525/1035 → γ = 35/75/45/85/105/115, i.e. 1/1/3/3/5/9 groups); another K uses
the group count of the nearest tabulated K on a log scale, γ = ⌈K / groups⌉ (K = 256 → 3 groups,
γ = 86). `gamma` in algo_kwargs overrides it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from edgebnn.models.local_chain import LocalChain
from edgebnn.train.base import Algorithm, StepResult
from edgebnn.train.config import TrainConfig
from edgebnn.errors import UsageError

#: K → γ of the paper's result files
GAMMA_TABLE = {35: 35, 75: 75, 135: 45, 255: 85, 525: 105, 1035: 115}
#: the paper's batch size; used when the config keeps the runner's generic default
DEFAULT_BATCH = 100
_GOLDEN = 0x9E3779B9
_M32 = 0xFFFFFFFF


def default_gamma(k: int) -> int:
    """γ for K hidden units: the group count of the nearest tabulated K (log scale)."""
    nearest = min(GAMMA_TABLE, key=lambda t: abs(math.log(k / t)))
    groups = nearest // GAMMA_TABLE[nearest]
    return -(-k // max(1, min(groups, k)))


def fmix32(h: np.ndarray | int) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer on uint32 values (computed in uint64, masked)."""
    h = np.asarray(h, dtype=np.uint64) & _M32
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & _M32
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & _M32
    h ^= h >> np.uint64(16)
    return h


def reinforce_draws(shape: tuple[int, int], seed: int, step: int, layer: int) -> np.ndarray:
    """The uint32 numbers r_i compared with p_q for every weight (module docstring)."""
    key = fmix32(np.uint64(seed & _M32) ^ fmix32((step * 256 + layer) & _M32))
    i = np.arange(shape[0] * shape[1], dtype=np.uint64)
    return fmix32(key ^ ((i * np.uint64(_GOLDEN)) & _M32)).reshape(shape)


def reinforce_probability(train_accuracy: float, n_in: int) -> float:
    """p = 0.5·√(1 − acc)·√(2/(π·N_in))."""
    return 0.5 * math.sqrt(max(0.0, 1.0 - train_accuracy)) * math.sqrt(2.0 / (math.pi * n_in))


def probability_to_u32(p: float) -> int:
    """p_q = ⌊p·2³²⌋ clipped to a u32: weight i is reinforced iff r_i < p_q."""
    return int(min(max(p, 0.0) * 2.0**32, float(_M32)))


def sign(a: np.ndarray) -> np.ndarray:
    """±1 int32 with sign(0) = +1."""
    return np.where(a >= 0, 1, -1).astype(np.int32)


@dataclass
class LocalStep:
    weights: np.ndarray     # updated W, same dtype as given
    h: np.ndarray           # ±1 int8 (B, K): this sub-network's output before the update
    pred: np.ndarray        # argmax of the readout scores (B,)
    wrong: np.ndarray       # bool (B,): the samples that drove the update
    mask: np.ndarray        # bool (B, K): the selected units


def local_step(w: np.ndarray, x: np.ndarray, y: np.ndarray, readout: np.ndarray, gamma: int,
               limits: tuple[int, int], p_q: int = 0, seed: int = 0, step: int = 0,
               layer: int = 0, frozen: np.ndarray | None = None) -> LocalStep:
    """One update of one sub-network (the integer reference; see the module docstring).

    w: integer (K, N_in); x: ±1 integer (B, N_in); y: int (B,); readout: ±1 (K, C);
    limits: the saturation range of w; p_q: the reinforcement threshold as a u32;
    frozen: bool (N_in,), the disabled input features whose columns step 5 leaves alone."""
    lo, hi = limits
    x = x.astype(np.int32)
    r = readout.astype(np.int32)
    k = w.shape[0]
    z = x @ sign(w).T                                   # (B, K) exact integers
    h = sign(z)
    o = h @ r                                           # (B, C)
    rows = np.arange(len(y))
    pred = o.argmax(axis=1)
    others = o.copy()
    others[rows, y] = np.iinfo(np.int32).min
    margin = o[rows, y] - others.max(axis=1)
    wrong = (pred != y) | (margin < k // 4)
    t = r[:, y].T                                       # (B, K) local targets
    err = (z * t < 0) & wrong[:, None]

    # per group of gamma units: the erring unit with the smallest |z| (first on ties)
    n_groups = -(-k // gamma)
    big = np.int64(np.iinfo(np.int64).max)   # an int64 scalar: a Python int would be cast
    cost = np.full((len(y), n_groups * gamma), big, dtype=np.int64)   # to z's int32 and wrap
    cost[:, :k] = np.where(err, np.abs(z).astype(np.int64), big)
    cost = cost.reshape(len(y), n_groups, gamma)
    best = cost.argmin(axis=2)                          # (B, groups)
    chosen = np.take_along_axis(cost, best[..., None], axis=2)[..., 0] < big
    mask = np.zeros((len(y), n_groups * gamma), dtype=bool)
    b_idx, g_idx = np.nonzero(chosen)
    mask[b_idx, g_idx * gamma + best[b_idx, g_idx]] = True
    mask = mask[:, :k]

    increment = (t * mask).T.astype(np.int64) @ x.astype(np.int64)
    if frozen is not None:
        increment[:, frozen] = 0
    new = w.astype(np.int64) + 2 * increment
    new = np.clip(new, lo, hi)
    if p_q > 0:
        hit = reinforce_draws(new.shape, seed, step, layer) < np.uint64(p_q)
        new = np.clip(new + 2 * hit * sign(new), lo, hi)
    return LocalStep(new.astype(w.dtype), h.astype(np.int8), pred, wrong, mask)


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
    """`--algo local`: trains LocalChain sub-networks with `local_step` (module docstring)."""

    name = "local"

    def __init__(self, model: LocalChain, config: TrainConfig) -> None:
        super().__init__(model, config)
        if not isinstance(model, LocalChain):
            raise UsageError("--algo local trains the local_chain model (given an `mlp` spec it "
                             f"builds one), not {type(model).__name__}")
        self.hidden = model.hidden_layers()
        kw = dict(config.algo_kwargs)
        gammas: int | Sequence[int] | None = kw.get("gamma")
        if gammas is None:
            gammas = [default_gamma(l.out_features) for l in self.hidden]
        elif isinstance(gammas, int):
            gammas = [gammas] * len(self.hidden)
        self.gammas = [max(1, min(int(g), l.out_features)) for g, l in zip(gammas, self.hidden)]
        self.seed = int(kw.get("seed", config.seed))
        self.readouts = [model.readout(l).numpy() for l in range(len(self.hidden))]
        self.train_accuracy = 0.0   # "previous epoch" before the first one
        self.step = 0

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
        return [probability_to_u32(reinforce_probability(self.train_accuracy, l.in_features))
                for l in self.hidden]

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> StepResult:
        with torch.no_grad():
            h = self.model.input_threshold()(x).flatten(1).to(torch.int8).numpy()
        labels = y.numpy()
        frozen = self.model.input_threshold().disabled_features()
        for l, (layer, p_q) in enumerate(zip(self.hidden, self.thresholds())):
            res = local_step(layer.weight.numpy(), h, labels, self.readouts[l], self.gammas[l],
                             layer.limits, p_q, self.seed, self.step, l,
                             frozen if l == 0 else None)
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(res.weights))
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
