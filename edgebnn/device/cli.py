"""`edgebnn device …` and `edgebnn board run`: the command-line side of edgebnn.device.
edgebnn/cli.py calls `add_parsers`; the `device:PORT` eval backend is in edgebnn/backends.py."""
from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from edgebnn.device.ports import Port
    from edgebnn.runs.provenance import Provenance

from edgebnn import flags
from edgebnn.errors import UsageError, read_bytes, write_bytes

PORT_HELP = ("qemu:BOARD (emulated board, started and stopped here), linux:aarch64|armv7|native "
             "(the ARM Linux runtime under qemu-user, likewise), a pyserial URL "
             "(socket://HOST:PORT, rfc2217://…) or a device path (/dev/ttyACM0)")


def _add_port(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", required=True, help=PORT_HELP)
    p.add_argument("--timeout", type=flags.positive_float, default=2.0, help="seconds per reply (default 2)")


def cmd_device_info(args: argparse.Namespace) -> int:
    from edgebnn.device.ports import open_device

    with open_device(args.port, timeout=args.timeout) as dev:
        if dev.in_bootloader:
            return _print_boot_info(args, dev)
        info = dev.info()
    if args.json:
        print(json.dumps(info.as_dict()))
        return 0
    print(f"{args.port}: firmware {info.firmware} (protocol {info.protocol}) on {info.board}, "
          f"{info.clock_hz / 1e6:g} MHz\n  C core: {info.core}\n"
          f"  model slot {info.model_slot_size:,} B, arena {info.arena_size:,} B, "
          f"max payload {info.max_payload:,} B\n{_describe_models(info)}\n"
          f"  {_describe_key(info.key_fingerprint)}")
    return 0


def _describe_key(fingerprint) -> str:
    """Which signing key the board accepts models from (docs/boot.md "Signed images")."""
    if fingerprint is None:
        return "signing key: not reported by this firmware"
    if not fingerprint:
        return "signing key: none provisioned (unsigned images and models are accepted)"
    return (f"signing key: provisioned, fingerprint {fingerprint} (only images and models it "
            "signed are accepted)")


def _named(name: str) -> str:
    return f"{name!r}, " if name else ""


def _describe_models(info) -> str:
    """The active model, and the stored one (in flash: what a reset restores) with whether
    they are the same."""
    m, s = info.model, info.stored
    active = (f"{_named(info.model_name)}{m.size:,} B, CRC 0x{m.crc:08x}, input "
              f"{'x'.join(map(str, m.input_shape))}, {m.n_classes} classes, arena "
              f"{m.arena_size:,} B" if m.size else "none")
    if s is None:
        return (f"  model: {active}\n  stored model: not reported by protocol {info.protocol} "
                "firmware (it stores every model it loads)")
    stored = f"{_named(s.name)}{s.size:,} B, CRC 0x{s.crc:08x}" if s.size else "none"
    state = ("the stored one" if info.active_is_stored else
             "in RAM only (a RAM-only load or unsaved training): a reset restores the stored one")
    return f"  model: {active} — {state}\n  stored model (flash): {stored}"


def _print_boot_info(args: argparse.Namespace, dev) -> int:
    """`device info` on a board that sits in its bootloader: what is installed, and why it
    does not start."""
    from edgebnn.device.flash import boot_info

    info = boot_info(dev)
    if args.json:
        print(json.dumps({"bootloader": True, **info.__dict__}))
        return 0
    app = (f"application {info.app_version} installed (`edgebnn device reset` starts it)"
           if info.app_valid else f"no valid application ({info.app_problem}): install one "
           "with `edgebnn flash IMAGE`")
    print(f"{args.port}: bootloader {info.bootloader} (protocol {info.protocol}) on {info.board}, "
          f"{info.clock_hz / 1e6:g} MHz\n  app slot {info.slot_size:,} B, max payload "
          f"{info.max_payload:,} B\n  {app}\n  {_describe_key(info.key_fingerprint)}")
    return 0


def cmd_device_load(args: argparse.Namespace) -> int:
    """Uploads the file as it is: the board's own C loader judges it (its refusal, ERR_MODEL,
    carries the loader's diagnostic), and the error says which file it refused."""
    from edgebnn.device.errors import CommandError
    from edgebnn.device.ports import open_device

    data = read_bytes(args.model)
    if args.pubkey:   # on the host first; a board with a key provisioned checks again
        from edgebnn.signing import check_pubkey
        check_pubkey(data, args.pubkey, args.model)
    t0 = time.monotonic()
    with open_device(args.port, timeout=args.timeout) as dev:
        try:
            summary = dev.load(data, name=Path(args.model).name)
        except CommandError as e:
            raise CommandError(f"{args.model}: {e}", e.status, e.detail) from None
    print(f"{args.port}: loaded {args.model} ({summary.size:,} B, CRC 0x{summary.crc:08x}, "
          f"{summary.n_classes} classes) in {time.monotonic() - t0:.2f} s; it is the stored "
          "model now (a reset keeps it)")
    return 0


def _read_model(path: str) -> bytes:
    """The bytes of a model file the C loader accepts, or its FormatError (the loader's
    diagnostic, naming the file) before any port is opened or any data is loaded."""
    from edgebnn import format as fmt

    data = read_bytes(path)
    fmt.from_bytes(data, str(path))
    return data


def _provenance(model: bytes, source: str) -> Provenance:
    from edgebnn import format as fmt
    from edgebnn.runs.provenance import Provenance

    return Provenance.of_model(fmt.from_bytes(model, source))


def cmd_device_train(args: argparse.Namespace) -> int:
    """Loads the model, trains it epoch by epoch with the data streamed over serial (or, with
    --simulate, in the host C core), prints train and held-out accuracy per epoch, writes the
    pulled-back model; --verify repeats the training on the host and compares the bytes."""
    from edgebnn.device import training

    if not (args.simulate or args.port):
        raise UsageError("device train needs --port (or --simulate to train on the host)")
    model = read_bytes(args.model)
    provenance = _provenance(model, args.model)   # clear errors before any data: the file,
    training.epoch_schedule(model, args.model, args.algo)   # then its training section
    splits = provenance.splits(args.model, args.data, args.seed, args.limit)

    def start(where: str, batch: int, scratch: int, before: float) -> None:
        print(f"{where}: training {args.model} with {args.algo}, {args.epochs} epoch(s) of "
              f"{len(splits.train)} samples in batches of {batch} ({scratch:,} B of training "
              f"scratch); test accuracy before: {before:.4f} on {len(splits.test)} samples",
              flush=True)

    out = training.run_training(
        model, args.model, splits, algo=args.algo, epochs=args.epochs, batch=args.batch,
        seed=args.seed if args.seed is not None else provenance.seed,
        port=None if args.simulate else args.port, timeout=args.timeout,
        save=not args.no_save, verify=args.verify and not args.simulate,
        progress=not args.quiet, on_start=start,
        on_epoch=lambda e: print(f"  {e.describe(args.epochs, len(splits.train))}", flush=True))
    if not args.simulate:
        print(f"{args.port}: " + ("the board's stored model is as it was (trained in RAM only: a "
                                  "reset undoes the training)" if args.no_save else
                                  "the trained model is stored in the board's flash (a reset "
                                  "keeps it)"))
    write_bytes(args.output, out.model)
    print(f"wrote {args.output} ({len(out.model):,} bytes)")
    if out.same_as_host is not None:
        print(f"host C core simulation of the same training: "
              f"{'identical' if out.same_as_host else 'DIFFERENT'} model bytes")
        return 0 if out.same_as_host else 1
    return 0


def cmd_device_evaluate(args: argparse.Namespace) -> int:
    """Accuracy of the board on a data split: of MODEL, uploaded first into RAM only (the
    stored model stays), or of the model the board holds (its data spec read back from it
    unless --data is given)."""
    from edgebnn.device.ports import open_device
    from edgebnn.runs.provenance import Provenance

    model = _read_model(args.model) if args.model else None
    with open_device(args.port, timeout=args.timeout) as dev:
        if model is not None:
            dev.activate(model, Path(args.model).name)
        provenance = (_provenance(model or dev.read_model(), args.model or args.port)
                      if not args.data else Provenance())
        ds = getattr(provenance.splits(args.model or args.port, args.data, args.seed,
                                       args.limit), args.split)
        correct, n, cycles = dev.evaluate(ds.x, ds.y)
    accuracy = correct / n if n else float("nan")
    if args.json:
        print(json.dumps({"accuracy": accuracy, "n": n, "correct": correct, "cycles": cycles,
                          "split": args.split, "port": args.port}))
    else:
        print(f"{args.port}: {args.split} accuracy {accuracy:.4f} ({correct}/{n}), "
              f"{cycles / max(n, 1):,.0f} cycles/sample")
    return 0


def cmd_device_read(args: argparse.Namespace) -> int:
    from edgebnn.device.ports import open_device

    with open_device(args.port, timeout=args.timeout) as dev:
        data = dev.read_model()
    write_bytes(args.output, data)
    print(f"{args.port}: wrote the active model to {args.output} ({len(data):,} bytes)")
    return 0


def cmd_device_reset(args: argparse.Namespace) -> int:
    from edgebnn.device.ports import open_device

    if args.bootloader:   # through the escape: works when the application never answers
        with open_device(args.port, timeout=args.timeout, escape=True) as dev:
            print(f"{args.port}: in the bootloader ({dev.firmware}); `edgebnn flash IMAGE` "
                  "installs an application, `edgebnn device reset` starts the installed one")
        return 0
    with open_device(args.port, timeout=args.timeout) as dev:
        dev.reset()
        print(f"{args.port}: reset; firmware {dev.firmware} answered again")
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _start_linux_runtime(port: Port) -> tuple[subprocess.Popen, str, Callable[[], None]]:
    """`board run linux:ARCH`: the ARM Linux runtime on a new pty (edgebnn.device.linux), its
    store the port's file (else memory: the model lasts as long as the runtime)."""
    import os

    from edgebnn.device.linux import serve_on_new_pty
    from edgebnn.device.ports import linux_runtime

    proc, path, slave = serve_on_new_pty(linux_runtime(port))
    return proc, path, lambda: os.close(slave)


def cmd_board_run(args: argparse.Namespace) -> int:
    """Keeps an emulated board running and prints its URL until Ctrl-C. QEMU holds the guest
    until the first client connects, and accepts a new client after one disconnects, so the
    board (and its loaded model) lives across `--port socket://…` sessions. `linux:ARCH` runs
    the ARM Linux runtime on a pseudo-terminal instead: its URL is the pty's path."""
    from edgebnn.device.errors import DeviceError
    from edgebnn.device.ports import LINUX, Port, ensure_firmware
    from edgebnn.device.qemu import QemuBoard, _free_port, start_on_pty

    release: Optional[Callable[[], None]] = None
    emulated = Port.emulated(args.board, args.store)
    if args.pty and args.tcp_port:
        raise UsageError("--pty and --tcp-port: the console is on one or the other")
    if emulated.kind == LINUX:
        proc, url, release = _start_linux_runtime(emulated)
    else:
        board = QemuBoard(emulated.target, ensure_firmware(emulated.target), store=emulated.store)
        if args.pty:      # a real port's path: clients open it through pyserial like ttyACM0
            proc, url = start_on_pty(board)
        else:
            port = args.tcp_port or _free_port()
            proc = subprocess.Popen(board.command(port), stdin=subprocess.DEVNULL)
            url = f"socket://127.0.0.1:{port}"
        release = board.close           # removes a temporary store
        print(f"store: {board.store}" + ("" if args.store else " (temporary; --store FILE "
                                         "keeps the flash across runs)"), file=sys.stderr)
    time.sleep(0.3)
    if proc.poll() is not None:
        if release:
            release()
        raise DeviceError(f"{args.board}: exited with status {proc.returncode}")
    print(url, flush=True)
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
        if release:
            release()


def cmd_device_list(args: argparse.Namespace, ports: Optional[list] = None) -> int:
    """`edgebnn device list`: attached serial ports (pyserial) with known probes named, then the
    emulated and built-only boards. `ports`: pyserial ListPortInfo objects instead of this
    machine's (tests)."""
    from edgebnn.device import probes

    attached = probes.describe_ports(probes.attached_ports() if ports is None else ports)
    emulated = probes.emulated_ports()
    if args.json:
        print(json.dumps({"serial": attached, "emulated": emulated}))
        return 0
    print("serial ports:" if attached else "serial ports: none found")
    for row in attached:
        what = row["probe"] or row["description"] or ""
        print(f"  {row['port']:<22} {row['usb'] or 'not USB':<10} {what}")
    print("emulated and built-only boards:")
    for row in emulated:
        print(f"  {row['port'] or '-':<22} {row['board']:<16} {row['cpu']:<14} {row['how']}")
    return 0


def cmd_firmware_image(args: argparse.Namespace) -> int:
    """`edgebnn firmware image`: the board's first-install file (edgebnn.device.firstinstall)
    from its build, (re)built with make when the toolchain is there."""
    from edgebnn.device import firstinstall
    from edgebnn.device.errors import DeviceError
    from edgebnn.device.ports import ensure_firmware, firmware_build_dir
    from edgebnn.device.qemu import load_boards

    boards = load_boards()
    if args.board not in boards:
        raise UsageError(f"--board {args.board}: unknown board; known: {', '.join(boards)}")
    family = boards[args.board].uf2_family
    if args.format == "uf2" and not family:
        raise UsageError(f"--format uf2: board {args.board} has no UF2 bootloader (boards.mk "
                         f"uf2_family); use --format hex or bin")
    build = Path(args.build) if args.build else firmware_build_dir()
    out = Path(args.output)
    try:
        elf = ensure_firmware(args.board, build)
    except DeviceError as e:
        raise UsageError(f"--board {args.board}: {e}") from None
    if out.resolve().parent == elf.parent.resolve():
        raise UsageError(f"-o {out}: inside the build folder {elf.parent}; write it elsewhere")
    segments = firstinstall.flash_contents(elf.parent)
    write_bytes(out, firstinstall.render(segments, args.format, family), "-o")
    first, last = segments[0][0], segments[-1][0] + len(segments[-1][1])
    print(f"{out}: {args.format} for {args.board}, flash 0x{first:08x}..0x{last:08x} "
          f"({sum(len(d) for _, d in segments):,} bytes in {len(segments)} runs)")
    return 0


def add_parsers(sub) -> None:
    """Adds `device` (info, load, train, evaluate, read, reset) and `board` (run) to the
    top-level subparsers."""
    d = sub.add_parser("device", help="talk to a board running edgebnn firmware")
    dsub = d.add_subparsers(dest="device_command", required=True)
    i = dsub.add_parser("info", help="firmware, board, C core, memory, the active model and "
                                     "the stored one (in flash)")
    _add_port(i)
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_device_info)
    ls = dsub.add_parser("list", help="attached serial ports (USB VID:PID, known probes named) "
                                      "and the emulated boards")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_device_list)
    ld = dsub.add_parser("load", help="upload a .ebnn model and store it in the board's flash "
                                      "(committed only when valid): it replaces the stored "
                                      "model and survives resets")
    ld.add_argument("model")
    ld.add_argument("--pubkey", metavar="KEY.pub",
                    help="upload the model only if it is signed with this Ed25519 public key")
    _add_port(ld)
    ld.set_defaults(func=cmd_device_load)

    tr = dsub.add_parser("train", help="train a model on the board, data streamed over serial, "
                                       "and pull it back; it is uploaded into RAM and the "
                                       "trained model is stored in flash at the end unless "
                                       "--no-save (docs/protocol.md \"Training\")")
    tr.add_argument("model", help=".ebnn with the algorithm's training section (local: an "
                                  "`--algo local` run; drtp: `export --train-section drtp`)")
    tr.add_argument("--port", help=PORT_HELP + "; not needed with --simulate")
    tr.add_argument("--timeout", type=flags.positive_float, default=2.0, help="seconds per reply (default 2)")
    tr.add_argument("--data", help="data spec (default: the one the model was trained on)")
    tr.add_argument("--algo", default="local", choices=("local", "drtp"),
                    help="on-device algorithm (docs/protocol.md \"Training\"; default local)")
    tr.add_argument("--epochs", type=flags.positive_int, default=1)
    tr.add_argument("--batch", type=flags.positive_int, help="samples per step (default: 100, lowered to what "
                                              "one frame and the board's arena hold)")
    tr.add_argument("--seed", type=flags.seed, help="split and shuffle seed (default: the model's "
                                             "training seed)")
    tr.add_argument("--limit", type=flags.positive_int, help="use at most this many samples (quick runs)")
    tr.add_argument("-o", "--output", required=True, metavar="TRAINED.ebnn")
    tr.add_argument("--simulate", action="store_true",
                    help="train in the host C core instead of on a board (the same steps)")
    tr.add_argument("--verify", action="store_true",
                    help="also simulate on the host and check the models are byte-identical")
    tr.add_argument("--no-save", action="store_true",
                    help="leave the board's stored model as it was: nothing is written to its "
                         "flash (a reset undoes the training)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.set_defaults(func=cmd_device_train)

    ev = dsub.add_parser("evaluate", help="accuracy of the board on a data split (writes no "
                                          "flash)")
    ev.add_argument("model", nargs="?", help=".ebnn to upload first, into RAM only (default: "
                                             "the board's active model)")
    _add_port(ev)
    ev.add_argument("--data", help="data spec (default: the model's)")
    ev.add_argument("--split", default="test", choices=("train", "val", "test"))
    ev.add_argument("--seed", type=flags.seed, help="split seed (default: the model's)")
    ev.add_argument("--limit", type=flags.positive_int, help="use at most this many samples")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=cmd_device_evaluate)

    rd = dsub.add_parser("read", help="pull the board's active model back into a .ebnn file")
    _add_port(rd)
    rd.add_argument("-o", "--output", required=True, metavar="FILE.ebnn")
    rd.set_defaults(func=cmd_device_read)

    rs = dsub.add_parser("reset", help="reset the board and wait until it serves again")
    _add_port(rs)
    rs.add_argument("--bootloader", action="store_true",
                    help="reset into the bootloader through its escape (docs/boot.md), also "
                         "when the application does not answer")
    rs.set_defaults(func=cmd_device_reset)

    fw = sub.add_parser("firmware", help="firmware files for real boards")
    fsub = fw.add_subparsers(dest="firmware_command", required=True)
    im = fsub.add_parser("image", help="the first-install file (bootloader + factory store) "
                                       "to drag onto the board's USB drive or program with a "
                                       "probe; later updates go over serial (edgebnn flash)")
    im.add_argument("--board", required=True, help="a board of firmware/boards.mk")
    im.add_argument("--format", required=True, choices=("bin", "hex", "uf2"),
                    help="bin: ST-LINK drive (Nucleo); hex: DAPLink drive or any programmer; "
                         "uf2: RP2040/RP2350 BOOTSEL drive (Pico, Pico 2)")
    im.add_argument("-o", "--output", required=True, metavar="FILE")
    im.add_argument("--build", help="firmware build root (default: firmware/build or "
                                    "EDGEBNN_FIRMWARE_BUILD)")
    im.set_defaults(func=cmd_firmware_image)

    b = sub.add_parser("board", help="emulated boards")
    bsub = b.add_subparsers(dest="board_command", required=True)
    r = bsub.add_parser("run", help="keep an emulated board running, print its socket:// URL")
    r.add_argument("board", help="mps2-an386 | mps2-an500 | mps3-an547 | linux:aarch64 | "
                                 "linux:armv7 | linux:native (prints a /dev/pts/N path)")
    r.add_argument("--tcp-port", type=flags.port_number, help="local TCP port (default: a free one)")
    r.add_argument("--pty", action="store_true",
                   help="a QEMU board's console on a pseudo-terminal instead (QEMU -serial pty): "
                        "prints its /dev/pts/N path, opened as a real serial port would be")
    r.add_argument("--store", type=Path, help="the board's flash as a file, kept across runs "
                                              "(default: a temporary one; docs/boot.md)")
    r.set_defaults(func=cmd_board_run)
