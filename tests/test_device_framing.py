"""Protocol framing (docs/protocol.md) without a board: the spec's test vectors, encoding,
resynchronization after garbage, truncated/corrupted/oversized frames — for the Python reader
and, compiled with the host gcc, the firmware's C parser (firmware/proto/frame.c) — and the
client's bounded waits over pyserial's loop:// (which only echoes: no reply ever comes)."""
from __future__ import annotations

import random
import re
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path

import pytest
import serial

from edgebnn.device.client import Device, DeviceInfo, StoredModel, _describe_error, board_name_of
from edgebnn.device.errors import DeviceError
from edgebnn.device.framing import (REPLY, BadFrame, Cmd, Frame, FrameReader, LoadMode, Status,
                                    encode, encode_header)

ROOT = Path(__file__).resolve().parents[1]

#: The frames docs/protocol.md's test vectors describe, in its order.
VECTOR_FRAMES = [
    Frame(Cmd.HELLO, 1, struct.pack("<BBH", 1, 0, 0xFFFC)),
    Frame(Cmd.INFO, 2),
    Frame(Cmd.INFER, 7, struct.pack("<HH", 1, 0) + bytes([0x00, 0x7F, 0x80, 0xFF])),
    Frame(Cmd.INFER | REPLY, 7, struct.pack("<HHI", 1, 3, 0)
          + struct.pack("<IHHiii", 1234, 2, 0, -3, 1, 5)),
    Frame(Cmd.INFER | REPLY, 8, b"", Status.ERR_NO_MODEL),
    Frame(Cmd.LOAD_CHUNK | REPLY, 9, struct.pack("<H", 5), Status.ERR_SEQ),
    Frame(Cmd.TRAIN, 10, struct.pack("<BBH", 1, 0, 2) + bytes([1, 0])
          + bytes([0x00, 0x7F, 0x80, 0xFF, 0xFF, 0x80, 0x7F, 0x00])),
    Frame(Cmd.TRAIN | REPLY, 10, struct.pack("<HHHHIQ", 2, 1, 1, 0, 5, 123456)),
    Frame(Cmd.TRAIN_PARAMS, 11, struct.pack("<BBHII", 1, 0, 2, 0x01000000, 0x00800000)),
    Frame(Cmd.TRAIN | REPLY, 12, struct.pack("<II", 65536, 78592), Status.ERR_TOO_LARGE),
    Frame(Cmd.TRAIN_SAVE, 13),
    Frame(Cmd.LOAD_COMMIT, 14, bytes([LoadMode.RAM_ONLY]) + b"a.ebnn\0"),
    Frame(Cmd.EVALUATE | REPLY, 15, struct.pack("<III", 3, 12, 10), Status.ERR_BAD_REQUEST),
]


def spec_vectors() -> list[bytes]:
    text = (ROOT / "docs" / "protocol.md").read_text()
    block = text.split("## Test vectors", 1)[1].split("```")[1]
    return [bytes.fromhex(line) for line in block.strip().splitlines()
            if line and not line.startswith("#")]


def test_spec_vectors_encode_and_decode():
    vectors = spec_vectors()
    assert len(vectors) == len(VECTOR_FRAMES)
    for raw, frame in zip(vectors, VECTOR_FRAMES):
        assert encode(frame) == raw
        reader = FrameReader()
        reader.feed(raw)
        assert reader.frames() == [frame]


def _garbage(rng: random.Random, n: int) -> bytes:
    """Random bytes rich in sync bytes and fake headers (valid sync, wrong CRC)."""
    out = bytearray()
    while len(out) < n:
        r = rng.random()
        if r < 0.2:
            out += b"\xEB\x4E" + bytes(rng.randrange(256) for _ in range(rng.randrange(14)))
        elif r < 0.3:
            out += b"\xEB"
        else:
            out += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20)))
    return bytes(out)


def test_reader_resyncs_after_garbage_and_byte_by_byte():
    rng = random.Random(4)
    frames = [Frame(Cmd.LOAD_CHUNK, i, bytes(rng.randrange(256) for _ in range(rng.randrange(300))))
              for i in range(30)]
    stream = b"".join(_garbage(rng, rng.randrange(60)) + encode(f) for f in frames)
    for step in (1, 7, len(stream)):
        reader = FrameReader()
        got = []
        for i in range(0, len(stream), step):
            reader.feed(stream[i:i + step])
            got += [f for f in reader.frames() if isinstance(f, Frame)]
        assert got == frames


def test_reader_reports_corrupted_and_oversized_frames():
    good = encode(Frame(Cmd.INFO, 3))
    bad_payload = bytearray(encode(Frame(Cmd.INFER, 4, b"abcd")))
    bad_payload[15] ^= 1
    oversized = encode_header(Cmd.LOAD_CHUNK, 5, 5000) + bytes(40)
    reader = FrameReader(max_payload=4096)
    reader.feed(bytes(bad_payload) + oversized + good)
    assert reader.frames() == [BadFrame(Cmd.INFER, 4, Status.ERR_CRC),
                               BadFrame(Cmd.LOAD_CHUNK, 5, Status.ERR_TOO_LONG),
                               Frame(Cmd.INFO, 3)]


def test_reader_keeps_banner_text_for_diagnostics():
    reader = FrameReader()
    reader.feed(b"EBNN-FW 0.1.0 board=x clock=1\r\n" + encode(Frame(Cmd.INFO | REPLY, 1)))
    assert reader.frames() == [Frame(Cmd.INFO | REPLY, 1)]
    assert bytes(reader.skipped).startswith(b"EBNN-FW 0.1.0")


# --- the firmware's C parser, built for the host ---------------------------------------
@pytest.fixture(scope="module")
def c_parser(tmp_path_factory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    exe = tmp_path_factory.mktemp("proto") / "parse_stdin"
    subprocess.run(["gcc", "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror",
                    "-I", str(ROOT / "firmware/proto"), "-I", str(ROOT / "native/include"),
                    str(ROOT / "firmware/proto/parse_stdin.c"),
                    str(ROOT / "firmware/proto/frame.c"), str(ROOT / "native/src/crc32.c"),
                    "-o", str(exe)], check=True, capture_output=True, timeout=60)
    return exe


def run_c(exe: Path, data: bytes, max_payload: int = 4096) -> list[tuple]:
    out = subprocess.run([str(exe), str(max_payload)], input=data, capture_output=True,
                         timeout=30, check=True).stdout.decode()
    return [(kind, *map(int, rest)) for kind, *rest in (line.split() for line in out.splitlines())]


def _c_event(f: Frame) -> tuple:
    return ("FRAME", f.cmd, f.seq, len(f.payload), f.status, zlib.crc32(f.payload))


def test_c_parser_reads_spec_vectors(c_parser):
    assert run_c(c_parser, b"".join(spec_vectors())) == [_c_event(f) for f in VECTOR_FRAMES]


def test_c_parser_resyncs_and_reports_errors(c_parser):
    rng = random.Random(9)
    frames = [Frame(Cmd.INFER, i, bytes(rng.randrange(256) for _ in range(rng.randrange(200))))
              for i in range(40)]
    stream = b"".join(_garbage(rng, rng.randrange(60)) + encode(f) for f in frames)
    assert run_c(c_parser, stream) == [_c_event(f) for f in frames]
    bad = bytearray(encode(Frame(Cmd.INFER, 4, b"abcd")))
    bad[15] ^= 1
    truncated = encode(Frame(Cmd.READ, 6, bytes(10)))[:20]
    events = run_c(c_parser, bytes(bad) + encode_header(Cmd.LOAD_CHUNK, 5, 5000) + bytes(30)
                   + encode_header(Cmd.INFO, 8, 0, version=2) + encode(Frame(Cmd.INFO, 3))
                   + truncated)
    assert events == [("ERROR", Cmd.INFER, 4, Status.ERR_CRC),
                      ("ERROR", Cmd.LOAD_CHUNK, 5, Status.ERR_TOO_LONG),
                      ("ERROR", Cmd.INFO, 8, Status.ERR_VERSION),
                      _c_event(Frame(Cmd.INFO, 3)),
                      ("ERROR", Cmd.READ, 6, Status.ERR_TRUNCATED)]


# --- the client's waits are bounded ------------------------------------------------------
def test_client_times_out_with_a_clear_error_and_retries():
    link = serial.serial_for_url("loop://", timeout=0.1)
    dev = Device(link, "loop://", timeout=0.2, retries=2)
    t0 = time.monotonic()
    with pytest.raises(DeviceError, match=re.escape("loop://: no reply to INFO (seq ") +
                       r"\d+\) within 0\.2 s \(3 attempts\)"):
        dev.info()
    assert 0.6 <= time.monotonic() - t0 < 20, "waited less than 3 attempts, or hung"
    # every attempt resent the very same frame (same seq), so the device can deduplicate
    link.close()


def test_client_rejects_oversized_requests():
    dev = Device(serial.serial_for_url("loop://"), "loop://", timeout=0.1)
    with pytest.raises(ValueError, match="exceeds the device's maximum"):
        dev.request(Cmd.LOAD_CHUNK, bytes(dev.max_payload + 1))


def _info_reply(flags: int, tail: bytes) -> bytes:
    summary = struct.pack("<IIHHHHI", 2576, 0x24D6749E, 10, 8, 8, 1, 32)
    return (struct.pack("<BBHIII", 1, 2, 4096, 25_000_000, 65536, 65536) + summary
            + struct.pack("<I", flags) + b"0.1.0\0mps2-an386\0gcc; kernels: ref\0" + tail)


def test_info_reply_of_1_1_and_1_2_firmware():
    """INFO as 1.1 firmware sends it (the three strings end it) says nothing of the stored
    model; 1.2's appends the stored model and the names, and flags bit 1 says the active model
    is RAM only."""
    old = DeviceInfo.unpack(_info_reply(0, b""), stored_model=False)
    assert (old.firmware, old.board, old.core) == ("0.1.0", "mps2-an386", "gcc; kernels: ref")
    assert (old.stored, old.active_is_stored, old.model_name) == (None, None, "")
    tail = struct.pack("<II", 1234, 0xDEADBEEF) + b"a.ebnn\0b.ebnn\0"
    new = DeviceInfo.unpack(_info_reply(0b10, tail), stored_model=True)
    assert (new.core, new.model_name) == ("gcc; kernels: ref", "b.ebnn")
    assert (new.stored, new.active_is_stored) == (StoredModel(1234, 0xDEADBEEF, "a.ebnn"), False)
    assert new.as_dict()["stored"] == {"size": 1234, "crc": 0xDEADBEEF, "name": "a.ebnn"}
    assert DeviceInfo.unpack(_info_reply(0b01, tail), stored_model=True).active_is_stored


def test_model_names_fit_load_commit():
    assert board_name_of("mlp.ebnn") == b"mlp.ebnn"
    assert board_name_of("a\0b") == b"ab"
    long = board_name_of("é" * 20)                   # 40 bytes of UTF-8: cut on a character
    assert len(long) == 30 and long.decode() == "é" * 15


@pytest.mark.parametrize("cmd,limit_hit", [
    (Cmd.LOAD_BEGIN, "the model is larger than the board's model slot: models up to 32,768 "
                     "bytes fit"),
    (Cmd.LOAD_COMMIT, "the model's inference arena is larger than the board's arena: models "
                      "whose arena needs up to 32,768 bytes fit"),
    (Cmd.TRAIN, "the batch's training scratch is larger than the board's arena (32,768 "
                "bytes): fewer samples per step fit"),
    (Cmd.FLASH_BEGIN, "the image is larger than the board's application slot: images up to "
                      "32,768 bytes fit"),
])
def test_too_large_names_the_board_limit_and_what_fits(cmd, limit_hit):
    text = _describe_error(cmd, Status.ERR_TOO_LARGE, struct.pack("<II", 32768, 96048))
    assert text == f"ERR_TOO_LARGE (needs 96048 bytes, device has 32768): {limit_hit}"
