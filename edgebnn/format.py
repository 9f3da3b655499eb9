"""Reader and writer of the `.ebnn` model file (docs/format.md is the spec this follows).

The C loader is the authority on what runs; this module writes files it accepts and reads
them back for tools (inspection, ONNX export, on-device training), checking the same
structure so a damaged file fails here too with a message naming the file and field.
"""
from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

import numpy as np

from edgebnn.errors import EdgebnnError, write_bytes

MAGIC = b"EBNN"
VERSION_MAJOR, VERSION_MINOR = 1, 0
HEADER_SIZE, SECTION_SIZE, LAYER_SIZE, ALIGN = 64, 16, 64, 16
MAX_LAYERS, MAX_SECTIONS = 255, 16
TENSOR_NONE = 0xFFFF

_HEADER = struct.Struct("<4sHHIIHHHHHHB3xI24xI")
_SECTION = struct.Struct("<4sIII")
_LAYER = struct.Struct("<HHHHBBH" + "H" * 12 + "IIII12x")
assert _HEADER.size == HEADER_SIZE and _SECTION.size == SECTION_SIZE and _LAYER.size == LAYER_SIZE


class Op(IntEnum):
    CONV2D = 1
    DENSE = 2
    MAXPOOL = 3
    BINARIZE = 4    # version 1.1: U8 -> BIN, one u8 threshold per input element
    THRESHOLD = 5   # version 1.2: I32 -> BIN, the CONV2D/DENSE BIN-output thresholds blob
    ADD = 6         # version 1.2: I32 in0 + I32 in1 (same shape) -> I32, the residual sum
    GAP = 7         # version 1.2: BIN (h, w, c) -> U8 (1, 1, c), the count of +1 per channel


#: the minor version that introduced each op added after 1.0 (a writer records the highest used,
#: so files without these ops keep the version, and the bytes, they had before)
OP_MINOR = {Op.BINARIZE: 1, Op.THRESHOLD: 2, Op.ADD: 2, Op.GAP: 2}
#: ops that read a second tensor (in1); every other op has in1 = TENSOR_NONE
TWO_INPUT_OPS = frozenset({Op.ADD})
#: GAP counts into a u8, so at most this many positions are summed per channel
GAP_MAX_POSITIONS = 255


class DType(IntEnum):
    U8 = 0
    BIN = 1
    I32 = 2


class FormatError(EdgebnnError, ValueError):
    """A model file that does not follow docs/format.md; the message names file and field."""


def words(bits: int) -> int:
    """u32 words holding `bits` bits."""
    return (bits + 31) // 32


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Packs a (rows, n) array of 0/1 into (rows, words(n)) little-endian u32 words, bit j of
    word k = element 32k + j, tail bits zero."""
    bits = np.asarray(bits, dtype=np.uint8)
    rows, n = bits.shape
    padded = np.zeros((rows, words(n) * 32), dtype=np.uint8)
    padded[:, :n] = bits
    packed = np.packbits(padded.reshape(rows, -1, 8), axis=-1, bitorder="little")
    return packed.reshape(rows, -1).view("<u4")


def unpack_bits(packed: np.ndarray, n: int) -> np.ndarray:
    """Inverse of pack_bits: (rows, words) u32 → (rows, n) 0/1 uint8."""
    packed = np.ascontiguousarray(packed, dtype="<u4")
    rows = packed.shape[0]
    bits = np.unpackbits(packed.view(np.uint8).reshape(rows, -1), axis=-1, bitorder="little")
    return bits[:, :n]


@dataclass
class Layer:
    """One layer record plus its weight and threshold bytes (already packed)."""

    op: Op
    in_type: DType
    out_type: DType
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int] = (0, 0)
    groups: int = 1
    in0: int = 0
    in1: int = TENSOR_NONE
    weights: bytes = b""
    thresholds: bytes = b""

    def weight_rows(self) -> tuple[int, int]:
        """(rows, u32 words per row) of this layer's weights, from the layout rules."""
        kh, kw = self.kernel
        cg = self.in_shape[2] // self.groups
        if self.in_type == DType.U8:
            return self.out_shape[2], words(kh * kw * cg)
        return self.out_shape[2], kh * kw * words(cg)

    def weight_array(self) -> np.ndarray:
        """The weights as (out_c, words per row) u32."""
        rows, per_row = self.weight_rows()
        return np.frombuffer(self.weights, dtype="<u4").reshape(rows, per_row)

    def binarize_thresholds(self) -> np.ndarray:
        """BINARIZE: the u8 thresholds (H, W, C); an element is +1 iff x >= t."""
        return np.frombuffer(self.thresholds, dtype=np.uint8).reshape(self.in_shape)

    def threshold_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(T int32[out_c], flip bool[out_c]) of a BIN-output CONV2D/DENSE or a THRESHOLD."""
        c = self.out_shape[2]
        t = np.frombuffer(self.thresholds, dtype="<i4", count=c)
        flip_words = np.frombuffer(self.thresholds, dtype="<u4", offset=4 * c)
        flip = unpack_bits(flip_words.reshape(1, -1), c)[0].astype(bool)
        return t, flip


def threshold_bytes(t: np.ndarray, flip: np.ndarray) -> bytes:
    """Encodes folded thresholds: i32 T[c] then the flip bits."""
    t = np.asarray(t, dtype=np.int64)
    if t.min(initial=0) < -(2**31) or t.max(initial=0) > 2**31 - 1:
        raise ValueError("threshold outside int32")
    flips = pack_bits(np.asarray(flip, dtype=np.uint8).reshape(1, -1))
    return t.astype("<i4").tobytes() + flips.tobytes()


@dataclass
class Model:
    """A whole model file: input shape, class count, layers and the JSON metadata."""

    input_shape: tuple[int, int, int]
    n_classes: int
    layers: list[Layer]
    meta: dict = field(default_factory=dict)
    extra_sections: dict[bytes, bytes] = field(default_factory=dict)


def check_wiring(model: Model, source: str = "<model>") -> None:
    """Checks what the tensor graph needs before anything runs: every in0/in1 names an earlier
    tensor (skips are allowed, forward references are not), only ADD reads in1, and each input's
    type and shape is its producer's. The C loader makes the same checks (and the rest of
    docs/format.md "Loader checks"); doing them here too makes a faulty exporter fail at write
    time, naming the layer and field, instead of producing a file no device loads."""
    types = [DType.U8] + [layer.out_type for layer in model.layers]
    shapes = [tuple(model.input_shape)] + [tuple(layer.out_shape) for layer in model.layers]
    for i, layer in enumerate(model.layers):
        def fail(name: str, got: object, expected: object) -> FormatError:
            return FormatError(f"{source}: layer {i}: {name} is {got}, expected {expected}")

        if not 0 <= layer.in0 <= i:
            raise fail("in0", layer.in0, f"a tensor id 0..{i}")
        if (layer.in_type, tuple(layer.in_shape)) != (types[layer.in0], shapes[layer.in0]):
            raise fail("in0", f"{layer.in_type.name} {tuple(layer.in_shape)}",
                       f"tensor {layer.in0}'s {types[layer.in0].name} {shapes[layer.in0]}")
        if layer.op not in TWO_INPUT_OPS:
            if layer.in1 != TENSOR_NONE:
                raise fail("in1", layer.in1, f"0x{TENSOR_NONE:04X} ({layer.op.name} has one input)")
            continue
        if not 0 <= layer.in1 <= i:
            raise fail("in1", layer.in1, f"a tensor id 0..{i}")
        if (types[layer.in1], shapes[layer.in1]) != (layer.in_type, tuple(layer.in_shape)):
            raise fail("in1", f"tensor {layer.in1} ({types[layer.in1].name} {shapes[layer.in1]})",
                       f"{layer.in_type.name} {tuple(layer.in_shape)} like in0")


def required_minor(model: Model) -> int:
    """The lowest version_minor whose ops cover the model's: what the writer records, and the
    oldest C core (EBNN_FORMAT_MINOR) that runs the file."""
    return max([VERSION_MINOR] + [OP_MINOR.get(layer.op, 0) for layer in model.layers])


def _pad16(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def to_bytes(model: Model) -> bytes:
    """Serializes a Model; every blob 16-byte aligned, CRCs filled."""
    if not 1 <= len(model.layers) <= MAX_LAYERS:
        raise FormatError(f"n_layers is {len(model.layers)}, expected 1..{MAX_LAYERS}")
    check_wiring(model)
    blob = bytearray()
    records = []
    for layer in model.layers:
        offs = []
        for data in (layer.weights, layer.thresholds):
            offs.append(len(blob) if data else 0)
            blob += data + bytes(_pad16(len(data)) - len(data))
        records.append(_LAYER.pack(
            layer.op, 0, layer.in0, layer.in1, layer.in_type, layer.out_type, layer.groups,
            *layer.in_shape, *layer.out_shape, *layer.kernel, *layer.stride, *layer.pad,
            offs[0], len(layer.weights), offs[1], len(layer.thresholds)))
    sections = {b"LAYR": b"".join(records), b"WGHT": bytes(blob)}
    if model.meta:
        sections[b"meta"] = json.dumps(model.meta, sort_keys=True).encode()
    sections.update(model.extra_sections)
    if len(sections) > MAX_SECTIONS:
        raise FormatError(f"n_sections is {len(sections)}, expected at most {MAX_SECTIONS}")

    offset = HEADER_SIZE + _pad16(SECTION_SIZE * len(sections))
    table, body = bytearray(), bytearray()
    for tag, data in sections.items():
        table += _SECTION.pack(tag, offset + len(body), len(data), zlib.crc32(data))
        body += data + bytes(_pad16(len(data)) - len(data))
    file_size = offset + len(body)
    h, w, c = model.input_shape
    head = _HEADER.pack(MAGIC, VERSION_MAJOR, required_minor(model), file_size, 0, len(sections),
                        len(model.layers), h, w, c, model.n_classes, int(DType.U8),
                        zlib.crc32(table), 0)
    head = head[:60] + struct.pack("<I", zlib.crc32(head[:60]))
    out = head + table + bytes(offset - HEADER_SIZE - len(table)) + body
    assert len(out) == file_size
    return bytes(out)


def from_bytes(data: bytes, source: str = "<bytes>") -> Model:
    """Parses and checks the structure (header, sections, CRCs, record sizes)."""
    def fail(what: str) -> FormatError:
        return FormatError(f"{source}: {what}")

    if len(data) < HEADER_SIZE:
        raise fail(f"file is {len(data)} bytes, expected at least the {HEADER_SIZE}-byte header")
    (magic, major, _minor, file_size, _flags, n_sections, n_layers, h, w, c, n_classes,
     input_type, table_crc, header_crc) = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise fail(f"magic is {magic!r}, expected {MAGIC!r}")
    if major != VERSION_MAJOR:
        raise fail(f"version_major is {major}, expected {VERSION_MAJOR}")
    if zlib.crc32(data[:60]) != header_crc:
        raise fail(f"header_crc is 0x{header_crc:08x}, expected 0x{zlib.crc32(data[:60]):08x}")
    if len(data) < file_size:
        raise fail(f"file is {len(data)} bytes, expected file_size {file_size}")
    if not 1 <= n_sections <= MAX_SECTIONS:
        raise fail(f"n_sections is {n_sections}, expected 1..{MAX_SECTIONS}")
    table = data[HEADER_SIZE:HEADER_SIZE + SECTION_SIZE * n_sections]
    if len(table) < SECTION_SIZE * n_sections or zlib.crc32(table) != table_crc:
        raise fail("section_table_crc does not match the section table")
    if input_type != DType.U8:
        raise fail(f"input_type is {input_type}, expected {int(DType.U8)} (U8)")

    sections: dict[bytes, bytes] = {}
    for i in range(n_sections):
        tag, off, size, crc = _SECTION.unpack_from(table, i * SECTION_SIZE)
        if off % ALIGN or off + size > file_size or off < HEADER_SIZE + SECTION_SIZE * n_sections:
            raise fail(f"section {tag!r}: offset {off} size {size} outside the file or misaligned")
        if tag in sections:
            raise fail(f"section {tag!r} appears twice")
        body = data[off:off + size]
        if zlib.crc32(body) != crc:
            raise fail(f"section {tag!r}: crc is 0x{crc:08x}, expected 0x{zlib.crc32(body):08x}")
        sections[tag] = body
    for tag in (b"LAYR", b"WGHT"):
        if tag not in sections:
            raise fail(f"required section {tag.decode()} is missing")
    unknown = [t for t in sections if t not in (b"LAYR", b"WGHT", b"meta") and t[:1].isupper()]
    if unknown:
        raise fail(f"unknown critical section {unknown[0]!r}")
    if not 1 <= n_layers <= MAX_LAYERS or len(sections[b"LAYR"]) != LAYER_SIZE * n_layers:
        raise fail(f"LAYR is {len(sections[b'LAYR'])} bytes, expected {LAYER_SIZE} x n_layers "
                   f"({n_layers})")

    blob = sections[b"WGHT"]
    layers = []
    for i in range(n_layers):
        f = _LAYER.unpack_from(sections[b"LAYR"], i * LAYER_SIZE)
        try:
            op, in_type, out_type = Op(f[0]), DType(f[4]), DType(f[5])
        except ValueError as e:
            raise fail(f"layer {i}: {e}") from None
        w_off, w_size, t_off, t_size = f[19:23]
        for name, off, size in (("w", w_off, w_size), ("t", t_off, t_size)):
            if off % ALIGN or off + size > len(blob):
                raise fail(f"layer {i}: {name}_off {off} + {name}_size {size} outside WGHT "
                           f"({len(blob)} bytes) or misaligned")
        layers.append(Layer(op, in_type, out_type, tuple(f[7:10]), tuple(f[10:13]),
                            tuple(f[13:15]), tuple(f[15:17]), tuple(f[17:19]), f[6], f[2], f[3],
                            blob[w_off:w_off + w_size], blob[t_off:t_off + t_size]))
    meta = json.loads(sections[b"meta"].decode()) if b"meta" in sections else {}
    extra = {t: b for t, b in sections.items() if t not in (b"LAYR", b"WGHT", b"meta")}
    model = Model((h, w, c), n_classes, layers, meta, extra)
    check_wiring(model, source)
    return model


def read(path: str | Path) -> Model:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FormatError(f"{path}: cannot read ({e.strerror})") from None
    return from_bytes(data, str(path))


def write(model: Model, path: str | Path) -> int:
    """Writes the file; returns its size in bytes."""
    data = to_bytes(model)
    write_bytes(path, data)
    return len(data)
