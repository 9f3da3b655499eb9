"""PyTorch binary model → `.ebnn` (docs/format.md).

Walks an nn.Sequential built from edgebnn.nn and turns each pattern into one layer record:
  (Input|Binary)(Conv2d|Linear) → BatchNorm → Sign   ⇒ CONV2D/DENSE with BIN output + thresholds
  ScoreLinear                                        ⇒ DENSE with I32 scores (the last layer)
  MaxPool2d (after a Sign)                           ⇒ MAXPOOL (bitwise OR)
  (Binary)(Conv2d|Linear) → Sign (no batch norm)     ⇒ CONV2D/DENSE, threshold T = 0 (sign(0) = +1)
  InputThreshold (on the 8-bit image)                ⇒ BINARIZE (format 1.1) to 1 × 1 × H·W·C
  Flatten                                            ⇒ nothing: DENSE reads the H, W, C map
Format 1.2, the integer residual stream (edgebnn/nn/stream.py):
  (Input|Binary)(Conv2d|Linear) with nothing to fold ⇒ CONV2D/DENSE with I32 output
  BatchNorm → Sign on an I32 tensor                  ⇒ THRESHOLD (folded like a layer's)
  StreamBlock                                        ⇒ its reader, body and shortcut, then ADD
  GlobalCount                                        ⇒ GAP (BIN → U8 counts)
  StreamFromBinary                                   ⇒ depthwise 1×1 CONV2D, weights +1, BIN → I32
Models that cannot deploy (host-only modules, partial binarization) are refused up front.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from edgebnn import format as fmt
from edgebnn import nn as bnn
from edgebnn.errors import EdgebnnError
from edgebnn.export import thresholds
from edgebnn.nn.threshold import InputThreshold


class ExportError(EdgebnnError, ValueError):
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


@dataclass(frozen=True)
class _Tensor:
    """A tensor of the file being written: its id (0 = the input, k + 1 = layer k's output),
    shape (H, W, C), type and the largest magnitude its values can reach (255 for pixels, 1 for
    ±1 maps, the count bound after GAP, and for I32 the sum bound: folding bisects over it and
    the 2^24 check keeps float32 PyTorch exact)."""

    id: int
    shape: tuple[int, int, int]
    dtype: fmt.DType
    bound: int


#: float32 holds every integer of smaller magnitude exactly (PyTorch computes in float32)
EXACT_FLOAT32 = 2**24


class _Writer:
    """Appends layer records and walks module sequences, nested blocks included."""

    def __init__(self) -> None:
        self.layers: list[fmt.Layer] = []

    def _add(self, layer: fmt.Layer, bound: int, where: str) -> _Tensor:
        if layer.out_type == fmt.DType.I32 and bound >= EXACT_FLOAT32:
            raise ExportError(f"{where}: integer values reach {bound:,}, expected below 2^24 "
                              "(float32 PyTorch would round them)")
        self.layers.append(layer)
        return _Tensor(len(self.layers), tuple(layer.out_shape), layer.out_type, bound)

    def sequence(self, mods: list[tuple[str, nn.Module]], x: _Tensor) -> _Tensor:
        """Exports modules applied one after the other to tensor x; returns the last output."""
        mods = [(n, m) for n, m in mods if not isinstance(m, (nn.Flatten, nn.Identity,
                                                               nn.Dropout))]
        i = 0
        while i < len(mods):
            name, m = mods[i]
            where = f"module {name} ({type(m).__name__})"
            if isinstance(m, (bnn.BinaryConv2d, bnn.BinaryLinear)):
                x, used = self._weight_layer(m, mods[i + 1:i + 3], x, where)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                x, used = self._threshold(m, mods[i + 1:i + 2], x, where), 2
            elif isinstance(m, bnn.StreamBlock):
                x, used = self._block(m, name, x, where), 1
            elif isinstance(m, bnn.GlobalCount):
                x, used = self._gap(x, where), 1
            elif isinstance(m, bnn.StreamFromBinary):
                x, used = self._to_stream(x, where), 1
            elif isinstance(m, InputThreshold):
                x, used = self._binarize(m, x, where), 1
            elif isinstance(m, nn.MaxPool2d):
                x, used = self._maxpool(m, x, where), 1
            else:
                raise ExportError(f"{where}: no .ebnn layer for this module here")
            i += used
        return x

    def _weight_layer(self, m: nn.Module, after: list[tuple[str, nn.Module]], x: _Tensor,
                      where: str) -> tuple[_Tensor, int]:
        """CONV2D/DENSE, with the BatchNorm → Sign (or the bare Sign) after it folded into
        thresholds (BIN output), else integer output (I32)."""
        conv = isinstance(m, nn.Conv2d)
        if x.dtype == fmt.DType.I32:
            raise ExportError(f"{where}: reads an integer tensor; read it through BatchNorm → "
                              "Sign first")
        if (conv or isinstance(m, bnn.InputLinear)) and (
                isinstance(m, (bnn.InputConv2d, bnn.InputLinear)) != (x.dtype == fmt.DType.U8)):
            raise ExportError(f"{where}: an Input* layer must take the 8-bit image, and only it")
        if x.dtype == fmt.DType.U8 and not isinstance(m, (bnn.InputConv2d, bnn.InputLinear,
                                                          bnn.ScoreLinear)):
            raise ExportError(f"{where}: 8-bit input needs an Input* layer (or the ScoreLinear "
                              "classifier on counts)")
        bits, kernel = _weight_bits(m, x.shape)
        stride, pad = (_pair(m.stride), _pair(m.padding)) if conv else ((1, 1), (0, 0))
        if conv and _pair(m.dilation) != (1, 1):
            raise ExportError(f"{where}: dilation is {m.dilation}, expected 1")
        out_hw = [(x.shape[d] + 2 * pad[d] - kernel[d]) // stride[d] + 1 for d in (0, 1)]
        out_shape = (*out_hw, bits.shape[0])
        reach = kernel[0] * kernel[1] * bits.shape[3] * x.bound
        kinds = [type(a) for _, a in after]
        if not isinstance(m, bnn.ScoreLinear) and len(after) == 2 and issubclass(
                kinds[0], (nn.BatchNorm1d, nn.BatchNorm2d)) and issubclass(kinds[1], bnn.Sign):
            out_type, used, bound = fmt.DType.BIN, 3, 1
            t, flip = thresholds.fold(thresholds.bn_sign_decision(after[0][1], after[1][1]),
                                      out_shape[2], -reach, reach)
            thr = fmt.threshold_bytes(t, flip)
        elif not isinstance(m, bnn.ScoreLinear) and after and issubclass(kinds[0], bnn.Sign):
            out_type, used, bound = fmt.DType.BIN, 2, 1
            thr = fmt.threshold_bytes(np.zeros(out_shape[2]), np.zeros(out_shape[2], bool))
        else:
            out_type, thr, used, bound = fmt.DType.I32, b"", 1, reach
        layer = fmt.Layer(fmt.Op.CONV2D if conv else fmt.Op.DENSE, x.dtype, out_type, x.shape,
                          out_shape, kernel, stride, pad, m.groups if conv else 1, in0=x.id,
                          weights=_pack_weights(bits, x.dtype), thresholds=thr)
        return self._add(layer, bound, where), used

    def _threshold(self, bn: nn.Module, after: list[tuple[str, nn.Module]], x: _Tensor,
                   where: str) -> _Tensor:
        """BatchNorm → Sign reading an integer tensor (the stream): THRESHOLD, I32 → BIN."""
        if x.dtype != fmt.DType.I32 or not after or not isinstance(after[0][1], bnn.Sign):
            raise ExportError(f"{where}: a BatchNorm must follow a weight layer, or read an "
                              "integer tensor followed by a Sign")
        t, flip = thresholds.fold(thresholds.bn_sign_decision(bn, after[0][1]), x.shape[2],
                                  -x.bound, x.bound)
        layer = fmt.Layer(fmt.Op.THRESHOLD, fmt.DType.I32, fmt.DType.BIN, x.shape, x.shape,
                          in0=x.id, thresholds=fmt.threshold_bytes(t, flip))
        return self._add(layer, 1, where)

    def _block(self, block: bnn.StreamBlock, name: str, x: _Tensor, where: str) -> _Tensor:
        """reader → THRESHOLD, body, optional shortcut, and the ADD of the two."""
        if x.dtype != fmt.DType.I32:
            raise ExportError(f"{where}: a residual block reads the integer stream, got "
                              f"{x.dtype.name}")
        t = self.sequence([(f"{name}.reader.{k}", r) for k, r in enumerate(block.reader)], x)
        y = self.sequence([(f"{name}.body.{k}", b) for k, b in enumerate(block.body)], t)
        if not block.skip:
            return y
        s = x if block.shortcut is None else self.sequence([(f"{name}.shortcut",
                                                             block.shortcut)], t)
        if y.dtype != fmt.DType.I32 or (s.dtype, s.shape) != (y.dtype, y.shape):
            raise ExportError(f"{where}: the block's output ({y.dtype.name} {y.shape}) and its "
                              f"shortcut ({s.dtype.name} {s.shape}) must be equal-shape I32")
        layer = fmt.Layer(fmt.Op.ADD, fmt.DType.I32, fmt.DType.I32, y.shape, y.shape,
                          in0=y.id, in1=s.id)
        return self._add(layer, y.bound + s.bound, where)

    def _gap(self, x: _Tensor, where: str) -> _Tensor:
        h, w, c = x.shape
        if x.dtype != fmt.DType.BIN:
            raise ExportError(f"{where}: global pooling counts a ±1 map, got {x.dtype.name}")
        if h * w > fmt.GAP_MAX_POSITIONS:
            raise ExportError(f"{where}: counts over {h}x{w} = {h * w} positions, expected at "
                              f"most {fmt.GAP_MAX_POSITIONS} (u8 counts)")
        layer = fmt.Layer(fmt.Op.GAP, fmt.DType.BIN, fmt.DType.U8, x.shape, (1, 1, c), in0=x.id)
        return self._add(layer, h * w, where)

    def _to_stream(self, x: _Tensor, where: str) -> _Tensor:
        """±1 map → the same values as I32: a depthwise 1×1 convolution with weights +1."""
        c = x.shape[2]
        if x.dtype != fmt.DType.BIN:
            raise ExportError(f"{where}: expected a ±1 map, got {x.dtype.name}")
        layer = fmt.Layer(fmt.Op.CONV2D, fmt.DType.BIN, fmt.DType.I32, x.shape, x.shape,
                          groups=c, in0=x.id,
                          weights=_pack_weights(np.ones((c, 1, 1, 1), np.uint8), x.dtype))
        return self._add(layer, 1, where)

    def _binarize(self, m: InputThreshold, x: _Tensor, where: str) -> _Tensor:
        if x.dtype != fmt.DType.U8:
            raise ExportError(f"{where}: input thresholds must take the 8-bit image")
        t = m.threshold.numpy().astype(np.uint8)             # H, W, C like the input
        if t.shape != x.shape:
            raise ExportError(f"{where}: thresholds are {t.shape}, the input is {x.shape}")
        flat = (1, 1, int(np.prod(x.shape)))                # as the module's output
        return self._add(fmt.Layer(fmt.Op.BINARIZE, x.dtype, fmt.DType.BIN, x.shape, flat,
                                   in0=x.id, thresholds=t.tobytes()), 1, where)

    def _maxpool(self, m: nn.MaxPool2d, x: _Tensor, where: str) -> _Tensor:
        if x.dtype != fmt.DType.BIN:
            raise ExportError(f"{where}: max pooling must follow a Sign (binary input)")
        if _pair(m.dilation) != (1, 1) or m.ceil_mode:
            raise ExportError(f"{where}: dilation and ceil_mode are not supported")
        k, s, p = _pair(m.kernel_size), _pair(m.stride or m.kernel_size), _pair(m.padding)
        out_shape = tuple((x.shape[d] + 2 * p[d] - k[d]) // s[d] + 1 for d in (0, 1)) + x.shape[2:]
        return self._add(fmt.Layer(fmt.Op.MAXPOOL, x.dtype, x.dtype, x.shape, out_shape, k, s, p,
                                   in0=x.id), 1, where)


def check_deployable(model: nn.Module) -> None:
    """Raises ExportError naming why a model cannot run on the C core: a host-only module
    (the Mixer's token mixing) or float weights/activations (`--binarize` other than both)."""
    for name, m in model.named_modules():
        if getattr(m, "host_only", None):
            raise ExportError(f"module {name} ({type(m).__name__}): {m.host_only}")
    floats = bnn.float_parts(model)
    if floats:
        raise ExportError(f"the model is not fully binary (trained with --binarize other than "
                          f"'both'): {len(floats)} modules keep float weights or activations, "
                          f"e.g. {floats[0]}; only fully binary models export")


def export_model(model: nn.Sequential, input_shape: tuple[int, int, int], n_classes: int,
                 meta: dict | None = None) -> fmt.Model:
    """input_shape is (H, W, C) of the uint8 input."""
    model = model.eval()
    check_deployable(model)
    writer = _Writer()
    out = writer.sequence([(str(k), m) for k, m in enumerate(model)],
                          _Tensor(0, tuple(input_shape), fmt.DType.U8, 255))
    if out.dtype != fmt.DType.I32 or int(np.prod(out.shape)) != n_classes or out.id == 0:
        raise ExportError(f"the last layer must give {n_classes} integer scores (a ScoreLinear), "
                          f"got a {out.dtype.name} tensor of shape {out.shape}")
    if out.id != len(writer.layers):
        raise ExportError("the scores must be the last layer's output")
    return fmt.Model(tuple(input_shape), n_classes, writer.layers, dict(meta or {}))


def export_run(folder) -> fmt.Model:
    """The `.ebnn` model of a run folder, with the metadata `edgebnn eval` needs to rebuild the
    same test split (data spec, seed, fractions) and the class names."""
    from edgebnn import __version__
    from edgebnn.runs import run_folder
    from edgebnn.runs.provenance import Provenance

    model, spec, config = run_folder.load(folder)
    meta = {"classes": spec.get("classes", []), "model": {k: spec[k] for k in ("name", "kwargs")},
            "source": str(folder), "edgebnn": __version__,
            "training": Provenance.of_config(config).to_meta()}
    exported = export_model(model, tuple(spec["input_shape"]), spec["n_classes"], meta)
    if spec["name"] == "local_chain":   # the rule's state too, so the device can train it on
        from edgebnn.ondevice import local
        exported.extra_sections[local.TAG] = local.from_chain(model, config.algo_kwargs,
                                                              config.seed)
    return exported
