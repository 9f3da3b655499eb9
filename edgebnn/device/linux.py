"""Run the edgebnn ARM Linux runtime (firmware/linux) on a pseudo-terminal, as a Raspberry
Pi-class board would serve on its serial line:

    with LinuxRuntime("aarch64", Path("firmware/build/linux-aarch64/edgebnn-runtime")) as rt:
        banner = rt.read_banner()
        rt.link.write(b"...")          # the pty master, pyserial-like

The runtime is started under qemu-user (`qemu-aarch64 -cpu cortex-a72`, `qemu-arm -cpu
cortex-a7`: the cores of a Raspberry Pi 4 and 2, so the build is proven on real Pi CPUs) or,
for `native`, directly. It opens the pty's slave by path (`--tty /dev/pts/N`, exactly as on a
Pi with `--tty /dev/ttyGS0`); we keep the master. After the banner we close our copy of the
slave, so when the runtime dies the master reports it at once (EIO) instead of going quiet.
Every wait is bounded; failures raise LinuxRuntimeError naming the target, with the runtime's
exit status and stderr when it has died.
"""
from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import subprocess
import tempfile
import termios
import time
import tty
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import serial

from edgebnn.errors import EdgebnnError, UsageError
from edgebnn.device.qemu import FIRMWARE_DIR, Banner, BANNER_RE

RUNTIME_DIR = FIRMWARE_DIR / "linux"


@dataclass(frozen=True)
class Arch:
    """One build of the runtime (firmware/linux/Makefile ARCH=name)."""
    name: str
    compiler: str               # the cross compiler the Makefile uses
    qemu: Optional[str]         # qemu-user emulator; None: runs on this machine
    cpu: Optional[str]          # qemu -cpu: a Raspberry Pi core
    board: str                  # the board name the runtime reports


ARCHES = {
    "aarch64": Arch("aarch64", "aarch64-linux-gnu-gcc", "qemu-aarch64", "cortex-a72",
                    "linux-aarch64"),
    "armv7": Arch("armv7", "arm-linux-gnueabihf-gcc", "qemu-arm", "cortex-a7", "linux-armv7"),
    "native": Arch("native", "cc", None, None, f"linux-{os.uname().machine}"),
}


class LinuxRuntimeError(EdgebnnError, RuntimeError):
    """The runtime did not start, did not answer in time, or died."""


def runtime_path(arch: str, build_dir: Path) -> Path:
    """Where firmware/linux/Makefile puts the runtime for `arch` under build root `build_dir`."""
    return Path(build_dir) / f"linux-{arch}" / "edgebnn-runtime"


class PtyLink:
    """The pyserial subset the client uses (read, write, flush, timeout, in_waiting, close) on
    a pty master file descriptor. A closed far end raises serial.SerialException, as pyserial
    does for a vanished device."""

    def __init__(self, fd: int, timeout: float, write_timeout: float = 10.0) -> None:
        self.fd = fd
        self.timeout = timeout
        self.write_timeout = write_timeout
        os.set_blocking(fd, False)

    @property
    def is_open(self) -> bool:
        return self.fd >= 0

    @property
    def in_waiting(self) -> int:
        buf = bytearray(4)
        fcntl.ioctl(self.fd, termios.FIONREAD, buf)
        return int.from_bytes(buf, "little")

    def read(self, size: int = 1) -> bytes:
        """Up to `size` bytes, waiting at most `timeout` seconds for the first."""
        ready, _, _ = select.select([self.fd], [], [], self.timeout)
        if not ready:
            return b""
        try:
            return os.read(self.fd, size)
        except BlockingIOError:
            return b""
        except OSError as e:
            if e.errno == errno.EIO:   # no process has the slave open any more
                raise serial.SerialException("pseudo-terminal closed by the runtime") from None
            raise

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        deadline = time.monotonic() + self.write_timeout
        while view:
            _, ready, _ = select.select([], [self.fd], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise serial.SerialTimeoutException(
                    f"write of {len(data)} bytes not taken within {self.write_timeout} s")
            try:
                view = view[os.write(self.fd, view):]
            except BlockingIOError:
                continue
            except OSError as e:
                raise serial.SerialException(f"pseudo-terminal write failed ({e})") from None
        return len(data)

    def flush(self) -> None:
        """Writes are unbuffered here: nothing to do."""

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class LinuxRuntime:
    """The runtime on a fresh pseudo-terminal, its line at `.link` (the master).

    timeout: bound in seconds for the banner, and the link's read timeout.
    extra_args: appended to the runtime's command line.
    """

    def __init__(self, arch: str, exe: Path, *, timeout: float = 5.0,
                 extra_args: Sequence[str] = ()) -> None:
        if arch not in ARCHES:
            raise UsageError(f"unknown Linux runtime architecture {arch!r}; known: "
                             f"{', '.join(ARCHES)}")
        self.arch = ARCHES[arch]
        self.exe = Path(exe)
        self.timeout = float(timeout)
        self.extra_args = list(extra_args)
        self.link: Optional[PtyLink] = None
        self.proc: Optional[subprocess.Popen] = None
        self.tty: Optional[str] = None
        self.pending = b""       # bytes read after the banner
        self._slave = -1
        self._log = None

    def command(self, tty_path: Optional[str]) -> list:
        """The command line that serves on `tty_path` (None: on its stdin/stdout)."""
        emulator = [self.arch.qemu, "-cpu", self.arch.cpu] if self.arch.qemu else []
        line = ["--tty", tty_path] if tty_path else []
        return emulator + [str(self.exe)] + line + self.extra_args

    def _tag(self) -> str:
        return f"linux:{self.arch.name}"

    def start(self) -> "LinuxRuntime":
        if not self.exe.is_file():
            raise LinuxRuntimeError(f"{self._tag()}: runtime {self.exe} does not exist")
        master, self._slave = os.openpty()
        tty.setraw(self._slave)     # raw before the runtime runs: nothing is ever echoed
        self.tty = os.ttyname(self._slave)
        self.link = PtyLink(master, self.timeout)
        self._log = tempfile.TemporaryFile()
        try:
            # Its own session: close() ends the supervisor and its boot together.
            self.proc = subprocess.Popen(self.command(self.tty), stdin=subprocess.DEVNULL,
                                         stdout=self._log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        except OSError as e:
            self.close()
            raise LinuxRuntimeError(f"{self._tag()}: cannot start {self.command(self.tty)[0]}: "
                                    f"{e}") from None
        return self

    def output(self) -> str:
        """The runtime's (and qemu-user's) stdout+stderr so far, not the line."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace").strip()

    def exit_note(self, wait: float = 0.5) -> Optional[str]:
        """'the runtime exited with status N: <its output>' once it has exited, else None."""
        if self.proc is None:
            return None
        try:
            rc = self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return None
        out = self.output()
        return f"the runtime exited with status {rc}" + (f": {out[-300:]}" if out else "")

    def read_banner(self, timeout: Optional[float] = None) -> Banner:
        """Waits for `EBNN-FW <version> board=<board> clock=<hz>` (the runtime has opened the
        line and set it up), then lets go of our copy of the slave."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        seen = b""
        while True:
            m = BANNER_RE.search(seen)
            if m and seen.find(b"\n", m.end()) >= 0:
                break
            if self.proc.poll() is not None or time.monotonic() >= deadline:
                what = ("exited before its banner" if self.proc.poll() is not None
                        else f"sent no banner within {timeout} s")
                raise LinuxRuntimeError(f"{self._tag()}: the runtime {what}; received "
                                        f"{seen[-200:]!r}; {self.exit_note(0.1) or 'running'}")
            self.link.timeout = min(0.05, max(0.0, deadline - time.monotonic()))
            seen += self.link.read(4096)
        end = seen.find(b"\n", m.end()) + 1
        self.pending = seen[end:]
        banner = Banner(m["version"].decode(), m["board"].decode(), int(m["clock"]))
        if banner.board != self.arch.board:
            raise LinuxRuntimeError(f"{self._tag()}: banner names board {banner.board!r}, "
                                    f"expected {self.arch.board!r}")
        self.link.timeout = self.timeout
        self._close_slave()
        return banner

    def _close_slave(self) -> None:
        if self._slave >= 0:
            os.close(self._slave)
            self._slave = -1

    def wait_exit(self, timeout: Optional[float] = None) -> int:
        """The runtime's exit status (TEST_EXIT's status; 128 + signal after a fault)."""
        timeout = self.timeout if timeout is None else timeout
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LinuxRuntimeError(f"{self._tag()}: the runtime did not exit within "
                                    f"{timeout} s") from None

    def close(self) -> None:
        """Ends the runtime (its whole session) and closes the pty."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=2)
        if self.link is not None:
            self.link.close()
        self._close_slave()

    def __enter__(self) -> "LinuxRuntime":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def serve_on_new_pty(runtime: LinuxRuntime) -> tuple[subprocess.Popen, str, int]:
    """For `edgebnn board run linux:ARCH`: starts the runtime with a new pty's master as its
    stdin/stdout, so any number of later clients can open the slave by path, one after another
    (`--port /dev/pts/N`), like a board's serial port. Returns the process, the slave's path,
    and our fd of the slave: holding it open means a client closing the line is no hang-up for
    the runtime (the runtime would exit on one); close it after ending the process."""
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        proc = subprocess.Popen(runtime.command(None), stdin=master, stdout=master,
                                start_new_session=True)
    except OSError as e:
        os.close(slave)
        raise LinuxRuntimeError(f"{runtime._tag()}: cannot start {runtime.command(None)[0]}: "
                                f"{e}") from None
    finally:
        os.close(master)
    return proc, os.ttyname(slave), slave
