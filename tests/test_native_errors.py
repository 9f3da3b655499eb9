"""Damaged model files get a named error from the C loader (through the binding) and from the
Python reader — never a crash. The exhaustive mutation fuzzing runs in C under ASan/UBSan
(tests/test_native_c.py); this checks the named errors a user sees."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from edgebnn import format as fmt
from edgebnn.export import export_model
from edgebnn.native import NativeError, NativeModel
from tests.conftest import random_model


@pytest.fixture(scope="module")
def good() -> bytes:
    model = random_model("cnn", (8, 8, 1), 10, 0, width=8, fc=16)
    return fmt.to_bytes(export_model(model, (8, 8, 1), 10))


def _with_header_crc(data: bytearray) -> bytes:
    struct.pack_into("<I", data, 60, zlib.crc32(bytes(data[:60])))
    return bytes(data)


def _layr_section(data: bytes) -> tuple[int, int]:
    n = struct.unpack_from("<H", data, 16)[0]
    for i in range(n):
        tag, off, size, _ = struct.unpack_from("<4sIII", data, 64 + 16 * i)
        if tag == b"LAYR":
            return i, off
    raise AssertionError("no LAYR")


def _edit_layer(data: bytes, layer: int, offset: int, fmt_: str, value) -> bytes:
    """Changes a layer field and repairs every checksum, so the semantic check is reached."""
    out = bytearray(data)
    index, off = _layr_section(data)
    struct.pack_into(fmt_, out, off + 64 * layer + offset, value)
    tag, off_, size, _ = struct.unpack_from("<4sIII", out, 64 + 16 * index)
    struct.pack_into("<I", out, 64 + 16 * index + 12, zlib.crc32(bytes(out[off_:off_ + size])))
    n = struct.unpack_from("<H", out, 16)[0]
    struct.pack_into("<I", out, 32, zlib.crc32(bytes(out[64:64 + 16 * n])))
    return _with_header_crc(out)


CASES = {
    "truncated": (lambda d: d[: len(d) // 2], "EBNN_ERR_TRUNCATED"),
    "header only": (lambda d: d[:64], "EBNN_ERR_TRUNCATED"),
    "empty": (lambda d: b"", "EBNN_ERR_TRUNCATED"),
    "bad magic": (lambda d: b"ONNX" + d[4:], "EBNN_ERR_MAGIC"),
    "wrong version": (lambda d: _with_header_crc(bytearray(d[:4] + b"\x02\x00" + d[6:])),
                      "EBNN_ERR_VERSION"),
    "header bit flip": (lambda d: d[:21] + bytes([d[21] ^ 4]) + d[22:], "EBNN_ERR_HEADER_CRC"),
    "weights bit flip": (lambda d: d[:-100] + bytes([d[-100] ^ 1]) + d[-99:],
                         "EBNN_ERR_SECTION_CRC"),
    "oversized layer count": (lambda d: _with_header_crc(bytearray(
        d[:18] + struct.pack("<H", 9999) + d[20:])), "EBNN_ERR_LIMIT"),
    "oversized weight size": (lambda d: _edit_layer(d, 1, 40, "<I", 0x7FFFFFF0),
                              "EBNN_ERR_WEIGHTS"),
    "unknown op": (lambda d: _edit_layer(d, 0, 0, "<H", 77), "EBNN_ERR_LAYER"),
    "zero stride": (lambda d: _edit_layer(d, 0, 28, "<H", 0), "EBNN_ERR_LAYER"),
    "shape mismatch": (lambda d: _edit_layer(d, 1, 18, "<H", 9), "EBNN_ERR_SHAPE"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_c_loader_names_the_error(good, case):
    damage, status = CASES[case]
    with pytest.raises(NativeError) as e:
        NativeModel(damage(good), "bad.ebnn")
    assert e.value.status == status, str(e.value)
    assert str(e.value).startswith("bad.ebnn") and status in str(e.value)


@pytest.mark.parametrize("case", sorted(CASES))
def test_python_reader_rejects_or_c_rejects(good, case):
    """The Python reader checks structure (not layer semantics, which the C loader owns)."""
    damage, status = CASES[case]
    structural = status not in ("EBNN_ERR_LAYER", "EBNN_ERR_SHAPE", "EBNN_ERR_WEIGHTS")
    if structural:
        with pytest.raises(fmt.FormatError, match="^bad.ebnn: "):
            fmt.from_bytes(damage(good), "bad.ebnn")


def test_diag_names_layer_and_field(good):
    with pytest.raises(NativeError) as e:
        NativeModel(_edit_layer(good, 1, 40, "<I", 4096 * 4096), "m.ebnn")
    assert "layer 1" in str(e.value) and "w_size" in str(e.value)


def test_random_bit_flips_never_crash(good):
    rng = np.random.default_rng(0)
    for _ in range(300):
        data = bytearray(good)
        for pos in rng.integers(0, len(data), rng.integers(1, 4)):
            data[pos] ^= 1 << int(rng.integers(0, 8))
        try:
            NativeModel(bytes(data)).infer(np.zeros((1, 8, 8, 1), np.uint8))
        except NativeError as e:
            assert e.status.startswith("EBNN_ERR_")


def test_wrong_input_shape_is_a_clear_error(good):
    model = NativeModel(good, "m.ebnn")
    with pytest.raises(ValueError, match=r"m.ebnn: input is uint8 \(2, 8, 8, 3\), expected uint8 \(N, 8, 8, 1\)"):
        model.infer(np.zeros((2, 8, 8, 3), np.uint8))
