"""First-install files: what goes onto a board's flash the first time, before the resident
bootloader can take updates over serial (`edgebnn flash`, docs/boot.md).

The flash contents are the bootloader ELF's load segments (at the part's boot address) and the
factory store (`edgebnn-factory.bin`: the signed application image in the app slot, every
other slot erased) up to the end of the last model slot (`__store_used`), so a first install
also erases the slots. Three containers, one per way of installing:

- `bin`: the flat image from the lowest address, gaps 0xFF (ST-LINK's mass-storage drive of a
  Nucleo, which writes it at the start of flash, 0x08000000);
- `hex`: Intel HEX, written by the `intelhex` package (DAPLink drag-and-drop: micro:bit,
  nRF52840 DK; also any programmer);
- `uf2`: the UF2 block format of the RP2040/RP2350 BOOTSEL drive (below), which needs the
  board's family ID (boards.mk `uf2_family`).

UF2 (github.com/microsoft/uf2): 512-byte blocks, each carrying 256 bytes for one 256-aligned
flash address, little-endian words:
    0 magic 0x0A324655   4 magic 0x9E5D5157   8 flags (0x2000: family ID present)
    12 target address    16 payload size (256)  20 block number   24 number of blocks
    28 family ID         32..507 payload, zero-padded               508 magic 0x0AB16F30
Family IDs: RP2040 0xE48BFF56, RP2350 Arm Secure 0xE48BFF59.
"""
from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Dict, List, Tuple

from edgebnn.device.errors import DeviceError

FORMATS = ("bin", "hex", "uf2")
UF2_MAGIC0, UF2_MAGIC1, UF2_MAGIC_END = 0x0A324655, 0x9E5D5157, 0x0AB16F30
UF2_FLAG_FAMILY = 0x00002000
UF2_PAYLOAD = 256
UF2_BLOCK = 512
_UF2_HEAD = struct.Struct("<8I")
PT_LOAD = 1

#: A flash image as (address, bytes) runs, sorted, not overlapping.
Segments = List[Tuple[int, bytes]]


def elf_segments(path: Path) -> Segments:
    """The PT_LOAD segments of a 32-bit little-endian ELF with file contents, at their load
    (physical) addresses: what a programmer writes to flash. DeviceError naming the file when
    it is not one."""
    data = _read(path)
    if data[:6] != b"\x7fELF\x01\x01":
        raise DeviceError(f"{path}: not a 32-bit little-endian ELF file")
    try:
        phoff, = struct.unpack_from("<I", data, 28)
        phentsize, phnum = struct.unpack_from("<HH", data, 42)
        out = []
        for i in range(phnum):
            ptype, offset, _vaddr, paddr, filesz = struct.unpack_from(
                "<5I", data, phoff + i * phentsize)
            if ptype == PT_LOAD and filesz:
                if offset + filesz > len(data):
                    raise struct.error("segment beyond the end of the file")
                out.append((paddr, data[offset:offset + filesz]))
    except struct.error as e:
        raise DeviceError(f"{path}: truncated or malformed ELF ({e})") from None
    return sorted(out)


def elf_symbols(path: Path) -> Dict[str, int]:
    """{name: value} of a 32-bit little-endian ELF's symbol table (the flash map symbols)."""
    data = _read(path)
    try:
        shoff, = struct.unpack_from("<I", data, 32)
        shentsize, shnum = struct.unpack_from("<HH", data, 46)
        sections = [struct.unpack_from("<10I", data, shoff + i * shentsize) for i in range(shnum)]
        symbols = {}
        for sh in sections:
            if sh[1] != 2:                                   # SHT_SYMTAB
                continue
            strtab = sections[sh[6]]                         # sh_link: its string table
            for at in range(sh[4], sh[4] + sh[5], 16):       # Elf32_Sym, 16 bytes each
                name, value = struct.unpack_from("<II", data, at)
                start = strtab[4] + name
                symbols[data[start:data.index(b"\0", start)].decode()] = value
    except (struct.error, ValueError, IndexError) as e:
        raise DeviceError(f"{path}: truncated or malformed ELF ({e})") from None
    return symbols


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise DeviceError(f"{path}: cannot read ({e.strerror or e})") from None


def flash_contents(build: Path) -> Segments:
    """What a first install writes, from one board's build folder (firmware/build/<board>):
    the bootloader's segments, then the factory store from the store base to `__store_used`."""
    build = Path(build)
    boot = build / "edgebnn-boot.elf"
    segments = elf_segments(boot)
    symbols = elf_symbols(boot)
    factory = _read(build / "edgebnn-factory.bin")
    used = symbols.get("__store_used")
    base = symbols.get("__store_base")
    if used is None or base is None or used > len(factory):
        raise DeviceError(f"{boot}: no flash map (__store_base, __store_used) that fits "
                          f"{build / 'edgebnn-factory.bin'}")
    return _merge(segments + [(base, factory[:used])], boot)


def _merge(segments: Segments, source: Path) -> Segments:
    out: Segments = []
    for addr, data in sorted(segments):
        if out and addr < out[-1][0] + len(out[-1][1]):
            raise DeviceError(f"{source}: segments overlap at 0x{addr:08x}")
        out.append((addr, data))
    return out


def to_bin(segments: Segments) -> bytes:
    """The flat image from the first segment's address, gaps 0xFF (erased flash)."""
    start = segments[0][0]
    image = bytearray(b"\xff" * (segments[-1][0] + len(segments[-1][1]) - start))
    for addr, data in segments:
        image[addr - start:addr - start + len(data)] = data
    return bytes(image)


def to_hex(segments: Segments) -> bytes:
    """Intel HEX of the segments (intelhex: extended linear address records, 16-byte data
    records), with the gaps left out."""
    from intelhex import IntelHex

    ih = IntelHex()
    for addr, data in segments:
        ih.frombytes(data, offset=addr)
    text = io.StringIO()
    ih.write_hex_file(text, write_start_addr=False)
    return text.getvalue().encode()


def to_uf2(segments: Segments, family: int) -> bytes:
    """UF2 blocks (module docstring) for every 256-byte flash page the segments touch; bytes of
    such a page that no segment holds are 0xFF."""
    pages: Dict[int, bytearray] = {}
    for addr, data in segments:
        first = addr - addr % UF2_PAYLOAD
        for page in range(first, addr + len(data), UF2_PAYLOAD):
            buf = pages.setdefault(page, bytearray(b"\xff" * UF2_PAYLOAD))
            lo, hi = max(page, addr), min(page + UF2_PAYLOAD, addr + len(data))
            buf[lo - page:hi - page] = data[lo - addr:hi - addr]
    out = bytearray()
    for n, page in enumerate(sorted(pages)):
        head = _UF2_HEAD.pack(UF2_MAGIC0, UF2_MAGIC1, UF2_FLAG_FAMILY, page, UF2_PAYLOAD, n,
                              len(pages), family)
        out += head + pages[page] + bytes(UF2_BLOCK - len(head) - UF2_PAYLOAD - 4)
        out += struct.pack("<I", UF2_MAGIC_END)
    return bytes(out)


def render(segments: Segments, fmt: str, family: int = 0) -> bytes:
    """The first-install file in format `fmt` (FORMATS)."""
    if fmt == "bin":
        return to_bin(segments)
    if fmt == "hex":
        return to_hex(segments)
    return to_uf2(segments, family)
