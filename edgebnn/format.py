"""Reader and writer of the `.ebnn` model file (docs/format.md is the spec this follows).

The C loader is the authority on what runs; this module writes files it accepts and reads
them back for tools (inspection, ONNX export, on-device training). The reader first applies
every check the C loader makes (edgebnn.model_checks, a port of them), so no tool accepts a
file that no device loads, and a refused file gets the C loader's diagnostic and its name.
"""
from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

import numpy as np

from edgebnn import model_checks as checks
from edgebnn.errors import EdgebnnError, write_bytes
from edgebnn.model_checks import (ALIGN, HEADER_SIZE, LAYER_SIZE, MAX_LAYERS, MAX_SECTIONS,
                                  SECTION_SIZE, TENSOR_NONE)

MAGIC = b"EBNN"
VERSION_MAJOR, VERSION_MINOR = 1, 0

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
#: GAP counts into a u8, so at most this many positions are summed per channel
GAP_MAX_POSITIONS = 255


class DType(IntEnum):
    U8 = 0
    BIN = 1
    I32 = 2


class FormatError(EdgebnnError, ValueError):
    """A model file that does not follow docs/format.md; the message names file and field.
    Where the C loader would refuse the file too (`refused`), `status` is its status name
    (e.g. 'EBNN_ERR_SHAPE') and `layer`, `field`, `found`, `expected` are what its ebnn_diag
    holds, in the form NativeError gives them, so the two can be compared."""

    status: str | None = None
    layer: int | None = None

    @classmethod
    def refused(cls, refusal: checks.Refusal, source: str) -> FormatError:
        """`source: [layer i: ]what: STATUS: the status's text`."""
        where = f"layer {refusal.layer}: " if refusal.layer >= 0 else ""
        error = cls(f"{source}: {where}{refusal.describe()}: {refusal.status}: "
                    f"{checks.STATUS_MESSAGES[refusal.status]}")
        error.status, error.file = refusal.status, source
        error.layer = refusal.layer if refusal.layer >= 0 else None
        error.field = f"{where}{refusal.field}".rstrip()
        error.found = refusal.got
        error.expected = refusal.expected if refusal.expected or refusal.got else None
        return error


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
    #: the file it was read from, for later errors that concern its contents ("" if built)
    source: str = field(default="", compare=False)


def check_wiring(model: Model, source: str = "<model>") -> None:
    """Checks what the tensor graph needs before anything runs: every in0/in1 names an earlier
    tensor (skips are allowed, forward references are not), only ADD reads in1, and each input's
    type and shape is its producer's. These are the C loader's own checks (model_checks), made
    on the layers before they are written, so that a faulty exporter fails at write time,
    naming the layer and field, instead of producing a file no device loads."""
    tensors = [checks.Tensor(DType.U8, *model.input_shape)]
    for i, layer in enumerate(model.layers):
        read = checks.Tensor(layer.in_type, *layer.in_shape)
        refusal = checks.check_ids(i, layer.op, layer.in0, layer.in1) or \
            checks.check_producers(i, layer.op, layer.in0, layer.in1, read, tensors)
        if refusal:
            raise FormatError.refused(refusal, source)
        tensors.append(checks.Tensor(layer.out_type, *layer.out_shape))


def required_minor(model: Model) -> int:
    """The lowest version_minor whose ops cover the model's: what the writer records, and the
    oldest C core (EBNN_FORMAT_MINOR) that runs the file."""
    return max([VERSION_MINOR] + [OP_MINOR.get(layer.op, 0) for layer in model.layers])


def _pad16(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def meta_json(meta: dict) -> str:
    """The `meta` section's JSON text (also the ONNX file's metadata): strict JSON only, so a
    NaN or an infinity never reaches a file other readers would refuse."""
    try:
        return json.dumps(meta, sort_keys=True, allow_nan=False)
    except (ValueError, TypeError) as e:
        raise FormatError(f"meta: not JSON-serialisable ({e})") from None


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
        sections[b"meta"] = meta_json(model.meta).encode()
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
    """Parses a file the C loader accepts (model_checks.check, else FormatError with its
    diagnostic), then its `meta` section (check_meta)."""
    refusal = checks.check(data)
    if refusal:
        raise FormatError.refused(refusal, source)
    (_, _, _, _, _, n_sections, n_layers, h, w, c, n_classes, _, _, _) = \
        _HEADER.unpack_from(data)
    sections: dict[bytes, bytes] = {}
    for i in range(n_sections):
        tag, off, size, _ = _SECTION.unpack_from(data, HEADER_SIZE + i * SECTION_SIZE)
        sections[tag] = data[off:off + size]
    blob = sections[b"WGHT"]
    layers = []
    for i in range(n_layers):
        f = _LAYER.unpack_from(sections[b"LAYR"], i * LAYER_SIZE)
        w_off, w_size, t_off, t_size = f[19:23]
        layers.append(Layer(Op(f[0]), DType(f[4]), DType(f[5]), tuple(f[7:10]),
                            tuple(f[10:13]), tuple(f[13:15]), tuple(f[15:17]), tuple(f[17:19]),
                            f[6], f[2], f[3], blob[w_off:w_off + w_size],
                            blob[t_off:t_off + t_size]))
    meta = check_meta(sections[b"meta"], source) if b"meta" in sections else {}
    extra = {t: b for t, b in sections.items() if t not in (b"LAYR", b"WGHT", b"meta")}
    return Model((h, w, c), n_classes, layers, meta, extra, source)


def check_meta(body: bytes, source: str) -> dict:
    """The `meta` section as a dict: UTF-8 JSON, an object, and the entries tools read of
    their types (`classes` a list of strings; `training` an object, whose entries Provenance
    checks). The C core never reads it, so only the tools refuse it, each time with a
    FormatError naming the file and the entry."""
    def fail(what: str, expected: str, found: object) -> FormatError:
        return FormatError(what, file=source, field="meta", expected=expected, found=found)

    try:
        meta = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise fail(f"not UTF-8 at byte {e.start}", "UTF-8 JSON", f"0x{body[e.start]:02x}") \
            from None
    except json.JSONDecodeError as e:
        raise fail(f"not JSON ({e.msg} at line {e.lineno} column {e.colno})", "a JSON object",
                   None) from None
    except RecursionError:
        raise fail("not JSON (nested too deeply)", "a JSON object", None) from None
    if not isinstance(meta, dict):
        raise fail("not a JSON object", "an object", json_type(meta))
    for key, expected in (("classes", list), ("training", dict)):
        if key in meta and not isinstance(meta[key], expected):
            raise fail(key, json_type(expected()), json_type(meta[key]))
    odd = [name for name in meta.get("classes", []) if not isinstance(name, str)]
    if odd:
        raise fail("classes", "an array of strings", f"{json_type(odd[0])} in it")
    return meta


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type, for messages: object, array, string, ..."""
    names = ((bool, "a boolean"), (dict, "an object"), (list, "an array"), (str, "a string"),
             (int, "an integer"), (float, "a number"), (type(None), "null"))
    return next(name for kind, name in names if isinstance(value, kind))


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
