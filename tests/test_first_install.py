"""First-install files (`edgebnn firmware image`, edgebnn.device.firstinstall) for the built-only
boards: each file is read back by a parser of its own here (UF2 by hand, Intel HEX through the
intelhex package, bin by offset) and compared with the load segments that arm-none-eabi-readelf
reports for the bootloader and application ELFs; the RP2040 boot2 CRC and the RP2350 IMAGE_DEF
block are checked where their bootroms look for them. Needs arm-none-eabi-gcc and make (skipped
otherwise); the boards' build is the session's (conftest.py firmware_build)."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from edgebnn.cli import main  # noqa: E402

MISSING = [t for t in ("make", "arm-none-eabi-gcc", "arm-none-eabi-readelf")
           if shutil.which(t) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {', '.join(MISSING)}")

FAMILY = {"pico": 0xE48BFF56, "pico2": 0xE48BFF59}


def _boot2_module():
    spec = importlib.util.spec_from_file_location("rp2040_boot2",
                                                  ROOT / "firmware/scripts/rp2040-boot2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def build(firmware_build) -> Path:
    """The session's build of every board (conftest.py), shared with test_firmware_boot.py."""
    return firmware_build[0]


def cli(*args: str, build: Path) -> subprocess.CompletedProcess:
    """`edgebnn ARGS --build BUILD` in this process (its exit status and both outputs)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([*args, "--build", str(build)])
    return subprocess.CompletedProcess(args, rc, out.getvalue(), err.getvalue())


def readelf_segments(elf: Path, start: int = 0) -> list[tuple[int, bytes]]:
    """LOAD segments with file contents, from readelf -lW (not our ELF reader), clipped to
    addresses from `start` (the application's first segment also maps the ELF headers into the
    512 bytes the image header takes)."""
    text = subprocess.run(["arm-none-eabi-readelf", "-lW", str(elf)], capture_output=True,
                          text=True, check=True, timeout=30).stdout
    data = elf.read_bytes()
    out = []
    for m in re.finditer(r"^\s+LOAD\s+0x([0-9a-f]+) 0x[0-9a-f]+ 0x([0-9a-f]+) 0x([0-9a-f]+)",
                         text, re.M):
        offset, paddr, filesz = (int(g, 16) for g in m.groups())
        skip = max(0, start - paddr)
        if filesz > skip:
            out.append((paddr + skip, data[offset + skip:offset + filesz]))
    assert out, text
    return out


def parse_uf2(blob: bytes, family: int) -> dict[int, bytes]:
    """{address: 256 bytes} from UF2 blocks, every header field checked."""
    assert len(blob) % 512 == 0 and blob
    count = len(blob) // 512
    pages = {}
    for n in range(count):
        block = blob[n * 512:(n + 1) * 512]
        m0, m1, flags, addr, size, number, total, fam = struct.unpack_from("<8I", block)
        assert (m0, m1, struct.unpack_from("<I", block, 508)[0]) == \
            (0x0A324655, 0x9E5D5157, 0x0AB16F30)
        assert flags == 0x2000 and fam == family and size == 256 and addr % 256 == 0
        assert (number, total) == (n, count)
        assert block[32 + 256:508] == bytes(508 - 288)
        pages[addr] = block[32:32 + 256]
    return pages


def image_bytes(fmt: str, blob: bytes, board: str, tmp_path: Path):
    """A byte lookup addr -> value for the file read back in its own format."""
    if fmt == "uf2":
        pages = parse_uf2(blob, FAMILY[board])
        return lambda a: pages[a - a % 256][a % 256]
    if fmt == "hex":
        from intelhex import IntelHex
        path = tmp_path / "read.hex"
        path.write_bytes(blob)
        cells = IntelHex(str(path)).todict()
        return cells.get
    start = 0x10000000 if board.startswith("pico") else 0x08000000
    return lambda a: blob[a - start]


def _segments_match(lookup, segments) -> None:
    for addr, data in segments:
        got = bytes(lookup(a) for a in range(addr, addr + len(data)))
        assert got == data, f"0x{addr:08x}: {len(data)} bytes differ"


@pytest.mark.parametrize("board,fmt", [("pico", "uf2"), ("pico", "hex"), ("pico", "bin"),
                                       ("pico2", "uf2"), ("nucleo-f446re", "bin"),
                                       ("nucleo-f446re", "hex"), ("microbit", "hex"),
                                       ("nrf52840dk", "hex")])
def test_first_install_file_holds_the_elf_segments(build, tmp_path, board, fmt):
    out = tmp_path / f"first.{fmt}"
    r = cli("firmware", "image", "--board", board, "--format", fmt, "-o", str(out), build=build)
    assert r.returncode == 0, r.stderr
    blob = out.read_bytes()
    lookup = image_bytes(fmt, blob, board, tmp_path)
    folder = build / board
    _segments_match(lookup, readelf_segments(folder / "edgebnn-boot.elf"))
    img = (folder / "edgebnn-fw.img").read_bytes()           # the signed header, in the app slot
    body_at = struct.unpack_from("<I", img, 16)[0]           # its load address: app slot + 512
    _segments_match(lookup, readelf_segments(folder / "edgebnn-fw.elf", start=body_at))
    app_slot = body_at - 512
    assert bytes(lookup(a) for a in range(app_slot, app_slot + 512)) == img[:512]
    if board == "pico":      # boot2: 252 bytes + the CRC the RP2040 bootrom checks
        first = bytes(lookup(0x10000000 + i) for i in range(256))
        assert _boot2_module().crc32_mpeg2(first[:252]) == int.from_bytes(first[252:], "little")
        sp_reset = bytes(lookup(0x10000100 + i) for i in range(8))      # the vector table
        sp, reset = struct.unpack("<II", sp_reset)
        assert 0x20000000 < sp <= 0x20042000 and 0x10000100 < reset < 0x10010000 and reset & 1
    if board == "pico2":     # the IMAGE_DEF block within the first 4 KiB
        head = bytes(lookup(0x10000000 + i) for i in range(4096))
        block = struct.pack("<5I", 0xFFFFDED3, 0x10210142, 0x000001FF, 0, 0xAB123579)
        assert block in head


def test_boot2_crc_is_the_bootroms():
    """CRC-32/MPEG-2 (poly 0x04c11db7, init 0xffffffff, no reflection): its check value."""
    assert _boot2_module().crc32_mpeg2(b"123456789") == 0x0376E6E7


def test_first_install_refusals(build, tmp_path):
    r = cli("firmware", "image", "--board", "nucleo-f446re", "--format", "uf2", "-o",
            str(tmp_path / "x.uf2"), build=build)
    assert r.returncode == 2 and "--format uf2: board nucleo-f446re has no UF2" in r.stderr
    r = cli("firmware", "image", "--board", "pico9", "--format", "bin", "-o",
            str(tmp_path / "x.bin"), build=build)
    assert r.returncode == 2 and "--board pico9: unknown board" in r.stderr
    inside = build / "pico" / "edgebnn-boot.bin"
    before = inside.read_bytes()
    r = cli("firmware", "image", "--board", "pico", "--format", "bin", "-o", str(inside),
            build=build)
    assert r.returncode == 2 and "inside the build folder" in r.stderr
    assert inside.read_bytes() == before
    assert not any(tmp_path.iterdir())
