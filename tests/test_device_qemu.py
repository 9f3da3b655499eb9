"""The protocol server on the emulated boards (docs/protocol.md): scores over serial equal the
host C core's on all three boards for an MLP and a CNN, and the fault cases — garbage,
truncated, corrupted, oversized and out-of-sequence frames, an abandoned or bad upload, QEMU
killed and the board reset mid-command — each give a clear host error or error reply, bounded
in time, and the firmware keeps serving its committed model.

Needs make, arm-none-eabi-gcc and qemu-system-arm (skipped otherwise)."""
from __future__ import annotations

import json
import random
import shutil
import socket
import struct
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from edgebnn.device.client import Device
from edgebnn.device.errors import BoardRestarted, CommandError, DeviceError
from edgebnn.device.framing import (MAJOR, MINOR, REPLY, Cmd, Frame, Status, encode,
                                    encode_header)
from edgebnn.device.ports import ensure_firmware, open_device
from edgebnn.device.qemu import QemuBoard, emulated_boards, load_boards
from edgebnn.native import NativeModel
from tests.conftest import random_images
from tests.serial_checks import (SHAPE, check_labels_outside_the_classes_are_refused,
                                 check_ram_loads_keep_the_stored_model,
                                 check_serves_like_host_core, raw_exchange, small_models,
                                 write_garbage)

MISSING = [t for t in ("make", "arm-none-eabi-gcc", "qemu-system-arm") if shutil.which(t) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {', '.join(MISSING)}")

BOARDS = list(emulated_boards())


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fw")
    for board in BOARDS:
        ensure_firmware(board, out)
    return out


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    return small_models(seed=11)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return random_images(SHAPE, 60, seed=5)


@pytest.fixture(scope="module")
def narrow_models() -> dict[str, bytes]:
    """The same kinds, narrower: within the 4 KiB model slot of the micro:bit's 16 KiB RAM."""
    return small_models(seed=11, width=4, fc=16)


@pytest.mark.parametrize("board", BOARDS)
def test_scores_equal_host_core(build_dir, models, narrow_models, images, board):
    if max(map(len, models.values())) > load_boards()[board].model_slot:
        models = narrow_models
    with open_device(f"qemu:{board}", build_dir=build_dir) as dev:
        info = dev.info()
        assert (info.board, info.model.size) == (board, 0)
        assert info.clock_hz == load_boards()[board].clock
        assert "kernels:" in info.core and info.model_slot_size == load_boards()[board].model_slot
        assert info.key_fingerprint == ""       # an unsigned build: no key provisioned
        with pytest.raises(CommandError, match="ERR_NO_MODEL"):
            dev.request(Cmd.INFER, struct.pack("<HH", 0, 0))
        check_serves_like_host_core(dev, models, images, board)
        assert dev.info().model.crc == zlib.crc32(models["cnn"])


# --- fault tests (on the default board) -------------------------------------------------
@pytest.fixture
def dev(build_dir, models):
    """An an386 board with the MLP committed."""
    with open_device("qemu:mps2-an386", build_dir=build_dir, timeout=1.0,
                     retries=4) as d:   # short waits, several resends: robust under load
        d.load(models["mlp"])
        yield d


def test_garbage_is_skipped_and_serving_goes_on(dev, models, images):
    expected = NativeModel(models["mlp"]).infer(images[:20])
    rng = random.Random(1)
    for burst in range(8):
        write_garbage(dev, rng, rng.randrange(12))
        # the next request may be eaten by a pending fake header: the client resends it
        assert np.array_equal(dev.infer(images[:20]).scores, expected)


def test_frame_errors_get_error_replies(dev):
    seq = 100
    bad = bytearray(encode(Frame(Cmd.INFO, seq)))
    bad[-1] ^= 0xFF
    assert raw_exchange(dev, bytes(bad)) == [Frame(Cmd.INFO | REPLY, seq, b"", Status.ERR_CRC)]
    (f,) = raw_exchange(dev, encode_header(Cmd.LOAD_CHUNK, seq, 5000) + bytes(64))
    assert (f.status, f.payload) == (Status.ERR_TOO_LONG, struct.pack("<H", 4096))
    (f,) = raw_exchange(dev, encode_header(Cmd.INFO, seq, 0, version=9) + bytes(4))
    assert (f.status, f.payload) == (Status.ERR_VERSION, bytes([MAJOR, MINOR]))   # 1.1
    # a frame cut short is answered by the device's frame timeout (250 ms), within
    # raw_exchange's window, not left pending
    (f,) = raw_exchange(dev, encode(Frame(Cmd.INFER, seq, bytes(68)))[:40])
    assert (f.cmd, f.seq, f.status) == (Cmd.INFER | REPLY, seq, Status.ERR_TRUNCATED)
    assert dev.info().model.size > 0


def test_sequence_errors_and_retransmissions(dev):
    last = dev.last_seq
    (f,) = raw_exchange(dev, encode(Frame(Cmd.INFO, (last + 5) & 0xFFFF)))
    assert (f.status, f.payload) == (Status.ERR_SEQ, struct.pack("<H", (last + 1) & 0xFFFF))
    # A resent LOAD_CHUNK runs once: the device answers from its reply cache.
    begin = encode(Frame(Cmd.LOAD_BEGIN, (last + 1) & 0xFFFF, struct.pack("<II", 64, 0)))
    (f,) = raw_exchange(dev, begin)
    assert f.status == Status.OK
    chunk = encode(Frame(Cmd.LOAD_CHUNK, (last + 2) & 0xFFFF, struct.pack("<I", 0) + bytes(16)))
    first = raw_exchange(dev, chunk)
    assert first == raw_exchange(dev, chunk)
    assert first[0].payload == struct.pack("<I", 16)
    dev.hello()   # a new session at any seq
    assert dev.info().model.size > 0


def test_abandoned_and_bad_uploads_keep_the_old_model(dev, models, images):
    old = NativeModel(models["mlp"]).infer(images)
    new_data = models["cnn"]
    # abandoned halfway
    dev.request(Cmd.LOAD_BEGIN, struct.pack("<II", len(new_data), zlib.crc32(new_data)))
    dev.request(Cmd.LOAD_CHUNK, struct.pack("<I", 0) + new_data[:1024])
    assert np.array_equal(dev.infer(images).scores, old)
    with pytest.raises(CommandError, match=r"ERR_LOAD_STATE \(device has 1024 bytes"):
        dev.request(Cmd.LOAD_COMMIT)    # incomplete: refused, the upload stays open
    dev.request(Cmd.LOAD_CHUNK, struct.pack("<I", 512) + new_data[512:2048])   # overlap: fine
    assert np.array_equal(dev.infer(images).scores, old)
    # a gap
    dev.request(Cmd.LOAD_BEGIN, struct.pack("<II", len(new_data), zlib.crc32(new_data)))
    with pytest.raises(CommandError, match="ERR_LOAD_STATE"):
        dev.request(Cmd.LOAD_CHUNK, struct.pack("<I", 16) + new_data[16:32])
    # CRC mismatch, a model the C loader rejects, a model too large for the slot
    with pytest.raises(CommandError, match="ERR_LOAD_CRC"):
        _load_with_crc(dev, new_data, zlib.crc32(new_data) ^ 1)
    broken = bytearray(new_data)
    broken[8] ^= 0x10          # file_size: the header CRC no longer holds
    with pytest.raises(CommandError, match="ERR_MODEL"):
        dev.load(bytes(broken))
    slot = dev.info().model_slot_size   # the refusal names the board limit and what fits
    with pytest.raises(CommandError, match=rf"ERR_TOO_LARGE \(needs {slot + 1} bytes, device has "
                                           rf"{slot}\): the model is larger than the board's model "
                                           rf"slot: models up to {slot:,} bytes fit"):
        dev.request(Cmd.LOAD_BEGIN, struct.pack("<II", slot + 1, 0))
    with pytest.raises(CommandError, match="ERR_BAD_REQUEST"):
        dev.request(Cmd.TRAIN)          # an empty TRAIN (tests/test_device_train.py: the rest)
    assert np.array_equal(dev.infer(images).scores, old)
    assert dev.read_model() == models["mlp"]
    # and a complete new upload works
    dev.load(new_data)
    assert np.array_equal(dev.infer(images).scores, NativeModel(new_data).infer(images))


def test_ram_only_loads_keep_the_stored_model(dev, models, images):
    check_ram_loads_keep_the_stored_model(dev, models, images)


def test_evaluate_refuses_labels_outside_the_classes(dev, images):
    check_labels_outside_the_classes_are_refused(dev, images)


def test_a_1_1_board_is_never_given_a_model_to_store_silently(dev, models):
    """Against protocol 1.1 firmware (HELLO's minor 1: it stores every load), a run that must
    not write flash uploads nothing: the model already active is used as it is, another one is
    refused naming the command that stores it; loads then use 1.1's empty LOAD_COMMIT."""
    dev.load(models["mlp"])
    dev.protocol_minor = 1                           # the host as it talks to 1.1 firmware
    assert dev.info().stored is None and dev.info().active_is_stored is None
    assert dev.activate(models["mlp"]).crc == zlib.crc32(models["mlp"])
    with pytest.raises(DeviceError, match=r"protocol 1.1\) stores every model it loads, which "
                                          r"would replace its model \(CRC 0x[0-9a-f]{8}\) in "
                                          r"flash; run `edgebnn device load cnn.ebnn"):
        dev.activate(models["cnn"], "cnn.ebnn")
    with pytest.raises(DeviceError, match="no RAM-only load"):
        dev.load(models["cnn"], ram_only=True)
    assert dev.read_model() == models["mlp"]
    dev.activate(models["cnn"], may_store=True)      # a run that stores its result anyway
    dev.hello()
    assert (dev.info().stored.crc, dev.info().active_is_stored) == (zlib.crc32(models["cnn"]),
                                                                    True)


def _load_with_crc(dev: Device, data: bytes, crc: int) -> None:
    dev.request(Cmd.LOAD_BEGIN, struct.pack("<II", len(data), crc))
    for off in range(0, len(data), 2048):
        dev.request(Cmd.LOAD_CHUNK, struct.pack("<I", off) + data[off:off + 2048])
    dev.request(Cmd.LOAD_COMMIT)


def test_qemu_killed_mid_command(dev, images):
    dev.link.write(encode(Frame(Cmd.INFER, 1, bytes(200)))[:100])   # the board waits mid-frame
    threading.Timer(0.3, dev.qemu.proc.kill).start()
    t0 = time.monotonic()
    with pytest.raises(DeviceError, match=r"qemu:mps2-an386: (link lost|no reply to INFER)"
                                          r".*QEMU exited with status -9"):
        dev.infer(images)
    assert time.monotonic() - t0 < 30, "the host waited far past its retries: a hang"


def _qmp(port: int, command: str) -> None:
    """One QMP command to QEMU (bounded)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        f = s.makefile("rwb")
        f.readline()                                        # greeting
        for cmd in ("qmp_capabilities", command):
            f.write(json.dumps({"execute": cmd}).encode() + b"\n")
            f.flush()
            while b'"return"' not in (line := f.readline()):
                assert line, "QMP connection closed"


def test_board_reset_mid_command(build_dir, models, images):
    elf = build_dir / "mps2-an386" / "edgebnn-fw.elf"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        qmp_port = s.getsockname()[1]
    with QemuBoard("mps2-an386", elf, timeout=5.0, extra_args=[
            "-qmp", f"tcp:127.0.0.1:{qmp_port},server=on,wait=off"]) as qb:
        qb.read_banner()
        dev = Device(qb.serial, "qemu:mps2-an386", timeout=2.0)
        dev.hello()
        dev.load(models["mlp"])
        dev.link.write(encode(Frame(Cmd.INFER, 1, bytes(200)))[:100])  # mid-frame
        _qmp(qmp_port, "system_reset")
        with pytest.raises(BoardRestarted, match="restarted .* reply to INFO"):
            dev.info()      # the banner, not a timeout (that would be 'no reply')
        dev.hello()
        # the committed model is in flash (docs/boot.md): the reset restores it
        assert dev.info().model.crc == zlib.crc32(models["mlp"])
        assert np.array_equal(dev.infer(images).scores, NativeModel(models["mlp"]).infer(images))


def test_reset_command_and_test_exit(build_dir, models):
    with open_device("qemu:mps2-an386", build_dir=build_dir) as dev:
        dev.load(models["mlp"])
        dev.reset()
        assert dev.info().model.size == len(models["mlp"])     # restored from flash
        dev.test_exit(42)
        assert dev.qemu.wait_exit(timeout=5) == 42


def test_missing_toolchain_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DeviceError, match="qemu-system-arm not found|not built and cannot be"):
        with open_device("qemu:mps2-an386", build_dir=tmp_path):
            pass


def test_a_store_path_the_rom_store_board_cannot_read_is_refused(build_dir, tmp_path):
    """netduinoplus2 reads its store's path over semihosting into a 512-byte buffer: a longer
    one is a one-line host error before QEMU starts, not a board that cannot store."""
    folder = tmp_path / ("d" * 200) / ("e" * 200)
    folder.mkdir(parents=True)
    with pytest.raises(DeviceError, match=r"store path .* is longer than the 511 bytes"):
        with open_device(f"qemu:netduinoplus2?store={folder / ('s' * 120)}",
                         build_dir=build_dir):
            pass
