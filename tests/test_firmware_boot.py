"""Firmware bring-up: build for every board, check the memory budgets, boot under QEMU through
QemuBoard, shake hands over the serial link (the protocol server, docs/protocol.md), reset,
show the fault report, end the run with a chosen status.

Needs arm-none-eabi-gcc, make and qemu-system-arm (skipped otherwise). Every subprocess and
every read is bounded; the whole file runs in a few seconds.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from edgebnn.device.client import Device  # noqa: E402
from edgebnn.device.framing import Cmd, Frame, encode  # noqa: E402
from edgebnn.device.ports import open_device  # noqa: E402
from edgebnn.device.qemu import QemuBoard, QemuError, emulated_boards, load_boards  # noqa: E402

FIRMWARE = ROOT / "firmware"
MISSING = [t for t in ("make", "arm-none-eabi-gcc", "arm-none-eabi-nm", "qemu-system-arm")
           if shutil.which(t) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {', '.join(MISSING)}")

BOARDS = list(load_boards())
#: The boards QEMU runs; the others (boards.mk `qemu := none`) are built and size-checked only.
EMULATED = list(emulated_boards())
KiB = 1024
BOARDS_DOC = ROOT / "docs" / "boards.md"


def board_doc_rows() -> dict[str, dict[str, str]]:
    """docs/boards.md's table: {board: {column: cell}}."""
    lines = [line for line in BOARDS_DOC.read_text().splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == len(header), f"docs/boards.md: {len(cells)} cells in {line!r}"
        row = dict(zip(header, cells))
        rows[row["board"].strip("`")] = row
    return rows


def _kib(text: str) -> int:
    return int(text.replace(",", "").split()[0]) * KiB


# The memory the linker scripts budget, as docs/boards.md states it: (flash, RAM).
BUDGETS = {board: tuple(_kib(part) for part in row["flash / RAM"].split(" / "))
           for board, row in board_doc_rows().items()}
USAGE_FAULT_STATUS = 128 + 6     # startup/fault.c: 128 + exception number
SIZE_RE = re.compile(r"\[size\] (?P<board>\S+) (?P<kind>flash|RAM):\s+(?P<used>\d+) / "
                     r"(?P<budget>\d+) B \((?P<pct>[\d.]+)%\)")
MAP_RE = re.compile(r"\[size\] (?P<board>\S+) flash map: boot (?P<boot>\d+) \+ 2 x app slot "
                    r"(?P<app>\d+) \+ 2 x model slot (?P<model>\d+) = (?P<used>\d+) / "
                    r"(?P<budget>\d+) B")


def make(*args, timeout=120):
    return subprocess.run(["make", "-C", str(FIRMWARE), "-j2", *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def builds(firmware_build):
    """{board: (elf, make stdout)}, each built from scratch into a temporary directory."""
    out, stdout = firmware_build
    return {board: (out / board / "edgebnn-fw.elf", stdout[board]) for board in BOARDS}


def test_board_table_covers_budgets():
    assert set(BOARDS) <= set(BUDGETS), "docs/boards.md has no row for some board of boards.mk"


def _bytes(n: int) -> str:
    return f"{n:,} B"


@pytest.mark.parametrize("board", BOARDS)
def test_board_doc_matches_the_build(builds, board):
    """docs/boards.md's row against boards.mk and the size report: CPU, clock, flash/RAM and
    the largest model exactly, the sizes within 5 % (the C core and firmware move them a
    little with every change); a drifted row is printed as the build has it."""
    _, stdout = builds[board]
    info, row = load_boards()[board], board_doc_rows()[board]
    sizes = {(m["board"], m["kind"]): int(m["used"]) for m in SIZE_RE.finditer(stdout)}
    built = {"firmware": sizes[(board, "flash")], "RAM used": sizes[(board, "RAM")],
             "bootloader": int(re.search(rf"\[size\] {board} boot flash:\s+(\d+)", stdout)[1])}
    expected = dict(row, **{k: _bytes(v) for k, v in built.items()})
    expected["largest model"] = _bytes(info.model_slot)
    assert info.cpu in row["CPU"].lower().replace("+", "plus"), f"CPU: boards.mk says {info.cpu}"
    assert row["clock"] == f"{info.clock / 1e6:g} MHz"
    assert row["largest model"] == expected["largest model"], expected
    assert ("emulated in QEMU" in row["verified"]) == (info.qemu != "none")
    for column, value in built.items():
        documented = int(row[column].replace(",", "").split()[0])
        assert abs(documented - value) <= 0.05 * value, \
            f"docs/boards.md {board} {column}: {row[column]}, the build has {value}; row as built:" \
            f"\n| {' | '.join(expected.values())} |"


@pytest.mark.parametrize("board", BOARDS)
def test_size_report_within_budget(builds, board):
    """The application's report is against its app slot, the flash map against the part's
    flash (docs/boot.md), RAM against the part's SRAM."""
    elf, stdout = builds[board]
    report = {m["kind"]: m for m in SIZE_RE.finditer(stdout) if m["board"] == board}
    assert set(report) == {"flash", "RAM"}, f"no size report in:\n{stdout}"
    flash_budget, ram_budget = BUDGETS[board]
    (fmap,) = [m for m in MAP_RE.finditer(stdout) if m["board"] == board]
    assert int(fmap["budget"]) == flash_budget
    assert int(fmap["used"]) == int(fmap["boot"]) + 2 * int(fmap["app"]) + 2 * int(fmap["model"])
    assert int(fmap["used"]) <= flash_budget
    assert int(report["flash"]["budget"]) == int(fmap["app"]) - 512     # slot less the header
    assert int(report["RAM"]["budget"]) == ram_budget
    for kind in ("flash", "RAM"):
        assert 0 < int(report[kind]["used"]) <= int(report[kind]["budget"])
    # The .bin is exactly the flash image: no RAM section leaked into it.
    assert elf.with_suffix(".bin").stat().st_size == int(report["flash"]["used"])


@pytest.mark.parametrize("board", BOARDS)
def test_no_malloc_linked(builds, board):
    app, _ = builds[board]
    forbidden = {"malloc", "free", "calloc", "realloc", "_malloc_r", "_free_r", "_sbrk",
                 "_sbrk_r", "printf", "_printf_r"}
    for elf in (app, app.parent / "edgebnn-boot.elf"):   # the application and the bootloader
        nm = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True,
                            timeout=30, check=True).stdout
        symbols = {line.split()[-1] for line in nm.splitlines() if line.strip()}
        assert not symbols & forbidden, f"{elf}: links {sorted(symbols & forbidden)}"


@pytest.mark.parametrize("board", EMULATED)
def test_boot_handshake_and_exit(builds, board):
    elf, _ = builds[board]
    info = load_boards()[board]
    status = 40 + EMULATED.index(board)
    with QemuBoard(board, elf, timeout=5.0) as qb:
        banner = qb.read_banner()
        assert (banner.board, banner.clock) == (board, info.clock)
        dev = Device(qb.serial, f"qemu:{board}", timeout=2.0)
        assert dev.hello()["firmware"] == banner.version
        assert (dev.info().board, dev.info().clock_hz) == (board, info.clock)
        dev.test_exit(status)
        assert qb.wait_exit() == status


@pytest.mark.parametrize("board", EMULATED)
def test_reset_then_fault_report(builds, board):
    elf, _ = builds[board]
    with QemuBoard(board, elf, timeout=5.0) as qb:
        qb.read_banner()
        dev = Device(qb.serial, f"qemu:{board}", timeout=2.0)
        dev.hello()
        dev.reset()                                     # AIRCR reset: the banner comes again
        qb.serial.write(encode(Frame(Cmd.TEST_FAULT, dev.last_seq + 1)))   # undefined instr.
        line = b""
        while b"EBNN-FAULT" not in line:
            line = qb.read_until(b"\n")
        line = line[line.index(b"EBNN-FAULT"):].strip()
        if load_boards()[board].cpu == "cortex-m0":   # ARMv6-M: every fault is a HardFault
            assert line.startswith(b"EBNN-FAULT HardFault exc=3 pc=0x"), line
            assert qb.wait_exit() == 128 + 3
            return
        assert line.startswith(b"EBNN-FAULT UsageFault exc=6 pc=0x"), line
        assert qb.wait_exit() == USAGE_FAULT_STATUS


def test_bogus_elf_fails_fast_and_clearly(tmp_path):
    bogus = tmp_path / "bogus.elf"
    bogus.write_bytes(b"\x7fELF" + bytes(range(256)) * 4)
    t0 = time.monotonic()
    with pytest.raises(QemuError) as e:
        with QemuBoard("mps2-an386", bogus, timeout=3.0) as qb:
            qb.read_banner()
    assert time.monotonic() - t0 < 3.0 + 30, "no hang past the banner timeout"
    assert "qemu:mps2-an386: no banner within 3.0 s" in str(e.value)


SILENT_S = """
    .syntax unified
    .thumb
    .section .vectors, "a"
    .word 0x20001000
    .word spin
    .text
    .thumb_func
spin: b spin
"""


def test_silent_firmware_times_out(tmp_path):
    """A valid image that never prints: QemuBoard gives up after its timeout, not later."""
    src, elf = tmp_path / "silent.S", tmp_path / "silent.elf"
    src.write_text(SILENT_S)
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-nostdlib",
                    "-Wl,--section-start=.vectors=0", "-Wl,-Ttext=0x100", str(src), "-o",
                    str(elf)], check=True, capture_output=True, timeout=30)
    t0 = time.monotonic()
    with pytest.raises(QemuError, match=r"qemu:mps2-an386: no banner within 1.0 s"):
        with QemuBoard("mps2-an386", elf, timeout=1.0) as qb:
            qb.read_banner()
    assert 1.0 <= time.monotonic() - t0 < 1.0 + 30, "waited its timeout, and no hang"


def test_missing_firmware_and_unknown_board(tmp_path):
    with pytest.raises(QemuError, match="qemu:mps2-an386: firmware .* does not exist"):
        QemuBoard("mps2-an386", tmp_path / "none.elf", timeout=1.0).start()
    with pytest.raises(ValueError, match="unknown board"):
        QemuBoard("mps2-an999", tmp_path / "none.elf", timeout=1.0)
    for board in set(BOARDS) - set(EMULATED):     # refused by name, before QEMU starts
        with pytest.raises(ValueError, match=f"board {board} is built, not run: QEMU does not"):
            QemuBoard(board, tmp_path / "none.elf", timeout=1.0)
        t0 = time.monotonic()                       # --port qemu:BOARD: before any build
        with pytest.raises(ValueError, match=f"edgebnn firmware image --board {board}"):
            with open_device(f"qemu:{board}", build_dir=tmp_path):
                pass
        assert time.monotonic() - t0 < 5 and not any(tmp_path.glob(f"{board}*"))


def test_make_rejects_unknown_board_and_over_budget(tmp_path):
    r = make("BOARD=mps2-an999", f"BUILD={tmp_path}", timeout=30)
    assert r.returncode != 0 and "unknown BOARD=mps2-an999" in r.stderr
    # 2 MiB of heap beside the two 1 MiB model slots cannot fit the AN386's 4 MiB of RAM.
    r = make("BOARD=mps2-an386", f"BUILD={tmp_path}", f"HEAP_SIZE={2048 * KiB}")
    assert r.returncode != 0
    assert "RAM" in r.stderr and ("budget exceeded" in r.stderr or "overflow" in r.stderr), \
        r.stderr
    # Two 1 MiB app slots and the model slots cannot fit the store's 4 MiB.
    r = make("BOARD=mps2-an386", f"BUILD={tmp_path}", f"APP_SLOT_SIZE={1024 * KiB}")
    assert r.returncode != 0
    assert "flash budget exceeded: 2 app slots + 2 model slots" in r.stderr, r.stderr
