"""Format 1.2, the ops of residual networks (docs/format.md "Residual networks"): THRESHOLD,
ADD and GAP, with skips through in0/in1. Random residual models built directly with the writer
give the same integer scores in the C core, the NumPy reference and onnxruntime; the loader and
the Python reader reject broken wiring, naming the layer and field."""
from __future__ import annotations

import struct
import subprocess
import zlib

import numpy as np
import onnxruntime as ort
import pytest

from edgebnn import format as fmt
from edgebnn import reference
from edgebnn.export import header
from edgebnn.export import onnx as onnx_export
from edgebnn.native import NativeError, NativeModel
from tests.test_header import ARM_TOOLS, _make, _need, _parse
from tests.vectors.make_vectors import residual_mlp, residual_net

# (input shape, stage-1 channels, stage-2 channels, classes): odd sizes, channel counts around
# and on word boundaries, a single channel; stride 2 on odd and even sizes
SHAPES = [((7, 7, 3), 5, 33, 6), ((9, 6, 2), 17, 31, 10), ((8, 8, 1), 32, 64, 3),
          ((5, 11, 4), 1, 7, 2)]


def _images(shape: tuple[int, int, int], n: int, seed: int) -> np.ndarray:
    """Random pixels plus the all-0 and all-255 images (the extremes of the U8 stem sums)."""
    x = np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)
    x[0], x[1] = 0, 255
    return x


def _onnx_scores(model: fmt.Model, x: np.ndarray) -> np.ndarray:
    proto = onnx_export.to_onnx(model)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"image": x})[0]


@pytest.mark.parametrize("shape, c1, c2, classes", SHAPES)
def test_c_core_reference_and_onnx_agree(shape, c1, c2, classes):
    model = residual_net(sum(shape) + c1 + c2, shape, c1, c2, classes)
    data = fmt.to_bytes(model)
    assert struct.unpack_from("<H", data, 6)[0] == 2, "a file with 1.2 ops is version 1.2"
    x = _images(shape, 24, seed=c2)
    native = NativeModel(data).infer(x)
    assert native.shape == (len(x), classes)
    assert np.array_equal(reference.infer(fmt.from_bytes(data), x), native)
    onnx = _onnx_scores(model, x)
    assert onnx.dtype == np.int32 and np.array_equal(onnx, native)
    assert len({tuple(s) for s in native}) > len(x) // 2, "inputs should give distinct scores"


@pytest.fixture(scope="module")
def embedded_resnet(tmp_path_factory) -> tuple:
    """A residual model as a C header plus sample inputs (docs/embedding.md), and the host C
    core's scores for them."""
    model = residual_net(8, (9, 6, 2), 17, 31, 10)
    data = fmt.to_bytes(model)
    folder = tmp_path_factory.mktemp("embed_resnet")
    header.write(data, folder / "model.h")
    x = _images((9, 6, 2), 12, seed=9)
    (folder / "samples.h").write_text(header.samples_text(x))
    return folder, NativeModel(data).infer(x)


@pytest.mark.parametrize("target", ["run-host", "run-cm4"])
def test_embedded_on_host_and_cortex_m4_under_qemu(embedded_resnet, target):
    """The header export and the firmware build run the 1.2 ops: the example program prints
    the host core's scores, compiled for the host and for Cortex-M4 under QEMU."""
    _need(*(ARM_TOOLS if target == "run-cm4" else ("make", "cc")))
    folder, expected = embedded_resnet
    r = _make(target, folder)
    assert r.returncode == 0, r.stdout + r.stderr
    assert np.array_equal(_parse(r.stdout, expected.shape[1]), expected)


@pytest.mark.parametrize("core_minor", [1, 2])
def test_header_refuses_an_older_core(embedded_resnet, tmp_path, core_minor):
    """A 1.2 model's header stops the build against a core of format 1.1 (which would refuse
    the file at load time) and builds against 1.2."""
    _need("cc")
    folder, _ = embedded_resnet
    src = tmp_path / "use.c"
    src.write_text(f"#define EBNN_FORMAT_MINOR {core_minor}\n#include \"model.h\"\n"
                   "int main(void) { return model_data[0] != 'E'; }\n")
    r = subprocess.run(["cc", "-std=c99", "-Wall", "-Werror", f"-I{folder}", str(src), "-o",
                        str(tmp_path / "a.out")], capture_output=True, text=True, timeout=60)
    if core_minor < 2:
        assert r.returncode != 0 and "needs an edgebnn C core of format 1.2" in r.stderr
    else:
        assert r.returncode == 0, r.stderr


def test_firmware_server_under_qemu(tmp_path):
    """The protocol server on the emulated M4 board (docs/protocol.md) loads a residual model
    over serial and returns the host core's scores."""
    _need(*ARM_TOOLS)
    from edgebnn.device.ports import ensure_firmware, open_device

    data = fmt.to_bytes(residual_net(8, (9, 6, 2), 17, 31, 10))
    x = _images((9, 6, 2), 20, seed=4)
    ensure_firmware("mps2-an386", tmp_path)
    with open_device("qemu:mps2-an386", build_dir=tmp_path) as dev:
        dev.load(data)
        assert np.array_equal(dev.infer(x).scores, NativeModel(data).infer(x))


@pytest.mark.parametrize("shape, width, classes", [((3, 3, 1), 7, 3), ((4, 5, 2), 40, 10)])
def test_flat_tensors_and_an_add_as_last_layer(shape, width, classes):
    """THRESHOLD and ADD on 1 × 1 × C tensors (flat in ONNX), and the scores written by an ADD
    (the caller's buffer, not the arena)."""
    model = residual_mlp(width, shape, width, classes)
    data = fmt.to_bytes(model)
    x = _images(shape, 24, seed=width)
    native = NativeModel(data).infer(x)
    assert np.array_equal(reference.infer(fmt.from_bytes(data), x), native)
    assert np.array_equal(_onnx_scores(model, x), native)
    assert len({tuple(s) for s in native}) > len(x) // 2, "inputs should give distinct scores"


def test_stream_values_and_counts_are_the_spec_ones():
    """Layer by layer on one input, against values computed here from the definitions: the
    ADD is the integer sum of its two producers, THRESHOLD the per-channel comparison, GAP the
    number of +1 values per channel."""
    model = residual_net(3, (7, 7, 3), 5, 33, 6)
    x = _images((7, 7, 3), 3, seed=1)[2].astype(np.int64)
    tensors = [x]
    for layer in model.layers:
        x1 = None if layer.in1 == fmt.TENSOR_NONE else tensors[layer.in1]
        tensors.append(reference.run_layer(layer, tensors[layer.in0], x1))
    add, thr, gap = model.layers[4], model.layers[5], model.layers[12]
    assert (add.in0, add.in1) == (4, 1)
    assert np.array_equal(tensors[5], tensors[4] + tensors[1])
    t, flip = thr.threshold_arrays()
    y = tensors[5]
    assert np.array_equal(tensors[6] == 1, np.where(flip, y <= t, y >= t))
    assert np.array_equal(tensors[13].reshape(-1), (tensors[12] == 1).sum(axis=(0, 1)))
    assert 0 < tensors[13].sum() < 4 * 4 * 33, "the counts should vary"


def test_add_wraps_like_int32():
    layer = fmt.Layer(fmt.Op.ADD, fmt.DType.I32, fmt.DType.I32, (1, 1, 2), (1, 1, 2), in1=0)
    a = np.array([[[2**31 - 1, -(2**31)]]])
    assert reference.run_layer(layer, a, np.array([[[1, -1]]])).tolist() == [[[-(2**31),
                                                                               2**31 - 1]]]


def test_files_without_the_new_ops_keep_their_version():
    model = residual_net(1, (7, 7, 3), 5, 33, 6)
    stem = fmt.Layer(fmt.Op.DENSE, fmt.DType.U8, fmt.DType.I32, (7, 7, 3), (1, 1, 6), (7, 7),
                     weights=bytes(6 * fmt.words(7 * 7 * 3) * 4))
    data = fmt.to_bytes(fmt.Model((7, 7, 3), 6, [stem]))
    assert struct.unpack_from("<H", data, 6)[0] == 0
    assert struct.unpack_from("<H", fmt.to_bytes(model), 6)[0] == 2


def test_arena_keeps_skipped_tensors_alive_and_adds_in_place():
    """The stream (tensor 1) is read three layers later and tensor 6 by two layers: the arena
    holds each until its last reader (a plan that freed them early would also change the
    scores, which the agreement test catches). The ADD writes over its dying operand, so the
    peak is two I32 tensors and a BIN one, not three I32 tensors."""
    model = residual_net(2, (8, 8, 1), 32, 64, 3)
    arena = NativeModel(fmt.to_bytes(model)).arena_size
    stream, bits = 8 * 8 * 32 * 4, 8 * 8 * 4     # I32 and BIN (8, 8, 32)
    # while layer 3 writes tensor 4, tensors 1 (stream), 3 (its BIN input) and 4 are alive
    assert 2 * stream + bits <= arena < 3 * stream


def _recrc(data: bytearray) -> bytes:
    """Recomputes every section CRC, the table CRC and the header CRC after an edit."""
    n = struct.unpack_from("<H", data, 16)[0]
    for i in range(n):
        _, off, size, _ = struct.unpack_from("<4sIII", data, 64 + 16 * i)
        struct.pack_into("<I", data, 64 + 16 * i + 12, zlib.crc32(bytes(data[off:off + size])))
    struct.pack_into("<I", data, 32, zlib.crc32(bytes(data[64:64 + 16 * n])))
    struct.pack_into("<I", data, 60, zlib.crc32(bytes(data[:60])))
    return bytes(data)


def _with_field(data: bytes, layer: int, offset: int, code: str, value: int) -> bytes:
    """The file with one field of one layer record changed (CRCs repaired, so the loader's
    semantic checks are what rejects it)."""
    out = bytearray(data)
    n = struct.unpack_from("<H", data, 16)[0]
    layr = next(off for tag, off, _, _ in (struct.unpack_from("<4sIII", data, 64 + 16 * i)
                                           for i in range(n)) if tag == b"LAYR")
    struct.pack_into(code, out, layr + 64 * layer + offset, value)
    return _recrc(out)


IN0, IN1, IN_TYPE, IN_H, T_SIZE = 4, 6, 8, 12, 48

# layer, field offset, struct code, value, C status, C field (got, expected), reader's words;
# layers of residual_net: 1 THRESHOLD of the stream, 4 ADD (in0 4, in1 1), 9 ADD at stage 2,
# 12 GAP
REJECTED = {
    "in1 of ADD is a BIN tensor": (4, IN1, "<H", 2, "EBNN_ERR_SHAPE", "in1_type is 1, expected 2",
                                   "layer 4: in1 is tensor 2 (BIN"),
    "in1 of ADD has another shape": (9, IN1, "<H", 5, "EBNN_ERR_SHAPE",
                                     "in1_h is 7, expected 4", "layer 9: in1 is tensor 5 (I32"),
    "in1 on THRESHOLD": (1, IN1, "<H", 0, "EBNN_ERR_LAYER", "in1 is 0, expected 65535",
                         "layer 1: in1 is 0, expected 0xFFFF"),
    "ADD without in1": (4, IN1, "<H", 0xFFFF, "EBNN_ERR_LAYER", "in1 is 65535, expected 4",
                        "layer 4: in1 is 65535, expected a tensor id 0..4"),
    "in1 forward reference": (4, IN1, "<H", 6, "EBNN_ERR_LAYER", "in1 is 6, expected 4",
                              "layer 4: in1 is 6, expected a tensor id 0..4"),
    "in0 forward reference": (5, IN0, "<H", 7, "EBNN_ERR_LAYER", "in0 is 7, expected 5",
                              "layer 5: in0 is 7, expected a tensor id 0..5"),
    "THRESHOLD of a BIN tensor": (5, IN_TYPE, "<B", 1, "EBNN_ERR_UNSUPPORTED",
                                  "in_type is 1, expected 2", "layer 5: in0 is BIN"),
    "THRESHOLD thresholds short": (5, T_SIZE, "<I", 4 * 5, "EBNN_ERR_WEIGHTS",
                                   "t_size is 20, expected 24", None),
}


@pytest.fixture(scope="module")
def resnet_bytes() -> bytes:
    return fmt.to_bytes(residual_net(5, (7, 7, 3), 5, 33, 6))


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_loader_and_reader_reject(resnet_bytes, case):
    layer, offset, code, value, status, c_words, py_words = REJECTED[case]
    bad = _with_field(resnet_bytes, layer, offset, code, value)
    with pytest.raises(NativeError) as e:
        NativeModel(bad, "m.ebnn")
    assert e.value.status == status
    assert f"m.ebnn: layer {layer}: {c_words}" in str(e.value)
    if py_words is not None:
        with pytest.raises(fmt.FormatError, match="m.ebnn: " + py_words.replace("(", r"\(")):
            fmt.from_bytes(bad, "m.ebnn")


def test_gap_over_255_positions_is_refused():
    """16 × 16 = 256 positions: a count could be 256, which a U8 cannot hold."""
    model = residual_net(6, (31, 32, 1), 2, 3, 2)
    assert model.layers[12].op == fmt.Op.GAP and model.layers[12].in_shape[:2] == (16, 16)
    with pytest.raises(NativeError) as e:
        NativeModel(fmt.to_bytes(model), "m.ebnn")
    assert e.value.status == "EBNN_ERR_LAYER"
    assert "m.ebnn: layer 12: in_h*in_w is 256, expected 255" in str(e.value)


def test_writer_refuses_broken_wiring():
    model = residual_net(5, (7, 7, 3), 5, 33, 6)
    model.layers[4].in1 = 2
    with pytest.raises(fmt.FormatError, match=r"layer 4: in1 is tensor 2 \(BIN"):
        fmt.to_bytes(model)
