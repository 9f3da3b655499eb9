"""A NumPy interpreter of `.ebnn` models, written from docs/format.md alone.

It unpacks every tensor to ±1 / integer arrays and uses plain integer convolution, so it shares
no code or packing tricks with the C core: the tests run the same file through both and through
PyTorch, and all three must agree bit for bit. Slow by design; for small models and checks."""
from __future__ import annotations

import numpy as np

from edgebnn import format as fmt


def _conv(x: np.ndarray, w: np.ndarray, layer: fmt.Layer, pad_value: int) -> np.ndarray:
    """x (H, W, C) int64, w (O, kh, kw, cg) ±1 → y (OH, OW, O) int64."""
    (ph, pw), (sh, sw), (kh, kw) = layer.pad, layer.stride, layer.kernel
    oh, ow, oc = layer.out_shape
    xp = np.pad(x, ((ph, ph), (pw, pw), (0, 0)), constant_values=pad_value)
    g = layer.groups
    cg, og = layer.in_shape[2] // g, oc // g
    y = np.zeros((oh, ow, oc), dtype=np.int64)
    for ky in range(kh):
        for kx in range(kw):
            patch = xp[ky:ky + sh * (oh - 1) + 1:sh, kx:kx + sw * (ow - 1) + 1:sw, :]
            for gi in range(g):
                xs = patch[:, :, gi * cg:(gi + 1) * cg]
                ws = w[gi * og:(gi + 1) * og, ky, kx, :]
                y[:, :, gi * og:(gi + 1) * og] += xs @ ws.T
    return y


def weights_pm1(layer: fmt.Layer) -> np.ndarray:
    """Unpacks a layer's weights to ±1 int64, shaped (O, kh, kw, cg)."""
    kh, kw = layer.kernel
    cg = layer.in_shape[2] // layer.groups
    rows = layer.weight_array()
    if layer.in_type == fmt.DType.U8:
        bits = fmt.unpack_bits(rows, kh * kw * cg)
    else:
        taps = rows.reshape(-1, fmt.words(cg))
        bits = fmt.unpack_bits(taps, cg)
    return bits.reshape(-1, kh, kw, cg).astype(np.int64) * 2 - 1


def _sign_at_thresholds(layer: fmt.Layer, y: np.ndarray) -> np.ndarray:
    """Folded batch norm + sign: ±1 per element of y (…, C) from the layer's T and flip."""
    t, flip = layer.threshold_arrays()
    return np.where(np.where(flip, y <= t, y >= t), 1, -1)


def _wrap_i32(y: np.ndarray) -> np.ndarray:
    """Two's-complement int32 wrap-around, as the C core's ADD computes it."""
    return (y + 2**31) % 2**32 - 2**31


def run_layer(layer: fmt.Layer, x: np.ndarray, x1: np.ndarray | None = None) -> np.ndarray:
    """One sample; x is tensor in0, x1 tensor in1 (ADD only). U8/I32 tensors are integer
    arrays; BIN tensors are ±1 int64 arrays."""
    if layer.op == fmt.Op.MAXPOOL:
        return _maxpool(x, layer)
    if layer.op == fmt.Op.BINARIZE:
        return np.where(x >= layer.binarize_thresholds(), 1, -1).reshape(layer.out_shape)
    if layer.op == fmt.Op.THRESHOLD:
        return _sign_at_thresholds(layer, x)
    if layer.op == fmt.Op.ADD:
        return _wrap_i32(x + x1)
    if layer.op == fmt.Op.GAP:   # the number of +1 values of each channel
        return (x == 1).sum(axis=(0, 1)).reshape(layer.out_shape)
    pad_value = 0 if layer.in_type == fmt.DType.U8 else -1
    y = _conv(x.astype(np.int64), weights_pm1(layer), layer, pad_value)
    if layer.out_type == fmt.DType.I32:
        return y
    return _sign_at_thresholds(layer, y)


def _maxpool(x: np.ndarray, layer: fmt.Layer) -> np.ndarray:
    (ph, pw), (sh, sw), (kh, kw) = layer.pad, layer.stride, layer.kernel
    oh, ow, _ = layer.out_shape
    xp = np.pad(x, ((ph, ph), (pw, pw), (0, 0)), constant_values=-1)
    out = np.full((oh, ow, x.shape[2]), -1, dtype=np.int64)
    for ky in range(kh):
        for kx in range(kw):
            out = np.maximum(out, xp[ky:ky + sh * (oh - 1) + 1:sh, kx:kx + sw * (ow - 1) + 1:sw])
    return out


def infer(model: fmt.Model, images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, C) → int32 scores (N, n_classes)."""
    out = np.zeros((len(images), model.n_classes), dtype=np.int32)
    for n, image in enumerate(images):
        tensors = [image.astype(np.int64)]
        for layer in model.layers:
            x1 = None if layer.in1 == fmt.TENSOR_NONE else tensors[layer.in1]
            tensors.append(run_layer(layer, tensors[layer.in0], x1))
        out[n] = tensors[-1].reshape(-1)
    return out
