"""`edgebnn flash`: install a signed application image through the board's resident bootloader
(docs/boot.md, docs/protocol.md "Bootloader").

    with open_device("qemu:mps2-an386") as dev:
        result = flash(dev, Path("edgebnn-fw.img").read_bytes())

Steps, each bounded by the device's timeout: check the image on the host (fwimage.parse), ask a
running application to reset into the bootloader (ENTER_BOOTLOADER) and wait for the
bootloader's banner, upload the image chunk by chunk into the staging slot (FLASH_BEGIN /
FLASH_CHUNK), have the bootloader verify and install it (FLASH_COMMIT: length, version, board,
load address, CRC), boot it (BOOT) and check that the banner of the application that comes up
carries the image's version; the HELLO that follows is the new application's first answered
request, with which it confirms itself (docs/boot.md "Trial boot"). Any failure leaves a working
application: the bootloader keeps the confirmed one in its staging slot while it installs, and
goes back to it when the new one is refused or never confirms itself (a hang or a fault at
start: the watchdog resets it). Each raises a DeviceError or CommandError saying what the board
refused and why. `edgebnn flash` reaches the bootloader through its escape
(ports.open_device(escape=True)), so a board whose application never answers is flashed too.
"""
from __future__ import annotations

import re
import struct
import time
from dataclasses import dataclass
from typing import Callable, Optional

from edgebnn import flags
from edgebnn.device import fwimage
from edgebnn.device.client import BANNER_RE, Device, _cstrings
from edgebnn.device.errors import CommandError, DeviceError
from edgebnn.device.framing import Cmd, Status

#: The bootloader's banner (firmware/boot/boot_main.c):
#: `EBNN-BOOT <version> board=<board> clock=<hz> app=<version|none> mode=run|update`.
BOOT_BANNER_RE = re.compile(rb"EBNN-BOOT (\S+) board=(\S+) clock=(\d+) app=(\S+) "
                            rb"mode=(run|update)\r?\n")
#: What may follow ENTER_BOOTLOADER: the bootloader's banner, or the application's when the
#: device has no bootloader (a reset just restarts the application, e.g. the ARM Linux runtime).
_AFTER_ENTER_RE = re.compile(BOOT_BANNER_RE.pattern + b"|" + BANNER_RE.pattern)
#: The bootloader's line when it restored the kept application because the new one never
#: confirmed itself (firmware/boot/boot_main.c).
TRIAL_RE = re.compile(rb"EBNN-TRIAL app=(\S+) was never confirmed: restored (\S+)\r?\n")
#: After BOOT: the application's banner, or the bootloader's revert.
_AFTER_BOOT_RE = re.compile(TRIAL_RE.pattern + b"|" + BANNER_RE.pattern)


@dataclass(frozen=True)
class BootInfo:
    """The bootloader's INFO reply."""
    protocol: str
    max_payload: int
    clock_hz: int
    slot_size: int
    app_valid: bool
    bootloader: str
    board: str
    app_version: str
    app_problem: str      # why the app slot does not verify ('' when it does)
    #: the provisioned signing key's fingerprint (hex), "" when none, None when the bootloader
    #: does not report it (built before it did)
    key_fingerprint: Optional[str] = None


@dataclass(frozen=True)
class FlashResult:
    version: str          # the version the new application's banner shows
    size: int             # image bytes uploaded
    seconds: float


def wait_banner(dev: Device, pattern: re.Pattern, what: str,
                timeout: Optional[float] = None) -> re.Match:
    """Reads until `pattern` appears in the text the board prints (its boot banners)."""
    deadline = time.monotonic() + (dev.timeout if timeout is None else timeout)
    reader = dev._reader
    while (m := pattern.search(bytes(reader.skipped))) is None:   # a copy: skipped shrinks
        if time.monotonic() >= deadline:
            raise dev._fail(f"no {what} banner within {timeout or dev.timeout} s; board printed "
                            f"{bytes(reader.skipped[-200:])!r}")
        reader.feed(dev._read_some(deadline))
        reader.frames()          # banner text holds no sync byte: it moves to `skipped`
    del reader.skipped[:m.end()]
    return m


def in_bootloader(dev: Device) -> bool:
    """Whether the far end is the bootloader (HELLO's feature bit), after a fresh HELLO."""
    dev.hello()
    return dev.in_bootloader


def enter_bootloader(dev: Device, timeout: Optional[float] = None) -> None:
    """Leaves the device in the bootloader: a running application is asked to reset into it."""
    if in_bootloader(dev):
        return
    dev._reader.skipped.clear()
    try:
        dev.request(Cmd.ENTER_BOOTLOADER, retries=0)
    except CommandError as e:
        if e.status != Status.ERR_UNKNOWN_CMD:
            raise
        raise DeviceError(f"{dev.name}: the device has no bootloader (ENTER_BOOTLOADER is an "
                          f"unknown command to firmware {dev.firmware}); update it another way "
                          "(the ARM Linux runtime: replace its program file)") from None
    m = wait_banner(dev, _AFTER_ENTER_RE, "bootloader", timeout)
    if m[0].startswith(b"EBNN-FW"):
        raise DeviceError(f"{dev.name}: the device has no bootloader (ENTER_BOOTLOADER restarted "
                          f"the application: {m[0].strip().decode(errors='replace')}); update it "
                          "another way (the ARM Linux runtime: replace its program file)")
    if m[5] != b"update":
        raise dev._fail(f"ENTER_BOOTLOADER: the bootloader started the application instead "
                        f"({m[0].strip().decode(errors='replace')})")
    if not in_bootloader(dev):
        raise dev._fail("ENTER_BOOTLOADER: the device still answers as the application")


def boot_info(dev: Device) -> BootInfo:
    reply = dev.request(Cmd.INFO)   # in the bootloader's layout (docs/protocol.md)
    major, minor, max_payload, clock, slot, flags = struct.unpack_from("<BBHIII", reply)
    strings, at = _cstrings(reply, 16, 4)
    key = None
    if len(reply) >= at + 16:      # then the provisioned key's fingerprint
        key = reply[at:at + 16].hex() if flags & 2 else ""
    return BootInfo(f"{major}.{minor}", max_payload, clock, slot, bool(flags & 1), *strings,
                    key_fingerprint=key)


def upload(dev: Device, image: bytes,
           progress: Optional[Callable[[int, int], None]] = None) -> str:
    """FLASH_BEGIN, the chunks, FLASH_COMMIT; returns the version the bootloader installed."""
    dev.upload(Cmd.FLASH_BEGIN, Cmd.FLASH_CHUNK, image, progress)
    reply = dev.request(Cmd.FLASH_COMMIT)
    return reply[8:].split(b"\0", 1)[0].decode(errors="replace")


def boot(dev: Device, timeout: Optional[float] = None) -> str:
    """BOOT: the bootloader resets into the installed application; returns the version its
    banner shows, after a fresh HELLO with it (which confirms a new application). DeviceError
    when the bootloader had to restore the previous application instead (the new one hung or
    faulted before it answered, and the watchdog reset it)."""
    dev._reader.skipped.clear()
    dev.request(Cmd.BOOT, retries=0)
    m = wait_banner(dev, _AFTER_BOOT_RE, "application", timeout)
    if m[0].startswith(b"EBNN-TRIAL"):
        failed, restored = m[1].decode(errors="replace"), m[2].decode(errors="replace")
        raise DeviceError(f"{dev.name}: application {failed} never answered after its start "
                          f"(it hung or faulted, and the watchdog reset the board): the "
                          f"bootloader restored {restored}")
    dev.hello()
    return m[3].decode(errors="replace")


def flash(dev: Device, image: bytes, *, progress: Optional[Callable[[int, int], None]] = None,
          host_checks: bool = True, timeout: Optional[float] = None) -> FlashResult:
    """Installs `image` (fwimage format) and boots it; see the module docstring.

    host_checks: parse the image and compare its board with the device's before uploading
        (False sends it as is, to see the bootloader's own refusal).
    """
    t0 = time.monotonic()
    header = fwimage.parse(image) if host_checks else None
    enter_bootloader(dev, timeout)
    info = boot_info(dev)
    if header is not None and header.board != info.board:
        raise DeviceError(f"{dev.name}: image is for board {header.board}, the device is "
                          f"{info.board}")
    version = upload(dev, image, progress)
    running = boot(dev, timeout)
    if running != version:
        raise DeviceError(f"{dev.name}: installed version {version} but the application "
                          f"banner shows {running}")
    return FlashResult(running, len(image), time.monotonic() - t0)


def cmd_flash(args) -> int:
    """`edgebnn flash IMAGE --port P`."""
    import sys
    from edgebnn.device.ports import open_device
    from edgebnn.errors import read_bytes

    image = read_bytes(args.image)
    header = fwimage.parse(image, args.image)
    if args.pubkey:   # on the host first; a board with a key provisioned checks again
        from edgebnn.signing import check_pubkey
        check_pubkey(image, args.pubkey, args.image)
    tty = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if tty:
            print(f"\r  uploading {done:,}/{total:,} B ({100 * done // total}%)", end="",
                  file=sys.stderr, flush=True)

    with open_device(args.port, timeout=args.timeout, boot_timeout=args.boot_timeout,
                     escape=True) as dev:
        print(f"{args.port}: flashing {args.image} (version {header.version}, board "
              f"{header.board}, {len(image):,} B)", flush=True)
        result = flash(dev, image, progress=progress, timeout=args.boot_timeout)
    if tty:
        print(file=sys.stderr)
    print(f"{args.port}: application {result.version} running ({result.size:,} B in "
          f"{result.seconds:.2f} s)")
    return 0


def add_parser(sub) -> None:
    """Adds `flash` to the top-level subparsers."""
    f = sub.add_parser("flash", help="install a signed firmware image through the bootloader")
    f.add_argument("image", help="signed application image (firmware/build/<board>/edgebnn-fw.img)")
    f.add_argument("--port", required=True,
                   help="qemu:BOARD[?store=FILE], a pyserial URL or a device path")
    f.add_argument("--pubkey", metavar="KEY.pub",
                   help="upload the image only if it is signed with this Ed25519 public key")
    f.add_argument("--timeout", type=flags.positive_float, default=2.0, help="seconds per reply (default 2)")
    f.add_argument("--boot-timeout", type=flags.positive_float, default=10.0,
                   help="seconds to wait for a banner after a reset (default 10)")
    f.set_defaults(func=cmd_flash)
