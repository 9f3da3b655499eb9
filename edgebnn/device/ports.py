"""Opening a device from a `--port` string:

- `qemu:BOARD` — our firmware (built on demand with make) on an emulated board, started with
  QemuBoard and torn down on exit;
- any pyserial URL — `socket://HOST:PORT`, `rfc2217://…`, `loop://` (framing tests);
- a device path — `/dev/ttyACM0` (115200 baud, 8N1).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator, Optional

from edgebnn.device.errors import DeviceError

BAUD = 115200
#: Where `qemu:` ports find (and build) firmware; EDGEBNN_FIRMWARE_BUILD overrides it.
DEFAULT_BUILD = Path(__file__).resolve().parents[2] / "firmware" / "build"


def firmware_build_dir() -> Path:
    return Path(os.environ.get("EDGEBNN_FIRMWARE_BUILD", DEFAULT_BUILD))


def ensure_firmware(board: str, build_dir: Optional[Path] = None, timeout: float = 300) -> Path:
    """The firmware ELF for `board`, (re)built with make when the toolchain is present (make
    does nothing when it is up to date); DeviceError when it is missing and cannot be built."""
    from edgebnn.device.qemu import FIRMWARE_DIR, load_boards

    if board not in load_boards():
        raise DeviceError(f"qemu:{board}: unknown board; known: {', '.join(load_boards())}")
    build_dir = Path(build_dir or firmware_build_dir())
    elf = build_dir / board / "edgebnn-fw.elf"
    missing = [t for t in ("make", "arm-none-eabi-gcc") if shutil.which(t) is None]
    if missing:
        if elf.is_file():
            return elf
        raise DeviceError(f"qemu:{board}: firmware {elf} is not built and cannot be: "
                          f"{', '.join(missing)} not found (run tools/setup.sh)")
    build_dir.mkdir(parents=True, exist_ok=True)
    # One build at a time per build directory (parallel CLI calls or tests).
    with open(build_dir / f".{board}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            r = subprocess.run(["make", "-C", str(FIRMWARE_DIR), f"BOARD={board}",
                                f"BUILD={build_dir}"], capture_output=True, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"qemu:{board}: firmware build took over {timeout} s") from None
    if r.returncode != 0 or not elf.is_file():
        raise DeviceError(f"qemu:{board}: firmware build failed:\n{(r.stdout + r.stderr)[-2000:]}")
    return elf


@contextlib.contextmanager
def open_device(port: str, *, timeout: float = 2.0, retries: int = 2,
                build_dir: Optional[Path] = None, boot_timeout: float = 10.0) -> Iterator:
    """A connected `Device` (handshake done) for a port string; closes everything after."""
    import serial

    from edgebnn.device.client import Device

    if port.startswith("qemu:"):
        from edgebnn.device.qemu import QemuBoard, QemuError

        board = port[len("qemu:"):]
        if shutil.which("qemu-system-arm") is None:
            raise DeviceError(f"{port}: qemu-system-arm not found (run tools/setup.sh)")
        elf = ensure_firmware(board, build_dir)
        qb = QemuBoard(board, elf, timeout=boot_timeout)
        try:
            qb.start()
            qb.read_banner()
        except QemuError as e:
            qb.close()
            raise DeviceError(str(e)) from None
        try:
            dev = Device(qb.serial, port, timeout=timeout, retries=retries,
                         exit_info=lambda: _qemu_exit_note(qb), pending=qb._pending)
            dev.qemu = qb
            dev.hello()
            yield dev
        finally:
            qb.close()
        return
    try:
        link = serial.serial_for_url(port, baudrate=BAUD, timeout=timeout)
    except (serial.SerialException, ValueError) as e:
        raise DeviceError(f"{port}: cannot open ({e})") from None
    try:
        dev = Device(link, port, timeout=timeout, retries=retries)
        dev.hello()
        yield dev
    finally:
        link.close()


def _qemu_exit_note(qb) -> Optional[str]:
    proc = qb.proc
    if proc is None:
        return None
    try:
        rc = proc.wait(timeout=0.5)   # the link breaks as QEMU exits: let it report
    except subprocess.TimeoutExpired:
        return None
    out = qb.output()
    return f"QEMU exited with status {rc}" + (f": {out[-300:]}" if out else "")
