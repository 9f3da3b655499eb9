"""On-device DRTP: direct random target projection (Frenkel, Lefebvre & Bol 2021) with integers
only — the Python reference of native/src/train/drtp.c, which must stay bit-identical to it.

The float rule (edgebnn/train/algorithms/drtp.py) gives hidden layer l the learning signal
(onehot(y) − 1/C)·B_l through the straight-through derivative of its sign, and trains the output
layer by cross-entropy. Here every quantity is an integer, so a Cortex-M without an FPU runs it
and the host reproduces it exactly:

Model: [BINARIZE →] DENSE → … → DENSE (BIN out, any folded thresholds T and flips) → DENSE I32.
Each DENSE layer has int16 latent weights W in the `trnd` section (Q format 2^q = 1.0, saturating
at ±2^q); the ±1 weight inference uses is sign(W) (sign(0) = +1) and is kept in WGHT.

One step over a batch (x, y), layer by layer, each layer updated right after it has run on the
whole batch; the next layer sees the outputs computed *before* the update (no update locking):
 1. Forward: z = a·sign(W)ᵀ (a = ±1 bits, or the 8-bit pixels for a U8 first layer);
    h = [z ≥ T], or [z ≤ T] where the flip bit is set (the engine's folded batch norm + sign).
 2. Hidden layer l: the projected target, scaled by C to stay integer:
        s_j = Σ_c B_l[j, c]·(C·[c = y] − 1) = C·B_l[j, y] − Σ_c B_l[j, c]
    B_l ∈ {±1}^{K×C} is regenerated on the fly: B_l[j, c] = +1 iff the top bit of
        fmix32(key_l ⊕ ((j·C + c)·0x9E3779B9 mod 2³²)),  key_l = fmix32(seed ⊕ fmix32(l))
    (MurmurHash3's finalizer, as the local rule's draws). The straight-through derivative of the
    thresholded sign: δ_j = s_j·φ_j if |z_j − T_j| ≤ window, else 0, φ_j = −1 for a flipped unit
    (its output falls as z grows), +1 otherwise — an integer hardtanh STE around the threshold.
    ΔW = −rnd(Σ_b δ_b x_bᵀ, shift), saturated at ±2^q — except in the columns of the constant
    inputs a BINARIZE makes with threshold 0 (+1 for every image; edgebnn/nn/threshold.py
    disables nearly constant features so): moving all their weights by the same δ would grow a
    bias shared by every sample (on mnist5k, 82 % of the pixels, the chain stayed at 10 %), so
    they keep the values the host gave them — `untrained_chain` alternates their signs to cancel.
 3. Output layer (softmax is not integer): scores o = h·sign(W)ᵀ; with r = the highest-scoring
    class other than y (first on ties), a sample updates iff argmax o ≠ y or o_y − o_r < margin
    (the entry's window). Its error is e = onehot(y) − onehot(r): the two dominant terms of
    −∂CE/∂o = onehot(y) − softmax(o) when scores are as peaked as ±K, and zero once the sample is
    separated by the margin (a multiclass hinge). ΔW = +rnd(Σ_b e_b h_bᵀ, shift), saturated.
rnd(v, s) rounds v / 2^s to nearest, ties away from zero: sign(v)·⌊(|v| + 2^(s−1)) / 2^s⌋
(v itself when s = 0), so positive and negative sums are treated alike.
Sums stay inside int32 for batches up to MAX_BATCH: |δ·x| ≤ (2C − 2)·255 < 2^17.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from edgebnn import format as fmt
from edgebnn import nn as bnn
from edgebnn.export import trnd
from edgebnn.nn.threshold import InputThreshold
from edgebnn.train.algorithms.local import fmix32

_GOLDEN = 0x9E3779B9
_M32 = 0xFFFFFFFF
#: largest batch of one step (the C core refuses more): keeps every sum inside int32
MAX_BATCH = 4096


def feedback_signs(seed: int, layer: int, k: int, n_classes: int) -> np.ndarray:
    """B_l as ±1 int64 (K, C), regenerated from the seed (module docstring, step 2)."""
    key = fmix32(np.uint64(seed & _M32) ^ fmix32(layer))
    i = np.arange(k * n_classes, dtype=np.uint64)
    r = fmix32(key ^ ((i * np.uint64(_GOLDEN)) & _M32))
    return np.where(r >> np.uint64(31), 1, -1).astype(np.int64).reshape(k, n_classes)


def round_shift(v: np.ndarray, shift: int) -> np.ndarray:
    """rnd(v, s): v / 2^s to nearest, ties away from zero (module docstring)."""
    v = np.asarray(v, dtype=np.int64)
    if shift == 0:
        return v
    mag = (np.abs(v) + (1 << (shift - 1))) >> shift
    return np.where(v < 0, -mag, mag)


def _signs(w: np.ndarray) -> np.ndarray:
    return np.where(w >= 0, 1, -1).astype(np.int64)


@dataclass
class StepStats:
    """Outcome of the output layer, counted before its update (as the C core's stats)."""

    correct: int
    wrong: int


class DrtpReference:
    """A model file plus its `trnd` state, trained in NumPy exactly as the C core trains it."""

    def __init__(self, data: bytes) -> None:
        self.model = fmt.from_bytes(data)
        if trnd.TAG not in self.model.extra_sections:
            raise fmt.FormatError("the model has no trnd training section")
        self.state = trnd.decode(self.model.extra_sections[trnd.TAG])
        trnd.trained_layers(self.model)

    def _first_input(self, x: np.ndarray) -> np.ndarray:
        """The first DENSE layer's input: ±1 from the BINARIZE layer, else the 8-bit pixels."""
        flat = x.reshape(len(x), -1).astype(np.int64)
        first = self.model.layers[0]
        if first.op == fmt.Op.BINARIZE:
            return np.where(flat >= first.binarize_thresholds().reshape(-1), 1, -1)
        return flat

    def step(self, x: np.ndarray, y: np.ndarray) -> StepStats:
        """One batch: uint8 images (B, H, W, C), labels (B,)."""
        y = np.asarray(y, dtype=np.int64)
        if not 1 <= len(y) <= MAX_BATCH or len(x) != len(y):
            raise ValueError(f"batch of {len(x)} images and {len(y)} labels, expected 1.."
                             f"{MAX_BATCH} of each")
        if y.min() < 0 or y.max() >= self.model.n_classes:
            raise ValueError(f"labels {y.min()}..{y.max()}, expected 0..{self.model.n_classes - 1}")
        a = self._first_input(np.asarray(x))
        *hidden, output = self.state.layers
        for l, s in enumerate(hidden):
            a = self._hidden_step(l, s, a, y)
        stats = self._output_step(output, a, y)
        self.state.step = (self.state.step + 1) & _M32
        return stats

    def _saturate(self, w: np.ndarray) -> np.ndarray:
        lim = 1 << self.state.frac_bits
        return np.clip(w, -lim, lim).astype(np.int16)

    def _hidden_step(self, l: int, s: trnd.LayerState, a: np.ndarray, y: np.ndarray
                     ) -> np.ndarray:
        """Steps 1-2 for hidden layer l; returns its ±1 output from before the update."""
        n_classes = self.model.n_classes
        w = s.weights.astype(np.int64)
        t, flip = self.model.layers[s.layer].threshold_arrays()
        t = t.astype(np.int64)
        z = a @ _signs(w).T                                       # (B, K)
        h = np.where(np.where(flip, z <= t, z >= t), 1, -1)
        b = feedback_signs(self.state.seed, l, w.shape[0], n_classes)
        proj = n_classes * b[:, y].T - b.sum(axis=1)              # s_j per sample (B, K)
        delta = proj * np.where(flip, -1, 1) * (np.abs(z - t) <= s.window)
        step = round_shift(delta.T @ a, s.shift)
        if l == 0 and self.model.layers[0].op == fmt.Op.BINARIZE:
            step[:, self._constant_inputs()] = 0
        s.weights = self._saturate(w - step)
        return h

    def _constant_inputs(self) -> np.ndarray:
        """bool (N,): BINARIZE features with threshold 0, +1 for every image (docstring)."""
        return self.model.layers[0].binarize_thresholds().reshape(-1) == 0

    def _output_step(self, s: trnd.LayerState, a: np.ndarray, y: np.ndarray) -> StepStats:
        """Step 3: the multiclass hinge against the runner-up."""
        w = s.weights.astype(np.int64)
        o = a @ _signs(w).T                                       # (B, C)
        rows = np.arange(len(y))
        pred = o.argmax(axis=1)
        others = o.copy()
        others[rows, y] = np.iinfo(np.int64).min
        runner = others.argmax(axis=1)
        update = (pred != y) | (o[rows, y] - o[rows, runner] < s.window)
        e = np.zeros_like(o)
        e[rows[update], y[update]] += 1
        e[rows[update], runner[update]] -= 1
        s.weights = self._saturate(w + round_shift(e.T @ a, s.shift))
        return StepStats(int((pred == y).sum()), int(update.sum()))

    def to_bytes(self) -> bytes:
        """The model file with WGHT's bits = the latent signs and the section updated."""
        for s in self.state.layers:
            self.model.layers[s.layer].weights = fmt.pack_bits(
                (s.weights >= 0).astype(np.uint8)).tobytes()
        self.model.extra_sections[trnd.TAG] = trnd.encode(self.state, self.model.n_classes)
        return fmt.to_bytes(self.model)


def untrained_chain(input_shape: tuple[int, int, int], n_classes: int,
                    layers: tuple[int, ...], train_x: np.ndarray) -> nn.Sequential:
    """A fresh model for on-device DRTP: input thresholds fitted to train_x (HWC uint8), then
    BinaryLinear → Sign (threshold 0) per hidden layer and a ScoreLinear, latent weights from
    PyTorch's default init (torch's global generator, seed it first). Exports to BINARIZE →
    DENSE (T = 0) … → DENSE I32."""
    h, w, c = input_shape
    sizes = [h * w * c, *layers]
    thr = InputThreshold(input_shape)
    thr.fit(train_x)
    mods: list[nn.Module] = [thr]
    for n_in, n_out in zip(sizes, sizes[1:]):
        mods += [bnn.BinaryLinear(n_in, n_out), bnn.Sign()]
    mods.append(bnn.ScoreLinear(sizes[-1], n_classes))
    # Constant inputs (threshold 0) are never trained: alternating signs make them cancel
    # instead of adding a random bias to every unit.
    constant = np.flatnonzero(thr.threshold.flatten().numpy() == 0)
    with torch.no_grad():
        mods[1].weight[:, constant] = torch.where(torch.arange(len(constant)) % 2 == 0,
                                                  1e-6, -1e-6)
    return nn.Sequential(*mods).eval()


def export_untrained(input_shape: tuple[int, int, int], n_classes: int, layers: tuple[int, ...],
                     train_x: np.ndarray, seed: int = 0,
                     frac_bits: int = trnd.FRAC_BITS) -> bytes:
    """A trainable model file (with its trnd section) of `untrained_chain`, weights from seed."""
    from edgebnn.export import export_model
    torch.manual_seed(seed)
    chain = untrained_chain(input_shape, n_classes, layers, train_x)
    model = export_model(chain, input_shape, n_classes)
    model.extra_sections[trnd.TAG] = trnd.from_torch(chain, model, seed=seed,
                                                          frac_bits=frac_bits)
    return fmt.to_bytes(model)
