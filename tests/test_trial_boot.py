"""Trial boot, the watchdog and the bootloader's escape (docs/boot.md "Trial boot"): an image
that hangs or faults at reset goes back to the previous application within the watchdog period
on every board, with the committed model still served; a board whose confirmed application
never answers is reflashed through the escape; and QEMU killed at each step of an update (the
keep copy, the erase, mid-upload, around the commit, the trial start, the confirmation, the
restore copy) leaves a board that boots a working application with its committed model.

Needs make, arm-none-eabi-gcc and qemu-system-arm (skipped otherwise)."""
from __future__ import annotations

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
from edgebnn.device.client import BANNER_RE, Device
from edgebnn.device.errors import DeviceError
from edgebnn.device.flash import (boot, boot_info, enter_bootloader, upload,
                                  wait_banner)
from edgebnn.device.framing import Cmd, Frame, encode
from edgebnn.device.ports import ensure_firmware, open_device
from edgebnn.device.qemu import QemuBoard, emulated_boards, load_boards
from edgebnn.export import export_model
from edgebnn.native import NativeModel
from tests.conftest import random_images, random_model

MISSING = [t for t in ("make", "arm-none-eabi-gcc", "arm-none-eabi-nm", "qemu-system-arm")
           if shutil.which(t) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {', '.join(MISSING)}")

BOARDS = list(emulated_boards())
BOARD = "mps2-an386"
SHAPE = (8, 8, 1)
WATCHDOG_S = 2.0                    # BOOT_WATCHDOG_MS (firmware/boot/bootctl.h)
TRIED_AT, CONFIRMED_AT = 504, 508   # FLASHMAP_TRIED_AT / _CONFIRMED_AT (boards/flashmap.h)
# An initial stack pointer inside each board's RAM (ld/<board>.ld), as the bootloader checks.
STACK_TOP = {board: 0x38001000 if board == "mps2-an505" else 0x20001000 for board in BOARDS}


@pytest.fixture(scope="module")
def model() -> bytes:
    return fmt.to_bytes(export_model(random_model("mlp", SHAPE, 10, seed=31, layers=[48]),
                                     SHAPE, 10))


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> Path:
    """Every board's firmware built afresh, the bootloader under test included."""
    out = tmp_path_factory.mktemp("fw")
    return [ensure_firmware(board, out) for board in BOARDS] and out


def port(store: Path, board: str = BOARD) -> str:
    return f"qemu:{board}?store={store}"


def bad_image(board: str, kind: str) -> bytes:
    """A correctly signed application that never answers: its reset handler is `b .` (hang),
    or `udf` with every other vector on a `b .` (a fault into a spinning handler), or `udf`
    with no handlers at all (lockup)."""
    load = load_boards()[board].store + fwimage.HEADER_SIZE
    spin, udf = load + 64, load + 68
    handler = 0 if kind == "lockup" else spin | 1
    vectors = [STACK_TOP[board], (spin if kind == "hang" else udf) | 1] + [handler] * 14
    body = struct.pack("<16I", *vectors) + bytes.fromhex("fee70000" "00defee7")
    return fwimage.sign(body, board=board, version=f"9.9-{kind}", slot=load - 512)


def good_image(build_dir: Path, board: str, version: str) -> bytes:
    """The built application signed again with another version (its banner still says the
    version it was built with; the bootloader's INFO shows the header's)."""
    body = (build_dir / board / "edgebnn-fw.img").read_bytes()[fwimage.HEADER_SIZE:]
    return fwimage.sign(body, board=board, version=version,
                        slot=load_boards()[board].store)


def symbols(build_dir: Path, board: str = BOARD) -> dict[str, int]:
    nm = subprocess.run(["arm-none-eabi-nm", str(build_dir / board / "edgebnn-boot.elf")],
                        capture_output=True, text=True, timeout=30, check=True).stdout
    return {p[2]: int(p[0], 16) for p in (line.split() for line in nm.splitlines())
            if len(p) == 3}


def serves(build_dir: Path, store: Path, model: bytes, board: str = BOARD) -> str:
    """Starts the board on `store`: a working application that serves the committed model
    (scores equal the host C core's); returns the version the bootloader has installed."""
    images = random_images(SHAPE, 6, seed=4)
    with open_device(port(store, board), build_dir=build_dir) as dev:
        assert not dev.in_bootloader, "the board stayed in its bootloader"
        assert dev.info().model.crc == zlib.crc32(model)
        assert np.array_equal(dev.infer(images).scores, NativeModel(model).infer(images))
        enter_bootloader(dev)
        info = boot_info(dev)
        assert info.app_valid
        boot(dev)
        return info.app_version


# --- trial boot ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["hang", "fault"])
@pytest.mark.parametrize("board", BOARDS)
def test_an_app_that_never_answers_goes_back_within_the_watchdog_period(build_dir, model, board,
                                                                         kind, tmp_path):
    store = tmp_path / "s.store"
    if not load_boards()[board].watchdog:
        return check_a_power_cycle_ends_the_trial(build_dir, model, board, kind, store)
    with open_device(port(store, board), build_dir=build_dir) as dev:
        dev.load(model)
        enter_bootloader(dev)
        assert upload(dev, bad_image(board, kind)) == f"9.9-{kind}"
        t0 = time.monotonic()
        with pytest.raises(DeviceError, match=rf"application 9\.9-{kind} never answered after "
                                              r"its start .* restored 0\.1\.0"):
            boot(dev, timeout=3 * WATCHDOG_S)
        assert time.monotonic() - t0 < 2 * WATCHDOG_S + 1.5, "reverted within the watchdog period"
        dev.hello()
        assert dev.firmware == "0.1.0" and dev.info().model.crc == zlib.crc32(model)
        images = random_images(SHAPE, 6, seed=4)
        assert np.array_equal(dev.infer(images).scores, NativeModel(model).infer(images))


def check_a_power_cycle_ends_the_trial(build_dir: Path, model: bytes, board: str, kind: str,
                                       store: Path) -> None:
    """A board without a watchdog (netduinoplus2: QEMU models none) cannot leave a hung trial
    image by itself; its next power-on (QEMU killed and started again on the same flash) finds
    the image tried and never confirmed and restores the previous application (docs/boot.md).
    On the micro:bit's Cortex-M0 (no VTOR) the image's own fault handlers never run: the
    bootloader's reports the HardFault and ends the run, and the next start restores."""
    stops = "no application banner"
    if kind == "fault" and load_boards()[board].cpu == "cortex-m0":
        stops = r"QEMU exited with status 131 \(the firmware's fault handler: exception 3, HardFault\)"
    with open_device(port(store, board), build_dir=build_dir) as dev:
        dev.load(model)
        enter_bootloader(dev)
        assert upload(dev, bad_image(board, kind)) == f"9.9-{kind}"
        with pytest.raises(DeviceError, match=stops):
            boot(dev, timeout=WATCHDOG_S)
    assert serves(build_dir, store, model, board) == "0.1.0"


def test_a_lockup_at_reset_goes_back_at_the_next_start(build_dir, model, tmp_path):
    """A fault with no handler locks the core up; QEMU 7.2 does not model lockup and exits
    (silicon: the watchdog resets it). The power-on after is a reset before confirmation."""
    store = tmp_path / "s.store"
    with open_device(port(store), build_dir=build_dir) as dev:
        dev.load(model)
        flash_image = bad_image(BOARD, "lockup")
        enter_bootloader(dev)
        upload(dev, flash_image)
        with pytest.raises(DeviceError):
            boot(dev, timeout=3 * WATCHDOG_S)
    assert serves(build_dir, store, model) == "0.1.0"


@pytest.mark.parametrize("board", [BOARD, "netduinoplus2"])   # a RAM store and a ROM store
def test_a_new_app_confirms_itself_and_stays(build_dir, model, board, tmp_path):
    """BOOT, then the new image's first answered request (HELLO) confirms it: both trial words
    are set in flash, it is kept across restarts and the previous one waits in staging."""
    store, syms = tmp_path / "s.store", symbols(build_dir, board)
    base = load_boards()[board].ram_base
    factory = (build_dir / board / "edgebnn-fw.img").read_bytes()
    with open_device(port(store, board), build_dir=build_dir) as dev:
        dev.load(model)
        enter_bootloader(dev)
        upload(dev, good_image(build_dir, board, "0.1.0-new"))
        assert boot(dev) == "0.1.0"        # the banner shows the version it was built with
    raw = store.read_bytes()
    app, staging = syms["__app_slot"] - base, syms["__app_staging"] - base
    assert raw[app + TRIED_AT:app + TRIED_AT + 4] == bytes(4)
    assert raw[app + CONFIRMED_AT:app + CONFIRMED_AT + 4] == bytes(4)
    assert raw[staging:staging + 84] == factory[:84]          # the factory image, kept
    assert serves(build_dir, store, model, board) == "0.1.0-new"


# --- the escape ----------------------------------------------------------------------------
def test_the_escape_reflashes_a_board_whose_confirmed_app_never_answers(build_dir, model,
                                                                         tmp_path, capsys,
                                                                         monkeypatch):
    """The hang image installed as confirmed (as a factory would) with nothing kept: the
    watchdog resets it forever and it never answers; `device reset --bootloader` and
    `edgebnn flash` still reach the bootloader through the escape."""
    from edgebnn.cli import main

    store, syms = tmp_path / "s.store", symbols(build_dir)
    base = load_boards()[BOARD].ram_base
    with open_device(port(store), build_dir=build_dir) as dev:
        dev.load(model)
    with open(store, "r+b") as f:
        f.seek(syms["__app_slot"] - base)
        f.write(b"\xff" * syms["__app_slot_size"])
        f.seek(syms["__app_slot"] - base)
        f.write(bad_image(BOARD, "hang"))                  # bytes 84..511 zero: confirmed
        f.seek(syms["__app_staging"] - base)
        f.write(b"\xff" * syms["__app_slot_size"])
    with pytest.raises(DeviceError, match="no banner within 1.0 s"):
        with open_device(port(store), build_dir=build_dir, boot_timeout=1.0):
            pass
    monkeypatch.setenv("EDGEBNN_FIRMWARE_BUILD", str(build_dir))
    assert main(["device", "reset", "--bootloader", "--port", port(store)]) == 0
    assert "in the bootloader (boot-" in capsys.readouterr().out
    image = tmp_path / "good.img"
    image.write_bytes((build_dir / BOARD / "edgebnn-fw.img").read_bytes())
    assert main(["flash", str(image), "--port", port(store)]) == 0
    assert "application 0.1.0 running" in capsys.readouterr().out
    assert serves(build_dir, store, model) == "0.1.0"


def test_the_escape_window(build_dir, tmp_path):
    """An ENTER_BOOTLOADER frame waiting at reset keeps the board in its bootloader; garbage
    and other frames do not, and the application then starts within the window (50 ms) plus
    the boot itself."""
    elf, store = build_dir / BOARD / "edgebnn-fw.elf", tmp_path / "s.store"
    with QemuBoard(BOARD, elf, timeout=5.0, store=store) as qb:
        qb.serial.write(bytes(range(7)) + encode(Frame(Cmd.ENTER_BOOTLOADER, 0)))
        assert qb.read_banner().bootloader
    with QemuBoard(BOARD, elf, timeout=5.0, store=store) as qb:
        qb.serial.write(bytes(range(256)) + encode(Frame(Cmd.HELLO, 0, bytes(4))))
        t0 = time.monotonic()
        assert not qb.read_banner().bootloader
        assert time.monotonic() - t0 < 2.0


# --- QEMU killed during an update ----------------------------------------------------------
class Gdb:
    """Just enough of QEMU's gdbstub (the GDB remote protocol) to stop the board at a
    breakpoint: `break_at`, `cont` (returns at once) and `wait_stop`."""

    def __init__(self, gdb_port: int):
        deadline = time.monotonic() + 5.0
        while True:     # QEMU listens once its serial port has its client
            try:
                self.sock = socket.create_connection(("127.0.0.1", gdb_port), timeout=10)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "the gdbstub did not listen within 5 s"
                time.sleep(0.02)
        self.buf = b""

    def _send(self, body: str) -> None:
        self.sock.sendall(f"${body}#{sum(body.encode()) & 0xFF:02x}".encode())

    def _reply(self) -> str:
        while True:
            start = self.buf.find(b"$")
            end = self.buf.find(b"#", start)
            if start >= 0 and end >= 0 and len(self.buf) >= end + 3:
                body, self.buf = self.buf[start + 1:end], self.buf[end + 3:]
                self.sock.sendall(b"+")
                return body.decode()
            chunk = self.sock.recv(4096)
            assert chunk, "gdbstub closed the connection"
            self.buf += chunk

    def break_at(self, address: int) -> None:
        self._send(f"Z0,{address & ~1:x},2")
        assert self._reply() == "OK"

    def cont(self) -> None:
        self._send("c")

    def wait_stop(self) -> None:
        assert self._reply().startswith(("T05", "S05"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session(build_dir: Path, store: Path, gdb_port: int = 0) -> QemuBoard:
    """A board on `store`; with a gdb port it starts stopped (-S) until Gdb.cont()."""
    extra = ["-S", "-gdb", f"tcp:127.0.0.1:{gdb_port}"] if gdb_port else []
    return QemuBoard(BOARD, build_dir / BOARD / "edgebnn-fw.elf", timeout=5.0, store=store,
                     extra_args=extra)


def _kill(qb: QemuBoard) -> None:
    qb.proc.kill()
    qb.proc.wait(timeout=5)


def _begin(image: bytes) -> bytes:
    return struct.pack("<II", len(image), zlib.crc32(image))


def _update_until(dev: Device, point: str, new: bytes) -> None:
    """Runs an update of the board in its bootloader as `edgebnn flash` does, up to `point`."""
    if point in ("begin", "erase"):       # staging getting the kept copy / the app slot erased
        dev.link.write(encode(Frame(Cmd.FLASH_BEGIN, dev.last_seq + 1, _begin(new))))
        time.sleep(0.0 if point == "begin" else 0.002)
        return
    dev.request(Cmd.FLASH_BEGIN, _begin(new))
    chunks = range(0, len(new), 2048)
    for n, off in enumerate(chunks):
        if point == "mid-upload" and n == len(chunks) // 2:
            return
        dev.request(Cmd.FLASH_CHUNK, struct.pack("<I", off) + new[off:off + 2048])
    if point == "before-commit":
        return
    if point == "commit":                 # while the header is being written
        dev.link.write(encode(Frame(Cmd.FLASH_COMMIT, dev.last_seq + 1)))
        time.sleep(0.001)
        return
    dev.request(Cmd.FLASH_COMMIT)
    if point == "after-commit":
        return
    dev._reader.skipped.clear()
    dev.request(Cmd.BOOT, retries=0)
    wait_banner(dev, BANNER_RE, "application", 5.0)   # started on trial: marked tried
    if point == "trial-start":
        return
    dev.hello()                            # answered: it confirms itself
    time.sleep(0.05)


#: Which application each kill point may leave (the new one only once it is installed).
AFTER_KILL = {"begin": {"0.1.0"}, "erase": {"0.1.0"}, "mid-upload": {"0.1.0"},
              "before-commit": {"0.1.0"}, "commit": {"0.1.0", "0.1.0-new"},
              "after-commit": {"0.1.0-new"}, "trial-start": {"0.1.0"},
              "after-confirm": {"0.1.0-new"}}


@pytest.mark.parametrize("point", list(AFTER_KILL))
def test_killed_during_an_update_boots_a_working_app(build_dir, model, point, tmp_path):
    """QEMU killed at each step of FLASH_BEGIN … BOOT … HELLO: the next start serves the
    committed model from the old or the new application, never neither, and keeps doing so."""
    store = tmp_path / "s.store"
    with open_device(port(store), build_dir=build_dir) as dev:
        dev.load(model)
    with _session(build_dir, store) as qb:
        qb.read_banner()
        dev = Device(qb.serial, BOARD, timeout=2.0, pending=qb._pending)
        enter_bootloader(dev)
        _update_until(dev, point, good_image(build_dir, BOARD, "0.1.0-new"))
        _kill(qb)
    assert serves(build_dir, store, model) in AFTER_KILL[point]


@pytest.mark.parametrize("copy,hits", [("keep", 1), ("keep", 2), ("restore", 1),
                                       ("restore", 2), ("restore", 3)])
def test_killed_inside_a_slot_copy_boots_a_working_app(build_dir, model, copy, hits, tmp_path):
    """Stopped at the hits-th board_store_write of a copy and killed there (1: the slot
    erased, nothing written; 2: the body written; 3, restore only: the confirmed word too, not
    yet the header): the keep copy (FLASH_BEGIN puts the confirmed image in staging) and the
    restore copy (the boot after a failed trial) both leave a board that serves its model."""
    store, syms = tmp_path / "s.store", symbols(build_dir)
    app = syms["__app_slot"] - load_boards()[BOARD].ram_base
    with open_device(port(store), build_dir=build_dir) as dev:
        dev.load(model)
        if copy == "restore":                # a hang image, started on trial, never confirmed
            enter_bootloader(dev)
            upload(dev, bad_image(BOARD, "hang"))
            dev.request(Cmd.BOOT, retries=0)
            time.sleep(0.5)
    if copy == "restore":
        assert store.read_bytes()[app + TRIED_AT:app + CONFIRMED_AT + 4] == bytes(4) + b"\xff" * 4
    gdb_port = _free_port()
    with _session(build_dir, store, gdb_port) as qb:
        gdb = Gdb(gdb_port)
        gdb.break_at(syms["board_store_write"])
        if copy == "keep":
            qb.serial.write(encode(Frame(Cmd.ENTER_BOOTLOADER, 0)))   # the escape: stay
            gdb.cont()
            dev = Device(qb.serial, BOARD, timeout=2.0)
            dev.hello()
            assert dev.in_bootloader
            new = good_image(build_dir, BOARD, "0.1.0-new")
            dev.link.write(encode(Frame(Cmd.FLASH_BEGIN, dev.last_seq + 1, _begin(new))))
        else:
            gdb.cont()
        for hit in range(hits):
            if hit:
                gdb.cont()
            gdb.wait_stop()
        _kill(qb)
    slot = syms["__app_staging" if copy == "keep" else "__app_slot"] - (
        load_boards()[BOARD].ram_base)
    assert store.read_bytes()[slot:slot + 4] == b"\xff" * 4, "killed inside the copy"
    assert serves(build_dir, store, model) == "0.1.0"
    assert serves(build_dir, store, model) == "0.1.0"
