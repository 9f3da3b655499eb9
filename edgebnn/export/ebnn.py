"""PyTorch binary model → `.ebnn` (docs/format.md).

Walks an nn.Sequential built from edgebnn.nn and turns each pattern into one layer record:
  (Input|Binary)(Conv2d|Linear) → BatchNorm → Sign   ⇒ CONV2D/DENSE with BIN output + thresholds
  ScoreLinear                                        ⇒ DENSE with I32 scores (the last layer)
  MaxPool2d (after a Sign)                           ⇒ MAXPOOL (bitwise OR)
  (Binary)(Conv2d|Linear) → Sign (no batch norm)     ⇒ CONV2D/DENSE, threshold T = 0 (sign(0) = +1)
  InputThreshold (on the 8-bit image)                ⇒ BINARIZE (format 1.1) to 1 × 1 × H·W·C
  Flatten                                            ⇒ nothing: DENSE reads the H, W, C map
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from edgebnn import format as fmt
from edgebnn import nn as bnn
from edgebnn.export import thresholds
from edgebnn.nn.threshold import InputThreshold


class ExportError(ValueError):
    """The model has a layer or arrangement the format cannot express."""


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _weight_bits(layer: nn.Module, in_shape: tuple[int, int, int]) -> tuple[np.ndarray, tuple]:
    """±1 weights as 0/1 in (out, kh, kw, cg) order, and the kernel size.

    A Linear layer is a convolution whose kernel covers its whole (H, W, C) input; PyTorch
    flattened that input in C, H, W order, so its columns are permuted to H, W, C."""
    with torch.no_grad():
        w = (layer.weight >= 0).to(torch.uint8)
    if isinstance(layer, nn.Conv2d):
        return w.permute(0, 2, 3, 1).numpy(), tuple(layer.kernel_size)
    h, wd, c = in_shape
    if w.shape[1] != h * wd * c:
        raise ExportError(f"{type(layer).__name__} takes {w.shape[1]} inputs, but the tensor "
                          f"before it is {h}x{wd}x{c}")
    return w.view(-1, c, h, wd).permute(0, 2, 3, 1).numpy(), (h, wd)


def _pack_weights(bits: np.ndarray, in_type: fmt.DType) -> bytes:
    out, kh, kw, cg = bits.shape
    if in_type == fmt.DType.U8:   # one bit string over (ky, kx, c)
        return fmt.pack_bits(bits.reshape(out, -1)).tobytes()
    # BIN: each tap's cg channels start a fresh word, like a packed pixel
    return fmt.pack_bits(bits.reshape(-1, cg)).tobytes()


def _fold(bn: nn.Module, sign: nn.Module, n_terms: int, in_type: fmt.DType) -> bytes:
    reach = n_terms * (255 if in_type == fmt.DType.U8 else 1)
    t, flip = thresholds.fold(thresholds.bn_sign_decision(bn, sign), bn.num_features,
                              -reach, reach)
    return fmt.threshold_bytes(t, flip)


def export_model(model: nn.Sequential, input_shape: tuple[int, int, int], n_classes: int,
                 meta: dict | None = None) -> fmt.Model:
    """input_shape is (H, W, C) of the uint8 input."""
    model = model.eval()
    mods = [m for m in model if not isinstance(m, (nn.Flatten, nn.Identity, nn.Dropout))]
    shape = tuple(input_shape)
    dtype = fmt.DType.U8
    layers: list[fmt.Layer] = []
    i = 0
    while i < len(mods):
        m = mods[i]
        where = f"module {i} ({type(m).__name__})"
        if isinstance(m, (bnn.BinaryConv2d, bnn.BinaryLinear)):
            if isinstance(m, (bnn.InputConv2d, bnn.InputLinear)) != (dtype == fmt.DType.U8):
                raise ExportError(f"{where}: an Input* layer must take the 8-bit image, and "
                                  "only it")
            bits, kernel = _weight_bits(m, shape)
            conv = isinstance(m, nn.Conv2d)
            stride, pad = (_pair(m.stride), _pair(m.padding)) if conv else ((1, 1), (0, 0))
            groups = m.groups if conv else 1
            if conv and _pair(m.dilation) != (1, 1):
                raise ExportError(f"{where}: dilation is {m.dilation}, expected 1")
            out_hw = [(shape[d] + 2 * pad[d] - kernel[d]) // stride[d] + 1 for d in (0, 1)]
            out_shape = (*out_hw, bits.shape[0])
            n_terms = kernel[0] * kernel[1] * bits.shape[3]
            if isinstance(m, bnn.ScoreLinear):
                out_type, thr, used = fmt.DType.I32, b"", 1
            elif (i + 2 < len(mods)
                  and isinstance(mods[i + 1], (nn.BatchNorm1d, nn.BatchNorm2d))
                  and isinstance(mods[i + 2], bnn.Sign)):
                out_type, used = fmt.DType.BIN, 3
                thr = _fold(mods[i + 1], mods[i + 2], n_terms, dtype)
            elif i + 1 < len(mods) and isinstance(mods[i + 1], bnn.Sign):
                out_type, used = fmt.DType.BIN, 2
                thr = fmt.threshold_bytes(np.zeros(out_shape[2]), np.zeros(out_shape[2], bool))
            else:
                raise ExportError(f"{where}: expected BatchNorm then Sign after it, or a "
                                  "ScoreLinear output layer")
            layers.append(fmt.Layer(
                fmt.Op.CONV2D if conv else fmt.Op.DENSE, dtype, out_type, shape, out_shape,
                kernel, stride, pad, groups, in0=len(layers),
                weights=_pack_weights(bits, dtype), thresholds=thr))
            shape, dtype = out_shape, out_type
            i += used
        elif isinstance(m, InputThreshold):
            if dtype != fmt.DType.U8:
                raise ExportError(f"{where}: input thresholds must take the 8-bit image")
            t = m.threshold.numpy().astype(np.uint8)             # H, W, C like the input
            if t.shape != shape:
                raise ExportError(f"{where}: thresholds are {t.shape}, the input is {shape}")
            flat = (1, 1, int(np.prod(shape)))                  # as the module's output
            layers.append(fmt.Layer(fmt.Op.BINARIZE, dtype, fmt.DType.BIN, shape, flat,
                                    in0=len(layers), thresholds=t.tobytes()))
            shape, dtype = flat, fmt.DType.BIN
            i += 1
        elif isinstance(m, nn.MaxPool2d):
            if dtype != fmt.DType.BIN:
                raise ExportError(f"{where}: max pooling must follow a Sign (binary input)")
            if _pair(m.dilation) != (1, 1) or m.ceil_mode:
                raise ExportError(f"{where}: dilation and ceil_mode are not supported")
            k, s, p = _pair(m.kernel_size), _pair(m.stride or m.kernel_size), _pair(m.padding)
            out_shape = tuple((shape[d] + 2 * p[d] - k[d]) // s[d] + 1 for d in (0, 1)) + shape[2:]
            layers.append(fmt.Layer(fmt.Op.MAXPOOL, dtype, dtype, shape, out_shape, k, s, p,
                                    in0=len(layers)))
            shape = out_shape
            i += 1
        else:
            raise ExportError(f"{where}: no .ebnn layer for this module here")
    if dtype != fmt.DType.I32 or int(np.prod(shape)) != n_classes:
        raise ExportError(f"the last layer must give {n_classes} integer scores (a ScoreLinear), "
                          f"got a {dtype.name} tensor of shape {shape}")
    return fmt.Model(tuple(input_shape), n_classes, layers, dict(meta or {}))


def export_run(folder) -> fmt.Model:
    """The `.ebnn` model of a run folder, with the metadata `edgebnn eval` needs to rebuild the
    same test split (data spec, seed, fractions) and the class names."""
    from edgebnn import __version__
    from edgebnn.train import run_folder

    model, spec, config = run_folder.load(folder)
    meta = {"classes": spec.get("classes", []), "model": {k: spec[k] for k in ("name", "kwargs")},
            "source": str(folder), "edgebnn": __version__,
            "training": {"data": config.data, "seed": config.seed, "algo": config.algo,
                         "val_fraction": config.val_fraction,
                         "test_fraction": config.test_fraction, "image_size": config.image_size}}
    exported = export_model(model, tuple(spec["input_shape"]), spec["n_classes"], meta)
    if spec["name"] == "local_chain":   # the rule's state too, so the device can train it on
        from edgebnn.export import trnl
        from edgebnn.train.algorithms.local import LocalRule
        exported.extra_sections[trnl.TAG] = trnl.from_rule(LocalRule(model, config))
    return exported
