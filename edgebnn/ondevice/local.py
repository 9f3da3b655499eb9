"""The `local` rule (Colombo, Pittorino & Roveri, "Local binary error signals", arXiv
2412.00119) as a device runs it: its integer update, the `trnl` training section that carries
its state in a `.ebnn` file, and its epoch schedule. `local_step` is the reference the C core
(native/src/train/local.c) must match bit for bit; the PyTorch trainer of `--algo local`
(edgebnn/train/algorithms/local.py) runs this same update.

The model is a chain of sub-networks (edgebnn/models/local_chain.py): sub-network l computes
z = x·sign(W)ᵀ with integer hidden weights W (K × N_in), h = sign(z), and integer class scores
o = h·R with a frozen random ±1 readout R (K × C); h is the next sub-network's input. Every
sub-network learns from its own readout only, so no error travels between layers and the update
uses nothing but XNOR/popcount sums, comparisons and integer increments — which is why it can run
on a microcontroller.

One update of one sub-network from a batch (`local_step`; integers only):
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
    the update, and the rule's epoch schedule — and weight i is reinforced iff r_i < p_q, with
        key = fmix32(seed ⊕ fmix32(step·256 + layer)),  r_i = fmix32(key ⊕ (i·0x9E3779B9 mod 2³²))
    where fmix32 is MurmurHash3's 32-bit finalizer, step counts batches from 0, layer < 256 and i
    is the row-major index of W. A counter-based generator needs no state and is cheap in C.
Every sub-network sees the h its predecessor computed *before* its own update (one forward
pass per batch).

Disabled input features (edgebnn/nn/threshold.py: threshold 0, always +1) never update: step 5's
increment is zero in their columns of the first sub-network, and the trainer gives their weights
alternating signs ±1 along each row, so their constant inputs cancel in z (to 0, or ±1 when
their number is odd) instead of acting as a bias. Reinforcement leaves them alone in effect: it
grows |W| without changing a sign.

Storage: hidden weights are int8 by default (`weight_bits`, algo_kwargs; the paper counts them
as 8-bit in its memory model and leaves them unclipped), saturating at [−2^(b−1), 2^(b−1) − 1].
Init W = trunc(N(0, 8²)) as in the paper's code. Defaults: batch 100, γ from the paper's table
(K = 35/75/135/255/525/1035 → γ = 35/75/45/85/105/115, i.e. 1/1/3/3/5/9 groups); another K uses
the group count of the nearest tabulated K on a log scale, γ = ⌈K / groups⌉ (K = 256 → 3 groups,
γ = 86). `gamma` in algo_kwargs overrides it.

The `trnl` section (layout in docs/format.md, "Training section trnl") holds what inference does
not need: the integer hidden weights (their signs are WGHT's bits), the frozen ±1 readouts, γ per
sub-network, the weight width, the seed, the batch counter and the thresholds p_q.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np

from edgebnn import format as fmt
from edgebnn.models.local_chain import IntegerLinear, LocalChain
from edgebnn.ondevice import Schedule, section

#: K → γ of the paper's result files
GAMMA_TABLE = {35: 35, 75: 75, 135: 45, 255: 85, 525: 105, 1035: 115}
#: the paper's batch size; used when the config keeps the runner's generic default
DEFAULT_BATCH = 100
#: how a model gets the `trnl` section (named when it is missing)
SECTION_SOURCE = "an `edgebnn train --algo local` run"
_GOLDEN = 0x9E3779B9
_M32 = 0xFFFFFFFF


def default_gamma(k: int) -> int:
    """γ for K hidden units: the group count of the nearest tabulated K (log scale)."""
    nearest = min(GAMMA_TABLE, key=lambda t: abs(math.log(k / t)))
    groups = nearest // GAMMA_TABLE[nearest]
    return -(-k // max(1, min(groups, k)))


def gammas(sizes: Sequence[int], gamma: int | Sequence[int] | None = None) -> list[int]:
    """γ per sub-network of K = sizes[l] units: algo_kwargs' `gamma` (one for all or one per
    sub-network) or the default, kept within 1..K."""
    if gamma is None:
        gamma = [default_gamma(k) for k in sizes]
    elif isinstance(gamma, int):
        gamma = [gamma] * len(sizes)
    return [max(1, min(int(g), k)) for g, k in zip(gamma, sizes)]


def rule_seed(algo_kwargs: dict[str, Any], seed: int) -> int:
    """The seed of the reinforcement draws: algo_kwargs' `seed`, else the run's."""
    return int(algo_kwargs.get("seed", seed))


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


def thresholds(train_accuracy: float, n_ins: Sequence[int]) -> list[int]:
    """p_q per sub-network of N_in = n_ins[l] inputs, for an epoch after one with this training
    accuracy (0 before the first)."""
    return [probability_to_u32(reinforce_probability(train_accuracy, n)) for n in n_ins]


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
               layer: int = 0, frozen: np.ndarray | None = None,
               apply: bool = True) -> LocalStep:
    """One update of one sub-network (the integer reference; see the module docstring).

    w: integer (K, N_in); x: ±1 integer (B, N_in); y: int (B,); readout: ±1 (K, C);
    limits: the saturation range of w; p_q: the reinforcement threshold as a u32;
    frozen: bool (N_in,), the disabled input features whose columns step 5 leaves alone.
    apply=False: `weights` is the int64 increment (K, N_in) instead, for `apply_increment`."""
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
    new = apply_increment(w, increment, limits, p_q, seed, step, layer) if apply else increment
    return LocalStep(new, h.astype(np.int8), pred, wrong, mask)


def apply_increment(w: np.ndarray, increment: np.ndarray, limits: tuple[int, int], p_q: int,
                    seed: int, step: int, layer: int) -> np.ndarray:
    """The weights after one step: w + 2·increment saturated, then the reinforcement. Separate
    from the increment, which is a sum over the batch's samples: data-parallel ranks sum their
    increments and apply the total once (edgebnn/train/distributed.py)."""
    lo, hi = limits
    new = np.clip(w.astype(np.int64) + 2 * increment, lo, hi)
    if p_q > 0:
        hit = reinforce_draws(new.shape, seed, step, layer) < np.uint64(p_q)
        new = np.clip(new + 2 * hit * sign(new), lo, hi)
    return new.astype(w.dtype)


# The `trnl` section: a 32-byte header, one 32-byte entry per sub-network, then the blobs.
TAG = b"trnl"
VERSION = 1
_HEAD = struct.Struct("<HHBxHII16x")      # version, n_hidden, weight_bits, n_classes, seed, step
_ENTRY = struct.Struct("<HHHHIII12x")     # layer, gamma, n_in, k, p_q, w_off, r_off
assert _HEAD.size == 32 and _ENTRY.size == 32


@dataclass
class LocalState:
    """The decoded section: per sub-network hidden weights (K, N_in), readouts ±1 (K, C), γ, p_q."""

    weight_bits: int
    seed: int
    step: int
    weights: list[np.ndarray]
    readouts: list[np.ndarray]
    gammas: list[int]
    thresholds: list[int]


def _weight_dtype(bits: int) -> str:
    return "<i1" if bits <= 8 else "<i2"


def encode(state: LocalState) -> bytes:
    """Section bytes; sub-network l is DENSE layer l + 1 (after the BINARIZE layer)."""
    n, n_classes = len(state.weights), state.readouts[0].shape[1]
    blobs = []
    for w, r in zip(state.weights, state.readouts):
        blobs.append(np.ascontiguousarray(w, dtype=_weight_dtype(state.weight_bits)).tobytes())
        # class c's column of R as one packed row, exactly the output DENSE layer's weights
        blobs.append(fmt.pack_bits((np.asarray(r).T >= 0).astype(np.uint8)).tobytes())

    def table(offsets: list[int]) -> bytes:
        head = _HEAD.pack(VERSION, n, state.weight_bits, n_classes, state.seed & 0xFFFFFFFF,
                          state.step & 0xFFFFFFFF)
        return head + b"".join(
            _ENTRY.pack(l + 1, g, w.shape[1], w.shape[0], p_q, offsets[2 * l],
                        offsets[2 * l + 1])
            for l, (w, g, p_q) in enumerate(zip(state.weights, state.gammas, state.thresholds)))

    return section.layout(_HEAD.size + _ENTRY.size * n, blobs, table)


def weight_views(body) -> list[np.ndarray]:
    """The hidden weights (K, N_in) of every sub-network as views of a section's buffer (bytes,
    or a writable buffer such as the C trainer's, whose steps the views then follow)."""
    _, n, bits, *_ = _HEAD.unpack_from(body)
    views = []
    for l in range(n):
        _, _, n_in, k, _, w_off, _ = _ENTRY.unpack_from(body, _HEAD.size + _ENTRY.size * l)
        views.append(np.frombuffer(body, _weight_dtype(bits), k * n_in, w_off).reshape(k, n_in))
    return views


def decode(body: bytes) -> LocalState:
    version, n, bits, n_classes, seed, step = _HEAD.unpack_from(body)
    if version != VERSION:
        raise fmt.FormatError(f"trnl: version is {version}, expected {VERSION}")
    state = LocalState(bits, seed, step, [w.copy() for w in weight_views(body)], [], [], [])
    for l in range(n):
        _, g, n_in, k, p_q, w_off, r_off = _ENTRY.unpack_from(body, 32 + 32 * l)
        rows = np.frombuffer(body, "<u4", n_classes * fmt.words(k), r_off)
        bits01 = fmt.unpack_bits(rows.reshape(n_classes, -1), k)
        state.readouts.append((bits01.T.astype(np.int8) * 2 - 1))
        state.gammas.append(g)
        state.thresholds.append(p_q)
    return state


def read(data: bytes) -> LocalState:
    """The training state of a model file."""
    return decode(section.read(data, TAG))


class Trainer(Protocol):
    """What the section stores of a trainer of the rule (train/algorithms/local.py's LocalRule):
    its sub-networks, readouts, γ and seed as it holds them, and this epoch's p_q."""

    hidden: list[IntegerLinear]
    readouts: list[np.ndarray]
    gammas: list[int]
    seed: int

    def thresholds(self) -> list[int]: ...


def _section(hidden: list[IntegerLinear], readouts: list[np.ndarray], gammas: list[int],
             seed: int, p_q: list[int], step: int) -> bytes:
    return encode(LocalState(hidden[0].weight_bits, seed, step, [l.weight.numpy() for l in hidden],
                             list(readouts), list(gammas), p_q))


def from_rule(rule: Trainer, step: int = 0) -> bytes:
    """The section of a trainer's model, with its γ, seed and the current epoch's p_q."""
    return _section(rule.hidden, rule.readouts, rule.gammas, rule.seed, rule.thresholds(), step)


def from_chain(chain: LocalChain, algo_kwargs: dict[str, Any], seed: int) -> bytes:
    """The section of a trained chain, for the device to go on training it: γ and the seed as a
    run with these algo_kwargs and seed used them, p_q of a first epoch (what a fresh trainer
    would start from). export_run stores it without constructing a trainer."""
    hidden = chain.hidden_layers()
    return _section(hidden, [chain.readout(l).numpy() for l in range(len(hidden))],
                    gammas([l.out_features for l in hidden], algo_kwargs.get("gamma")),
                    rule_seed(algo_kwargs, seed), thresholds(0.0, [l.in_features for l in hidden]),
                    0)


def epoch_schedule(state: LocalState) -> Schedule:
    """After each epoch, p_q per sub-network from the accuracy the epoch counted (the first
    epoch keeps the p_q the model stores: what its exporter or its last training left there)."""
    n_ins = [int(w.shape[1]) for w in state.weights]
    return lambda accuracy: thresholds(accuracy, n_ins)
