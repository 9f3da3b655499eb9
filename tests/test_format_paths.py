"""Every path that opens a `.ebnn` file — export to .ebnn, ONNX and C header, eval on the native
and device backends, device evaluate / train — refuses a file the C loader refuses, with the
loader's diagnostic and the file's name, before anything is written, uploaded or trained;
`device load`, which uploads the bytes as they are, gets the board's C loader's refusal with
the file's name; and a `meta` section that is not a UTF-8 JSON object of the expected types is
one clear line naming the file and the entry, never a traceback."""
from __future__ import annotations

import json
import shutil
import struct

import pytest

from edgebnn import format as fmt
from edgebnn.cli import main
from edgebnn.device.linux import ARCHES
from edgebnn.export import export_model
from edgebnn.export import onnx as onnx_export
from edgebnn.native import NativeError, check_model
from tests.conftest import random_model
from tests.test_format_agreement import fix_crcs

NO_PORT = "/nonexistent/edgebnn-tty"   # a path no port opens: a check after opening fails here


@pytest.fixture(scope="module")
def good_model() -> fmt.Model:
    model = random_model("mlp", (8, 8, 1), 10, 0, layers=[32])
    return export_model(model, (8, 8, 1), 10, {"classes": list("0123456789"),
                                               "training": {"data": "digits", "seed": 0}})


@pytest.fixture(scope="module")
def bad_bytes(good_model) -> bytes:
    """Layer 1's w_size 4 bytes short, every CRC repaired: inside WGHT, so the reader before
    this change accepted it (and exported it to ONNX); the C loader refuses it."""
    data = bytearray(fmt.to_bytes(good_model))
    for i in range(struct.unpack_from("<H", data, 16)[0]):
        tag, off, _, _ = struct.unpack_from("<4sIII", data, 64 + 16 * i)
        if tag == b"LAYR":
            w_size = struct.unpack_from("<I", data, off + 64 + 40)[0]
            struct.pack_into("<I", data, off + 64 + 40, w_size - 4)
    return fix_crcs(data)


def _one_line_error(capsys, *names: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for name in names:
        assert name in err, err
    return err


def test_c_diagnostic(bad_bytes):
    with pytest.raises(NativeError) as c:
        check_model(bad_bytes, "bad.ebnn")
    with pytest.raises(fmt.FormatError) as py:
        fmt.from_bytes(bad_bytes, "bad.ebnn")
    assert (py.value.status, py.value.field, py.value.found, py.value.expected) == \
        (c.value.status, c.value.field, c.value.found, c.value.expected) == \
        ("EBNN_ERR_WEIGHTS", "layer 1: w_size", c.value.found, c.value.found + 4)
    assert str(py.value).startswith(f"bad.ebnn: layer 1: w_size is {c.value.found}, expected "
                                    f"{c.value.found + 4}: EBNN_ERR_WEIGHTS")


@pytest.mark.parametrize("args", [
    ["export", "{bad}", "--onnx", "{out}/x.onnx"],
    ["export", "{bad}", "--header", "{out}/x.h"],
    ["export", "{bad}", "-o", "{out}/y.ebnn"],
    ["eval", "{bad}", "--backend", "native"],
    ["eval", "{bad}", "--backend", f"device:{NO_PORT}"],
    ["device", "evaluate", "{bad}", "--port", NO_PORT],
    ["device", "train", "{bad}", "--simulate", "-o", "{out}/t.ebnn"],
], ids=lambda a: " ".join(a[:2] + a[3:4]))
def test_every_path_refuses_what_the_c_core_refuses(bad_bytes, tmp_path, capsys, args):
    bad = tmp_path / "bad.ebnn"
    bad.write_bytes(bad_bytes)
    out = tmp_path / "out"
    out.mkdir()
    assert main([a.format(bad=bad, out=out) for a in args]) == 2
    _one_line_error(capsys, f"{bad}: layer 1: w_size is", "EBNN_ERR_WEIGHTS")
    assert not list(out.iterdir())


def test_device_load_names_the_file_the_board_refused(bad_bytes, tmp_path, capsys,
                                                      monkeypatch):
    """The Linux runtime built for this host (the firmware's server and C core, no emulator)."""
    if not shutil.which("make") or not shutil.which(ARCHES["native"].compiler):
        pytest.skip(f"not installed: make, {ARCHES['native'].compiler} (tools/setup.sh)")
    monkeypatch.setenv("EDGEBNN_FIRMWARE_BUILD", str(tmp_path / "build"))
    bad = tmp_path / "bad.ebnn"
    bad.write_bytes(bad_bytes)
    assert main(["device", "load", str(bad), "--port", "linux:native"]) == 2
    _one_line_error(capsys, f"{bad}: linux:native: LOAD_COMMIT", "ERR_MODEL (EBNN_ERR_WEIGHTS",
                    "layer 1: w_size is")


def _with_meta(model: fmt.Model, body: bytes) -> bytes:
    """The model with `body` as its meta section, as it stands (CRCs right)."""
    return fmt.to_bytes(fmt.Model(model.input_shape, model.n_classes, model.layers, {},
                                  {b"meta": body}))


META_CASES = {
    "a list": (b"[1, 2]", "meta: not a JSON object: expected an object, found an array"),
    "a number": (b"42", "meta: not a JSON object: expected an object, found an integer"),
    "not UTF-8": (b'{"classes": "\xff\xfe"}', "meta: not UTF-8 at byte 13"),
    "not JSON": (b"{classes", "meta: not JSON (Expecting property name enclosed in double "
                              "quotes at line 1 column 2)"),
    "classes a string": (b'{"classes": "abc"}', "meta: classes: expected an array, found a "
                                                 "string"),
    "classes with a number": (b'{"classes": ["a", 7]}', "meta: classes: expected an array of "
                                                         "strings, found an integer in it"),
    "training a list": (b'{"training": []}', "meta: training: expected an object, found an "
                                             "array"),
    "nested too deeply": (b"[" * 100_000, "meta: not JSON (nested too deeply)"),
}


@pytest.mark.parametrize("case", sorted(META_CASES))
def test_meta_of_the_wrong_type_is_named(good_model, tmp_path, capsys, case):
    body, words = META_CASES[case]
    data = _with_meta(good_model, body)
    check_model(data)                      # the C core never reads meta: it loads the file
    with pytest.raises(fmt.FormatError, match="^m.ebnn: " + words.replace("(", r"\(")
                       .replace(")", r"\)")):
        fmt.from_bytes(data, "m.ebnn")
    path = tmp_path / "m.ebnn"
    path.write_bytes(data)
    for args in (["export", str(path), "--header", str(tmp_path / "x.h")],
                 ["eval", str(path), "--backend", "native"]):
        assert main(args) == 2
        _one_line_error(capsys, f"{path}: {words}")


@pytest.mark.parametrize("entry, value, expected", [
    ("seed", "0", "an integer"), ("seed", True, "an integer"), ("data", 5, "a string or null"),
    ("val_fraction", "0.1", "a number"), ("image_size", 1.5, "an integer or null"),
    ("algo", [], "a string or null"),
])
def test_training_provenance_of_the_wrong_type_is_named(good_model, tmp_path, capsys, entry,
                                                        value, expected):
    meta = dict(good_model.meta, training={"data": "digits", entry: value})
    path = tmp_path / "m.ebnn"
    path.write_bytes(_with_meta(good_model, json.dumps(meta).encode()))
    assert main(["eval", str(path), "--backend", "native"]) == 2
    _one_line_error(capsys, f"{path}: meta: training.{entry}: expected {expected}, found")


def test_onnx_meta_must_be_an_object(good_model, tmp_path):
    path = tmp_path / "m.onnx"
    proto = onnx_export.to_onnx(good_model)
    proto.metadata_props[0].value = "[1]"
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(onnx_export.OnnxError, match=f"{path}: edgebnn.meta is an array"):
        onnx_export.open_scorer(path)
    proto.metadata_props[0].value = json.dumps({"training": {"seed": "x"}})
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(fmt.FormatError, match=f"{path}: edgebnn.meta: training.seed: expected "
                       "an integer, found a string"):
        onnx_export.open_scorer(path)


def test_onnx_check_failure_names_the_model():
    """A model built in memory that the C loader would refuse (a grouped DENSE): the graph's
    shape inference fails, and says which model, in one line."""
    B = fmt.DType.BIN
    model = fmt.Model((1, 1, 64), 4, [
        fmt.Layer(fmt.Op.BINARIZE, fmt.DType.U8, B, (1, 1, 64), (1, 1, 64), thresholds=bytes(64)),
        fmt.Layer(fmt.Op.DENSE, B, fmt.DType.I32, (1, 1, 64), (1, 1, 4), groups=2, in0=1,
                  weights=bytes(16))], source="crafted.ebnn")
    with pytest.raises(onnx_export.OnnxError, match=r"^crafted.ebnn: its ONNX graph does not "
                       r"check \(\[ShapeInferenceError\]"):
        onnx_export.to_onnx(model)
