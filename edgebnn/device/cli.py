"""`edgebnn device …` and `edgebnn board run`: the command-line side of edgebnn.device.
edgebnn/cli.py calls `add_parsers`; the `device:PORT` eval backend is in edgebnn/backends.py."""
from __future__ import annotations

import argparse
import json
import signal
import subprocess
import time
from pathlib import Path

PORT_HELP = ("qemu:BOARD (emulated board, started and stopped here), a pyserial URL "
             "(socket://HOST:PORT, rfc2217://…) or a device path (/dev/ttyACM0)")


def _add_port(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", required=True, help=PORT_HELP)
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per reply (default 2)")


def cmd_device_info(args: argparse.Namespace) -> int:
    from edgebnn.device.ports import open_device

    with open_device(args.port, timeout=args.timeout) as dev:
        info = dev.info()
    if args.json:
        print(json.dumps(info.as_dict()))
        return 0
    m = info.model
    model = (f"{m.size:,} B, CRC 0x{m.crc:08x}, input {'x'.join(map(str, m.input_shape))}, "
             f"{m.n_classes} classes, arena {m.arena_size:,} B" if m.size else "none")
    print(f"{args.port}: firmware {info.firmware} (protocol {info.protocol}) on {info.board}, "
          f"{info.clock_hz / 1e6:g} MHz\n  C core: {info.core}\n"
          f"  model slot {info.model_slot_size:,} B, arena {info.arena_size:,} B, "
          f"max payload {info.max_payload:,} B\n  model: {model}")
    return 0


def cmd_device_load(args: argparse.Namespace) -> int:
    from edgebnn.device.ports import open_device

    data = Path(args.model).read_bytes()
    t0 = time.monotonic()
    with open_device(args.port, timeout=args.timeout) as dev:
        summary = dev.load(data)
    print(f"{args.port}: loaded {args.model} ({summary.size:,} B, CRC 0x{summary.crc:08x}, "
          f"{summary.n_classes} classes) in {time.monotonic() - t0:.2f} s")
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def cmd_board_run(args: argparse.Namespace) -> int:
    """Keeps an emulated board running and prints its URL until Ctrl-C. QEMU holds the guest
    until the first client connects, and accepts a new client after one disconnects, so the
    board (and its loaded model) lives across `--port socket://…` sessions."""
    from edgebnn.device.errors import DeviceError
    from edgebnn.device.ports import ensure_firmware
    from edgebnn.device.qemu import QemuBoard, _free_port

    board = QemuBoard(args.board, ensure_firmware(args.board))
    port = args.tcp_port or _free_port()
    proc = subprocess.Popen(board.command(port), stdin=subprocess.DEVNULL)
    time.sleep(0.3)
    if proc.poll() is not None:
        raise DeviceError(f"qemu:{args.board}: QEMU exited with status {proc.returncode}")
    print(f"socket://127.0.0.1:{port}", flush=True)
    try:
        signal.signal(signal.SIGTERM, _interrupt)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def add_parsers(sub) -> None:
    """Adds `device` (info, load) and `board` (run) to the top-level subparsers."""
    d = sub.add_parser("device", help="talk to a board running edgebnn firmware")
    dsub = d.add_subparsers(dest="device_command", required=True)
    i = dsub.add_parser("info", help="firmware, board, C core, memory and the active model")
    _add_port(i)
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_device_info)
    ld = dsub.add_parser("load", help="upload a .ebnn model (committed only when valid)")
    ld.add_argument("model")
    _add_port(ld)
    ld.set_defaults(func=cmd_device_load)

    b = sub.add_parser("board", help="emulated boards")
    bsub = b.add_subparsers(dest="board_command", required=True)
    r = bsub.add_parser("run", help="keep an emulated board running, print its socket:// URL")
    r.add_argument("board", help="mps2-an386 | mps2-an500 | mps3-an547")
    r.add_argument("--tcp-port", type=int, help="local TCP port (default: a free one)")
    r.set_defaults(func=cmd_board_run)
