"""Signed application images for the edgebnn bootloader (docs/boot.md "Image header").

An image is a 512-byte header followed by the application's flat binary (objcopy -O binary of
an ELF linked to run at the app slot + 512). The header lets the bootloader refuse a wrong,
corrupted or truncated image *before* it replaces the running one, and lets the host refuse it
before uploading:

    0  u32 magic 0x4D494245 ("EBIM")      16 u32 load address (of the body: app slot + 512)
    4  u16 header version (1)             20 u32 flags (0)
    6  u16 header size (512)              24 char[24] version, NUL-terminated
    8  u32 body size                      48 char[32] board, NUL-terminated
    12 u32 CRC-32 of the body             80 u32 CRC-32 of header bytes 0..79;  84..511 zero

All little-endian; CRC-32 is zlib's. A signed image has a signature trailer after the body
(edgebnn/signing.py; the header's body_size does not count it). Standard library only (and
edgebnn.errors and edgebnn.signing, which are too, but for signing itself, `--key`):
the firmware Makefile runs this file as a script (`python3 fwimage.py sign ...`) to sign each build and to make its factory store
image (`factory`: what QEMU boards are provisioned with).
"""
from __future__ import annotations

import argparse
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

if not __package__:   # run as a script by the firmware Makefile: the package root is two up
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from edgebnn import signing  # noqa: E402
from edgebnn.errors import EdgebnnError, write_bytes  # noqa: E402

MAGIC = 0x4D494245
HEADER_VERSION = 1
HEADER_SIZE = 512
VERSION_LEN = 24
BOARD_LEN = 32
_FIELDS = struct.Struct("<IHHIIII24s32s")    # bytes 0..79
_HEADER_CRC_AT = _FIELDS.size                # 80


class ImageError(EdgebnnError, ValueError):
    """An image that is not a valid edgebnn application image (the message names the field)."""


@dataclass(frozen=True)
class ImageHeader:
    body_size: int
    body_crc: int
    load_address: int
    version: str
    board: str
    flags: int = 0

    def pack(self) -> bytes:
        """The 512 header bytes."""
        fields = _FIELDS.pack(MAGIC, HEADER_VERSION, HEADER_SIZE, self.body_size, self.body_crc,
                              self.load_address, self.flags,
                              _fixed(self.version, VERSION_LEN, "version"),
                              _fixed(self.board, BOARD_LEN, "board"))
        head = fields + struct.pack("<I", zlib.crc32(fields))
        return head + bytes(HEADER_SIZE - len(head))


def _fixed(text: str, size: int, field: str) -> bytes:
    raw = text.encode("ascii")
    if not raw or len(raw) >= size or any(c <= 0x20 or c > 0x7E for c in raw):
        raise ImageError(f"{field} {text!r} must be 1..{size - 1} printable ASCII characters "
                         "without spaces")
    return raw.ljust(size, b"\0")


def sign(body: bytes, *, board: str, version: str, slot: int) -> bytes:
    """Header + body for an application linked to run at `slot` + 512."""
    header = ImageHeader(len(body), zlib.crc32(body), slot + HEADER_SIZE, version, board)
    return header.pack() + body


def parse(image: bytes, name: str = "image") -> ImageHeader:
    """The header of a complete image; ImageError naming the field that is wrong."""
    if len(image) < HEADER_SIZE:
        raise ImageError(f"{name}: {len(image)} bytes, shorter than the {HEADER_SIZE}-byte "
                         "header")
    (magic, hver, hsize, size, crc, load, flags, version, board) = _FIELDS.unpack_from(image)
    if magic != MAGIC:
        raise ImageError(f"{name}: magic is 0x{magic:08x}, expected 0x{MAGIC:08x} (not an "
                         "edgebnn application image; sign the .bin with fwimage.py)")
    if (hver, hsize) != (HEADER_VERSION, HEADER_SIZE):
        raise ImageError(f"{name}: header version {hver} size {hsize}, expected "
                         f"{HEADER_VERSION} and {HEADER_SIZE}")
    image = signing.unsigned(image)   # a signature trailer follows the body it covers
    (hcrc,) = struct.unpack_from("<I", image, _HEADER_CRC_AT)
    if hcrc != zlib.crc32(image[:_HEADER_CRC_AT]):
        raise ImageError(f"{name}: header_crc is 0x{hcrc:08x}, expected "
                         f"0x{zlib.crc32(image[:_HEADER_CRC_AT]):08x}")
    if len(image) - HEADER_SIZE != size:
        raise ImageError(f"{name}: body is {len(image) - HEADER_SIZE} bytes, the header's "
                         f"body_size is {size} (truncated or padded file)")
    if zlib.crc32(image[HEADER_SIZE:]) != crc:
        raise ImageError(f"{name}: body CRC-32 is 0x{zlib.crc32(image[HEADER_SIZE:]):08x}, "
                         f"the header's body_crc is 0x{crc:08x} (corrupted)")
    return ImageHeader(size, crc, load, version.split(b"\0", 1)[0].decode("ascii", "replace"),
                       board.split(b"\0", 1)[0].decode("ascii", "replace"), flags)


def factory(image: bytes, store_size: int) -> bytes:
    """What a factory programmer writes to a new part's store: erased flash (0xFF) with the
    image at the start of the app slot (the store base)."""
    if len(image) > store_size:
        raise ImageError(f"image of {len(image)} bytes does not fit the {store_size}-byte store")
    return image + b"\xff" * (store_size - len(image))


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="fwimage.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sign", help="prepend the image header to an application .bin")
    s.add_argument("bin", type=Path)
    s.add_argument("-o", "--output", type=Path, required=True)
    s.add_argument("--board", required=True)
    s.add_argument("--version", required=True)
    s.add_argument("--slot", type=lambda v: int(v, 0), required=True,
                   help="address of the app slot (the store base, boards.mk)")
    s.add_argument("--key", type=Path, help="Ed25519 private key: append a signature trailer")
    s.add_argument("--counter", type=int, default=0, help="the signed rollback counter")
    f = sub.add_parser("factory", help="the erased store with the image in the app slot")
    f.add_argument("image", type=Path)
    f.add_argument("-o", "--output", type=Path, required=True)
    f.add_argument("--size", type=lambda v: int(v, 0), required=True, help="store bytes")
    i = sub.add_parser("show", help="check an image and print its header")
    i.add_argument("image", type=Path)
    args = p.parse_args(argv)
    try:
        if args.cmd == "sign":
            image = sign(args.bin.read_bytes(), board=args.board, version=args.version,
                         slot=args.slot)
            if args.key:
                image = signing.sign(image, signing.read_private_key(args.key), args.counter)
            write_bytes(args.output, image)
        elif args.cmd == "factory":
            image = args.image.read_bytes()
            parse(image, str(args.image))
            write_bytes(args.output, factory(image, args.size))
        else:
            h = parse(args.image.read_bytes(), str(args.image))
            print(f"{args.image}: version {h.version} board {h.board} body {h.body_size} B "
                  f"CRC 0x{h.body_crc:08x} load 0x{h.load_address:08x}, "
                  f"{signing.describe(args.image.read_bytes())}")
    except (EdgebnnError, OSError) as e:   # ImageError, or FileError from write_bytes
        print(f"fwimage.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
