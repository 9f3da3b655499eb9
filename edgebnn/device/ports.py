"""Opening a device from a `--port` string, parsed once into a `Port`:

- `qemu:BOARD[?store=FILE]` — our firmware (built on demand with make) on an emulated board,
  started with QemuBoard and torn down on exit; it boots through the bootloader from a
  persistent store (its flash), FILE or else a temporary one (docs/boot.md);
- `linux:ARCH[?store=FILE]` (`aarch64`, `armv7`, `native`) — the ARM Linux runtime
  (firmware/linux, built on demand) under qemu-user on a pseudo-terminal, started with
  LinuxRuntime and torn down on exit; its store (the committed model) is FILE, else memory
  (a real Pi running `edgebnn-runtime --tty …` is a plain device path on the host side);
- any pyserial URL — `socket://HOST:PORT`, `rfc2217://…`, `loop://` (framing tests);
- a device path — `/dev/ttyACM0` (115200 baud, 8N1).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional, Union

from edgebnn.device.errors import DeviceError

if TYPE_CHECKING:
    from edgebnn.device.linux import LinuxRuntime

BAUD = 115200
#: Where `qemu:` ports find (and build) firmware; EDGEBNN_FIRMWARE_BUILD overrides it.
DEFAULT_BUILD = Path(__file__).resolve().parents[2] / "firmware" / "build"
#: Port kinds: an emulated board, the ARM Linux runtime, a serial link (pyserial URL or path)
QEMU, LINUX, SERIAL = "qemu", "linux", "serial"


@dataclass(frozen=True)
class Port:
    """A `--port` (module docstring): its kind, the board, architecture or serial URL/path it
    names, the `?store=FILE` option of emulated ports, and the text as given (messages name
    the port by it)."""

    kind: str
    target: str
    store: Optional[Path]
    text: str

    @classmethod
    def parse(cls, text: str) -> "Port":
        """DeviceError naming the option when an emulated port's options are not store=FILE."""
        kind, colon, rest = text.partition(":")
        if not colon or kind not in (QEMU, LINUX):
            return cls(SERIAL, text, None, text)
        target, _, query = rest.partition("?")
        store = None
        for option in filter(None, query.split("&")):
            key, eq, value = option.partition("=")
            if key != "store" or not eq or not value:
                raise DeviceError(f"{text}: unknown option {option!r}; expected store=FILE")
            store = Path(value)
        return cls(kind, target, store, text)

    @classmethod
    def emulated(cls, name: str, store: Optional[Path] = None) -> "Port":
        """An emulated board named as `edgebnn board run` names it: `linux:ARCH`, else the name
        of a QEMU board."""
        kind, colon, arch = name.partition(":")
        if colon and kind == LINUX:
            return cls(LINUX, arch, store, name)
        return cls(QEMU, name, store, f"{QEMU}:{name}")

    def __str__(self) -> str:
        return self.text


def firmware_build_dir() -> Path:
    return Path(os.environ.get("EDGEBNN_FIRMWARE_BUILD", DEFAULT_BUILD))


def ensure_firmware(board: str, build_dir: Optional[Path] = None, timeout: float = 300) -> Path:
    """The firmware ELF for `board`, (re)built with make when the toolchain is present (make
    does nothing when it is up to date); DeviceError when it is missing and cannot be built."""
    from edgebnn.device.qemu import FIRMWARE_DIR, load_boards

    if board not in load_boards():
        raise DeviceError(f"{QEMU}:{board}: unknown board; known: {', '.join(load_boards())}")
    build_dir = Path(build_dir or firmware_build_dir())
    return _make(f"{QEMU}:{board}", "firmware", build_dir / board / "edgebnn-fw.elf",
                 ["-C", str(FIRMWARE_DIR), f"BOARD={board}", f"BUILD={build_dir}",
                  f"PYTHON={sys.executable}"],   # this one has `cryptography`, to sign
                 "arm-none-eabi-gcc", build_dir / f".{board}.lock", timeout)


def ensure_runtime(arch: str, build_dir: Optional[Path] = None, timeout: float = 300) -> Path:
    """The ARM Linux runtime for `arch` (firmware/linux), (re)built with make like
    ensure_firmware; DeviceError when it is missing and cannot be built."""
    from edgebnn.device.linux import ARCHES, RUNTIME_DIR, runtime_path

    if arch not in ARCHES:
        raise DeviceError(f"{LINUX}:{arch}: unknown architecture; known: {', '.join(ARCHES)}")
    build_dir = Path(build_dir or firmware_build_dir())
    return _make(f"{LINUX}:{arch}", "runtime", runtime_path(arch, build_dir),
                 ["-C", str(RUNTIME_DIR), f"ARCH={arch}", f"BUILD={build_dir}"],
                 ARCHES[arch].compiler, build_dir / f".linux-{arch}.lock", timeout)


def _make(tag: str, what: str, output: Path, make_args: list, compiler: str, lock_path: Path,
          timeout: float) -> Path:
    """Runs make (one build at a time per lock file: parallel CLI calls or tests) and returns
    `output`; an existing output is used as is when make or the compiler is missing."""
    missing = [t for t in ("make", compiler) if shutil.which(t) is None]
    if missing:
        if output.is_file():
            return output
        raise DeviceError(f"{tag}: {what} {output} is not built and cannot be: "
                          f"{', '.join(missing)} not found (run tools/setup.sh)")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            r = subprocess.run(["make", *make_args], capture_output=True, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"{tag}: {what} build took over {timeout} s") from None
    if r.returncode != 0 or not output.is_file():
        raise DeviceError(f"{tag}: {what} build failed:\n{(r.stdout + r.stderr)[-2000:]}")
    return output


#: Seconds between two escape frames while the host waits for the bootloader (docs/boot.md
#: "The escape": the bootloader listens for 50 ms after every reset).
ESCAPE_INTERVAL = 0.02


def escape_frame() -> bytes:
    """The frame that keeps a board in its bootloader when it arrives in the listen window
    after a reset (ENTER_BOOTLOADER; a running application that gets it resets into the
    bootloader too)."""
    from edgebnn.device.framing import Cmd, Frame, encode

    return encode(Frame(Cmd.ENTER_BOOTLOADER, 0))


def escape_to_bootloader(link, name: str, timeout: float) -> bytes:
    """Sends the escape frame every ESCAPE_INTERVAL s until the bootloader's update-mode banner
    arrives, and returns the bytes that followed it. The board must be resetting meanwhile: an
    emulated board is (it just started); a real one is reset by the user or its watchdog.
    DeviceError after `timeout` s."""
    from edgebnn.device.qemu import BOOT_BANNER_RE

    frame, seen = escape_frame(), bytearray()
    deadline = time.monotonic() + timeout
    while (m := BOOT_BANNER_RE.search(seen)) is None:
        now = time.monotonic()
        if now >= deadline:
            raise DeviceError(f"{name}: no bootloader answered the escape within {timeout} s "
                              f"(reset the board while the host waits); it printed "
                              f"{bytes(seen[-200:])!r}")
        try:
            link.write(frame)
            link.flush()
            link.timeout = ESCAPE_INTERVAL
            seen += link.read(max(1, link.in_waiting))
        except Exception as e:   # pyserial: SerialException or OSError on a lost link
            raise DeviceError(f"{name}: link lost while waiting for the bootloader ({e})") \
                from None
    return bytes(seen[m.end():])


@contextlib.contextmanager
def open_device(port: Union[str, Port], *, timeout: float = 2.0, retries: int = 2,
                build_dir: Optional[Path] = None, boot_timeout: float = 10.0,
                escape: bool = False) -> Iterator:
    """A connected `Device` (handshake done) for a port; closes everything after.

    escape: reach the board's bootloader through the escape (docs/boot.md), so that a board
        whose application never answers can still be flashed: an emulated board is knocked
        from its first instruction; a serial one when its application does not answer HELLO
        (then the user resets it within `boot_timeout`). The Linux runtime has no bootloader.
    """
    import serial

    from edgebnn.device.client import Device

    if isinstance(port, str):
        port = Port.parse(port)
    if port.kind == QEMU:
        from edgebnn.device.qemu import QemuBoard, QemuError, require_emulated

        require_emulated(port.target)
        if shutil.which("qemu-system-arm") is None:
            raise DeviceError(f"{port}: qemu-system-arm not found (run tools/setup.sh)")
        elf = ensure_firmware(port.target, build_dir)
        qb = QemuBoard(port.target, elf, timeout=boot_timeout, store=port.store)
        try:
            qb.start()
            if escape:
                pending = escape_to_bootloader(qb.serial, str(port), boot_timeout)
            else:
                qb.read_banner()
                pending = qb._pending
        except (QemuError, DeviceError) as e:
            qb.close()
            raise DeviceError(str(e)) from None
        try:
            dev = Device(qb.serial, str(port), timeout=timeout, retries=retries,
                         exit_info=lambda: _qemu_exit_note(qb), pending=pending)
            dev.qemu = qb
            dev.hello()
            yield dev
        finally:
            qb.close()
        return
    if port.kind == LINUX:
        with _open_linux(port, timeout=timeout, retries=retries, build_dir=build_dir,
                         boot_timeout=boot_timeout) as dev:
            yield dev
        return
    try:
        link = serial.serial_for_url(port.target, baudrate=BAUD, timeout=timeout)
    except (serial.SerialException, ValueError) as e:
        raise DeviceError(f"{port}: cannot open ({e})") from None
    try:
        dev = Device(link, str(port), timeout=timeout, retries=retries)
        try:
            dev.hello()
        except DeviceError:
            if not escape:
                raise
            dev = Device(link, str(port), timeout=timeout, retries=retries,
                         pending=escape_to_bootloader(link, str(port), boot_timeout))
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
    from edgebnn.device.qemu import exit_text

    out = qb.output()
    return exit_text(rc) + (f": {out[-300:]}" if out else "")


def linux_runtime(port: Port, build_dir: Optional[Path] = None,
                  timeout: float = 5.0) -> LinuxRuntime:
    """The ARM Linux runtime of a `linux:ARCH` port (built on demand), not started; its store
    is the port's FILE, else memory."""
    from edgebnn.device.linux import LinuxRuntime

    return LinuxRuntime(port.target, ensure_runtime(port.target, build_dir), timeout=timeout,
                        extra_args=["--store", str(port.store)] if port.store else [])


@contextlib.contextmanager
def _open_linux(port: Port, *, timeout: float, retries: int, build_dir: Optional[Path],
                boot_timeout: float) -> Iterator:
    """A `Device` on the Linux runtime under qemu-user (see open_device)."""
    from edgebnn.device.client import Device
    from edgebnn.device.linux import ARCHES, LinuxRuntimeError

    arch = port.target
    emulator = ARCHES[arch].qemu if arch in ARCHES else None
    if emulator and shutil.which(emulator) is None:
        raise DeviceError(f"{port}: {emulator} not found (run tools/setup.sh)")
    rt = linux_runtime(port, build_dir, boot_timeout)
    try:
        rt.start()
        rt.read_banner()
        dev = Device(rt.link, str(port), timeout=timeout, retries=retries, exit_info=rt.exit_note,
                     pending=rt.pending)
        dev.runtime = rt
        dev.hello()
        yield dev
    except LinuxRuntimeError as e:
        raise DeviceError(str(e)) from None
    finally:
        rt.close()
