"""Client of the edgebnn serial protocol (docs/protocol.md): one `Device` per link.

    with open_device("qemu:mps2-an386") as dev:      # edgebnn.device.ports
        dev.load(Path("model.ebnn").read_bytes())
        scores = dev.infer(images).scores

The link is anything pyserial-like (read/write/timeout/in_waiting). Every wait is bounded by
`timeout`; a request that gets no reply is resent with the same sequence number (the firmware
answers a retransmission from its reply cache without running it twice, so every retry is
safe) up to `retries` times, and then fails with an error that names the port, the command
and its sequence number.
"""
from __future__ import annotations

import random
import re
import struct
import time
import zlib
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from edgebnn.device.errors import BoardRestarted, CommandError, DeviceError
from edgebnn.device.framing import (FEATURE_BOOTLOADER, IMAGE_REASONS, MAJOR, MINOR,
                                    MINOR_STORED_MODEL, REPLY, TRANSIENT, BadFrame, Cmd, Frame,
                                    FrameReader, LoadMode, Status, cmd_name, encode, status_name)
from edgebnn.errors import UsageError

BANNER_RE = re.compile(rb"EBNN-FW (\S+) board=(\S+) clock=(\d+)\r?\n")
HOST_MAX_PAYLOAD = 0xFFFC
_SUMMARY = struct.Struct("<IIHHHHI")    # size, crc, n_classes, in_h, in_w, in_c, arena
#: TRAIN / TRAIN_PARAMS algorithm ids; HELLO's feature bit (id - 1) says the firmware has one
TRAIN_ALGORITHMS = {"local": 1, "drtp": 2}
_TRAIN_REPLY = struct.Struct("<HHHHIQ")  # n, correct, wrong, 0, step index, cycles
#: a model's name on the board: LOAD_COMMIT's name field holds 31 bytes and a NUL
NAME_BYTES = 31
INFO_FLAG_NOT_STORED = 1 << 1   # INFO flags bit 1: the active model is not the stored one
INFO_FLAG_KEY = 1 << 2          # INFO flags bit 2: a signing key is provisioned


@dataclass(frozen=True)
class ModelSummary:
    """The active model as the device reports it (size 0: none)."""
    size: int
    crc: int
    n_classes: int
    input_shape: tuple[int, int, int]
    arena_size: int

    @classmethod
    def unpack(cls, data: bytes, offset: int = 0) -> "ModelSummary":
        size, crc, nc, h, w, c, arena = _SUMMARY.unpack_from(data, offset)
        return cls(size, crc, nc, (h, w, c), arena)


@dataclass(frozen=True)
class StoredModel:
    """The model in the board's flash, which a reset restores (size 0: none)."""
    size: int
    crc: int
    name: str


@dataclass(frozen=True)
class DeviceInfo:
    protocol: str
    max_payload: int
    clock_hz: int
    model_slot_size: int
    arena_size: int
    model: ModelSummary
    flags: int
    firmware: str
    board: str
    core: str
    model_name: str = ""                  # the active model's, as LOAD_COMMIT named it
    stored: Optional[StoredModel] = None  # None: 1.1 firmware, which does not report it
    #: the provisioned signing key's fingerprint (hex), "" when none is provisioned, None when
    #: the firmware does not report it (built before it did)
    key_fingerprint: Optional[str] = None

    @property
    def active_is_stored(self) -> Optional[bool]:
        """Whether the active model is the one in flash (False after a RAM-only load or
        unsaved training); None when the firmware (1.1) does not say."""
        return None if self.stored is None else not self.flags & INFO_FLAG_NOT_STORED

    @classmethod
    def unpack(cls, reply: bytes, stored_model: bool) -> "DeviceInfo":
        """An INFO reply (docs/protocol.md); `stored_model`: the firmware has HELLO's feature
        protocol 1.2 or later, so the stored model and the names follow the three strings."""
        major, minor, max_payload, clock, slot, arena = struct.unpack_from("<BBHIII", reply)
        model = ModelSummary.unpack(reply, 16)
        (flags,) = struct.unpack_from("<I", reply, 36)
        (firmware, board, core), at = _cstrings(reply, 40, 3)
        stored, name, key = None, "", None
        if stored_model and len(reply) >= at + 8:
            size, crc = struct.unpack_from("<II", reply, at)
            (stored_name, name), at = _cstrings(reply, at + 8, 2)
            stored = StoredModel(size, crc, stored_name)
            if len(reply) >= at + 16:
                key = reply[at:at + 16].hex() if flags & INFO_FLAG_KEY else ""
        return cls(f"{major}.{minor}", max_payload, clock, slot, arena, model, flags, firmware,
                   board, core, name, stored, key)

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["model"] = dict(self.model.__dict__)
        d["stored"] = dict(self.stored.__dict__) if self.stored else None
        d["active_is_stored"] = self.active_is_stored
        return d


def _cstrings(data: bytes, at: int, count: int) -> tuple[list[str], int]:
    """`count` NUL-terminated strings from `at` (missing ones are ""), and the offset after."""
    out = []
    for _ in range(count):
        end = data.find(b"\0", at)
        end = len(data) if end < 0 else end
        out.append(data[at:end].decode(errors="replace"))
        at = end + 1
    return out, at


def board_name_of(name: str) -> bytes:
    """`name` as LOAD_COMMIT carries it: UTF-8, NULs dropped, cut to NAME_BYTES on a character
    boundary."""
    raw = name.replace("\0", "").encode()[:NAME_BYTES]
    return raw.decode(errors="ignore").encode()


@dataclass(frozen=True)
class TrainResult:
    """One TRAIN step as the board reports it."""
    n: int
    correct: int      # samples the model got right, counted before the update
    wrong: int        # samples that drove the update (wrong, or right by too small a margin)
    step: int         # batches the model has been trained on, this one included
    cycles: int       # board_cycles() around the step


@dataclass(frozen=True)
class InferResult:
    scores: np.ndarray    # int32 (N, n_classes)
    classes: np.ndarray   # int (N,), the board's argmax
    cycles: np.ndarray    # uint32 (N,), board_cycles() around each sample


def _core_status(code: int) -> str:
    """A C core status as its name ('EBNN_ERR_TRAINING') when the host binding is built (the
    board runs the same core, so the codes agree), else as its number."""
    try:
        from edgebnn._native import ffi, lib
    except ImportError:
        return f"C core status {code}"
    return f"{ffi.string(lib.ebnn_status_name(code & 0x7FFFFFFF)).decode()} ({code})"


#: the commands whose samples carry labels (a bad one: ERR_BAD_REQUEST with its index)
_LABELLED = (Cmd.EVALUATE, Cmd.TRAIN)


#: ERR_TOO_LARGE per command: the board limit it hit, and what fits (docs/protocol.md "Memory";
#: each board's sizes: docs/boards.md)
_TOO_LARGE = {
    Cmd.LOAD_BEGIN: "the model is larger than the board's model slot: models up to {limit:,} "
                    "bytes fit",
    Cmd.LOAD_COMMIT: "the model's inference arena is larger than the board's arena: models "
                     "whose arena needs up to {limit:,} bytes fit",
    Cmd.TRAIN: "the batch's training scratch is larger than the board's arena ({limit:,} "
               "bytes): fewer samples per step fit",
    Cmd.FLASH_BEGIN: "the image is larger than the board's application slot: images up to "
                     "{limit:,} bytes fit",
}


def _too_large(cmd: int, limit: int) -> str:
    why = _TOO_LARGE.get(cmd)
    return f": {why.format(limit=limit)}" if why else ""


#: what a board with a public key provisioned says when it refuses an image or a model, from
#: the reply's detail (firmware/sign/signature.h)
_SIGNATURE_REFUSALS = {
    Status.ERR_UNSIGNED: lambda d: "refused: unsigned, and this board accepts only files "
                                   "signed with its key (edgebnn sign FILE --key KEY)",
    Status.ERR_SIGNATURE: lambda d: "refused: bad signature (changed after signing, or not "
                                    "signed by the key it names)",
    Status.ERR_KEY: lambda d: f"refused: signed by key {d[:16].hex()}, the board's key is "
                              f"{d[16:32].hex()}",
    Status.ERR_DOWNGRADE: lambda d: "refused: downgrade, counter {} is below the running {}"
                                    .format(*struct.unpack_from("<II", d)),
}


def _describe_error(cmd: int, status: int, detail: bytes) -> str:
    """A readable line for an error reply and its detail payload."""
    text = status_name(status)
    try:
        if status == Status.ERR_SEQ and len(detail) >= 2:
            text += f" (device expected seq {struct.unpack_from('<H', detail)[0]})"
        elif status == Status.ERR_TOO_LONG and len(detail) >= 2:
            text += f" (device maximum payload {struct.unpack_from('<H', detail)[0]} bytes)"
        elif status == Status.ERR_LOAD_STATE and len(detail) >= 4:
            text += f" (device has {struct.unpack_from('<I', detail)[0]} bytes of the upload)"
        elif status == Status.ERR_LOAD_CRC and len(detail) >= 4:
            text += f" (device computed CRC 0x{struct.unpack_from('<I', detail)[0]:08x})"
        elif status == Status.ERR_TOO_LARGE and len(detail) >= 8:
            limit, asked = struct.unpack_from("<II", detail)
            text += f" (needs {asked} bytes, device has {limit}){_too_large(cmd, limit)}"
        elif status == Status.ERR_MODEL and len(detail) >= 16:
            st, layer, got, expected = struct.unpack_from("<IiII", detail)
            field = detail[16:].split(b"\0", 1)[0].decode(errors="replace")
            where = f"layer {layer}: " if layer >= 0 else ""
            text += f" ({_core_status(st)}: {where}{field} is {got}, expected {expected})"
        elif status == Status.ERR_CORE and len(detail) >= 4:
            text += f" ({_core_status(struct.unpack_from('<I', detail)[0])})"
        elif status == Status.ERR_VERSION and len(detail) >= 2:
            text += f" (device speaks protocol {detail[0]}.{detail[1]})"
        elif status == Status.ERR_IMAGE and len(detail) >= 4:
            (reason,) = struct.unpack_from("<I", detail)
            why = detail[4:].split(b"\0", 1)[0].decode(errors="replace")
            text += f" (image refused ({IMAGE_REASONS.get(reason, f'reason {reason}')}): {why})"
        elif status == Status.ERR_BAD_REQUEST and cmd in _LABELLED and len(detail) >= 12:
            sample, label, classes = struct.unpack_from("<III", detail)
            text += (f" (sample {sample}: label {label} is not a class of the model, which has "
                     f"{classes})")
        elif status in _SIGNATURE_REFUSALS:
            text += f" ({_SIGNATURE_REFUSALS[status](detail)})"
        elif status == Status.ERR_STORE and len(detail) >= 4:
            text += f" (flash erase/program failed, error {struct.unpack_from('<i', detail)[0]})"
    except struct.error:
        pass
    return text


class Device:
    """A protocol session on an open link.

    name: how errors name the port (e.g. 'qemu:mps2-an386').
    timeout: seconds to wait for each reply (per attempt).
    retries: resends after a missing or corrupted reply.
    exit_info: optional callable giving a note when the far end is known dead (QEMU's status).
    pending: bytes already read from the link (e.g. by a banner reader).
    """

    def __init__(self, link, name: str, *, timeout: float = 2.0, retries: int = 2,
                 exit_info: Optional[Callable[[], Optional[str]]] = None,
                 pending: bytes = b"") -> None:
        self.link = link
        self.name = name
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.exit_info = exit_info
        self.max_payload = 256          # until HELLO tells us the device's
        self.features = 0               # HELLO's feature bits
        self.protocol_minor = 0         # HELLO's minor version
        self.firmware: Optional[str] = None
        self._reader = FrameReader(HOST_MAX_PAYLOAD)
        self._reader.feed(pending)
        self._seq = random.randrange(0x10000)
        self._model: Optional[ModelSummary] = None
        self.qemu = None                # the QemuBoard behind a qemu: port

    @property
    def in_bootloader(self) -> bool:
        """Whether the last HELLO was answered by the resident bootloader, not an application."""
        return bool(self.features & FEATURE_BOOTLOADER)

    @property
    def last_seq(self) -> int:
        """The sequence number of the last request sent (the next one is last_seq + 1)."""
        return self._seq

    # --- transport ---------------------------------------------------------------------
    def _fail(self, message: str) -> DeviceError:
        note = self.exit_info() if self.exit_info else None
        return DeviceError(f"{self.name}: {message}" + (f"; {note}" if note else ""))

    def _read_some(self, deadline: float) -> bytes:
        self.link.timeout = max(0.0, min(deadline - time.monotonic(), 0.05))
        try:
            return self.link.read(max(1, self.link.in_waiting))
        except Exception as e:   # pyserial raises SerialException or OSError on a lost link
            raise self._fail(f"link lost ({e})") from None

    def request(self, cmd: int, payload: bytes = b"", *, timeout: Optional[float] = None,
                retries: Optional[int] = None, allow_banner: bool = False) -> bytes:
        """Sends one request and returns the reply payload; CommandError on an error status."""
        timeout = self.timeout if timeout is None else timeout
        retries = self.retries if retries is None else retries
        if len(payload) > self.max_payload and cmd != Cmd.HELLO:
            raise ValueError(f"{cmd_name(cmd)} payload of {len(payload)} bytes exceeds the "
                             f"device's maximum of {self.max_payload}")
        self._seq = (self._seq + 1) & 0xFFFF
        seq = self._seq
        data = encode(Frame(cmd, seq, payload))
        what = f"{cmd_name(cmd)} (seq {seq})"
        for attempt in range(retries + 1):
            try:
                self.link.write(data)
                self.link.flush()
            except Exception as e:
                raise self._fail(f"link lost while sending {what} ({e})") from None
            reply = self._wait_reply(cmd, seq, timeout, what, allow_banner)
            if reply is None:
                continue        # lost or corrupted: resend the same frame
            if reply.status != Status.OK:
                hint = ("; the device is in its bootloader: `edgebnn device reset` starts the "
                        "installed application, `edgebnn flash IMAGE` installs one"
                        if reply.status == Status.ERR_UNKNOWN_CMD and self.in_bootloader else "")
                raise CommandError(f"{self.name}: {what} failed: "
                                   f"{_describe_error(cmd, reply.status, reply.payload)}{hint}",
                                   reply.status, reply.payload)
            return reply.payload
        attempts = f" ({retries + 1} attempts)" if retries else ""
        raise self._fail(f"no reply to {what} within {timeout} s{attempts}")

    def _wait_reply(self, cmd: int, seq: int, timeout: float, what: str,
                    allow_banner: bool) -> Optional[Frame]:
        """Our reply, or None after a timeout or a transient error (the caller resends)."""
        deadline = time.monotonic() + timeout
        self._reader.skipped.clear()
        while True:
            for item in self._reader.frames():
                if item.seq != seq or item.cmd != cmd | REPLY:
                    continue        # a stale reply to an earlier request
                if isinstance(item, BadFrame) or item.status in TRANSIENT:
                    return None
                return item
            if not allow_banner and BANNER_RE.search(self._reader.skipped):
                self._reader.skipped.clear()
                self._model = None
                raise BoardRestarted(f"{self.name}: the board restarted (boot banner) while "
                                     f"waiting for the reply to {what}, which may not have run; "
                                     "it serves its last committed model again (training not "
                                     "saved with TRAIN_SAVE is lost)")
            if time.monotonic() >= deadline:
                return None
            self._reader.feed(self._read_some(deadline))

    # --- commands ----------------------------------------------------------------------
    def hello(self) -> dict:
        """Version handshake; also resynchronizes sequence numbers. Called by open_device."""
        reply = self.request(Cmd.HELLO, struct.pack("<BBH", MAJOR, MINOR, HOST_MAX_PAYLOAD),
                             allow_banner=True)
        major, minor, max_payload, features = struct.unpack_from("<BBHI", reply)
        if major != MAJOR:
            raise self._fail(f"device speaks protocol {major}.{minor}, this host {MAJOR}.x")
        self.max_payload = max_payload
        self.features = features
        self.protocol_minor = minor
        self.firmware = reply[8:].split(b"\0", 1)[0].decode(errors="replace")
        return {"protocol": f"{major}.{minor}", "max_payload": max_payload,
                "features": features, "firmware": self.firmware}

    def info(self) -> DeviceInfo:
        """The application's INFO; a DeviceError when the bootloader answers (its INFO has
        another layout: edgebnn.device.flash.boot_info)."""
        if self.in_bootloader:
            raise self._fail(f"the device is in its bootloader ({self.firmware}), no application "
                             "is running: `edgebnn device reset` starts the installed one, "
                             "`edgebnn flash IMAGE` installs one")
        info = DeviceInfo.unpack(self.request(Cmd.INFO), self.has_ram_load)
        self._model = info.model if info.model.size else None
        return info

    @property
    def has_ram_load(self) -> bool:
        """Whether the application loads models into RAM only (protocol 1.2 on, from HELLO)."""
        return self.protocol_minor >= MINOR_STORED_MODEL and not self.in_bootloader

    def load(self, model: bytes, progress: Optional[Callable[[int, int], None]] = None, *,
             ram_only: bool = False, name: str = "") -> ModelSummary:
        """Uploads a .ebnn model and makes it the active one: stored in the board's flash
        first (replacing the stored model, which a reset restores), or with `ram_only` in RAM
        only (the stored model stays). The previous model stays active if this fails.
        `name` (the file name, say) is kept with it for INFO (1.2 firmware)."""
        if ram_only and not self.has_ram_load:
            raise DeviceError(f"{self.name}: firmware {self.firmware} stores every model it "
                              "loads (protocol 1.1); it has no RAM-only load")
        crc = zlib.crc32(model)
        self.upload(Cmd.LOAD_BEGIN, Cmd.LOAD_CHUNK, model, progress)
        mode = LoadMode.RAM_ONLY if ram_only else LoadMode.STORE
        commit = bytes([mode]) + board_name_of(name) + b"\0" if self.has_ram_load else b""
        summary = ModelSummary.unpack(self.request(Cmd.LOAD_COMMIT, commit))
        if (summary.size, summary.crc) != (len(model), crc):
            raise self._fail(f"LOAD_COMMIT: device committed {summary.size} bytes with CRC "
                             f"0x{summary.crc:08x}, sent {len(model)} with 0x{crc:08x}")
        self._model = summary
        return summary

    def activate(self, model: bytes, name: str = "", *, may_store: bool = False,
                 progress: Optional[Callable[[int, int], None]] = None) -> ModelSummary:
        """Makes `model` the active model for a run on the board (evaluate, train) without
        replacing the stored model: a RAM-only load (1.2 firmware). 1.1 firmware stores every
        load, so there the upload happens only with `may_store` (the caller stores a result
        anyway); otherwise the model must already be the active one, else a DeviceError says
        which command stores it."""
        if self.has_ram_load:
            return self.load(model, progress, ram_only=True, name=name)
        if may_store:
            return self.load(model, progress)
        active = self.info().model
        if active.size and (active.size, active.crc) == (len(model), zlib.crc32(model)):
            return active
        held = f"its model (CRC 0x{active.crc:08x})" if active.size else "its empty model slot"
        raise DeviceError(f"{self.name}: firmware {self.firmware} (protocol 1.1) stores every "
                          f"model it loads, which would replace {held} in flash; run "
                          f"`edgebnn device load {name or 'MODEL'} --port {self.name}` first if "
                          "that is what you want, or update the firmware (`edgebnn flash`)")

    def upload(self, begin: Cmd, chunk_cmd: Cmd, data: bytes,
               progress: Optional[Callable[[int, int], None]] = None) -> None:
        """The chunked transfer LOAD and FLASH share (docs/protocol.md): `begin` announces the
        size and CRC and answers the largest chunk, then each chunk at its offset must be
        acknowledged with the bytes received so far. The caller commits."""
        reply = self.request(begin, struct.pack("<II", len(data), zlib.crc32(data)))
        _slot, max_chunk = struct.unpack_from("<IH", reply)
        step = min(max_chunk, self.max_payload - 4) & ~3     # offsets stay word-aligned
        for offset in range(0, len(data), step):
            part = data[offset:offset + step]
            (received,) = struct.unpack(
                "<I", self.request(chunk_cmd, struct.pack("<I", offset) + part))
            if received != offset + len(part):
                raise self._fail(f"{chunk_cmd.name} at {offset}: device acknowledged {received} "
                                 f"bytes, expected {offset + len(part)}")
            if progress:
                progress(received, len(data))

    def read_model(self) -> bytes:
        """The active model's bytes, read back in chunks and checked against its CRC."""
        out = bytearray()
        total = crc = None
        while total is None or len(out) < total:
            reply = self.request(Cmd.READ, struct.pack("<IH", len(out), self.max_payload - 12))
            total, crc, offset = struct.unpack_from("<III", reply)
            if offset != len(out) or (len(reply) == 12 and len(out) < total):
                raise self._fail(f"READ at {len(out)}: device answered offset {offset} with "
                                 f"{len(reply) - 12} bytes of {total}")
            out += reply[12:]
        if zlib.crc32(out) != crc:
            raise self._fail("READ: model bytes do not match the device's CRC")
        return bytes(out)

    def model(self) -> ModelSummary:
        """The active model (asks the device when not known); CommandError if none."""
        if self._model is None:
            self.info()
        if self._model is None:
            raise CommandError(f"{self.name}: no model loaded", Status.ERR_NO_MODEL, b"")
        return self._model

    def _check_input(self, x: np.ndarray) -> tuple[np.ndarray, ModelSummary]:
        m = self.model()
        x = np.asarray(x)
        if x.dtype != np.uint8 or x.ndim != 4 or tuple(x.shape[1:]) != m.input_shape:
            raise UsageError(f"{self.name}: input is {x.dtype} {tuple(x.shape)}, the device "
                             f"model expects uint8 (N, {', '.join(map(str, m.input_shape))})")
        return np.ascontiguousarray(x), m

    def batch_size(self, per_input: int, per_output: int = 0) -> int:
        """Samples per request so that request (4 + n·per_input bytes) and reply
        (8 + n·per_output bytes) fit the maximum payload."""
        n = min((self.max_payload - 4) // per_input,
                (self.max_payload - 8) // per_output if per_output else 0xFFFF, 0xFFFF)
        if n < 1:
            raise UsageError(f"{self.name}: one sample does not fit the device's "
                             f"{self.max_payload}-byte frames")
        return n

    def infer(self, x: np.ndarray) -> InferResult:
        """uint8 (N, H, W, C) → scores, classes and cycle counts, batched over frames."""
        x, m = self._check_input(x)
        in_size = int(np.prod(m.input_shape))
        rec = 8 + 4 * m.n_classes
        step = self.batch_size(in_size, rec)
        scores = np.empty((len(x), m.n_classes), np.int32)
        classes = np.empty(len(x), np.int64)
        cycles = np.empty(len(x), np.uint32)
        for start in range(0, len(x), step):
            part = x[start:start + step]
            reply = self.request(Cmd.INFER, struct.pack("<HH", len(part), 0) + part.tobytes())
            n, nc = struct.unpack_from("<HH", reply)
            if (n, nc) != (len(part), m.n_classes) or len(reply) != 8 + n * rec:
                raise self._fail(f"INFER: malformed reply ({n} samples × {nc} classes, "
                                 f"{len(reply)} bytes)")
            recs = np.frombuffer(reply, np.uint8, offset=8).reshape(n, rec)
            cycles[start:start + n] = recs[:, :4].copy().view("<u4")[:, 0]
            classes[start:start + n] = recs[:, 4:6].copy().view("<u2")[:, 0]
            scores[start:start + n] = recs[:, 8:].copy().view("<i4")
        return InferResult(scores, classes, cycles)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[int, int, int]:
        """(correct, n, cycles): the board scores labelled samples and counts its hits."""
        x, m = self._check_input(x)
        y = np.asarray(y)
        if y.shape != (len(x),) or (len(y) and (y.min() < 0 or y.max() >= m.n_classes)):
            raise UsageError(f"{self.name}: EVALUATE needs labels (N,) in 0..{m.n_classes - 1} "
                             f"(the model's classes), got {y.shape} in "
                             f"{y.min() if y.size else '-'}..{y.max() if y.size else '-'}")
        in_size = int(np.prod(m.input_shape))
        step = self.batch_size(in_size + 2)
        correct = cycles = 0
        for start in range(0, len(x), step):
            part, labels = x[start:start + step], y[start:start + step]
            reply = self.request(Cmd.EVALUATE, struct.pack("<HH", len(part), 0)
                                 + labels.astype("<u2").tobytes() + part.tobytes())
            n, hits, _, cyc = struct.unpack_from("<HHIQ", reply)
            correct += hits
            cycles += cyc
        return correct, len(x), cycles

    # --- training (docs/protocol.md "Training") ------------------------------------------
    def train_algorithm_id(self, algo: str) -> int:
        """The protocol id of `algo`, checked against the firmware's HELLO feature bits."""
        if algo not in TRAIN_ALGORITHMS:
            raise ValueError(f"unknown training algorithm {algo!r}; known: "
                             f"{', '.join(TRAIN_ALGORITHMS)}")
        ident = TRAIN_ALGORITHMS[algo]
        if not self.features >> (ident - 1) & 1:
            has = [a for a, i in TRAIN_ALGORITHMS.items() if self.features >> (i - 1) & 1]
            raise DeviceError(f"{self.name}: firmware {self.firmware} does not train with {algo} "
                              f"(HELLO feature bits 0x{self.features:x}: "
                              f"{', '.join(has) or 'no training'})")
        return ident

    def train_batch(self, x: np.ndarray, y: np.ndarray, algo: str = "local") -> TrainResult:
        """One on-device training step of the active model on labelled uint8 samples, in one
        TRAIN request; the model is updated in place on the board (read it back with
        read_model). A refused request leaves the board's model unchanged."""
        ident = self.train_algorithm_id(algo)
        x, m = self._check_input(x)
        y = np.asarray(y)
        if len(x) == 0 or y.shape != (len(x),) or y.min() < 0 or y.max() >= m.n_classes:
            raise UsageError(f"{self.name}: TRAIN needs 1 or more samples with labels (N,) in "
                             f"0..{m.n_classes - 1}, got {len(x)} samples and labels "
                             f"{y.shape} in {y.min() if y.size else '-'}.."
                             f"{y.max() if y.size else '-'}")
        reply = self.request(Cmd.TRAIN, struct.pack("<BBH", ident, 0, len(x))
                             + y.astype(np.uint8).tobytes() + x.tobytes())
        n, correct, wrong, _, step, cycles = _TRAIN_REPLY.unpack_from(reply)
        if n != len(x) or len(reply) != _TRAIN_REPLY.size:
            raise self._fail(f"TRAIN: malformed reply ({n} samples, {len(reply)} bytes)")
        return TrainResult(n, correct, wrong, step, cycles)

    def set_train_params(self, values: list[int], algo: str = "local") -> int:
        """Sets the algorithm's per-epoch parameters (local: the reinforcement thresholds p_q,
        one u32 per sub-network); returns the model's step index."""
        ident = self.train_algorithm_id(algo)
        if not all(0 <= v <= 0xFFFFFFFF for v in values):
            raise ValueError(f"{self.name}: TRAIN_PARAMS values must be u32, got {values}")
        reply = self.request(Cmd.TRAIN_PARAMS, struct.pack(f"<BBH{len(values)}I", ident, 0,
                                                           len(values), *values))
        count, _, step = struct.unpack_from("<HHI", reply)
        if count != len(values):
            raise self._fail(f"TRAIN_PARAMS: device set {count} values, sent {len(values)}")
        return step

    def save_model(self) -> ModelSummary:
        """Stores the active model as trained so far (CRCs refreshed) in the board's flash, so
        a reset restores it (TRAIN_SAVE); training alone changes only the RAM copy."""
        summary = ModelSummary.unpack(self.request(Cmd.TRAIN_SAVE))
        self._model = summary
        return summary

    def reset(self, timeout: Optional[float] = None) -> None:
        """Resets the board, waits for its banner and shakes hands again."""
        self.request(Cmd.RESET, retries=0)
        self._model = None
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        # `skipped` holds what came since the request was sent: a board that restarts at once
        # (the Linux runtime) may have put its banner in the same read as the reply.
        while not BANNER_RE.search(self._reader.skipped):
            if time.monotonic() >= deadline:
                raise self._fail(f"no boot banner within {self.timeout} s after RESET")
            self._reader.feed(self._read_some(deadline))
            self._reader.frames()   # text holds no sync byte: it moves to `skipped`
        self.hello()

    def test_exit(self, status: int) -> None:
        """Test firmware only: ends the QEMU run with `status` after replying."""
        self.request(Cmd.TEST_EXIT, bytes([status]), retries=0)

    def test_fault(self) -> None:
        """Test firmware only: executes an undefined instruction after replying."""
        self.request(Cmd.TEST_FAULT, retries=0)
