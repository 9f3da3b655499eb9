"""QEMU's gdbstub, as much of the GDB remote serial protocol as the host needs to move a
flash image in and out of a board QEMU keeps inside the SoC (the micro:bit's nRF51 flash,
written by the firmware through the modelled NVMC): read and write memory, halt and resume.

QEMU writes memory through the stub as a debugger does, ROM and flash included, once (unlike
`-device loader`, whose image QEMU copies in again at every system reset and would undo what
the firmware programmed). Every wait is bounded; failures raise `GdbError` with what the stub
said.
"""
from __future__ import annotations

import socket
import time

#: bytes per memory packet: 2 hex digits each, well inside QEMU's 4096-byte PacketSize
CHUNK = 1024


class GdbError(RuntimeError):
    pass


def _checksum(body: bytes) -> bytes:
    return b"%02x" % (sum(body) & 0xFF)


class GdbStub:
    """One connection to QEMU's `-gdb tcp:127.0.0.1:PORT` (the CPU halted while connected and
    stopped; `resume()` lets it run)."""

    def __init__(self, port: int, *, timeout: float = 5.0):
        self.timeout = timeout
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
                break
            except OSError as e:
                if time.monotonic() >= deadline:
                    raise GdbError(f"gdbstub on port {port} not listening within {timeout} s "
                                   f"({e})") from None
                time.sleep(0.02)
        self._buf = b""

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    # --- packets ---------------------------------------------------------------------
    def _recv(self) -> bytes:
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise GdbError(f"gdbstub: no reply within {self.timeout} s") from None
        except OSError as e:
            raise GdbError(f"gdbstub: {e}") from None
        if not chunk:
            raise GdbError("gdbstub: connection closed (QEMU exited)")
        return chunk

    def _packet(self) -> bytes:
        """The next packet's body (acknowledged), skipping acks and notifications."""
        while True:
            start = self._buf.find(b"$")
            end = self._buf.find(b"#", start + 1) if start >= 0 else -1
            if start >= 0 and end >= 0 and len(self._buf) >= end + 3:
                body, self._buf = self._buf[start + 1:end], self._buf[end + 3:]
                self.sock.sendall(b"+")
                return body
            self._buf += self._recv()

    def request(self, body: bytes) -> bytes:
        self.sock.sendall(b"$" + body + b"#" + _checksum(body))
        reply = self._packet()
        if reply.startswith(b"E") and len(reply) == 3:
            raise GdbError(f"gdbstub refused {body[:24]!r}: {reply.decode()}")
        return reply

    # --- what the host uses ----------------------------------------------------------
    def halt(self) -> None:
        """Stops the CPU (a break, answered by a stop reply)."""
        self.sock.sendall(b"\x03")
        while not self._packet()[:1] in (b"S", b"T"):
            pass

    def resume(self) -> None:
        """Lets the CPU run; no reply until it stops again."""
        self.sock.sendall(b"$c#" + _checksum(b"c"))

    def write(self, addr: int, data: bytes) -> None:
        for off in range(0, len(data), CHUNK):
            part = data[off:off + CHUNK]
            reply = self.request(b"M%x,%x:" % (addr + off, len(part)) + part.hex().encode())
            if reply != b"OK":
                raise GdbError(f"gdbstub: writing {len(part)} bytes at {addr + off:#x}: {reply!r}")

    def read(self, addr: int, size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            n = min(CHUNK, size - len(out))
            reply = self.request(b"m%x,%x" % (addr + len(out), n))
            try:
                part = bytes.fromhex(reply.decode())
            except ValueError:
                raise GdbError(f"gdbstub: reading at {addr + len(out):#x}: {reply[:40]!r}") \
                    from None
            if len(part) != n:
                raise GdbError(f"gdbstub: {len(part)} of {n} bytes at {addr + len(out):#x}")
            out += part
        return bytes(out)
