"""`.ebnn` model → a standard ONNX graph that gives the C core's integer scores (docs/onnx.md).

The graph is built from the `fmt.Model`, not from PyTorch, so every model the format holds
exports the same way, and the thresholds are the folded integers the C core compares against.
It uses standard ops only (no custom domain), so onnxruntime and viewers take it as is:

  image uint8 [N,H,W,C] → Cast float → per layer
    CONV2D:  Pad (−1 for ±1 input, 0 for pixels) → Conv (int8 ±1 weights → Cast)
    DENSE:   Flatten in H, W, C order → MatMul (int8 ±1 weights → Cast)
    BIN out: Cast int32 → GreaterOrEqual / LessOrEqual against int32 T (Where by flip) → ±1
    MAXPOOL: Pad −1 → MaxPool
    BINARIZE: GreaterOrEqual against the per-pixel uint8 thresholds → ±1 (→ Flatten)
    THRESHOLD: the BIN-output comparison above, on an int32 stream tensor
    ADD:     Add of two int32 tensors (wraps like the C core)
    GAP:     Relu (±1 → 1/0) → ReduceSum over H, W: the +1 counts, as float pixels
  → scores int32 [N, n_classes] (H, W, C order, like the C core's output tensor).

Activations travel as float32 because that is what Conv/MatMul compute on everywhere; integer
sums stay exact while every partial sum is below 2^24, which is checked per layer. ±1 tensors
carry the QONNX/FINN annotation `finn_datatype = BIPOLAR`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgebnn import __version__
from edgebnn import format as fmt
from edgebnn.errors import EdgebnnError, UsageError, write_bytes
from edgebnn.export.ebnn import ExportError
from edgebnn.reference import weights_pm1
from edgebnn.runs.provenance import Provenance

#: Opset written: the installed onnx's default, capped at 21 (IR 10) — onnxruntime 1.31 refuses
#: opset 27+ and IR 14, and older runtimes and QONNX tools stop earlier still. Every op used here
#: has had its present meaning since opset 16 or earlier.
MAX_OPSET = 21
META_KEY = "edgebnn.meta"      # metadata_props key: the `.ebnn` meta section as JSON
INPUT, OUTPUT, BATCH = "image", "scores", "N"
FLOAT_EXACT = 2**24            # float32 holds every integer up to this magnitude exactly

Scorer = Callable[[np.ndarray], np.ndarray]


class OnnxError(EdgebnnError, ValueError):
    """An ONNX file our tools cannot use; the message names the file."""


def _qonnx_int(reach: int) -> str:
    """Smallest QONNX signed integer type holding [−reach, reach], e.g. INT9 for 255."""
    return f"INT{max(reach, 1).bit_length() + 1}"


class _Graph:
    """Accumulates nodes, initializers and FINN datatype annotations with readable names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.datatypes: dict[str, str] = {}

    def const(self, name: str, value: np.ndarray, datatype: str | None = None) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        if datatype:
            self.datatypes[name] = datatype
        return name

    def op(self, op_type: str, inputs: list[str], out: str, doc: str = "",
           datatype: str | None = None, **attrs) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"{out}_{op_type}",
                                           doc_string=doc, **attrs))
        if datatype:
            self.datatypes[out] = datatype
        return out

    def pm1(self, cond: str, out: str) -> str:
        """The ±1 float tensor of a boolean decision: Where(cond, +1, −1)."""
        if "plus1" not in self.datatypes:
            self.const("plus1", np.array(1.0, np.float32), "BIPOLAR")
            self.const("minus1", np.array(-1.0, np.float32), "BIPOLAR")
        return self.op("Where", [cond, "plus1", "minus1"], out, datatype="BIPOLAR")

    def annotations(self) -> list[onnx.TensorAnnotation]:
        return [onnx.TensorAnnotation(tensor_name=name, quant_parameter_tensor_names=[
                    onnx.StringStringEntryProto(key="finn_datatype", value=dt)])
                for name, dt in self.datatypes.items()]


class _Tensors:
    """The model's tensors in ONNX, each available in up to three layouts, made on demand:
    `nhwc` (the input as given), `nchw` (what Conv and MaxPool take) and `flat` ([N, H·W·C] in
    H, W, C order — what DENSE reads and what the scores are)."""

    def __init__(self, g: _Graph, shapes: list[tuple[int, int, int]]) -> None:
        self.g, self.shapes = g, shapes
        self.names: dict[tuple[int, str], str] = {}

    def set(self, tid: int, layout: str, name: str) -> None:
        self.names[(tid, layout)] = name

    def get(self, tid: int, layout: str) -> str:
        if (tid, layout) in self.names:
            return self.names[(tid, layout)]
        h, w, _ = self.shapes[tid]
        have = {lay: n for (t, lay), n in self.names.items() if t == tid}
        name = f"t{tid}_{layout}"
        dt = self.g.datatypes.get(next(iter(have.values())))   # a copy keeps its datatype
        if layout == "flat":
            # NHWC flattens in H, W, C order as is; so does NCHW when H = W = 1
            src = have.get("nhwc") or (have["nchw"] if (h, w) == (1, 1) and "nchw" in have
                                       else self.get(tid, "nhwc"))
            self.g.op("Flatten", [src], name, datatype=dt, axis=1)
        else:
            other = "nhwc" if layout == "nchw" else "nchw"
            if other in have:
                perm = [0, 3, 1, 2] if layout == "nchw" else [0, 2, 3, 1]
                self.g.op("Transpose", [have[other]], name, datatype=dt, perm=perm)
            else:   # only [N, C] exists, so H = W = 1
                axes = self.g.const(f"{name}_axes",
                                    np.array([2, 3] if layout == "nchw" else [1, 2], np.int64))
                self.g.op("Unsqueeze", [have["flat"], axes], name, datatype=dt)
        self.set(tid, layout, name)
        return name


def _pad(g: _Graph, x: str, layer: fmt.Layer, value: float, name: str, dt: str | None) -> str:
    """Explicit constant padding (the format's −1 or 0), so Conv/MaxPool run with pads 0."""
    ph, pw = layer.pad
    if not ph and not pw:
        return x
    pads = g.const(f"{name}_pads", np.array([0, 0, ph, pw, 0, 0, ph, pw], np.int64))
    fill = g.const(f"{name}_value", np.array(value, np.float32))
    return g.op("Pad", [x, pads, fill], name, datatype=dt, mode="constant")


def _linear(g: _Graph, t: _Tensors, i: int, layer: fmt.Layer) -> tuple[str, str]:
    """CONV2D or DENSE pre-activation y as int32; returns (name, layout)."""
    kh, kw = layer.kernel
    cg = layer.in_shape[2] // layer.groups
    u8 = layer.in_type == fmt.DType.U8
    reach = kh * kw * cg * (255 if u8 else 1)
    if reach > FLOAT_EXACT:
        raise ExportError(f"layer {i}: sums reach {reach:,}, beyond 2^24 where float32 Conv/MatMul "
                          "stop being exact integer arithmetic")
    w = weights_pm1(layer).astype(np.int8)             # (O, kh, kw, cg)
    in_dt = "UINT8" if u8 else "BIPOLAR"
    doc = (f"layer {i}: {layer.op.name} {layer.in_type.name}->{layer.out_type.name}, "
           f"{kh}x{kw} kernel, {cg} channels per group, sums in [-{reach}, {reach}]")
    pre = f"layer{i}_y"
    if layer.op == fmt.Op.DENSE:
        w8 = g.const(f"layer{i}_w_int8", w.reshape(len(w), -1).T.copy())   # (H·W·C, O)
        wf = g.op("Cast", [w8], f"layer{i}_w", datatype="BIPOLAR", to=TensorProto.FLOAT)
        y = g.op("MatMul", [t.get(layer.in0, "flat"), wf], pre, doc, _qonnx_int(reach))
        layout = "flat"
    else:
        w8 = g.const(f"layer{i}_w_int8", w.transpose(0, 3, 1, 2).copy())  # (O, cg, kh, kw)
        wf = g.op("Cast", [w8], f"layer{i}_w", datatype="BIPOLAR", to=TensorProto.FLOAT)
        x = _pad(g, t.get(layer.in0, "nchw"), layer, 0.0 if u8 else -1.0, f"layer{i}_pad",
                 in_dt)
        y = g.op("Conv", [x, wf], pre, doc, _qonnx_int(reach), kernel_shape=[kh, kw],
                 strides=list(layer.stride), group=layer.groups, pads=[0, 0, 0, 0])
        layout = "nchw"
    return g.op("Cast", [y], f"layer{i}_y_int32", to=TensorProto.INT32), layout


def _threshold(g: _Graph, i: int, layer: fmt.Layer, y: str, layout: str) -> str:
    """±1 float output: +1 iff y >= T[c] (flip 0) or y <= T[c] (flip 1), compared in int32."""
    thr, flip = layer.threshold_arrays()
    shape = (1, -1, 1, 1) if layout == "nchw" else (1, -1)
    t = g.const(f"layer{i}_T", thr.astype(np.int32).reshape(shape))
    out = f"t{i + 1}_{layout}"

    def decide(op: str, result: str) -> str:
        cond = g.op(op, [y, t], f"layer{i}_{'le' if op == 'LessOrEqual' else 'ge'}")
        return g.pm1(cond, result or f"{cond}_pm1")

    if not flip.any():
        return decide("GreaterOrEqual", out)
    if flip.all():
        return decide("LessOrEqual", out)
    # onnxruntime has no Where on bool data: choose per channel between the two ±1 results
    mask = g.const(f"layer{i}_flip", flip.reshape(shape))
    return g.op("Where", [mask, decide("LessOrEqual", ""), decide("GreaterOrEqual", "")], out,
                datatype="BIPOLAR")


def _maxpool(g: _Graph, t: _Tensors, i: int, layer: fmt.Layer) -> str:
    x = _pad(g, t.get(layer.in0, "nchw"), layer, -1.0, f"layer{i}_pad", "BIPOLAR")
    return g.op("MaxPool", [x], f"t{i + 1}_nchw", f"layer {i}: MAXPOOL", "BIPOLAR",
                kernel_shape=list(layer.kernel), strides=list(layer.stride), pads=[0, 0, 0, 0])


def _binarize(g: _Graph, t: _Tensors, i: int, layer: fmt.Layer) -> tuple[str, str]:
    """BINARIZE (format 1.1): +1 iff pixel >= its own u8 threshold; (name, layout)."""
    thr = g.const(f"layer{i}_t_uint8", layer.binarize_thresholds()[None])   # (1, H, W, C)
    thr_f = g.op("Cast", [thr], f"layer{i}_t", datatype="UINT8", to=TensorProto.FLOAT)
    cond = g.op("GreaterOrEqual", [t.get(layer.in0, "nhwc"), thr_f], f"layer{i}_ge",
                f"layer {i}: BINARIZE at per-element thresholds")
    if tuple(layer.out_shape) == tuple(layer.in_shape):
        return g.pm1(cond, f"t{i + 1}_nhwc"), "nhwc"
    # flattened to 1 x 1 x H·W·C: the same values in H, W, C order
    pm1 = g.pm1(cond, f"layer{i}_pm1")
    return g.op("Flatten", [pm1], f"t{i + 1}_flat", datatype="BIPOLAR", axis=1), "flat"


def _spatial_layout(shape: tuple[int, int, int]) -> str:
    """The layout an element-wise op works in: flat for a 1 × 1 × C tensor (a DENSE output),
    NCHW otherwise (a Conv output), so the common cases need no conversion."""
    return "flat" if shape[:2] == (1, 1) else "nchw"


def _add(g: _Graph, t: _Tensors, i: int, layer: fmt.Layer) -> tuple[str, str]:
    """ADD (format 1.2): the int32 sum of in0 and in1, computed in int32 like the C core (the
    float32 Conv sums feeding it are each exact), so no 2^24 bound applies to the stream."""
    layout = _spatial_layout(layer.in_shape)
    name = g.op("Add", [t.get(layer.in0, layout), t.get(layer.in1, layout)],
                f"t{i + 1}_{layout}", f"layer {i}: ADD of tensors {layer.in0} and {layer.in1}")
    return name, layout


def _gap(g: _Graph, t: _Tensors, i: int, layer: fmt.Layer) -> str:
    """GAP (format 1.2): per channel the number of +1 values, Relu(±1) summed over H and W —
    small exact integers in float32, which a following U8-input DENSE reads like pixels."""
    ones = g.op("Relu", [t.get(layer.in0, "nchw")], f"layer{i}_ones", f"layer {i}: +1 -> 1, "
                "-1 -> 0")
    axes = g.const(f"layer{i}_axes", np.array([2, 3], np.int64))
    return g.op("ReduceSum", [ones, axes], f"t{i + 1}_nchw", f"layer {i}: GAP, +1 counts",
                "UINT8", keepdims=1)


def opset_version() -> int:
    return min(onnx.defs.onnx_opset_version(), MAX_OPSET)


def to_onnx(model: fmt.Model, name: str = "edgebnn") -> onnx.ModelProto:
    """The ONNX model of a `.ebnn` model; checked (full) and with inferred shapes stored."""
    g = _Graph()
    shapes = [tuple(model.input_shape)] + [tuple(layer.out_shape) for layer in model.layers]
    t = _Tensors(g, shapes)
    t.set(0, "nhwc", g.op("Cast", [INPUT], "t0_nhwc", "the uint8 pixels as float32", "UINT8",
                          to=TensorProto.FLOAT))
    for i, layer in enumerate(model.layers):
        if layer.op == fmt.Op.MAXPOOL:
            t.set(i + 1, "nchw", _maxpool(g, t, i, layer))
            continue
        if layer.op == fmt.Op.BINARIZE:
            name, layout = _binarize(g, t, i, layer)
            t.set(i + 1, layout, name)
            continue
        if layer.op == fmt.Op.THRESHOLD:
            layout = _spatial_layout(layer.in_shape)
            t.set(i + 1, layout, _threshold(g, i, layer, t.get(layer.in0, layout), layout))
            continue
        if layer.op == fmt.Op.ADD:
            name, layout = _add(g, t, i, layer)
            t.set(i + 1, layout, name)
            continue
        if layer.op == fmt.Op.GAP:
            t.set(i + 1, "nchw", _gap(g, t, i, layer))
            continue
        if layer.op not in (fmt.Op.CONV2D, fmt.Op.DENSE) or layer.in_type == fmt.DType.I32:
            raise ExportError(f"layer {i}: no ONNX translation for {layer.op.name} with "
                              f"{layer.in_type.name} input")
        y, layout = _linear(g, t, i, layer)
        t.set(i + 1, layout, _threshold(g, i, layer, y, layout)
              if layer.out_type == fmt.DType.BIN else y)
    last = t.get(len(model.layers), "flat")
    g.op("Identity", [last], OUTPUT, "the class scores, int32, H, W, C order")

    h, w, c = model.input_shape
    graph = helper.make_graph(
        g.nodes, name, [helper.make_tensor_value_info(INPUT, TensorProto.UINT8, [BATCH, h, w, c])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.INT32, [BATCH, model.n_classes])],
        initializer=g.inits, doc_string="binary network exported from a .ebnn model by edgebnn")
    graph.quantization_annotation.extend(g.annotations())
    opset = helper.make_opsetid("", opset_version())
    proto = helper.make_model(graph, opset_imports=[opset], producer_name="edgebnn",
                              producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for([opset]))
    helper.set_model_props(proto, {META_KEY: fmt.meta_json(model.meta)})
    try:   # a model read from a file passed the C loader's checks, so this holds for those
        onnx.checker.check_model(proto, full_check=True)
        return onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise OnnxError(f"{model.source or name}: its ONNX graph does not check ({first})") \
            from None


def write(model: fmt.Model, path: str | Path) -> int:
    """Writes the ONNX file; returns its size in bytes."""
    data = to_onnx(model, Path(path).stem or "edgebnn").SerializeToString()
    write_bytes(path, data)
    return len(data)


def load(path: str | Path) -> onnx.ModelProto:
    """Reads and checks an ONNX file; any damage becomes one OnnxError line naming the file."""
    try:
        proto = onnx.load_model(str(path))
        onnx.checker.check_model(proto)
    except OSError as e:
        raise OnnxError(f"{path}: cannot read ({e.strerror or e})") from None
    except Exception as e:   # protobuf DecodeError, onnx ValidationError, ...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise OnnxError(f"{path}: not a valid ONNX model ({first})") from None
    if not proto.graph.node:
        raise OnnxError(f"{path}: not a valid ONNX model (empty graph)")
    return proto


def open_scorer(path: str | Path) -> tuple[Scorer, Provenance]:
    """(scorer, provenance) of an ONNX file run by onnxruntime — the `onnx` backend. The
    provenance is what `edgebnn eval` needs to rebuild the split, as from a `.ebnn` file."""
    import onnxruntime as ort

    proto = load(path)
    props = {p.key: p.value for p in proto.metadata_props}
    try:
        meta = json.loads(props.get(META_KEY, "{}"))
        session = ort.InferenceSession(proto.SerializeToString(),
                                       providers=["CPUExecutionProvider"])
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise OnnxError(f"{path}: cannot be loaded ({first})") from None
    inp = session.get_inputs()[0]
    shape = tuple(inp.shape[1:])

    def score(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != shape:
            raise UsageError(f"{path}: input is {x.dtype} {tuple(x.shape)}, expected uint8 "
                             f"(N, {', '.join(map(str, shape))})")
        return session.run(None, {inp.name: np.ascontiguousarray(x)})[0].astype(np.int32)

    if not isinstance(meta, dict):
        raise OnnxError(f"{path}: {META_KEY} is {fmt.json_type(meta)}, expected a JSON object")
    return score, Provenance.from_meta(meta.get("training", {}), str(path), META_KEY)
