"""Frames of the edgebnn serial protocol (docs/protocol.md "Framing"), host side.

    header (14 B) | payload (len B) | CRC-32 of the payload (4 B)
    header: sync EB 4E, u8 version, u8 cmd, u8 status, u8 flags, u16 seq, u16 len,
            u32 CRC-32 of header bytes 0..9          (little-endian, zlib CRC-32)

`encode` builds a frame; `FrameReader` finds frames in a byte stream, skipping (and keeping,
for diagnostics) whatever is not a frame — a boot banner, line noise, a torn frame — by
scanning for the sync bytes and validating the header CRC. The firmware's parser is the C
twin of this one (firmware/proto/frame.c).
"""
from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass
from typing import List, Optional

SYNC = b"\xEB\x4E"
MAJOR, MINOR = 1, 2
HEADER_SIZE = 14
TRAILER_SIZE = 4
REPLY = 0x80
MAX_LEN = 0xFFFF              # the u16 length field's limit
_HEADER = struct.Struct("<2sBBBBHH")   # bytes 0..9, then the u32 header CRC


class Cmd(enum.IntEnum):
    HELLO = 0x01
    INFO = 0x02
    RESET = 0x0F
    LOAD_BEGIN = 0x10
    LOAD_CHUNK = 0x11
    LOAD_COMMIT = 0x12
    READ = 0x13
    INFER = 0x20
    EVALUATE = 0x21
    TRAIN = 0x30          # a batch of labelled samples -> one on-device training step
    TRAIN_PARAMS = 0x31   # per-epoch training parameters
    TRAIN_SAVE = 0x32     # store the trained model in the board's flash
    ENTER_BOOTLOADER = 0x40   # application: reset into the bootloader; bootloader: no-op
    FLASH_BEGIN = 0x41        # bootloader only (docs/protocol.md "Bootloader")
    FLASH_CHUNK = 0x42
    FLASH_COMMIT = 0x43
    BOOT = 0x44
    TEST_EXIT = 0x7E      # test only
    TEST_FAULT = 0x7F     # test only


class LoadMode(enum.IntEnum):
    """LOAD_COMMIT's mode byte (1.2; an empty request, as 1.1 sends it, is STORE)."""
    STORE = 0       # store the model in flash, then make it active
    RAM_ONLY = 1    # make it active in RAM only: the stored model stays, a reset restores it


class Status(enum.IntEnum):
    OK = 0
    ERR_CRC = 1
    ERR_TOO_LONG = 2
    ERR_VERSION = 3
    ERR_TRUNCATED = 4
    ERR_SEQ = 5
    ERR_UNKNOWN_CMD = 6
    ERR_BAD_REQUEST = 7
    ERR_NO_MODEL = 8
    ERR_LOAD_STATE = 9
    ERR_LOAD_CRC = 10
    ERR_MODEL = 11
    ERR_TOO_LARGE = 12
    ERR_NOT_SUPPORTED = 13
    ERR_CORE = 14
    ERR_IMAGE = 32          # bootloader: the application image is refused
    ERR_STORE = 33          # a flash erase or program failed
    # a board with a public key provisioned refuses an image or model (docs/boot.md "Signed
    # images"; firmware/sign/signature.h)
    ERR_UNSIGNED = 34       # no signature trailer
    ERR_SIGNATURE = 35      # tampered, or a bad signature
    ERR_KEY = 36            # signed by another key
    ERR_DOWNGRADE = 37      # a rollback counter below the running one


#: ERR_IMAGE's u32 reason (firmware/boot/image.h).
IMAGE_REASONS = {1: "wrong magic", 2: "bad header", 3: "bad length", 4: "CRC mismatch",
                 5: "bad version string", 6: "wrong board", 7: "wrong load address",
                 8: "no image", 9: "failed its trial boot"}
#: HELLO feature bit that says the far end is the resident bootloader (firmware/boot/bootctl.h).
FEATURE_BOOTLOADER = 1 << 31
#: The protocol minor version from which LOAD_COMMIT takes a mode (RAM only, or stored in
#: flash) and a name, and INFO reports the stored model (HELLO's reply says which a device
#: speaks).
MINOR_STORED_MODEL = 2

#: Frame-level errors: the request never ran, so resending it is always safe.
TRANSIENT = {Status.ERR_CRC, Status.ERR_TRUNCATED}


def cmd_name(code: int) -> str:
    """'INFER' for 0x20 or 0xA0 (its reply); hex for unknown codes."""
    try:
        return Cmd(code & ~REPLY).name
    except ValueError:
        return f"0x{code:02x}"


def status_name(code: int) -> str:
    try:
        return Status(code).name
    except ValueError:
        return f"status {code}"


@dataclass(frozen=True)
class Frame:
    cmd: int
    seq: int
    payload: bytes = b""
    status: int = 0
    version: int = MAJOR
    flags: int = 0

    @property
    def is_reply(self) -> bool:
        return bool(self.cmd & REPLY)


def encode_header(cmd: int, seq: int, length: int, status: int = 0, version: int = MAJOR,
                  flags: int = 0) -> bytes:
    head = _HEADER.pack(SYNC, version, cmd, status, flags, seq & 0xFFFF, length)
    return head + struct.pack("<I", zlib.crc32(head))


def encode(frame: Frame) -> bytes:
    """The bytes of one frame. ValueError if the payload does not fit the length field."""
    if len(frame.payload) > MAX_LEN:
        raise ValueError(f"payload of {len(frame.payload)} bytes exceeds {MAX_LEN}")
    return (encode_header(frame.cmd, frame.seq, len(frame.payload), frame.status,
                          frame.version, frame.flags)
            + frame.payload + struct.pack("<I", zlib.crc32(frame.payload)))


@dataclass(frozen=True)
class BadFrame:
    """A genuine header (its CRC holds) whose frame is unusable: too long or a bad payload
    CRC. `status` is the Status the firmware would answer it with."""
    cmd: int
    seq: int
    status: Status


class FrameReader:
    """Incremental frame finder. feed() bytes as they arrive, then take frames from it.

    max_payload: frames announcing a longer payload are reported as BadFrame(ERR_TOO_LONG)
        and their bytes skipped, so a corrupted length cannot make the reader wait forever.
    """

    def __init__(self, max_payload: int = MAX_LEN) -> None:
        self.max_payload = max_payload
        self._buf = bytearray()
        self.skipped = bytearray()   # non-frame bytes seen (e.g. the boot banner), for errors

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def pending(self) -> int:
        """Bytes held that may still start a frame."""
        return len(self._buf)

    def _skip(self, n: int) -> None:
        self.skipped += self._buf[:n]
        del self._buf[:n]
        if len(self.skipped) > 4096:
            del self.skipped[:-4096]

    def next(self) -> Optional[Frame | BadFrame]:
        """The next complete frame (or BadFrame), or None until more bytes are fed."""
        buf = self._buf
        while True:
            start = buf.find(SYNC)
            if start < 0:   # keep a trailing first sync byte: its partner may come next
                self._skip(len(buf) - (1 if buf.endswith(SYNC[:1]) else 0))
                return None
            self._skip(start)
            if len(buf) < HEADER_SIZE:
                return None
            if zlib.crc32(buf[:10]) != struct.unpack_from("<I", buf, 10)[0]:
                self._skip(1)           # not a header: hunt from the next byte
                continue
            _, version, cmd, status, flags, seq, length = _HEADER.unpack_from(buf)
            if length > self.max_payload:
                self._skip(HEADER_SIZE)
                return BadFrame(cmd, seq, Status.ERR_TOO_LONG)
            end = HEADER_SIZE + length + TRAILER_SIZE
            if len(buf) < end:
                return None
            payload = bytes(buf[HEADER_SIZE:HEADER_SIZE + length])
            crc = struct.unpack_from("<I", buf, HEADER_SIZE + length)[0]
            del buf[:end]
            if zlib.crc32(payload) != crc:
                return BadFrame(cmd, seq, Status.ERR_CRC)
            return Frame(cmd, seq, payload, status, version, flags)

    def frames(self) -> List[Frame | BadFrame]:
        """Every complete frame available now."""
        out = []
        while (f := self.next()) is not None:
            out.append(f)
        return out
