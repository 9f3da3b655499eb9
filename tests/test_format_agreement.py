"""One validator: the Python reader (edgebnn.format.from_bytes, through edgebnn.model_checks)
and the C loader (ebnn_model_load, through edgebnn.native.check_model) take the same decision
on every file of a seeded corpus of mutated models, and refuse with the same diagnostic
(status, layer, field, found, expected). Most mutations repair the CRCs they break, so they get
past the checksums to the semantic checks (fields, types, shapes, limits, blobs, the arena).
Any check added to, or changed in, one side and not the other fails here."""
from __future__ import annotations

import struct
import zlib
from collections import Counter
from typing import Optional

import numpy as np
import pytest

from edgebnn import format as fmt
from edgebnn import model_checks
from edgebnn._native import ffi, lib
from edgebnn.export import export_model
from edgebnn.native import NativeError, check_model
from tests.conftest import random_model
from tests.vectors.make_vectors import residual_net, tiny_cnn, tiny_mlp, tiny_resnet

SEED = 13
PER_BASE = 600           # mutants per base model (6 bases: 3,600 files)

# Layer record fields: (offset, struct code); the reserved tail is bytes 52..63.
LAYER_FIELDS = ([(o, "<H") for o in (0, 2, 4, 6)] + [(8, "<B"), (9, "<B")]
                + [(o, "<H") for o in range(10, 36, 2)] + [(o, "<I") for o in (36, 40, 44, 48)]
                + [(o, "<B") for o in (52, 57, 63)])
HEADER_FIELDS = [(4, "<H"), (6, "<H"), (8, "<I"), (12, "<I"), (16, "<H"), (18, "<H"),
                 (20, "<H"), (22, "<H"), (24, "<H"), (26, "<H"), (28, "<B"), (29, "<B"),
                 (31, "<B"), (40, "<I")]
TABLE_FIELDS = [(0, "<4s"), (4, "<I"), (8, "<I")]
LIMIT = {"<B": 0xFF, "<H": 0xFFFF, "<I": 0xFFFFFFFF}


def _binarize_model() -> fmt.Model:
    """BINARIZE (flattened) -> DENSE BIN -> DENSE I32, with metadata and an ancillary section:
    the local chain's layout, and the sections a reader copies."""
    rng = np.random.default_rng(1)
    B, I32 = fmt.DType.BIN, fmt.DType.I32
    binarize = fmt.Layer(fmt.Op.BINARIZE, fmt.DType.U8, B, (4, 4, 2), (1, 1, 32),
                         thresholds=rng.integers(0, 256, 32, dtype=np.uint8).tobytes())
    hidden = fmt.Layer(fmt.Op.DENSE, B, B, (1, 1, 32), (1, 1, 40), in0=1,
                       weights=fmt.pack_bits(rng.integers(0, 2, (40, 32))).tobytes(),
                       thresholds=fmt.threshold_bytes(rng.integers(-8, 8, 40), np.zeros(40)))
    out = fmt.Layer(fmt.Op.DENSE, B, I32, (1, 1, 40), (1, 1, 5), in0=2,
                    weights=fmt.pack_bits(rng.integers(0, 2, (5, 40))).tobytes())
    return fmt.Model((4, 4, 2), 5, [binarize, hidden, out], {"classes": list("abcde")},
                     {b"trnz": bytes(range(40))})


@pytest.fixture(scope="module")
def bases() -> list[bytes]:
    cnn = export_model(random_model("cnn", (8, 8, 1), 10, 0, width=8, fc=16), (8, 8, 1), 10,
                       {"classes": list("0123456789"), "training": {"data": "digits"}})
    models = [tiny_mlp(), tiny_cnn(), tiny_resnet(), residual_net(5, (7, 7, 3), 5, 33, 6),
              _binarize_model(), cnn]
    return [fmt.to_bytes(m) for m in models]


def _u16(data: bytes, offset: int) -> int:
    return struct.unpack_from("<H", data, offset)[0]


def fix_crcs(buf: bytearray) -> bytes:
    """Rewrites every section CRC that lies inside the buffer, the table CRC and the header
    CRC, so the mutation is judged by the semantic checks."""
    n = min(_u16(buf, 16), 16) if len(buf) >= 64 else 0
    for i in range(n):
        entry = 64 + 16 * i
        if entry + 16 > len(buf):
            break
        _, off, size = struct.unpack_from("<4sII", buf, entry)
        if off + size <= len(buf):
            struct.pack_into("<I", buf, entry + 12, zlib.crc32(bytes(buf[off:off + size])))
    if 64 + 16 * n <= len(buf) and len(buf) >= 64:
        struct.pack_into("<I", buf, 32, zlib.crc32(bytes(buf[64:64 + 16 * n])))
    if len(buf) >= 64:
        struct.pack_into("<I", buf, 60, zlib.crc32(bytes(buf[:60])))
    return bytes(buf)


def _value(rng: np.random.Generator, old: int, code: str) -> int:
    """An interesting value for a field that held `old`: small, boundary, near old, random."""
    top = LIMIT[code]
    choices = [0, 1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 255, 256, 0x7FFF, 0xFFFF, 0x7FFFFFF0,
               0x7FFFFFFF, 0xFFFFFFF0, top, old + 1, old - 1, old * 2, old // 2, old + 16,
               old - 16, int(rng.integers(0, top, endpoint=True))]
    return int(choices[int(rng.integers(len(choices)))]) & top


def _sections(data: bytes) -> dict[bytes, tuple[int, int, int]]:
    """tag -> (table entry offset, section offset, size) of an undamaged base file."""
    out = {}
    for i in range(_u16(data, 16)):
        tag, off, size, _ = struct.unpack_from("<4sIII", data, 64 + 16 * i)
        out[tag] = (64 + 16 * i, off, size)
    return out


def _set(buf: bytearray, offset: int, code: str, rng: np.random.Generator) -> None:
    if code == "<4s":
        tags = [b"LAYR", b"WGHT", b"meta", b"trnl", b"Xtra", b"ab1c", bytes(buf[offset:offset + 4])]
        struct.pack_into(code, buf, offset, tags[int(rng.integers(len(tags)))])
        return
    old = struct.unpack_from(code, buf, offset)[0]
    struct.pack_into(code, buf, offset, _value(rng, old, code))


def mutate(base: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """(kind, mutated file): raw damage (bit flips, bytes, truncation, extension) or field
    changes with every CRC repaired."""
    buf = bytearray(base)
    sections = _sections(base)
    _, layr, layr_size = sections[b"LAYR"]
    n_layers = layr_size // 64
    kind = ("flip", "byte", "truncate", "extend", "header", "table", "layer", "layer",
            "layers", "copy", "flip_fixed", "weights")[int(rng.integers(12))]
    if kind == "flip":
        for pos in rng.integers(0, len(buf), int(rng.integers(1, 4))):
            buf[pos] ^= 1 << int(rng.integers(8))
        return kind, bytes(buf)
    if kind == "byte":
        buf[int(rng.integers(len(buf)))] = int(rng.integers(256))
        return kind, bytes(buf)
    if kind == "truncate":
        cut = int(rng.integers(len(buf)))
        return kind, bytes(buf[:cut - cut % 16 if rng.random() < 0.5 else cut])
    if kind == "extend":
        buf += rng.integers(0, 256, int(rng.integers(1, 65)), dtype=np.uint8).tobytes()
        if rng.random() < 0.7:   # a longer file_size too, the CRCs repaired
            struct.pack_into("<I", buf, 8, len(buf) if rng.random() < 0.5 else len(buf) // 16 * 16)
            return kind, fix_crcs(buf)
        return kind, bytes(buf)
    if kind == "header":
        offset, code = HEADER_FIELDS[int(rng.integers(len(HEADER_FIELDS)))]
        _set(buf, offset, code, rng)
    elif kind == "table":
        entry = 64 + 16 * int(rng.integers(len(sections)))
        offset, code = TABLE_FIELDS[int(rng.integers(len(TABLE_FIELDS)))]
        _set(buf, entry + offset, code, rng)
    elif kind in ("layer", "layers"):
        for _ in range(1 if kind == "layer" else int(rng.integers(2, 5))):
            offset, code = LAYER_FIELDS[int(rng.integers(len(LAYER_FIELDS)))]
            _set(buf, layr + 64 * int(rng.integers(n_layers)) + offset, code, rng)
    elif kind == "copy":   # one record's field copied from another layer's: plausible values
        a, b = rng.integers(n_layers, size=2)
        offset, code = LAYER_FIELDS[int(rng.integers(len(LAYER_FIELDS)))]
        width = struct.calcsize(code)
        buf[layr + 64 * a + offset:layr + 64 * a + offset + width] = \
            base[layr + 64 * b + offset:layr + 64 * b + offset + width]
    elif kind == "flip_fixed":   # header, table or records
        end = layr + layr_size
        for _ in range(int(rng.integers(1, 3))):
            start, stop = ((0, 64), (64, layr), (layr, end))[int(rng.integers(3))]
            pos = int(rng.integers(start, stop))
            buf[pos] ^= 1 << int(rng.integers(8))
    else:   # weights: the bytes change, nothing else; both accept
        _, wght, wght_size = sections[b"WGHT"]
        buf[wght + int(rng.integers(wght_size))] ^= 0xFF
    return kind, fix_crcs(buf)


def corpus(bases: list[bytes]) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(SEED)
    return [mutate(base, rng) for base in bases for _ in range(PER_BASE)]


#: (status, layer, field, found, expected) of a refusal, None when the file loads
Verdict = Optional[tuple[str, Optional[int], Optional[str], object, object]]


def c_verdict(data: bytes) -> Verdict:
    try:
        check_model(data, "m.ebnn")
    except NativeError as e:
        return e.status, e.layer, e.field, e.found, e.expected
    return None


def python_verdict(data: bytes) -> Verdict:
    """The reader's verdict in c_verdict's terms; a meta section it refuses (which the C core
    never reads) counts as loaded, any exception but FormatError as a crash."""
    try:
        fmt.from_bytes(data, "m.ebnn")
    except fmt.FormatError as e:
        if e.field == "meta":
            return None
        return getattr(e, "status", "?"), getattr(e, "layer", None), e.field, e.found, \
            e.expected
    except Exception as e:   # noqa: BLE001 - a crash is a disagreement, counted as such
        return "crash: " + type(e).__name__, None, None, None, None
    return None


def test_reader_and_c_loader_agree_on_mutated_files(bases):
    files = corpus(bases)
    assert len(files) >= 3000
    decisions, diagnostics, statuses = [], [], Counter()
    for kind, data in files:
        c, py = c_verdict(data), python_verdict(data)
        statuses[c[0] if c else "accepted"] += 1
        if (c is None) != (py is None):
            decisions.append((kind, c, py))
        elif c != py:
            diagnostics.append((kind, c, py))
    assert not decisions, (f"{len(decisions)} of {len(files)} files get another decision, "
                           f"e.g. {decisions[:3]}")
    assert not diagnostics, (f"{len(diagnostics)} of {len(files)} files get another "
                             f"diagnostic, e.g. {diagnostics[:3]}")
    # the corpus reaches every kind of refusal, and many files get past the CRCs
    for status in ("TRUNCATED", "MAGIC", "VERSION", "HEADER_CRC", "SECTION", "SECTION_CRC",
                   "MISSING_SECTION", "LAYER", "UNSUPPORTED", "SHAPE", "WEIGHTS", "LIMIT"):
        assert statuses[f"EBNN_ERR_{status}"] >= 5, statuses
    semantic = sum(statuses[f"EBNN_ERR_{s}"] for s in ("LAYER", "UNSUPPORTED", "SHAPE",
                                                       "WEIGHTS", "LIMIT"))
    assert semantic >= 1000 and statuses["accepted"] >= 300, statuses


def test_corpus_is_seeded(bases):
    assert corpus(bases[:1])[:50] == corpus(bases[:1])[:50]


def _edited(data: bytes, edits: list[tuple[int, int, str, int]]) -> bytes:
    """(layer, offset, struct code, value) edits to the LAYR records (layer -1: the header),
    every CRC repaired."""
    buf = bytearray(data)
    _, layr, _ = _sections(data)[b"LAYR"]
    for layer, offset, code, value in edits:
        struct.pack_into(code, buf, offset if layer < 0 else layr + 64 * layer + offset, value)
    return fix_crcs(buf)


def _no_last_layer(model: fmt.Model) -> bytes:
    return fmt.to_bytes(fmt.Model(model.input_shape, model.n_classes, model.layers[:-1]))


#: refusals the random corpus reaches rarely or never: (file, expected status, field)
TARGETED = {
    "input over the limit": (lambda: _edited(fmt.to_bytes(tiny_mlp()), [
        (-1, offset, "<H", 0xFFFF) for offset in (20, 22, 24)]), "LIMIT", "input_size"),
    "a sum that overflows int32": (lambda: _edited(fmt.to_bytes(tiny_cnn()), [
        (0, 24, "<H", 0xFFFF), (0, 26, "<H", 0xFFFF), (0, 32, "<H", 0x7FFF),
        (0, 34, "<H", 0x7FFF)]), "LIMIT", "layer 0: kh*kw*cg"),
    "a tensor over the limit": (lambda: _edited(fmt.to_bytes(tiny_cnn()), [   # padded pool
        (1, offset, "<H", value) for offset, value in ((24, 1), (26, 1), (28, 1), (30, 1),
                                                       (32, 32000), (34, 32000), (18, 64006),
                                                       (20, 64006))]), "LIMIT",
                                "layer 1: out_bytes"),
    "last layer not I32": (lambda: _no_last_layer(tiny_cnn()), "SHAPE", "layer 2: out_type"),
    "ADD of another shape": (lambda: _edited(fmt.to_bytes(residual_net(5, (7, 7, 3), 5, 33, 6)),
                                             [(9, 6, "<H", 5)]), "SHAPE", "layer 9: in1_h"),
    "out_c zero": (lambda: _edited(fmt.to_bytes(tiny_mlp()), [(0, 22, "<H", 0)]), "LAYER",
                   "layer 0: out_c"),
}


@pytest.mark.parametrize("case", sorted(TARGETED))
def test_targeted_refusals_agree(case):
    make, status, field = TARGETED[case]
    data = make()
    c = c_verdict(data)
    assert c is not None and (c[0], c[2]) == (f"EBNN_ERR_{status}", field), c
    assert python_verdict(data) == c


def _padded_pools(pad: int) -> bytes:
    """BINARIZE -> MAXPOOL padded to (2·pad+1)² pixels -> MAXPOOL of the same size (both maps
    alive at once) -> MAXPOOL over the whole map -> DENSE: two tensors that each fit the
    C core's limit and together exceed it when pad is 10,000."""
    U8, B, I32 = fmt.DType.U8, fmt.DType.BIN, fmt.DType.I32
    side = 2 * pad + 1
    pool = fmt.Op.MAXPOOL
    return fmt.to_bytes(fmt.Model((1, 1, 1), 1, [
        fmt.Layer(fmt.Op.BINARIZE, U8, B, (1, 1, 1), (1, 1, 1), thresholds=b"\0"),
        fmt.Layer(pool, B, B, (1, 1, 1), (side, side, 1), pad=(pad, pad), in0=1),
        fmt.Layer(pool, B, B, (side, side, 1), (side, side, 1), in0=2),
        fmt.Layer(pool, B, B, (side, side, 1), (1, 1, 1), (side, side), in0=3),
        fmt.Layer(fmt.Op.DENSE, B, I32, (1, 1, 1), (1, 1, 1), in0=4, weights=bytes(4))]))


def test_arena_limit_agrees():
    """The arena plan's refusal, which no random mutation reaches: 2 x 1.6 GB alive at once."""
    assert c_verdict(_padded_pools(2)) is None and python_verdict(_padded_pools(2)) is None
    bad = _padded_pools(10_000)
    c = c_verdict(bad)
    assert c == ("EBNN_ERR_LIMIT", None, "arena_size", 0, model_checks.MAX_BYTES)
    assert python_verdict(bad) == c


def test_status_texts_are_the_c_cores():
    for name, text in model_checks.STATUS_MESSAGES.items():
        assert ffi.string(lib.ebnn_status_message(getattr(lib, name))).decode() == text
