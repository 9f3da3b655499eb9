"""The C loader's checks (`ebnn_model_load` in native/src/model.c, the arena plan in plan.c),
ported check for check and in the same order, so that the Python reader refuses exactly the
files the C core refuses and says so with the same diagnostic: status, layer, field, value
found, value expected. docs/format.md "Loader checks" is the table both follow, and
tests/test_format_agreement.py feeds both the same few thousand mutated files and fails on any
difference in decision or diagnostic. Like the C loader, `check` returns what it refused
rather than raising; edgebnn.format turns a Refusal into a FormatError naming the file.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Iterable, NamedTuple

HEADER_SIZE, SECTION_SIZE, LAYER_SIZE, ALIGN = 64, 16, 64, 16
MAX_LAYERS, MAX_SECTIONS = 255, 16
TENSOR_NONE = 0xFFFF
MAX_BYTES = 0x7FFFFFF0        # largest tensor, input and arena (EBNN_MAX_BYTES)
INT32_MAX, U32 = 2**31 - 1, 0xFFFFFFFF
U8, BIN, I32 = 0, 1, 2
CONV2D, DENSE, MAXPOOL, BINARIZE, THRESHOLD, ADD, GAP = range(1, 8)
TYPE_NAMES = {U8: "U8", BIN: "BIN", I32: "I32"}
OP_NAMES = {CONV2D: "CONV2D", DENSE: "DENSE", MAXPOOL: "MAXPOOL", BINARIZE: "BINARIZE",
            THRESHOLD: "THRESHOLD", ADD: "ADD", GAP: "GAP"}
TAGS = (b"LAYR", b"WGHT")     # the critical sections this core knows
#: op -> (input type, output type) it runs with; CONV2D/DENSE also read BIN and write I32
OP_TYPES = {CONV2D: (U8, BIN), DENSE: (U8, BIN), MAXPOOL: (BIN, BIN), BINARIZE: (U8, BIN),
            THRESHOLD: (I32, BIN), ADD: (I32, I32), GAP: (BIN, U8)}

#: the one-line text of each status the loader returns (native/src/status.c; a test compares)
STATUS_MESSAGES = {
    "EBNN_ERR_TRUNCATED": "buffer shorter than the header or file_size",
    "EBNN_ERR_MAGIC": "not an .ebnn file (bad magic)",
    "EBNN_ERR_VERSION": "format major version not supported",
    "EBNN_ERR_HEADER_CRC": "header or section table checksum mismatch",
    "EBNN_ERR_SECTION": "invalid section table (bounds, alignment, overlap, unknown critical)",
    "EBNN_ERR_SECTION_CRC": "a section's checksum mismatch",
    "EBNN_ERR_MISSING_SECTION": "LAYR or WGHT section absent",
    "EBNN_ERR_LAYER": "a layer record field out of range",
    "EBNN_ERR_UNSUPPORTED": "op or type combination not implemented by this core",
    "EBNN_ERR_SHAPE": "tensor shapes inconsistent",
    "EBNN_ERR_WEIGHTS": "weight/threshold blob out of bounds, misaligned or wrong size",
    "EBNN_ERR_LIMIT": "exceeds a compile-time limit",
}

_RECORD = struct.Struct("<HHHHBBH" + "H" * 12 + "IIII12s")


@dataclass(frozen=True)
class Refusal:
    """Why a file is refused, as the C loader's status and ebnn_diag give it (layer -1: the
    header or section table; got/expected clamped to 32 bits like ebnn_fail). `text` is the
    wording for people where the bare `field is got, expected e` says too little."""

    status: str
    layer: int
    field: str
    got: int
    expected: int
    text: str = ""

    def describe(self) -> str:
        return self.text or f"{self.field} is {self.got}, expected {self.expected}"


def _fail(status: str, layer: int, field: str, got: int, expected: int,
          text: str = "") -> Refusal:
    return Refusal("EBNN_ERR_" + status, layer, field, min(got, U32), min(expected, U32), text)


def align16(n: int) -> int:
    """ebnn_align16: in uint32, so it wraps to 0 near 2^32 exactly as the C diagnostic does."""
    return (n + 15) & ~15 & U32


def words(bits: int) -> int:
    return (bits + 31) // 32


def tensor_bytes(dtype: int, h: int, w: int, c: int) -> int:
    """ebnn_tensor_bytes (exact; the C value saturates only beyond every limit it is tested
    against)."""
    per_pixel = {U8: c, BIN: 4 * words(c), I32: 4 * c}.get(dtype, 0)
    return h * w * per_pixel


class Record(NamedTuple):
    """A decoded 64-byte layer record (ebnn_record)."""

    op: int
    flags: int
    in0: int
    in1: int
    in_type: int
    out_type: int
    groups: int
    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    w_off: int
    w_size: int
    t_off: int
    t_size: int
    reserved: bytes

    @classmethod
    def decode(cls, table: bytes, i: int) -> Record:
        return cls(*_RECORD.unpack_from(table, i * LAYER_SIZE))


class Tensor(NamedTuple):
    dtype: int
    h: int
    w: int
    c: int

    def __str__(self) -> str:
        return f"{TYPE_NAMES.get(self.dtype, self.dtype)} {(self.h, self.w, self.c)}"


def check(data: bytes) -> Refusal | None:
    """ebnn_model_load's verdict on a file: None when the C core loads it."""
    size = len(data)
    if size < HEADER_SIZE:
        return _fail("TRUNCATED", -1, "size", size, HEADER_SIZE,
                     f"file is {size} bytes, expected at least the {HEADER_SIZE}-byte header")
    magic, major, _, file_size, flags = struct.unpack_from("<4sHHII", data)
    if magic != b"EBNN":
        return _fail("MAGIC", -1, "magic", int.from_bytes(magic, "little"), 0x4E4E4245,
                     f"magic is {magic!r}, expected b'EBNN'")
    if major != 1:
        return _fail("VERSION", -1, "version_major", major, 1)
    crc, stored = zlib.crc32(data[:60]), struct.unpack_from("<I", data, 60)[0]
    if crc != stored:
        return _fail("HEADER_CRC", -1, "header_crc", stored, crc,
                     f"header_crc is 0x{stored:08x}, expected 0x{crc:08x}")
    if size < file_size:
        return _fail("TRUNCATED", -1, "size", size, file_size,
                     f"file is {size} bytes, expected file_size {file_size}")
    if flags != 0:
        return _fail("UNSUPPORTED", -1, "flags", flags, 0)
    if data[28] != U8:
        return _fail("UNSUPPORTED", -1, "input_type", data[28], U8,
                     f"input_type is {data[28]}, expected {U8} (U8)")
    if any(data[29:32]):
        return _fail("UNSUPPORTED", -1, "reserved", 1, 0, "header bytes 29..31 are not zero")
    found = _sections(data, file_size)
    if isinstance(found, Refusal):
        return found
    layr, weights_size = found
    h, w, c = struct.unpack_from("<HHH", data, 20)
    if tensor_bytes(U8, h, w, c) > MAX_BYTES:
        return _fail("LIMIT", -1, "input_size", tensor_bytes(U8, h, w, c), MAX_BYTES)
    tensors = [Tensor(U8, h, w, c)]
    for i in range(len(layr) // LAYER_SIZE):
        record = Record.decode(layr, i)
        refusal = check_layer(record, i, tensors, weights_size)
        if refusal:
            return refusal
        tensors.append(Tensor(record.out_type, record.out_h, record.out_w, record.out_c))
    return _check_output(tensors, struct.unpack_from("<H", data, 26)[0]) or _check_arena(layr)


def _sections(data: bytes, file_size: int) -> tuple[bytes, int] | Refusal:
    """load_sections: the whole table first (bounds, alignment, overlap, duplicates, tags),
    then every section's CRC, then LAYR and WGHT; (LAYR bytes, WGHT size) when all hold."""
    n = struct.unpack_from("<H", data, 16)[0]
    if file_size % ALIGN:
        return _fail("SECTION", -1, "file_size", file_size, align16(file_size),
                     f"file_size is {file_size}, expected a multiple of {ALIGN}")
    if not 1 <= n <= MAX_SECTIONS:
        return _fail("SECTION", -1, "n_sections", n, MAX_SECTIONS,
                     f"n_sections is {n}, expected 1..{MAX_SECTIONS}")
    table_end = HEADER_SIZE + n * SECTION_SIZE
    if table_end > file_size:
        return _fail("SECTION", -1, "file_size", file_size, table_end,
                     f"file_size is {file_size}, expected at least the {table_end} bytes of "
                     f"header and section table")
    table = data[HEADER_SIZE:table_end]
    stored = struct.unpack_from("<I", data, 32)[0]
    if zlib.crc32(table) != stored:
        return _fail("HEADER_CRC", -1, "section_table_crc", stored, zlib.crc32(table),
                     f"section_table_crc is 0x{stored:08x}, expected 0x{zlib.crc32(table):08x}")
    entries = [struct.unpack_from("<4sIII", table, i * SECTION_SIZE) for i in range(n)]
    for i, (tag, off, size, _) in enumerate(entries):
        refusal = _check_entry(entries[:i], tag, off, size, table_end, file_size)
        if refusal:
            return refusal
    sections = {}
    for tag, off, size, stored in entries:
        crc = zlib.crc32(data[off:off + size])
        if crc != stored:
            return _fail("SECTION_CRC", -1, "crc", stored, crc,
                         f"section {tag!r}: crc is 0x{stored:08x}, expected 0x{crc:08x}")
        sections[tag] = data[off:off + size]
    for tag in TAGS:
        if tag not in sections:
            return _fail("MISSING_SECTION", -1, tag.decode(), 0, 0,
                         f"required section {tag.decode()} is missing")
    n_layers = struct.unpack_from("<H", data, 18)[0]
    if not 1 <= n_layers <= MAX_LAYERS:
        return _fail("LIMIT", -1, "n_layers", n_layers, MAX_LAYERS,
                     f"n_layers is {n_layers}, expected 1..{MAX_LAYERS}")
    if len(sections[b"LAYR"]) != LAYER_SIZE * n_layers:
        return _fail("LAYER", -1, "size", len(sections[b"LAYR"]), LAYER_SIZE * n_layers,
                     f"LAYR is {len(sections[b'LAYR'])} bytes, expected {LAYER_SIZE} x "
                     f"n_layers ({n_layers})")
    return sections[b"LAYR"], len(sections[b"WGHT"])


def _check_entry(earlier: list[tuple[bytes, int, int, int]], tag: bytes, off: int, size: int,
                 table_end: int, file_size: int) -> Refusal | None:
    """One section table entry against the file and the entries before it."""
    def fail(name: str, got: int, expected: int, why: str) -> Refusal:
        return _fail("SECTION", -1, name, got, expected, f"section {tag!r}: {why}")

    code = int.from_bytes(tag, "little")
    if not all(65 <= b <= 90 or 97 <= b <= 122 for b in tag):
        return fail("tag", code, 0, "tag is not four ASCII letters")
    if tag[:1].isupper() and tag not in TAGS:
        return fail("tag", code, 0, "unknown critical section")
    if off % ALIGN:
        return fail("offset", off, align16(off), f"offset {off} is not a multiple of {ALIGN}")
    if off < table_end:
        return fail("offset", off, table_end, f"offset {off} is inside the header or table")
    if off > file_size:
        return fail("offset", off, file_size, f"offset {off} is beyond file_size {file_size}")
    if size > file_size - off:
        return fail("size", size, file_size - off,
                    f"size {size} at offset {off} runs past file_size {file_size}")
    for other, o_off, o_size, _ in earlier:
        if other == tag:
            return fail("tag", code, 0, "appears twice")
        if size and o_size and off < o_off + o_size and o_off < off + size:
            return fail("offset", off, o_off + o_size, f"overlaps section {other!r}")
    return None


def _first_mismatch(layer: int, status: str, pairs: Iterable[tuple[str, int, int]]
                    ) -> Refusal | None:
    """first_mismatch: the first (field, got, expected) whose values differ."""
    for name, got, expected in pairs:
        if got != expected:
            return _fail(status, layer, name, got, expected)
    return None


def check_ids(i: int, op: int, in0: int, in1: int) -> Refusal | None:
    """The tensor ids of layer i: in0 an earlier tensor; in1 one too for ADD, else none."""
    if in0 > i:
        return _fail("LAYER", i, "in0", in0, i, f"in0 is {in0}, expected a tensor id 0..{i}")
    if op == ADD and in1 > i:
        return _fail("LAYER", i, "in1", in1, i, f"in1 is {in1}, expected a tensor id 0..{i}")
    if op != ADD and in1 != TENSOR_NONE:
        return _fail("LAYER", i, "in1", in1, TENSOR_NONE,
                     f"in1 is {in1}, expected 0x{TENSOR_NONE:04X} ({OP_NAMES.get(op, op)} has "
                     f"one input)")
    return None


def check_producers(i: int, op: int, in0: int, in1: int, read: Tensor,
                    tensors: list[Tensor]) -> Refusal | None:
    """What layer i reads (type and shape) is what produced in0, and for ADD in1 too."""
    src = tensors[in0]
    for name, got, expected in zip(("in_type", "in_h", "in_w", "in_c"), read, src):
        if got != expected:
            return _fail("SHAPE", i, name, got, expected,
                         f"in0 is {read}, expected tensor {in0}'s {src}")
    if op != ADD:
        return None
    src1 = tensors[in1]
    for name, got, expected in zip(("in1_type", "in1_h", "in1_w", "in1_c"), src1, read):
        if got != expected:
            return _fail("SHAPE", i, name, got, expected,
                         f"in1 is tensor {in1} ({src1}), expected {read} like in0")
    return None


def check_layer(r: Record, i: int, tensors: list[Tensor], weights_size: int) -> Refusal | None:
    """check_layer: ranges (EBNN_ERR_LAYER), the op/type combination (UNSUPPORTED), shapes
    (SHAPE), compile-time limits (LIMIT), then the weight and threshold blobs (WEIGHTS)."""
    return _check_fields(r, i) or _check_types(r, i) or _check_shapes(r, i, tensors) \
        or _check_limits(r, i) or _check_blobs(r, i, weights_size)


def _check_fields(r: Record, i: int) -> Refusal | None:
    conv = r.op in (CONV2D, DENSE)
    if not CONV2D <= r.op <= GAP:
        return _fail("LAYER", i, "op", r.op, CONV2D, f"op is {r.op}, expected 1..{GAP}")
    if r.flags:
        return _fail("LAYER", i, "flags", r.flags, 0)
    refusal = check_ids(i, r.op, r.in0, r.in1)
    if refusal:
        return refusal
    if r.in_type > I32:
        return _fail("LAYER", i, "in_type", r.in_type, I32)
    if r.out_type > I32:
        return _fail("LAYER", i, "out_type", r.out_type, I32)
    if any(r.reserved):
        return _fail("LAYER", i, "reserved", 1, 0, "reserved bytes 52..63 are not zero")
    for name in ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "kh", "kw", "sh", "sw",
                 "groups"):
        if getattr(r, name) == 0:
            return _fail("LAYER", i, name, 0, 1)
    if r.in_c % r.groups or r.out_c % r.groups or (not conv and r.groups != 1):
        return _fail("LAYER", i, "groups", r.groups, 1,
                     f"groups is {r.groups}, expected a divisor of in_c {r.in_c} and out_c "
                     f"{r.out_c}" + ("" if conv else " (1 for this op)"))
    if r.op == DENSE:
        refusal = _first_mismatch(i, "LAYER", (
            ("kh", r.kh, r.in_h), ("kw", r.kw, r.in_w), ("sh", r.sh, 1), ("sw", r.sw, 1),
            ("ph", r.ph, 0), ("pw", r.pw, 0), ("groups", r.groups, 1)))
        if refusal:
            return refusal
    if r.op >= BINARIZE:   # pointwise: a 1x1 window, stride 1, no padding
        refusal = _first_mismatch(i, "LAYER", (
            ("kh", r.kh, 1), ("kw", r.kw, 1), ("sh", r.sh, 1), ("sw", r.sw, 1), ("ph", r.ph, 0),
            ("pw", r.pw, 0)))
        if refusal:
            return refusal
    if r.op == GAP and r.in_h * r.in_w > 255:
        return _fail("LAYER", i, "in_h*in_w", r.in_h * r.in_w, 255)
    return None


def _check_types(r: Record, i: int) -> Refusal | None:
    conv = r.op in (CONV2D, DENSE)
    want_in, want_out = OP_TYPES[r.op]
    name = OP_NAMES[r.op]
    if r.in_type == I32 if conv else r.in_type != want_in:
        return _fail("UNSUPPORTED", i, "in_type", r.in_type, want_in,
                     f"in0 is {TYPE_NAMES[r.in_type]}, expected "
                     f"{'U8 or BIN' if conv else TYPE_NAMES[want_in]} ({name} reads it)")
    if r.out_type == U8 if conv else r.out_type != want_out:
        return _fail("UNSUPPORTED", i, "out_type", r.out_type, want_out,
                     f"out_type is {TYPE_NAMES[r.out_type]}, expected "
                     f"{'BIN or I32' if conv else TYPE_NAMES[want_out]} ({name} writes it)")
    return None


def _check_shapes(r: Record, i: int, tensors: list[Tensor]) -> Refusal | None:
    read = Tensor(r.in_type, r.in_h, r.in_w, r.in_c)
    refusal = check_producers(i, r.op, r.in0, r.in1, read, tensors)
    if refusal:
        return refusal
    if r.in_h + 2 * r.ph < r.kh:
        return _fail("SHAPE", i, "kh", r.kh, r.in_h + 2 * r.ph)
    if r.in_w + 2 * r.pw < r.kw:
        return _fail("SHAPE", i, "kw", r.kw, r.in_w + 2 * r.pw)
    if r.op == BINARIZE and (r.out_h, r.out_w, r.out_c) == (1, 1, r.in_h * r.in_w * r.in_c):
        return None   # BINARIZE may flatten its output to 1 x 1 x in_h*in_w*in_c
    if r.op == GAP:
        return _first_mismatch(i, "SHAPE", (
            ("out_h", r.out_h, 1), ("out_w", r.out_w, 1), ("out_c", r.out_c, r.in_c)))
    return _first_mismatch(i, "SHAPE", (
        ("out_h", r.out_h, (r.in_h + 2 * r.ph - r.kh) // r.sh + 1),
        ("out_w", r.out_w, (r.in_w + 2 * r.pw - r.kw) // r.sw + 1),
        ("out_c", r.out_c, r.out_c if r.op in (CONV2D, DENSE) else r.in_c)))


def _check_limits(r: Record, i: int) -> Refusal | None:
    n = r.kh * r.kw * (r.in_c // r.groups)
    if r.op in (CONV2D, DENSE) and n * (255 if r.in_type == U8 else 1) > INT32_MAX:
        return _fail("LIMIT", i, "kh*kw*cg", n, 0,
                     f"kh*kw*cg is {n}: a sum could overflow int32")
    out = tensor_bytes(r.out_type, r.out_h, r.out_w, r.out_c)
    if out > MAX_BYTES:
        return _fail("LIMIT", i, "out_bytes", out, MAX_BYTES)
    return None


def _check_blobs(r: Record, i: int, weights_size: int) -> Refusal | None:
    conv = r.op in (CONV2D, DENSE)
    cg = r.in_c // r.groups
    row_words = words(r.kh * r.kw * cg) if r.in_type == U8 else r.kh * r.kw * words(cg)
    t_size = 4 * (r.out_c + words(r.out_c)) if (conv and r.out_type == BIN) \
        or r.op == THRESHOLD else 0
    if r.op == BINARIZE:
        t_size = r.in_h * r.in_w * r.in_c
    return _check_blob(i, "w", r.w_off, r.w_size, r.out_c * row_words * 4 if conv else 0,
                       weights_size) or _check_blob(i, "t", r.t_off, r.t_size, t_size,
                                                    weights_size)


def _check_blob(i: int, kind: str, off: int, size: int, expected: int,
                weights_size: int) -> Refusal | None:
    """check_blob: a 16-byte aligned offset, the exact size, inside WGHT."""
    if off % ALIGN:
        return _fail("WEIGHTS", i, f"{kind}_off", off, align16(off))
    if size != expected:
        return _fail("WEIGHTS", i, f"{kind}_size", size, expected)
    if size > weights_size or off > weights_size - size:
        return _fail("WEIGHTS", i, f"{kind}_off", off, 0 if size > weights_size
                     else weights_size - size,
                     f"{kind}_off {off} + {kind}_size {size} is outside WGHT ({weights_size} "
                     f"bytes)")
    return None


def _check_output(tensors: list[Tensor], n_classes: int) -> Refusal | None:
    """The last layer writes the n_classes I32 scores."""
    last, out = len(tensors) - 2, tensors[-1]
    if out.dtype != I32:
        return _fail("SHAPE", last, "out_type", out.dtype, I32,
                     f"out_type is {TYPE_NAMES[out.dtype]}, expected I32 (the scores)")
    if out.h * out.w * out.c != n_classes:
        return _fail("SHAPE", last, "n_classes", n_classes, out.h * out.w * out.c,
                     f"the header's n_classes is {n_classes}, expected the last layer's "
                     f"{out.h * out.w * out.c} scores")
    return None


def _check_arena(layr: bytes) -> Refusal | None:
    """ebnn_plan_arena: first-fit placement of every tensor that is alive at once; refused
    when the arena would exceed MAX_BYTES."""
    records = [Record.decode(layr, t) for t in range(len(layr) // LAYER_SIZE)]
    n = len(records)
    last = [0] + list(range(n))          # last step tensor t is read or written
    size = [0] * (n + 1)
    for t, r in enumerate(records):
        last[r.in0] = t
        if r.in1 != TENSOR_NONE:
            last[r.in1] = t
        if t + 1 < n:
            size[t + 1] = align16(tensor_bytes(r.out_type, r.out_h, r.out_w, r.out_c))
    offset = [0] * (n + 1)
    for t in range(1, n):
        shared = _dying_operand(records[t - 1], last, t - 1)
        if shared:   # an ADD writes its sum over the operand that dies with it
            offset[t] = offset[shared]
            continue
        off, moved = 0, True
        while moved:
            moved = False
            for u in range(1, t):
                if last[u] >= t - 1 and off < offset[u] + size[u] and offset[u] < off + size[t]:
                    off, moved = offset[u] + size[u], True
        if off > MAX_BYTES - size[t]:
            return _fail("LIMIT", -1, "arena_size", 0, MAX_BYTES,
                         f"arena_size is over {MAX_BYTES} bytes")
        offset[t] = off
    return None


def _dying_operand(r: Record, last: list[int], step: int) -> int:
    if r.op != ADD:
        return 0
    if r.in0 != 0 and last[r.in0] == step:
        return r.in0
    if r.in1 != 0 and last[r.in1] == step:
        return r.in1
    return 0
