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

The `trnd` section (layout in docs/format.md, "Training section trnd") holds what inference does
not need: the fixed-point latent weights of every DENSE layer (their signs are WGHT's bits), the
Q format, the seed of the random projections (the matrices themselves are regenerated from it,
never stored), each layer's shift and window, and the batch counter. `from_torch` builds it from
a PyTorch model — untrained, or trained on the host with any rule — by rounding its float latent
weights to fixed point. The rule has no epoch schedule: shifts and windows stay as the section
stores them.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgebnn import format as fmt
from edgebnn import nn as bnn
from edgebnn.export.ebnn import ExportError, export_model
from edgebnn.nn.threshold import InputThreshold
from edgebnn.ondevice import Schedule, section
from edgebnn.ondevice.local import fmix32
from edgebnn.runs import run_folder

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
        if TAG not in self.model.extra_sections:
            raise fmt.FormatError("the model has no trnd training section")
        self.state = decode(self.model.extra_sections[TAG])
        trained_layers(self.model)

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

    def _hidden_step(self, l: int, s: LayerState, a: np.ndarray, y: np.ndarray
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

    def _output_step(self, s: LayerState, a: np.ndarray, y: np.ndarray) -> StepStats:
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
        self.model.extra_sections[TAG] = encode(self.state, self.model.n_classes)
        return fmt.to_bytes(self.model)


# The `trnd` section: a 32-byte header, one 16-byte entry per DENSE layer, then the int16
# latent weights.
TAG = b"trnd"
VERSION = 1
#: how a model gets the `trnd` section (named when it is missing)
SECTION_SOURCE = "`edgebnn export … --train-section drtp`"
_HEAD = struct.Struct("<HHBxHII16x")   # version, n_layers, frac_bits, n_classes, seed, step
_ENTRY = struct.Struct("<HHHBxII")     # layer, n_in, k, shift, window, w_off
assert _HEAD.size == 32 and _ENTRY.size == 16

#: Default Q format: latent weight w is stored as round(w · 2^10), saturating at ±2^10 (±1.0,
#: the clip float BNN training applies to latent weights).
FRAC_BITS = 10


@dataclass
class LayerState:
    """One trained DENSE layer: latent weights (K, N_in) int16 in WGHT's input order, the update
    shift, and the window (hidden layers: STE half-width on z − T; output layer: the margin)."""

    layer: int
    shift: int
    window: int
    weights: np.ndarray


@dataclass
class DrtpState:
    """The decoded section; layers[-1] is the output layer."""

    frac_bits: int
    seed: int
    step: int
    layers: list[LayerState]


def encode(state: DrtpState, n_classes: int) -> bytes:
    """Section bytes: header, entries, then each layer's int16 weights padded to 16."""
    n = len(state.layers)
    blobs = [np.ascontiguousarray(s.weights, dtype="<i2").tobytes() for s in state.layers]

    def table(offsets: list[int]) -> bytes:
        head = _HEAD.pack(VERSION, n, state.frac_bits, n_classes, state.seed & 0xFFFFFFFF,
                          state.step & 0xFFFFFFFF)
        return head + b"".join(_ENTRY.pack(s.layer, s.weights.shape[1], s.weights.shape[0],
                                           s.shift, s.window, off)
                               for s, off in zip(state.layers, offsets))

    return section.layout(_HEAD.size + _ENTRY.size * n, blobs, table)


def decode(body: bytes) -> DrtpState:
    """Inverse of encode (structure only; the C core's init is the full validation)."""
    version, n, frac_bits, _n_classes, seed, step = _HEAD.unpack_from(body)
    if version != VERSION:
        raise fmt.FormatError(f"trnd: version is {version}, expected {VERSION}")
    layers = []
    for l in range(n):
        layer, n_in, k, shift, window, w_off = _ENTRY.unpack_from(body, _HEAD.size + 16 * l)
        w = np.frombuffer(body, "<i2", k * n_in, w_off).reshape(k, n_in).astype(np.int16)
        layers.append(LayerState(layer, shift, window, w))
    return DrtpState(frac_bits, seed, step, layers)


def read(data: bytes) -> DrtpState:
    """The DRTP state of a model file."""
    return decode(section.read(data, TAG))


def trained_layers(model: fmt.Model) -> list[int]:
    """LAYR indices of the DENSE layers DRTP trains, after checking the model is a chain it can
    train: [BINARIZE →] DENSE … → DENSE I32, the first DENSE reading the whole U8 image (or the
    flat BINARIZE output), every later one a flat BIN vector."""
    layers = model.layers
    start = 1 if layers and layers[0].op == fmt.Op.BINARIZE else 0
    dense = list(range(start, len(layers)))
    if not dense:
        raise ExportError("DRTP needs at least one DENSE layer")
    for i in dense:
        lay = layers[i]
        last = i == len(layers) - 1
        if lay.op != fmt.Op.DENSE or lay.groups != 1 or lay.in0 != i:
            raise ExportError(f"layer {i}: DRTP trains a chain of DENSE layers, found "
                              f"{lay.op.name} (groups {lay.groups}, in0 {lay.in0})")
        if lay.out_type != (fmt.DType.I32 if last else fmt.DType.BIN):
            raise ExportError(f"layer {i}: out_type is {lay.out_type.name}, expected "
                              f"{'I32' if last else 'BIN'}")
        if lay.in_type == fmt.DType.BIN and lay.in_shape[:2] != (1, 1):
            raise ExportError(f"layer {i}: a BIN input must be flat (1 x 1 x C), got "
                              f"{lay.in_shape}")
        if int(np.prod(lay.in_shape)) > 0xFFFF:
            raise ExportError(f"layer {i}: {int(np.prod(lay.in_shape))} inputs, expected at "
                              "most 65535 (n_in is a u16 in the trnd entry)")
    return dense


def default_hyper(layer: fmt.Layer, last: bool, batch: int = 100) -> tuple[int, int]:
    """(shift, window) of a layer, measured on digits (tests/test_ondevice_drtp.py).

    Hidden layers: the STE window |z − T| ≤ window keeps the units near their threshold
    trainable, like hardtanh's |a| ≤ 1 after batch norm; z's spread is about √N_in for ±1 inputs
    and 128·√N_in for 8-bit pixels, so the window is that. The output layer: margin ⌊K/8⌋."""
    n_in = int(np.prod(layer.in_shape))
    if last:
        return 0, max(1, n_in // 8)
    if layer.in_type == fmt.DType.U8:
        return 10, int(128 * np.sqrt(n_in))
    return 2, max(1, int(np.sqrt(n_in)))


def fixed_point(w: np.ndarray, frac_bits: int) -> np.ndarray:
    """Float latent weights → int16 round(w·2^q) saturated at ±2^q, keeping the sign the packed
    bit has (w ≥ 0 ↔ +1): a small negative w that rounds to 0 becomes −1."""
    lim = 1 << frac_bits
    q = np.clip(np.rint(np.asarray(w, dtype=np.float64) * lim), -lim, lim).astype(np.int64)
    q = np.where((w < 0) & (q >= 0), -1, q)
    return q.astype(np.int16)


def _latent(module: nn.Linear, layer: fmt.Layer) -> np.ndarray:
    """A Linear's float weights with columns in WGHT's H, W, C order (PyTorch flattens C, H, W;
    the exporter permutes the bits the same way)."""
    h, w, c = layer.in_shape
    with torch.no_grad():
        return module.weight.detach().view(-1, c, h, w).permute(0, 2, 3, 1).reshape(
            module.weight.shape[0], -1).double().numpy()


def from_torch(model: nn.Sequential, exported: fmt.Model, seed: int = 0,
               frac_bits: int = FRAC_BITS, step: int = 0) -> bytes:
    """The section for `exported` (= export_model(model, …)): the float latent weights of
    model's Linear layers in fixed point, default shifts and windows."""
    if not 1 <= frac_bits <= 14:
        raise ExportError(f"frac_bits is {frac_bits}, expected 1..14 (int16 latent weights)")
    dense = trained_layers(exported)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if len(linears) != len(dense):
        raise ExportError(f"the model has {len(linears)} Linear layers, the file "
                          f"{len(dense)} DENSE layers")
    layers = []
    for i, module in zip(dense, linears):
        lay = exported.layers[i]
        if not module.weight.is_floating_point():
            raise ExportError(f"layer {i}: {type(module).__name__} has integer weights (a "
                              "--algo local chain, trained by the trnl section); DRTP starts "
                              "from float latent weights")
        shift, window = default_hyper(lay, i == dense[-1])
        layers.append(LayerState(i, shift, window, fixed_point(_latent(module, lay), frac_bits)))
    return encode(DrtpState(frac_bits, seed, step, layers), exported.n_classes)


def from_run(folder: Path, exported: fmt.Model, seed: int | None = None) -> bytes:
    """The section for a run folder's model (exported = export_run(folder)); the projection
    seed defaults to the run's training seed."""
    model, _spec, config = run_folder.load(folder)
    return from_torch(model, exported, seed=config.seed if seed is None else seed)


def epoch_schedule(state: DrtpState) -> Schedule:
    """Nothing to set between epochs: shifts and windows stay as the section stores them."""
    return lambda accuracy: None


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
                     frac_bits: int = FRAC_BITS) -> bytes:
    """A trainable model file (with its trnd section) of `untrained_chain`, weights from seed."""
    torch.manual_seed(seed)
    chain = untrained_chain(input_shape, n_classes, layers, train_x)
    model = export_model(chain, input_shape, n_classes)
    model.extra_sections[TAG] = from_torch(chain, model, seed=seed, frac_bits=frac_bits)
    return fmt.to_bytes(model)
