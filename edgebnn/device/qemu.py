"""Run edgebnn firmware under QEMU and talk to its UART0 over a local TCP socket.

    with QemuBoard("mps2-an386", Path("firmware/build/mps2-an386/edgebnn-fw.elf"), timeout=5) as b:
        banner = b.read_banner()
        b.serial.write(b"...")
        status = b.wait_exit()

QEMU is started with `-serial tcp:127.0.0.1:PORT,server=on,wait=on`: the guest does not run until
we connect, so no byte it sends is lost. Our application (an `edgebnn-fw.elf` with its signed
image `edgebnn-fw.img` beside it) boots as on a real part, through the bootloader
(`edgebnn-boot.elf`, the -kernel) from the persistent store: QEMU's machine RAM backed by a
file (`store=`, else a temporary one), which a new file gets "factory programmed" with
(`edgebnn-factory.bin`: the erased store with the image in the app slot; docs/boot.md). Any
other ELF is run directly as the -kernel. Semihosting is enabled so firmware can end the run with
an exit status. Every wait is bounded by `timeout`; every failure raises `QemuError` naming the
board and what did not happen, with the tail of QEMU's stderr when it has died.

The board table is firmware/boards.mk, shared with the firmware build (see `load_boards`).
"""
from __future__ import annotations

import fcntl
import os
import re
import select
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import serial

from edgebnn.device.gdbstub import GdbError, GdbStub
from edgebnn.errors import EdgebnnError, UsageError, replacing

QEMU = "qemu-system-arm"
FIRMWARE_DIR = Path(os.environ.get("EDGEBNN_FIRMWARE_DIR",
                                   Path(__file__).resolve().parents[2] / "firmware"))
BANNER_RE = re.compile(rb"EBNN-FW (?P<version>\S+) board=(?P<board>\S+) clock=(?P<clock>\d+)")
#: The bootloader's, when it stays (no valid application, or asked to): docs/boot.md.
BOOT_BANNER_RE = re.compile(rb"EBNN-BOOT (?P<version>\S+) board=(?P<board>\S+) "
                            rb"clock=(?P<clock>\d+) app=\S+ mode=update")


class QemuError(EdgebnnError, RuntimeError):
    """QEMU or the firmware did not do what was expected in time."""


@dataclass(frozen=True)
class BoardInfo:
    name: str
    cpu: str          # -mcpu
    fpu: str          # FPU / float-ABI flags
    qemu: str         # qemu-system-arm -M; "none": QEMU does not model it (built, not run)
    uart0: int        # UART0 base address
    clock: int        # core clock, Hz
    irqs: int         # external interrupt vectors
    store: int        # persistent store base address (docs/boot.md)
    ram_base: int     # QEMU's machine RAM, which the store file backs (rom_store: the store
    ram_size: int     # region of the flash, which the file is loaded into)
    model_slot: int = 0  # bytes of .ebnn a model slot holds (the firmware's MODEL_SLOT_SIZE)
    watchdog: bool = True  # the bootloader arms one (boards.mk watchdog), else none is modelled
    rom_store: bool = False  # the flash is ROM: loaded from the file, written via semihosting
    soc_store: bool = False  # the flash and its controller are the SoC's: the file is written
    #                          into it through the gdbstub, kept by the firmware (semihosting)
    serial: int = 0   # QEMU's -serial index of the console UART
    uf2_family: int = 0  # UF2 family ID of its ROM's USB drive (0: it takes no UF2)


@dataclass(frozen=True)
class Banner:
    version: str
    board: str
    clock: int
    bootloader: bool = False   # the bootloader's banner: it serves the update protocol


_LINE_RE = re.compile(r"^(?P<board>[A-Za-z0-9_-]+)\.(?P<key>[a-z0-9_]+)\s*:=\s*(?P<value>.*?)\s*$")


def load_boards(path: Optional[Path] = None) -> Dict[str, BoardInfo]:
    """Parse firmware/boards.mk (strict `<board>.<key> := <value>` lines, `BOARDS := ...` and
    `BOARDS += ...`: each group of boards adds its own line, so their edits never collide)."""
    path = Path(path) if path else FIRMWARE_DIR / "boards.mk"
    fields: Dict[str, Dict[str, str]] = {}
    names = []
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("BOARDS"):   # `BOARDS := ...`, then any `BOARDS += ...` lines
            op = "+=" if line.split("=", 1)[0].rstrip().endswith("+") else ":="
            names = (names if op == "+=" else []) + line.split(op, 1)[1].split()
            continue
        m = _LINE_RE.match(line)
        if not m:
            raise ValueError(f"{path}:{n}: not a `<board>.<key> := <value>` line: {raw!r}")
        fields.setdefault(m["board"], {})[m["key"]] = m["value"]
    boards = {}
    for name in names:
        f = fields.get(name, {})
        try:
            # A board QEMU does not model (qemu := none) is only built: no machine RAM.
            ram_base, ram_size = (f["qemu_ram"] if f["qemu"] != "none" else "0 0").split()
            boards[name] = BoardInfo(name=name, cpu=f["cpu"], fpu=f["fpu"], qemu=f["qemu"],
                                     uart0=int(f["uart0"], 0), clock=int(f["clock"]),
                                     irqs=int(f["irqs"]), store=int(f["store"], 0),
                                     ram_base=int(ram_base, 0), ram_size=_size(ram_size),
                                     model_slot=int(f["model_slot"], 0),
                                     watchdog=f.get("watchdog", "none") != "none",
                                     rom_store=f.get("qemu_store", "ram") == "rom",
                                     soc_store=f.get("qemu_store", "ram") == "soc",
                                     serial=int(f.get("qemu_serial", "0")),
                                     uf2_family=int(f.get("uf2_family", "0"), 0))
        except KeyError as e:
            raise ValueError(f"{path}: board {name} has no {e.args[0]}") from None
    return boards


def emulated_boards(path: Optional[Path] = None) -> Dict[str, BoardInfo]:
    """The boards QEMU runs; the others (boards.mk `qemu := none`) are built and size-checked
    only ("built, not run")."""
    return {name: info for name, info in load_boards(path).items() if info.qemu != "none"}


def require_emulated(board: str) -> None:
    """UsageError naming a built-only board (and what to do with it) before anything is built
    or started for it."""
    boards = load_boards()
    if board in boards and boards[board].qemu == "none":
        raise UsageError(f"board {board} is built, not run: QEMU does not model it; emulated: "
                         f"{', '.join(emulated_boards())} (its first-install file: edgebnn "
                         f"firmware image --board {board})")


def _size(text: str) -> int:
    """'16M' -> 16 MiB (QEMU's size suffixes K, M, G)."""
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:].upper(), 1)
    return int(text[:-1] if scale > 1 else text, 0) * scale


#: the firmware's buffer for the store path (drivers/semihost.h SEMIHOST_PATH_CAP), NUL included
SEMIHOST_PATH_CAP = 512
BOOTLOADER = "edgebnn-boot.elf"
FACTORY = "edgebnn-factory.bin"


def firmware_files(firmware: Path) -> Optional[Tuple[Path, Path]]:
    """(bootloader ELF, factory store image) when `firmware` is one of our application builds
    (the build writes them beside edgebnn-fw.elf), else None (a plain -kernel ELF)."""
    firmware = Path(firmware)
    boot, factory = firmware.parent / BOOTLOADER, firmware.parent / FACTORY
    if firmware.with_suffix(".img").is_file() and boot.is_file() and factory.is_file():
        return boot, factory
    return None


def provision_store(info: BoardInfo, path: Path, factory: bytes) -> None:
    """Creates the store file for `info`'s board: QEMU's machine RAM size (sparse), with the
    factory image (the erased flash, our application in its slot) at the store base."""
    with replacing(path, field="the board's store") as f:   # sparse: only the image is written
        f.truncate(info.ram_size)
        f.seek(info.store - info.ram_base)
        f.write(factory)


#: The firmware's fault handler ends a QEMU run with 128 + the exception number
#: (firmware/startup/fault.c), after an `EBNN-FAULT` line on the console.
FAULTS = {2: "NMI: on the MPS2/MPS3 boards the watchdog's first expiry, 2 s without a feed",
          3: "HardFault", 4: "MemManage", 5: "BusFault", 6: "UsageFault", 7: "SecureFault"}


def exit_text(rc: int) -> str:
    """'QEMU exited with status N', naming the firmware's fault when N is one (not a signal:
    a QEMU killed by a signal has a negative returncode)."""
    fault = FAULTS.get(rc - 128)
    return f"QEMU exited with status {rc}" + (
        f" (the firmware's fault handler: exception {rc - 128}, {fault})" if fault else "")


def _qemu_quote(value: str) -> str:
    """A value inside a QEMU option list: its commas doubled."""
    return value.replace(",", ",,")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QemuBoard:
    """A firmware image running under qemu-system-arm, its UART0 at `.serial` (pyserial).

    timeout: bound in seconds for starting QEMU and connecting, and the default for the read
        and wait helpers; also the pyserial read timeout.
    icount_shift: run with `-icount shift=N,align=off,sleep=off` (deterministic virtual time:
        each instruction takes 2**N ns, so SysTick counts instructions). None: real time.
    extra_args: appended to the QEMU command line.
    store: the persistent store file for our application builds (module docstring): kept
        across runs; created and factory-programmed when missing. None: a temporary file,
        removed by close(). `.store` is the path in use.
    """

    def __init__(self, board: str, firmware: Path, *, timeout: float = 5.0,
                 icount_shift: Optional[int] = None, extra_args: Sequence[str] = (),
                 qemu: str = QEMU, store: Optional[Path] = None):
        boards = load_boards()
        if board not in boards:
            raise UsageError(f"unknown board {board!r}; known: {', '.join(boards)}")
        require_emulated(board)
        self.board = board
        self.info = boards[board]
        self.firmware = Path(firmware)
        self.timeout = float(timeout)
        self.icount_shift = icount_shift
        self.extra_args = list(extra_args)
        self.qemu = qemu
        self.boot = firmware_files(self.firmware)
        self.store: Optional[Path] = Path(store) if store is not None else None
        self._temp_store = False
        self._store_lock = None
        self.port: Optional[int] = None
        self.url: Optional[str] = None
        self.serial: Optional[serial.SerialBase] = None
        self.proc: Optional[subprocess.Popen] = None
        self._stderr = None

    # --- lifecycle -----------------------------------------------------------------------
    def command(self, port: Optional[int], chardev: Optional[str] = None) -> list:
        """QEMU's command line with the console on TCP `port`, or on the chardev spec
        `chardev` instead (e.g. "pty": a new pseudo-terminal, see `start_on_pty`)."""
        semihosting = "enable=on,target=native"
        cmd = [self.qemu, "-M", self.info.qemu, "-nographic", "-monitor", "none"]
        cmd += ["-serial", "null"] * self.info.serial   # the UARTs before the console's
        cmd += ["-serial", chardev or f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on"]
        if self.icount_shift is not None:
            cmd += ["-icount", f"shift={self.icount_shift},align=off,sleep=off"]
        kernel = self.firmware
        if self.boot is not None:
            kernel = self.boot[0]
            path = self.prepare_store().resolve()
            store = _qemu_quote(str(path))
            if self.info.rom_store or self.info.soc_store:   # the store finds the file on
                if len(os.fsencode(path)) >= SEMIHOST_PATH_CAP:   # its command line
                    raise QemuError(f"{self._tag()}: store path {path} is longer than the "
                                    f"{SEMIHOST_PATH_CAP - 1} bytes the firmware reads "
                                    f"(drivers/semihost.h): choose a shorter one")
                semihosting += f",arg={store}"
            if self.info.soc_store:   # start halted: start() writes the file into the flash
                cmd += ["-gdb", f"tcp:127.0.0.1:{self._gdb_port},server=on,wait=off", "-S"]
            elif self.info.rom_store:
                cmd += ["-device", f"loader,file={store},addr={self.info.ram_base:#x},"
                                   "force-raw=on"]
            else:
                cmd += ["-object", f"memory-backend-file,id=store,size={self.info.ram_size},"
                                   f"mem-path={store},share=on",
                        "-machine", "memory-backend=store"]
        return cmd + ["-semihosting-config", semihosting] + self.extra_args + \
            ["-kernel", str(kernel)]

    def prepare_store(self) -> Path:
        """The store file, created (temporary unless `store` was given) and factory-programmed
        when missing, and locked until close(): two boards on one flash would corrupt it.
        QemuError when an existing one has the wrong size or is in use."""
        if self.store is None:
            fd, name = tempfile.mkstemp(prefix=f"edgebnn-{self.board}-", suffix=".store")
            os.close(fd)
            self.store, self._temp_store = Path(name), True
            os.unlink(name)
        if not self.store.exists() or self.store.stat().st_size == 0:
            provision_store(self.info, self.store, self.boot[1].read_bytes())
        elif self.store.stat().st_size != self.info.ram_size:
            raise QemuError(f"{self._tag()}: store file {self.store} is "
                            f"{self.store.stat().st_size} bytes, expected {self.info.ram_size} "
                            f"(QEMU's machine RAM on {self.board})")
        if self._store_lock is None:
            lock = open(self.store, "rb")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                raise QemuError(f"{self._tag()}: store file {self.store} is in use by another "
                                f"board") from None
            self._store_lock = lock
        return self.store

    def start(self) -> "QemuBoard":
        if not self.firmware.is_file():
            raise QemuError(f"{self._tag()}: firmware {self.firmware} does not exist")
        deadline = time.monotonic() + self.timeout
        # The free port can be taken between probing and QEMU binding it: retry a few times.
        for _attempt in range(3):
            self._gdb_port = _free_port() if self.info.soc_store else None
            self._launch(_free_port())
            try:
                self._connect(deadline)
                if self._gdb_port is not None and self.boot is not None:
                    self._load_soc_store(deadline)
                return self
            except _PortInUse:
                self._stop()
        raise QemuError(f"{self._tag()}: could not find a free TCP port for the serial link")

    def _launch(self, port: int) -> None:
        self.port = port
        self.url = f"socket://127.0.0.1:{port}"
        self._stderr = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(self.command(port), stdin=subprocess.DEVNULL,
                                         stdout=self._stderr, stderr=subprocess.STDOUT)
        except OSError as e:
            raise QemuError(f"{self._tag()}: cannot start {self.qemu}: {e}") from None

    def _connect(self, deadline: float) -> None:
        """Connect to QEMU's serial socket, retrying until it listens (it does so at start-up,
        before loading the kernel) or the deadline passes."""
        last = None
        while True:
            if self.proc.poll() is not None:
                out = self.output()
                if "Address already in use" in out:
                    raise _PortInUse()
                raise QemuError(f"{self._tag()}: {exit_text(self.proc.returncode)} before its "
                                f"serial port accepted a connection:\n{out}")
            try:
                self.serial = serial.serial_for_url(self.url, timeout=self.timeout)
                return
            except serial.SerialException as e:
                last = e
            if time.monotonic() >= deadline:
                raise QemuError(f"{self._tag()}: serial port {self.url} not listening within "
                                f"{self.timeout} s ({last})\n{self.output()}")
            time.sleep(0.02)

    # --- the store of a board whose flash QEMU keeps in the SoC (qemu_store := soc) --------
    _gdb: Optional[GdbStub] = None
    _gdb_port: Optional[int] = None

    def _load_soc_store(self, deadline: float) -> None:
        """The store file into the SoC's flash at the store base, then the CPU runs. Once: a
        `-device loader` image would be copied in again at every system reset, undoing what
        the firmware programmed since; the firmware keeps the file up to date itself
        (boards/nrf_nvmc_store.c)."""
        try:
            self._gdb = GdbStub(self._gdb_port, timeout=max(deadline - time.monotonic(), 1.0))
            self._gdb.write(self.info.ram_base, self.store.read_bytes())
            self._gdb.resume()
        except GdbError as e:
            if "Address already in use" in self.output():
                raise _PortInUse() from None
            raise QemuError(f"{self._tag()}: loading the store {self.store} into the flash: "
                            f"{e}\n{self.output()}") from None

    def close(self) -> None:
        if self._gdb is not None:
            self._gdb.close()
            self._gdb = None
        if self.serial is not None:
            try:
                self.serial.close()
            except Exception:
                pass
            self.serial = None
        self._stop()
        if self._store_lock is not None:
            self._store_lock.close()
            self._store_lock = None
        if self._temp_store and self.store is not None:
            self.store.unlink(missing_ok=True)
            self.store, self._temp_store = None, False

    def _stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=2)
        self._last_proc = proc

    def __enter__(self) -> "QemuBoard":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # --- helpers -------------------------------------------------------------------------
    def _tag(self) -> str:
        return f"qemu:{self.board}"

    def output(self) -> str:
        """QEMU's own stdout+stderr so far (not the guest UART)."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace").strip()

    def _died(self, what: str, got: bytes) -> QemuError:
        proc = self.proc or getattr(self, "_last_proc", None)
        rc = proc.poll() if proc is not None else None
        if rc is None and proc is not None and self._link_closed:
            try:  # the link closes as QEMU exits: give it a moment to report its status
                rc = proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                pass
        msg = f"{self._tag()}: {what}"
        if got:
            msg += f"; received {got[-200:]!r}"
        if rc is not None:
            msg += f"; {exit_text(rc)}"
        out = self.output()
        if out:
            msg += f"\n{out}"
        return QemuError(msg)

    def read_until(self, terminator: bytes = b"\n", timeout: Optional[float] = None) -> bytes:
        """Bytes up to and including `terminator`; QemuError on timeout or if QEMU exits."""
        return self._read(lambda buf: buf.find(terminator) >= 0 and
                          buf.find(terminator) + len(terminator),
                          f"no {terminator!r}", timeout)

    def read_exact(self, n: int, timeout: Optional[float] = None) -> bytes:
        """Exactly n bytes; QemuError on timeout or if QEMU exits."""
        return self._read(lambda buf: len(buf) >= n and n, f"fewer than {n} bytes", timeout)

    def _read(self, complete, what: str, timeout: Optional[float]) -> bytes:
        if self.serial is None:
            raise QemuError(f"{self._tag()}: not started")
        saved = self.serial.timeout
        try:
            return self._read_loop(complete, what, self.timeout if timeout is None else timeout)
        finally:
            if self.serial is not None and self.serial.is_open:
                self.serial.timeout = saved

    def _read_loop(self, complete, what: str, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        buf = bytearray(self._pending)
        self._pending = b""
        while True:
            end = complete(buf)
            if end:
                self._pending = bytes(buf[end:])
                return bytes(buf[:end])
            left = deadline - time.monotonic()
            if left <= 0:
                self._pending = bytes(buf)
                raise self._died(f"{what} within {timeout} s", bytes(buf))
            self.serial.timeout = min(left, 0.05)
            try:
                chunk = self.serial.read(max(1, self.serial.in_waiting))
            except serial.SerialException:
                self._link_closed = True
                raise self._died(f"{what}: serial link closed", bytes(buf)) from None
            buf += chunk
            if not chunk and self.proc is not None and self.proc.poll() is not None:
                # QEMU is gone; drain whatever is still buffered, then give up.
                self.serial.timeout = 0
                try:
                    buf += self.serial.read(65536)
                except serial.SerialException:
                    pass
                if not complete(buf):
                    raise self._died(f"{what}: QEMU exited", bytes(buf))

    _pending = b""        # bytes read past the end of the last read_until/read_exact
    _link_closed = False  # the serial socket reported a disconnect

    def read_banner(self, timeout: Optional[float] = None) -> Banner:
        """Wait for the firmware's `EBNN-FW <version> board=<board> clock=<hz>` line, or the
        bootloader's when it stays in update mode (`Banner.bootloader`)."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        seen = b""
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.read_until(b"\n", timeout=max(left, 0.0))
            except QemuError:
                raise self._died(f"no banner within {timeout} s", seen + self._pending) from None
            seen += line
            m = BANNER_RE.search(line) or BOOT_BANNER_RE.search(line)
            if m:
                banner = Banner(m["version"].decode(), m["board"].decode(), int(m["clock"]),
                                m.re is BOOT_BANNER_RE)
                if banner.board != self.board:
                    raise QemuError(f"{self._tag()}: banner names board {banner.board!r}")
                return banner

    def wait_exit(self, timeout: Optional[float] = None) -> int:
        """QEMU's exit status (the firmware's semihosting exit status)."""
        timeout = self.timeout if timeout is None else timeout
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise self._died(f"QEMU did not exit within {timeout} s", b"") from None


class _PortInUse(Exception):
    pass


#: QEMU's line for a `-serial pty` chardev (on its stdout/stderr at start-up).
PTY_RE = re.compile(rb"char device redirected to (?P<path>/dev/\S+)")


def start_on_pty(board: QemuBoard, timeout: float = 10.0) -> Tuple[subprocess.Popen, str]:
    """Starts `board` with its console UART on a new pseudo-terminal (QEMU's `-serial pty`) and
    returns the process and the pty's path: a host opens it by path through pyserial exactly as
    a real board's /dev/ttyACM0 (`--port /dev/pts/N`). The guest runs at once (nothing holds it
    as TCP's wait=on does), and QEMU drops what the guest sends while no one has the pty open,
    so a client starts with HELLO, as on a board that booted before it was plugged in.
    QemuError naming the board when QEMU exits or prints no pty within `timeout` s."""
    proc = subprocess.Popen(board.command(None, chardev="pty"), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    seen, deadline = b"", time.monotonic() + timeout
    while (m := PTY_RE.search(seen)) is None:
        left = deadline - time.monotonic()
        ready = select.select([proc.stdout], [], [], max(0.0, left))[0] if left > 0 else []
        chunk = os.read(proc.stdout.fileno(), 4096) if ready else b""
        if not chunk:
            proc.kill()
            proc.wait()
            raise QemuError(f"{board._tag()}: QEMU gave no pty within {timeout} s "
                            f"(status {proc.returncode}): {seen[-300:]!r}")
        seen += chunk
    return proc, m["path"].decode()
