"""The Python reader/writer of .ebnn (docs/format.md): layout, round trip, and damaged files
rejected with a message naming the field."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from edgebnn import format as fmt
from edgebnn.export import export_model
from tests.conftest import random_model


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    model = random_model("cnn", (8, 8, 1), 10, 0, width=8, fc=16)
    return fmt.to_bytes(export_model(model, (8, 8, 1), 10, {"classes": list("0123456789")}))


def test_pack_bits_layout():
    bits = np.zeros((2, 40), np.uint8)
    bits[0, 0] = bits[0, 33] = bits[1, 31] = 1
    packed = fmt.pack_bits(bits)
    assert packed.dtype == np.dtype("<u4") and packed.shape == (2, 2)
    assert packed[0].tolist() == [1, 2] and packed[1].tolist() == [1 << 31, 0]
    assert np.array_equal(fmt.unpack_bits(packed, 40), bits)


def test_header_and_alignment(model_bytes):
    assert model_bytes[:4] == b"EBNN"
    major, minor, file_size = struct.unpack_from("<HHI", model_bytes, 4)
    assert (major, minor, file_size) == (1, 0, len(model_bytes))
    assert file_size % 16 == 0
    assert struct.unpack_from("<I", model_bytes, 60)[0] == zlib.crc32(model_bytes[:60])
    m = fmt.from_bytes(model_bytes)
    for layer in m.layers:
        assert len(layer.weights) % 4 == 0
    n_sections = struct.unpack_from("<H", model_bytes, 16)[0]
    for i in range(n_sections):
        _, off, _, _ = struct.unpack_from("<4sIII", model_bytes, 64 + 16 * i)
        assert off % 16 == 0


def test_round_trip_is_identical(model_bytes):
    m = fmt.from_bytes(model_bytes)
    assert m.meta["classes"] == list("0123456789")
    assert fmt.to_bytes(m) == model_bytes


def test_threshold_encoding_round_trip():
    t = np.array([-(2**31), 5, 2**31 - 1, 0, -7] * 7)
    flip = np.arange(35) % 3 == 0
    layer = fmt.Layer(fmt.Op.DENSE, fmt.DType.BIN, fmt.DType.BIN, (1, 1, 8), (1, 1, 35),
                      thresholds=fmt.threshold_bytes(t, flip))
    t2, flip2 = layer.threshold_arrays()
    assert np.array_equal(t2, t) and np.array_equal(flip2, flip)
    assert len(layer.thresholds) == 4 * 35 + 4 * 2


def _patch(data: bytes, offset: int, fmt_: str, value) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt_, out, offset, value)
    return bytes(out)


def _fix_header_crc(data: bytes) -> bytes:
    return _patch(data, 60, "<I", zlib.crc32(data[:60]))


@pytest.mark.parametrize("damage, message", [
    (lambda d: d[:40], "expected at least the 64-byte header"),
    (lambda d: d[:-16], "expected file_size"),
    (lambda d: b"XBNN" + d[4:], "magic is b'XBNN'"),
    (lambda d: _fix_header_crc(_patch(d, 4, "<H", 2)), "version_major is 2, expected 1"),
    (lambda d: _patch(d, 20, "<H", 9), "header_crc"),
    (lambda d: _fix_header_crc(_patch(d, 16, "<H", 40)), "n_sections is 40"),
    (lambda d: d[:-20] + bytes([d[-20] ^ 0x10]) + d[-19:], "crc is"),
])
def test_damaged_files_name_the_field(model_bytes, damage, message):
    with pytest.raises(fmt.FormatError) as e:
        fmt.from_bytes(damage(model_bytes), "m.ebnn")
    assert str(e.value).startswith("m.ebnn: ") and message in str(e.value)


def test_read_missing_file_names_it(tmp_path):
    with pytest.raises(fmt.FormatError, match="nope.ebnn: cannot read"):
        fmt.read(tmp_path / "nope.ebnn")
