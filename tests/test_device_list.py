"""`edgebnn device list`: ports as pyserial's own ListPortInfo objects (what comports() returns),
injected into the command in place of this machine's; the known probes named by VID:PID, others
shown as pyserial describes them; the emulated boards and the built-only ones beside them."""
from __future__ import annotations

import argparse
import json

from serial.tools.list_ports_common import ListPortInfo

from edgebnn.cli import main
from edgebnn.device.cli import cmd_device_list
from edgebnn.device.qemu import load_boards


def port(device: str, vid=None, pid=None, description="n/a") -> ListPortInfo:
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.description = vid, pid, description
    return info


PORTS = [port("/dev/ttyACM1", 0x2E8A, 0x000C, "Debug Probe (CMSIS-DAP)"),
         port("/dev/ttyACM0", 0x0483, 0x374B, "STM32 STLink"),
         port("/dev/ttyACM2", 0x0D28, 0x0204, "DAPLink CMSIS-DAP"),
         port("/dev/ttyUSB0", 0x0403, 0x6001, "FT232R USB UART"),
         port("/dev/ttyS0")]


def test_known_probes_named_next_to_the_emulated_boards(capsys):
    assert cmd_device_list(argparse.Namespace(json=True), ports=PORTS) == 0
    listed = json.loads(capsys.readouterr().out)
    serial = {row["port"]: row for row in listed["serial"]}
    assert [row["port"] for row in listed["serial"]] == sorted(serial)
    assert serial["/dev/ttyACM0"]["usb"] == "0483:374b"
    assert serial["/dev/ttyACM0"]["probe"].startswith("ST-LINK/V2-1")
    assert serial["/dev/ttyACM1"]["probe"] == "Raspberry Pi Debug Probe (CMSIS-DAP + UART)"
    assert serial["/dev/ttyACM2"]["probe"].startswith("Arm DAPLink")
    assert serial["/dev/ttyUSB0"] == {"port": "/dev/ttyUSB0", "usb": "0403:6001",
                                      "probe": None, "description": "FT232R USB UART"}
    assert serial["/dev/ttyS0"]["usb"] is None and serial["/dev/ttyS0"]["probe"] is None
    emulated = {row["board"]: row for row in listed["emulated"]}
    for name, info in load_boards().items():
        if info.qemu == "none":
            assert emulated[name]["port"] is None and "built, not run" in emulated[name]["how"]
        else:
            assert emulated[name]["port"] == f"qemu:{name}"
    assert {"linux-aarch64", "linux-armv7"} <= set(emulated)


def test_text_listing_and_the_real_machine(capsys):
    cmd_device_list(argparse.Namespace(json=False), ports=PORTS[:2])
    out = capsys.readouterr().out
    assert "/dev/ttyACM0" in out and "0483:374b" in out and "ST-LINK/V2-1" in out
    assert "qemu:mps2-an386" in out and "pico" in out and "built, not run" in out
    cmd_device_list(argparse.Namespace(json=False), ports=[])
    assert capsys.readouterr().out.startswith("serial ports: none found")
    assert main(["device", "list", "--json"]) == 0          # this machine's ports, via pyserial
    assert "emulated" in json.loads(capsys.readouterr().out)
