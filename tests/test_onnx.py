"""ONNX export (docs/onnx.md): onnxruntime gives the C core's int32 scores bit for bit, for the
trained MLP and CNN and for random models and the spec's test vectors; the graph passes the full
checker and strict shape inference, has a dynamic batch, int8 ±1 weights and BIPOLAR annotations;
`edgebnn export/eval` handle ONNX, and damaged files give one clear line."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edgebnn import format as fmt
from edgebnn.cli import main
from edgebnn.export import ExportError, export_model, export_run
from edgebnn.export import onnx as onnx_export
from edgebnn.export.ebnn import _pack_weights
from edgebnn.native import NativeModel
from tests.conftest import random_images, random_model

VECTORS = Path(__file__).parent / "vectors"


def _session(proto: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def _same_scores(model: fmt.Model, images: np.ndarray) -> None:
    """onnxruntime and the C core agree on `images`, run at batch sizes len, 37 and 1."""
    session = _session(onnx_export.to_onnx(model))
    native = NativeModel(fmt.to_bytes(model)).infer(images)
    for batch in {len(images), 37, 1}:
        got = np.concatenate([session.run(None, {"image": images[i:i + batch]})[0]
                              for i in range(0, len(images), batch)])
        assert got.dtype == np.int32 and got.shape == native.shape
        assert np.array_equal(got, native), f"onnxruntime differs from the C core (batch {batch})"


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_trained_models_match_c_core(trained_runs, digits, kind):
    model = export_run(trained_runs[kind])
    _same_scores(model, digits.test.x)
    _same_scores(model, random_images(model.input_shape, 100, seed=5))


@pytest.mark.parametrize("name, shape, kwargs", [
    ("mlp", (8, 8, 3), {"layers": [33, 70]}),
    ("cnn", (28, 28, 1), {"width": 4, "convs_per_stage": 1, "fc": 31}),
    ("cnn", (12, 10, 3), {"width": 5, "fc": 16}),
])
def test_random_models_match_c_core(name, shape, kwargs):
    model = export_model(random_model(name, shape, 10, seed=3, **kwargs), shape, 10)
    _same_scores(model, random_images(shape, 40, seed=4))


@pytest.mark.parametrize("vector", ["tiny_mlp", "tiny_cnn"])
def test_spec_vectors(vector):
    """The hand-made vectors: padding, strides, 33 channels, constant and flipped channels."""
    model = fmt.read(VECTORS / f"{vector}.ebnn")
    _same_scores(model, random_images(model.input_shape, 50, seed=6))


def _random_layer(rng: np.random.Generator, op: fmt.Op, in_type: fmt.DType, out_type: fmt.DType,
                  in_shape: tuple, out_c: int, kernel=(1, 1), pad=(0, 0), in0: int = 0):
    """A CONV2D/DENSE record with random ±1 weights and thresholds (mixed flips)."""
    bits = rng.integers(0, 2, (out_c, *kernel, in_shape[2]), dtype=np.uint8)
    out_hw = [in_shape[d] + 2 * pad[d] - kernel[d] + 1 for d in (0, 1)]
    n = kernel[0] * kernel[1] * in_shape[2]
    thr = (fmt.threshold_bytes(rng.integers(-n, n + 1, out_c), rng.random(out_c) < 0.5)
           if out_type == fmt.DType.BIN else b"")
    return fmt.Layer(op, in_type, out_type, tuple(in_shape), (*out_hw, out_c), kernel, (1, 1),
                     pad, in0=in0, weights=_pack_weights(bits, in_type), thresholds=thr)


@pytest.mark.parametrize("flat", [False, True])
def test_binarize_layer(flat):
    """BINARIZE (format 1.1), keeping the H x W x C shape (then conv and pool) or flattened to
    1 x 1 x H·W·C (then a 1x1 conv on the flat map and a dense layer)."""
    rng, shape = np.random.default_rng(8), (6, 6, 2)
    size = 6 * 6 * 2
    binarize = fmt.Layer(fmt.Op.BINARIZE, fmt.DType.U8, fmt.DType.BIN, shape,
                         (1, 1, size) if flat else shape,
                         thresholds=rng.integers(0, 256, size, dtype=np.uint8).tobytes())
    B, I32 = fmt.DType.BIN, fmt.DType.I32
    if flat:
        rest = [_random_layer(rng, fmt.Op.CONV2D, B, B, (1, 1, size), 33, in0=1),
                _random_layer(rng, fmt.Op.DENSE, B, I32, (1, 1, 33), 4, in0=2)]
    else:
        conv = _random_layer(rng, fmt.Op.CONV2D, B, B, shape, 7, (3, 3), (1, 1), in0=1)
        pool = fmt.Layer(fmt.Op.MAXPOOL, B, B, (6, 6, 7), (3, 3, 7), (2, 2), (2, 2), in0=2)
        rest = [conv, pool, _random_layer(rng, fmt.Op.DENSE, B, I32, (3, 3, 7), 4, (3, 3), in0=3)]
    model = fmt.from_bytes(fmt.to_bytes(fmt.Model(shape, 4, [binarize, *rest])))
    _same_scores(model, random_images(shape, 60, seed=2))


def test_graph_is_standard_checked_and_annotated(trained_runs, tmp_path):
    path = tmp_path / "cnn.onnx"
    onnx_export.write(export_run(trained_runs["cnn"]), path)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    assert [o.domain for o in proto.opset_import] == [""]
    assert proto.opset_import[0].version == onnx_export.opset_version()
    assert all(n.domain == "" for n in proto.graph.node)
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert out.type.tensor_type.elem_type == onnx.TensorProto.INT32
    batch = {v.type.tensor_type.shape.dim[0].dim_param for v in (inp, out)}
    assert batch == {onnx_export.BATCH}

    inits = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    weights = {k: v for k, v in inits.items() if k.endswith("_w_int8")}
    assert weights and all(v.dtype == np.int8 and set(np.unique(v)) <= {-1, 1}
                           for v in weights.values())
    datatypes = {a.tensor_name: {e.key: e.value for e in a.quant_parameter_tensor_names}
                 for a in proto.graph.quantization_annotation}
    bipolar = {k for k, v in datatypes.items() if v.get("finn_datatype") == "BIPOLAR"}
    produced = {o: n.op_type for n in proto.graph.node for o in n.output}
    # every weight, every thresholded activation and every pooled map is marked BIPOLAR
    assert {k[:-len("_int8")] for k in weights} <= bipolar
    assert {o for o, op in produced.items() if op == "MaxPool"} <= bipolar
    assert {o for o, op in produced.items() if op == "Where" and o.startswith("t")} <= bipolar
    assert bipolar <= set(produced) | set(inits)
    # and the BIPOLAR tensors do hold only ±1 (expose them as outputs and run)
    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    probe.graph.output.extend(onnx.ValueInfoProto(name=k) for k in sorted(bipolar & set(produced)))
    values = _session(probe).run(None, {"image": random_images((8, 8, 1), 5, seed=1)})[1:]
    assert all(set(np.unique(v)) <= {-1.0, 1.0} for v in values)


def test_float_bound_is_checked():
    """A U8 dense layer over 300x300 pixels sums up to 300·300·255 > 2^24: refused."""
    layer = fmt.Layer(fmt.Op.DENSE, fmt.DType.U8, fmt.DType.I32, (300, 300, 1), (1, 1, 2),
                      kernel=(300, 300))
    rows, words = layer.weight_rows()
    layer.weights = bytes(4 * rows * words)
    with pytest.raises(ExportError, match="2\\^24"):
        onnx_export.to_onnx(fmt.Model((300, 300, 1), 2, [layer]))


def test_cli_export_and_eval(trained_runs, tmp_path, capsys):
    run = trained_runs["mlp"]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ebnn, from_run, from_file = tmp_path / "m.ebnn", tmp_path / "a/m.onnx", tmp_path / "b/m.onnx"
    assert main(["export", str(run), "-o", str(ebnn), "--onnx", str(from_run)]) == 0
    assert main(["export", str(ebnn), "--onnx", str(from_file)]) == 0
    assert from_run.read_bytes() == from_file.read_bytes()
    capsys.readouterr()
    for backend, path in (("onnx", from_run), ("native", ebnn)):
        assert main(["eval", str(path), "--backend", backend, "--json",
                     "--save-logits", str(tmp_path / f"{backend}.npy")]) == 0
    assert np.array_equal(np.load(tmp_path / "onnx.npy"), np.load(tmp_path / "native.npy"))
    json_lines = capsys.readouterr().out.strip().splitlines()
    assert len(json_lines) == 2 and json_lines[0].replace("onnx", "native") == json_lines[1]


def test_corrupt_onnx_gives_one_clear_line(trained_runs, tmp_path, capsys):
    good = tmp_path / "m.onnx"
    onnx_export.write(export_run(trained_runs["mlp"]), good)
    data = good.read_bytes()
    cases = {"truncated.onnx": data[:len(data) // 3], "garbage.onnx": b"not a model\n" * 10,
             "empty.onnx": b""}
    for name, content in cases.items():
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(onnx_export.OnnxError, match=name):
            onnx_export.open_scorer(bad)
        assert main(["eval", str(bad), "--backend", "onnx"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(bad) in err and "Traceback" not in err
        # an ONNX file is no input for export: refused, naming it
        assert main(["export", str(bad), "--header", str(tmp_path / "x.h")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(bad) in err
