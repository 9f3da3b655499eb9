"""Measures what signature checks cost on the emulated boards (docs/boot.md "Signed images",
"Cost"): the instructions of one sig_verify call (exact, to within a basic block: QEMU's TCG
plugin tools/qemu_plugin/insn_count.c with marks at its entry and at its return address) in
the bootloader's FLASH_COMMIT of the build's own signed image and in the application's
LOAD_COMMIT of a signed model, and the flash and RAM a key-provisioned build adds to the
unsigned one (arm-none-eabi-size of both).

    .venv/bin/python tools/sign_cost.py [BOARD ...]     (default: every board in boards.mk)

Needs make, arm-none-eabi-gcc, qemu-system-arm and the plugin (make -C tools/qemu_plugin)."""
from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgebnn import format as fmt, signing  # noqa: E402
from edgebnn.device.client import Device  # noqa: E402
from edgebnn.device.flash import enter_bootloader, upload  # noqa: E402
from edgebnn.device.ports import ensure_firmware  # noqa: E402
from edgebnn.device.qemu import QemuBoard, load_boards  # noqa: E402
from edgebnn.export import export_model  # noqa: E402
from tests.conftest import random_model  # noqa: E402

PLUGIN = ROOT / "tools" / "qemu_plugin" / "build" / "libinsn_count.so"
SHAPE = (8, 8, 1)


def marks(elf: Path) -> tuple[int, int]:
    """(entry of sig_verify, the return address of its one call) in an ELF."""
    dump = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True,
                          text=True, check=True).stdout
    entry = re.search(r"^([0-9a-f]+) <sig_verify>:", dump, re.M)
    call = re.search(r"^\s*([0-9a-f]+):\s+(?:[0-9a-f]{4} ){2}\s*bl\s+[0-9a-f]+ <sig_verify>",
                     dump, re.M)
    return int(entry[1], 16), int(call[1], 16) + 4


def sizes(elf: Path) -> tuple[int, int]:
    """(flash, RAM) bytes of an ELF: text + data, data + bss (the stack and the arena are
    in bss)."""
    out = subprocess.run(["arm-none-eabi-size", str(elf)], capture_output=True, text=True,
                         check=True).stdout.splitlines()[1].split()
    text, data, bss = (int(v) for v in out[:3])
    return text + data, data + bss


def measure(board: str, signed: Path, model: bytes, log: Path) -> list[int]:
    """Instructions of each sig_verify call: FLASH_COMMIT, then LOAD_COMMIT."""
    boot_marks = marks(signed / board / "edgebnn-boot.elf")
    app_marks = marks(signed / board / "edgebnn-fw.elf")
    plugin = f"{PLUGIN},mark={boot_marks[0]:#x},mark={boot_marks[1]:#x}," \
             f"mark={app_marks[0]:#x},mark={app_marks[1]:#x}"
    qb = QemuBoard(board, signed / board / "edgebnn-fw.elf", timeout=10.0,
                   extra_args=["-plugin", plugin, "-d", "plugin", "-D", str(log)])
    try:
        qb.start()
        qb.read_banner()
        dev = Device(qb.serial, board, timeout=10.0, pending=qb._pending)
        dev.hello()
        enter_bootloader(dev)
        upload(dev, (signed / board / "edgebnn-fw.img").read_bytes())
        dev.request(0x44, retries=0)   # BOOT: the new image starts, then the model
        qb.read_banner()
        dev = Device(qb.serial, board, timeout=10.0, pending=qb._pending)
        dev.hello()
        dev.load(model)
    finally:
        qb.close()
    totals = [int(v) for v in re.findall(r"insn_count mark (\d+)", log.read_text())]
    return [b - a for a, b in zip(totals[::2], totals[1::2])]


def fixed_key(path: Path) -> Path:
    """A key from a fixed seed: the verifier's double scalar multiplication takes a time that
    depends on the signature (it is variable-time, safely: nothing in it is secret), so only
    the same key and data give the same count on every run."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption,
                                                              PrivateFormat)

    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha512(b"sign_cost").digest()[:32])
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return path


def main(boards: list[str]) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="sign-cost-"))
    key = fixed_key(tmp / "a.key")
    signed, plain = tmp / "signed", tmp / "plain"
    signed.mkdir()
    (signed / "config.mk").write_text(f"SIGN_KEY := {key}\n")
    model = signing.sign(fmt.to_bytes(export_model(random_model("mlp", SHAPE, 10, seed=1,
                                                                 layers=[64]), SHAPE, 10)),
                         signing.read_private_key(key), 1)
    print("| board | image verify (bytes hashed) | model verify (bytes hashed) | "
          "boot flash + | app flash + | boot RAM + | app RAM + |")
    print("|---|---|---|---|---|---|---|")
    for board in boards:
        ensure_firmware(board, signed)
        ensure_firmware(board, plain)
        image = (signed / board / "edgebnn-fw.img").read_bytes()
        counts = measure(board, signed, model, tmp / f"{board}.log")
        (bf, br), (af, ar) = (sizes(signed / board / f"edgebnn-{p}.elf") for p in ("boot", "fw"))
        (pbf, pbr), (paf, par) = (sizes(plain / board / f"edgebnn-{p}.elf") for p in ("boot", "fw"))
        print(f"| `{board}` | {counts[0]:,} ({len(image) - signing.TRAILER_SIZE:,}) | "
              f"{counts[1]:,} ({len(model) - signing.TRAILER_SIZE:,}) | {bf - pbf:,} B | "
              f"{af - paf:,} B | {br - pbr:,} B | {ar - par:,} B |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or list(load_boards())))
