"""The `trnd` ancillary section: on-device DRTP training state inside a `.ebnn` file (layout in
docs/format.md, "Training section trnd"), so the C core (native/src/train/drtp.c) can train the
model with the integer DRTP rule of edgebnn/train/ondevice_drtp.py, bit for bit.

It holds what inference does not need: the fixed-point latent weights of every DENSE layer
(their signs are WGHT's bits), the Q format, the seed of the random projections (the matrices
themselves are regenerated from it, never stored), each layer's shift and window, and the batch
counter. `from_torch` builds it from a PyTorch model — untrained, or trained on the host with any
rule — by rounding its float latent weights to fixed point."""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from edgebnn import format as fmt
from edgebnn.export import section
from edgebnn.export.ebnn import ExportError

TAG = b"trnd"
VERSION = 1
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


def from_run(folder, exported: fmt.Model, seed: int | None = None) -> bytes:
    """The section for a run folder's model (exported = export_run(folder)); the projection
    seed defaults to the run's training seed."""
    from edgebnn.runs import run_folder

    model, _spec, config = run_folder.load(folder)
    return from_torch(model, exported, seed=config.seed if seed is None else seed)
