"""The bootloader, the persistent store and `edgebnn flash` on the emulated boards (docs/boot.md):
a new application image is installed and boots; corrupted, truncated, wrong-board and
wrong-magic images are refused with a clear error while the old application keeps running; the
committed model survives a reset, a killed QEMU, a reset mid-upload and a kill mid-LOAD.

Needs make, arm-none-eabi-gcc and qemu-system-arm (skipped otherwise)."""
from __future__ import annotations

import json
import re
import shutil
import socket
import struct
import subprocess
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from edgebnn import format as fmt
from edgebnn.device import fwimage
from edgebnn.device.client import Device
from edgebnn.device.errors import BoardRestarted, CommandError, DeviceError
from edgebnn.device.flash import (boot, boot_info, enter_bootloader, flash,
                                  in_bootloader, upload)
from edgebnn.device.framing import Cmd, Frame, encode
from edgebnn.device.ports import ensure_firmware, open_device
from edgebnn.device.qemu import FIRMWARE_DIR, QemuBoard, emulated_boards, load_boards
from edgebnn.export import export_model
from edgebnn.native import NativeModel
from tests.conftest import random_images, random_model

MISSING = [t for t in ("make", "arm-none-eabi-gcc", "arm-none-eabi-nm", "qemu-system-arm")
           if shutil.which(t) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {', '.join(MISSING)}")

BOARD = "mps2-an386"
SHAPE = (8, 8, 1)
NEW_VERSION = "0.2.0-test"


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fw")
    for board in emulated_boards():
        ensure_firmware(board, out)
    return out


@pytest.fixture(scope="module")
def new_images(tmp_path_factory):
    """board -> the same application built with another version string (built when asked)."""
    out, built = tmp_path_factory.mktemp("fw-new"), {}

    def image(board: str) -> bytes:
        if board not in built:
            r = subprocess.run(["make", "-C", str(FIRMWARE_DIR), f"BOARD={board}",
                                f"BUILD={out}", f"FW_VERSION={NEW_VERSION}"],
                               capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, r.stdout + r.stderr
            built[board] = (out / board / "edgebnn-fw.img").read_bytes()
        return built[board]
    return image


@pytest.fixture(scope="module")
def new_image(new_images) -> bytes:
    return new_images(BOARD)


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    a = random_model("mlp", SHAPE, 10, seed=21, layers=[64])
    b = random_model("mlp", SHAPE, 10, seed=22, layers=[96, 32])
    return {"a": fmt.to_bytes(export_model(a, SHAPE, 10)),
            "b": fmt.to_bytes(export_model(b, SHAPE, 10))}


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return random_images(SHAPE, 12, seed=3)


def port(store: Path, board: str = BOARD) -> str:
    return f"qemu:{board}?store={store}"


def flash_symbols(build_dir: Path, board: str = BOARD) -> dict[str, int]:
    """The flash map as the bootloader ELF's linker symbols (ld/flashmap.ld)."""
    nm = subprocess.run(["arm-none-eabi-nm", str(build_dir / board / "edgebnn-boot.elf")],
                        capture_output=True, text=True, timeout=30, check=True).stdout
    return {p[2]: int(p[0], 16) for p in (line.split() for line in nm.splitlines())
            if len(p) == 3}


# --- image format ------------------------------------------------------------------------
def test_image_header_vector():
    """The test vector of docs/boot.md "Image header"."""
    image = fwimage.sign(bytes(range(16)), board="mps2-an386", version="0.1.0",
                         slot=0x21000000)
    assert image[:84].hex() == (
        "4542494d010000021000000088e2cece0002002100000000302e312e30000000"
        "000000000000000000000000000000006d7073322d616e333836000000000000"
        "0000000000000000000000000000000010a61777")
    assert image[84:512] == bytes(428) and image[512:] == bytes(range(16))
    h = fwimage.parse(image)
    assert (h.body_size, h.load_address, h.version, h.board) == (16, 0x21000200, "0.1.0",
                                                                  "mps2-an386")
    bad = bytearray(image)
    bad[fwimage.HEADER_SIZE] ^= 1
    with pytest.raises(fwimage.ImageError, match=r"body CRC-32 .* \(corrupted\)"):
        fwimage.parse(bytes(bad))
    with pytest.raises(fwimage.ImageError, match="truncated"):
        fwimage.parse(image[:-1])
    with pytest.raises(fwimage.ImageError, match="magic is 0x03020100"):
        fwimage.parse(bytes(range(256)) * 3)


# --- flashing ----------------------------------------------------------------------------
def test_flash_new_version_persists(build_dir, new_image, tmp_path):
    store = tmp_path / "an386.store"
    with open_device(port(store), build_dir=build_dir) as dev:
        assert dev.firmware == "0.1.0"
        seen = []
        result = flash(dev, new_image, progress=lambda done, total: seen.append(done))
        assert result.version == NEW_VERSION and seen[-1] == len(new_image)
        assert dev.info().firmware == NEW_VERSION
    with open_device(port(store), build_dir=build_dir) as dev:   # QEMU restarted: still new
        assert dev.firmware == NEW_VERSION
        old = (build_dir / BOARD / "edgebnn-fw.img").read_bytes()
        assert flash(dev, old).version == "0.1.0"


# a RAM store, and the micro:bit's flash through its NVMC driver (issue 14)
@pytest.mark.parametrize("board", [BOARD, "microbit"])
def test_bad_images_are_refused_and_the_old_app_runs(build_dir, new_images, models, images,
                                                     board, tmp_path):
    """Each bad image is refused by the host, and sent anyway by the bootloader; then the
    previous application runs, with the model committed before, after the reset into it."""
    new_image = new_images(board)
    body = new_image[fwimage.HEADER_SIZE:]
    header = fwimage.parse(new_image)
    corrupted = bytearray(new_image)
    corrupted[fwimage.HEADER_SIZE + 100] ^= 0x40
    wrong_board = fwimage.sign(body, board="mps2-an500", version=NEW_VERSION,
                               slot=header.load_address - fwimage.HEADER_SIZE)
    cases = [
        (bytes(corrupted), r"CRC mismatch\): body_crc is 0x[0-9a-f]{8}, expected"),
        (wrong_board, rf"wrong board\): board is mps2-an500, expected {board}"),
        (body, r"wrong magic\): magic is 0x[0-9a-f]{8}, expected 0x4d494245"),
        (new_image[:len(new_image) // 2], r"CRC mismatch"),  # a truncated file, sent as is
    ]
    # The host refuses each before sending it.
    for image, _ in cases:
        with pytest.raises((fwimage.ImageError, DeviceError)):
            with open_device(port(tmp_path / "host.store", board), build_dir=build_dir) as dev:
                flash(dev, image)
    with open_device(port(tmp_path / f"{board}.store", board), build_dir=build_dir) as dev:
        dev.load(models["a"])
        enter_bootloader(dev)
        for image, refusal in cases:
            with pytest.raises(CommandError, match=r"FLASH_COMMIT \(seq \d+\) failed: "
                                                   r"ERR_IMAGE \(image refused \(" + refusal):
                upload(dev, image)
        # an upload the host abandons halfway
        dev.request(Cmd.FLASH_BEGIN, struct.pack("<II", len(new_image),
                                                     zlib.crc32(new_image)))
        part = min(2048, dev.max_payload - 4)      # the micro:bit's frames carry 256 bytes
        dev.request(Cmd.FLASH_CHUNK, struct.pack("<I", 0) + new_image[:part])
        with pytest.raises(CommandError, match=rf"ERR_LOAD_STATE \(device has {part} bytes"):
            dev.request(Cmd.FLASH_COMMIT)
        info = boot_info(dev)
        assert (info.app_valid, info.app_version, info.board) == (True, "0.1.0", board)
        assert info.key_fingerprint == ""          # an unsigned build: no key provisioned
        assert boot(dev) == "0.1.0"
        assert dev.info().firmware == "0.1.0" and not in_bootloader(dev)
        assert dev.info().model.crc == zlib.crc32(models["a"])   # restored from flash
        assert np.array_equal(dev.infer(images).scores, NativeModel(models["a"]).infer(images))


def test_bootloader_without_an_application(build_dir, tmp_path, capsys, monkeypatch):
    """An erased app slot: the bootloader stays and says why; BOOT is refused; application
    commands and `device info` say the board is in its bootloader."""
    from edgebnn.cli import main

    syms = flash_symbols(build_dir)
    store = tmp_path / "blank.store"
    with open_device(port(store), build_dir=build_dir):
        pass
    with open(store, "r+b") as f:
        f.seek(syms["__app_slot"] - load_boards()[BOARD].ram_base)
        f.write(b"\xff" * fwimage.HEADER_SIZE)
    monkeypatch.setenv("EDGEBNN_FIRMWARE_BUILD", str(build_dir))
    assert main(["device", "info", "--port", port(store)]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"bootloader boot-\S+ \(protocol 1\.\d+\) on {BOARD}", out), out
    assert "no valid application (" in out and "edgebnn flash IMAGE" in out, out
    with open_device(port(store), build_dir=build_dir) as dev:
        assert in_bootloader(dev)
        with pytest.raises(DeviceError, match=r"in its bootloader \(boot-\S+\), no application"):
            dev.info()
        with pytest.raises(CommandError, match=r"INFER \(seq \d+\) failed: ERR_UNKNOWN_CMD; the "
                                               r"device is in its bootloader"):
            dev.request(Cmd.INFER, bytes(4))
        info = boot_info(dev)
        assert not info.app_valid and "erased" in info.app_problem
        with pytest.raises(CommandError, match=r"BOOT \(seq \d+\) failed: ERR_IMAGE "
                                                   r"\(image refused \(no image\)"):
            boot(dev)
        old = (build_dir / BOARD / "edgebnn-fw.img").read_bytes()
        assert flash(dev, old).version == "0.1.0"     # recovery over serial


@pytest.mark.parametrize("board", list(emulated_boards()))
def test_every_board_boots_through_the_bootloader(build_dir, models, images, board, tmp_path):
    with open_device(port(tmp_path / "s.store", board), build_dir=build_dir) as dev:
        dev.load(models["a"])
        enter_bootloader(dev)
        info = boot_info(dev)
        assert (info.board, info.app_valid, info.app_version) == (board, True, "0.1.0")
        assert boot(dev) == "0.1.0"
        assert dev.info().model.crc == zlib.crc32(models["a"])   # restored from flash
        assert np.array_equal(dev.infer(images).scores, NativeModel(models["a"]).infer(images))


# --- the committed model ------------------------------------------------------------------
# a RAM store, a ROM store and the micro:bit's SoC flash (its NVMC)
@pytest.mark.parametrize("board", [BOARD, "netduinoplus2", "microbit"])
def test_model_survives_reset_and_qemu_kill(build_dir, models, images, board, tmp_path):
    """On netduinoplus2 also: QEMU loads the ROM image once, so a system reset keeps what the
    firmware wrote through semihosting; on microbit the store file goes into the flash once
    through the gdbstub, and what the NVMC wrote comes back into the file (docs/boot.md "The
    store under QEMU")."""
    store = tmp_path / f"{board}.store"
    expected = NativeModel(models["b"]).infer(images)
    with open_device(port(store, board), build_dir=build_dir) as dev:
        assert dev.info().model.size == 0
        dev.load(models["a"])
        dev.load(models["b"])
        dev.reset()
        assert dev.info().model.crc == zlib.crc32(models["b"])
        assert np.array_equal(dev.infer(images).scores, expected)
        dev.qemu.proc.kill()
    with open_device(port(store, board), build_dir=build_dir) as dev:
        assert dev.read_model() == models["b"]
        assert np.array_equal(dev.infer(images).scores, expected)


def _qmp(port: int, command: str) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        f = s.makefile("rwb")
        f.readline()
        for cmd in ("qmp_capabilities", command):
            f.write(json.dumps({"execute": cmd}).encode() + b"\n")
            f.flush()
            while b'"return"' not in (line := f.readline()):
                assert line, "QMP connection closed"


def test_reset_mid_upload_keeps_the_committed_model(build_dir, models, images, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        qmp_port = s.getsockname()[1]
    elf = build_dir / BOARD / "edgebnn-fw.elf"
    with QemuBoard(BOARD, elf, timeout=5.0, store=tmp_path / "s.store", extra_args=[
            "-qmp", f"tcp:127.0.0.1:{qmp_port},server=on,wait=off"]) as qb:
        qb.read_banner()
        dev = Device(qb.serial, f"qemu:{BOARD}", timeout=2.0, pending=qb._pending)
        dev.hello()
        dev.load(models["a"])
        new = models["b"]
        dev.request(Cmd.LOAD_BEGIN, struct.pack("<II", len(new), zlib.crc32(new)))
        dev.request(Cmd.LOAD_CHUNK, struct.pack("<I", 0) + new[:1024])
        frame = encode(Frame(Cmd.LOAD_CHUNK, (dev.last_seq + 1) & 0xFFFF,
                             struct.pack("<I", 1024) + new[1024:3072]))
        dev.link.write(frame[:len(frame) // 2])             # the board is mid-frame
        _qmp(qmp_port, "system_reset")
        with pytest.raises(BoardRestarted):
            dev.info()
        dev.hello()
        assert dev.info().model.crc == zlib.crc32(models["a"])
        assert np.array_equal(dev.infer(images).scores, NativeModel(models["a"]).infer(images))


def test_qemu_killed_during_load_keeps_the_previous_model(build_dir, models, tmp_path):
    store = tmp_path / "s.store"
    a, b = models["a"], models["b"]
    with open_device(port(store), build_dir=build_dir, timeout=1.0, retries=0) as dev:
        dev.load(a)
        dev.request(Cmd.LOAD_BEGIN, struct.pack("<II", len(b), zlib.crc32(b)))
        dev.request(Cmd.LOAD_CHUNK, struct.pack("<I", 0) + b[:2048])
        dev.qemu.proc.kill()                  # mid-LOAD: half the model uploaded
        dev.qemu.proc.wait(timeout=5)
        with pytest.raises(DeviceError, match="QEMU exited with status -9"):
            dev.request(Cmd.LOAD_CHUNK, struct.pack("<I", 2048) + b[2048:4096])
    with open_device(port(store), build_dir=build_dir) as dev:
        assert dev.read_model() == a
    # Killed around LOAD_COMMIT, while the board may be writing flash: the stored model is the
    # old or the new one, whole, never a mix or none.
    for delay in (0.0, 0.003, 0.01):
        with open_device(port(store), build_dir=build_dir) as dev:
            before = dev.read_model()
            new = b if before == a else a
            dev.request(Cmd.LOAD_BEGIN, struct.pack("<II", len(new), zlib.crc32(new)))
            for off in range(0, len(new), 2048):
                dev.request(Cmd.LOAD_CHUNK, struct.pack("<I", off) + new[off:off + 2048])
            dev.link.write(encode(Frame(Cmd.LOAD_COMMIT, (dev.last_seq + 1) & 0xFFFF)))
            time.sleep(delay)
            dev.qemu.proc.kill()
        with open_device(port(store), build_dir=build_dir) as dev:
            assert dev.read_model() in (before, new)


def test_a_save_cut_before_its_record_keeps_the_previous_model(build_dir, models, tmp_path):
    """The write order of model_store.c: a save whose record page never got written (power
    lost after the model bytes) is not restored; the previous record is."""
    syms = flash_symbols(build_dir)
    store = tmp_path / "s.store"
    with open_device(port(store), build_dir=build_dir) as dev:
        dev.load(models["a"])      # -> model slot 0 (the first save)
        dev.load(models["b"])      # -> model slot 1
    with open(store, "r+b") as f:  # undo slot 1's record as if the save stopped just before it
        f.seek(syms["__model_slot1"] - load_boards()[BOARD].ram_base)
        f.write(b"\xff" * 4096)
    with open_device(port(store), build_dir=build_dir) as dev:
        assert dev.read_model() == models["a"]


def test_an_install_cut_off_is_finished_at_the_next_boot(build_dir, new_image, tmp_path):
    """Power lost while the bootloader copied a verified image from staging to the app slot
    (app slot erased, staging complete): the next boot finishes the install."""
    syms = flash_symbols(build_dir)
    ram_base = load_boards()[BOARD].ram_base
    store = tmp_path / "s.store"
    with open_device(port(store), build_dir=build_dir):
        pass
    with open(store, "r+b") as f:
        f.seek(syms["__app_staging"] - ram_base)
        f.write(new_image)
        f.seek(syms["__app_slot"] - ram_base)
        f.write(b"\xff" * syms["__app_slot_size"])
    with open_device(port(store), build_dir=build_dir) as dev:
        assert dev.firmware == NEW_VERSION


def test_the_bootloader_survives_garbage(build_dir, tmp_path):
    with open_device(port(tmp_path / "s.store"), build_dir=build_dir) as dev:
        enter_bootloader(dev)
        dev.link.write(bytes(range(256)) * 8 + b"\xEB\x4E\x01")
        assert in_bootloader(dev)          # HELLO resynchronizes; the client resends if eaten
        assert boot_info(dev).app_valid


def test_flash_command_line(build_dir, new_image, tmp_path, capsys, monkeypatch):
    from edgebnn.cli import main

    monkeypatch.setenv("EDGEBNN_FIRMWARE_BUILD", str(build_dir))
    image, raw, store = tmp_path / "new.img", tmp_path / "raw.bin", tmp_path / "s.store"
    image.write_bytes(new_image)
    raw.write_bytes(new_image[fwimage.HEADER_SIZE:])
    assert main(["flash", str(image), "--port", port(store)]) == 0
    assert f"application {NEW_VERSION} running" in capsys.readouterr().out
    assert main(["flash", str(raw), "--port", port(store)]) == 2
    assert "raw.bin: magic is 0x" in capsys.readouterr().err
    with open_device(port(store), build_dir=build_dir) as dev:
        assert dev.firmware == NEW_VERSION


def test_a_store_serves_one_board_at_a_time(build_dir, tmp_path):
    store = tmp_path / "s.store"
    with open_device(port(store), build_dir=build_dir):
        with pytest.raises(DeviceError, match=f"store file {store} is in use by another board"):
            with open_device(port(store), build_dir=build_dir):
                pass
    with open_device(port(store), build_dir=build_dir) as dev:   # released on close
        assert dev.firmware == "0.1.0"
