"""`edgebnn device list`: the serial ports attached to this machine, each with its USB VID:PID and
the name of the probe or board it is when that pair is a known one, next to the boards edgebnn
can emulate. The ports come from pyserial's `serial.tools.list_ports.comports()` (the same
library every `--port` goes through), as its own `ListPortInfo` objects, so the table below
is all that is edgebnn's."""
from __future__ import annotations

from typing import Iterable, List, Optional

from serial.tools.list_ports_common import ListPortInfo

#: USB (vendor, product) IDs of the debug probes and boards a user is likely to plug in, and what
#: they are. The serial port they show is the board's console: a Nucleo's ST-LINK virtual COM
#: port (USART2), a micro:bit's or nRF52840 DK's DAPLink/J-Link CDC port, the Debug Probe's UART
#: (wired to a Pico's GP0/GP1). The BOOTSEL IDs are USB drives, listed for completeness.
KNOWN_PROBES = {
    (0x0483, 0x3748): "ST-LINK/V2",
    (0x0483, 0x374B): "ST-LINK/V2-1 (Nucleo-64: USART2 virtual COM port)",
    (0x0483, 0x374E): "STLINK-V3",
    (0x0483, 0x374F): "STLINK-V3",
    (0x0483, 0x3752): "ST-LINK/V2-1",
    (0x0483, 0x3753): "STLINK-V3",
    (0x0D28, 0x0204): "Arm DAPLink (micro:bit, mbed boards)",
    (0x1366, 0x1015): "SEGGER J-Link OB (nRF52840 DK)",
    (0x2E8A, 0x0003): "Raspberry Pi RP2040 in BOOTSEL (USB drive)",
    (0x2E8A, 0x000A): "Raspberry Pi Pico (USB serial)",
    (0x2E8A, 0x000C): "Raspberry Pi Debug Probe (CMSIS-DAP + UART)",
    (0x2E8A, 0x000F): "Raspberry Pi RP2350 in BOOTSEL (USB drive)",
}


def probe_name(vid: Optional[int], pid: Optional[int]) -> Optional[str]:
    """What a USB VID:PID is, or None when it is not one of KNOWN_PROBES (or not USB)."""
    return KNOWN_PROBES.get((vid, pid)) if vid is not None and pid is not None else None


def describe_ports(ports: Iterable[ListPortInfo]) -> List[dict]:
    """One dict per port, sorted by device path: `port` (what `--port` takes), `usb`
    ("VID:PID" in hex, None for a non-USB port), `probe` (KNOWN_PROBES' name or None) and
    pyserial's `description`."""
    rows = []
    for p in sorted(ports, key=lambda p: p.device):
        usb = f"{p.vid:04x}:{p.pid:04x}" if p.vid is not None and p.pid is not None else None
        rows.append({"port": p.device, "usb": usb, "probe": probe_name(p.vid, p.pid),
                     "description": p.description})
    return rows


def attached_ports() -> List[ListPortInfo]:
    """pyserial's view of this machine's serial ports."""
    from serial.tools.list_ports import comports

    return list(comports())


def emulated_ports() -> List[dict]:
    """The `--port` names of everything edgebnn runs in emulation, and the boards it only
    builds (their first install: `edgebnn firmware image`)."""
    from edgebnn.device.linux import ARCHES
    from edgebnn.device.qemu import load_boards

    rows = []
    for name, info in load_boards().items():
        if info.qemu == "none":
            rows.append({"port": None, "board": name, "cpu": info.cpu,
                         "how": "built, not run (QEMU does not model it): first install with "
                                f"edgebnn firmware image --board {name}"})
        else:
            rows.append({"port": f"qemu:{name}", "board": name, "cpu": info.cpu,
                         "how": f"emulated: qemu-system-arm -M {info.qemu}"})
    for arch, a in ARCHES.items():
        rows.append({"port": f"linux:{arch}", "board": a.board, "cpu": a.cpu or "this machine",
                     "how": "ARM Linux runtime " + (f"under {a.qemu}" if a.qemu else "native")})
    return rows
