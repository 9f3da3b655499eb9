"""The ARM Linux runtime (firmware/linux): built with Debian's cross compilers for aarch64 and
armv7 (static, NEON), run under qemu-aarch64 / qemu-arm on Raspberry Pi cores over a
pseudo-terminal. It serves the firmware's protocol from the same server code: the banner and
INFO name the board and the C core's NEON kernels, scores over the pty equal the host C core's
for an MLP and a CNN, EVALUATE and READ work, and the fault cases (garbage, a wrong CRC, a
truncated frame, an oversized length, an abandoned upload, RESET, a fault, the runtime killed)
each give an error reply or a clear host error, bounded in time, without losing the committed
model: RESET restores it from the store, and a store file brings it back after a kill.

Needs make and, per architecture, its cross compiler and qemu-user emulator (tools/setup.sh
installs them); an architecture whose tools are missing is skipped with their names."""
from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import serial

from edgebnn.device.errors import CommandError, DeviceError
from edgebnn.device.framing import (REPLY, Cmd, Frame, FrameReader, Status, encode,
                                    encode_header)
from edgebnn.device.linux import ARCHES, LinuxRuntime, runtime_path, serve_on_new_pty
from edgebnn.device.ports import ensure_runtime, open_device
from edgebnn.native import NativeModel
from tests.conftest import random_images
from tests.serial_checks import (SHAPE, check_labels_outside_the_classes_are_refused,
                                 check_ram_loads_keep_the_stored_model,
                                 check_serves_like_host_core, raw_exchange, small_models,
                                 write_garbage)

SLOT = 4 * 1024 * 1024           # firmware/linux/Makefile defaults
MAX_PAYLOAD = 4096
ELF_MACHINE = {"aarch64": 183, "armv7": 40}    # e_machine: EM_AARCH64, EM_ARM


def _missing(arch: str) -> list[str]:
    tools = ["make", ARCHES[arch].compiler] + ([ARCHES[arch].qemu] if ARCHES[arch].qemu else [])
    return [t for t in tools if shutil.which(t) is None]


def _params(*arches: str) -> list:
    return [pytest.param(a, marks=pytest.mark.skipif(bool(_missing(a)), reason=(
        f"not installed: {', '.join(_missing(a))} (tools/setup.sh installs them)")))
        for a in arches]


ARM = _params("aarch64", "armv7")


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("linux-runtime")


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    return small_models(seed=21)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return random_images(SHAPE, 60, seed=7)


def _elf_is_static(path: Path) -> tuple[int, bool]:
    """(e_machine, no PT_INTERP program header) of a little-endian ELF file."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[5] == 1, f"{path}: not a little-endian ELF"
    wide = data[4] == 2
    (machine,) = struct.unpack_from("<H", data, 18)
    phoff, phentsize, phnum = (struct.unpack_from("<Q", data, 32)[0], *struct.unpack_from(
        "<HH", data, 54)) if wide else (struct.unpack_from("<I", data, 28)[0],
                                        *struct.unpack_from("<HH", data, 42))
    types = [struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)]
    return machine, 3 not in types     # PT_INTERP = 3


@pytest.mark.parametrize("arch", ARM)
def test_builds_static_without_malloc(build_dir, arch):
    exe = ensure_runtime(arch, build_dir)
    assert exe == runtime_path(arch, build_dir)
    assert _elf_is_static(exe) == (ELF_MACHINE[arch], True)
    r = subprocess.run([ARCHES[arch].qemu, str(exe), "--version"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and f"board=linux-{arch}" in r.stdout, r.stdout + r.stderr
    # Static memory only, as in the firmware: none of our objects (server, board layer, C core)
    # calls the allocator; glibc is there for the system calls.
    objs = sorted(str(p) for p in (exe.parent / "obj").rglob("*.o"))
    nm = subprocess.run([ARCHES[arch].compiler.replace("-gcc", "-nm"), "-u", *objs],
                        capture_output=True, text=True, timeout=60)
    assert nm.returncode == 0 and "ebnn_server_main" in nm.stdout, nm.stderr
    used = {line.split()[-1] for line in nm.stdout.splitlines() if line.strip().startswith("U ")}
    assert not used & {"malloc", "calloc", "realloc", "free", "aligned_alloc", "posix_memalign",
                       "strdup"}, sorted(used)


@pytest.mark.parametrize("arch", ARM)
def test_scores_equal_host_core(build_dir, models, images, arch):
    with open_device(f"linux:{arch}", build_dir=build_dir) as dev:
        info = dev.info()
        assert (info.board, info.model.size, info.clock_hz) == (f"linux-{arch}", 0, 10**9)
        assert "kernels: neon" in info.core, info.core
        assert (info.model_slot_size, info.arena_size, info.max_payload) == (SLOT, SLOT,
                                                                             MAX_PAYLOAD)
        with pytest.raises(CommandError, match="ERR_NO_MODEL"):
            dev.request(Cmd.INFER, struct.pack("<HH", 0, 0))
        check_serves_like_host_core(dev, models, images, arch)   # cycles: CLOCK_MONOTONIC ns
        assert dev.info().model.crc == zlib.crc32(models["cnn"])


# --- fault tests ---------------------------------------------------------------------------
@pytest.fixture(params=ARM)
def dev(request, build_dir, models):
    """The runtime with the MLP committed."""
    with open_device(f"linux:{request.param}", build_dir=build_dir, timeout=1.0,
                     retries=4) as d:   # short waits, several resends: robust under load
        d.load(models["mlp"])
        yield d


def test_garbage_and_frame_errors_keep_serving(dev, models, images):
    expected = NativeModel(models["mlp"]).infer(images[:20])
    rng = random.Random(3)
    for _ in range(4):
        write_garbage(dev, rng, 5)
        assert np.array_equal(dev.infer(images[:20]).scores, expected)
    seq = 200
    bad = bytearray(encode(Frame(Cmd.INFO, seq)))
    bad[-1] ^= 0xFF
    assert raw_exchange(dev, bytes(bad)) == [Frame(Cmd.INFO | REPLY, seq, b"", Status.ERR_CRC)]
    (f,) = raw_exchange(dev, encode_header(Cmd.LOAD_CHUNK, seq, MAX_PAYLOAD + 4) + bytes(64))
    assert (f.status, f.payload) == (Status.ERR_TOO_LONG, struct.pack("<H", MAX_PAYLOAD))
    # a frame cut short is answered by the device's frame timeout (250 ms), within
    # raw_exchange's window, not left pending
    (f,) = raw_exchange(dev, encode(Frame(Cmd.INFER, seq, bytes(68)))[:40])
    assert (f.cmd, f.seq, f.status) == (Cmd.INFER | REPLY, seq, Status.ERR_TRUNCATED)
    assert np.array_equal(dev.infer(images[:20]).scores, expected)


def test_abandoned_upload_keeps_the_old_model(dev, models, images):
    old = NativeModel(models["mlp"]).infer(images)
    new = models["cnn"]
    dev.request(Cmd.LOAD_BEGIN, struct.pack("<II", len(new), zlib.crc32(new)))
    dev.request(Cmd.LOAD_CHUNK, struct.pack("<I", 0) + new[:1024])
    with pytest.raises(CommandError, match=r"ERR_LOAD_STATE \(device has 1024 bytes"):
        dev.request(Cmd.LOAD_COMMIT)
    assert np.array_equal(dev.infer(images).scores, old)
    with pytest.raises(CommandError, match=rf"ERR_TOO_LARGE \(needs {SLOT + 1} bytes, "
                                           rf"device has {SLOT}"):
        dev.request(Cmd.LOAD_BEGIN, struct.pack("<II", SLOT + 1, 0))
    broken = bytearray(new)
    broken[8] ^= 0x10
    with pytest.raises(CommandError, match="ERR_MODEL"):
        dev.load(bytes(broken))
    assert np.array_equal(dev.infer(images).scores, old)
    assert dev.read_model() == models["mlp"]


def test_ram_only_loads_keep_the_stored_model(dev, models, images):
    check_ram_loads_keep_the_stored_model(dev, models, images)


def test_evaluate_refuses_labels_outside_the_classes(dev, images):
    check_labels_outside_the_classes_are_refused(dev, images)


def test_runtime_killed_is_a_clear_host_error(dev, images):
    rt = dev.runtime
    dev.link.write(encode(Frame(Cmd.INFER, 1, bytes(200)))[:100])   # waits mid-frame
    threading.Timer(0.3, rt.proc.kill).start()
    t0 = time.monotonic()
    with pytest.raises(DeviceError, match=rf"linux:{rt.arch.name}: (link lost|no reply to "
                                          r"INFER).*the runtime exited with status -9"):
        dev.infer(images)
    assert time.monotonic() - t0 < 30, "the host waited far past its retries: a hang"


@pytest.mark.parametrize("arch", ARM + _params("native"))   # native: x86's udf as ud2
def test_reset_fault_and_exit(build_dir, models, arch):
    with open_device(f"linux:{arch}", build_dir=build_dir) as dev:
        dev.load(models["mlp"])
        dev.reset()                   # a fresh boot (banner); the store keeps the model
        assert dev.info().model.crc == zlib.crc32(models["mlp"])
        dev.test_exit(42)
        assert dev.runtime.wait_exit(timeout=5) == 42
    with open_device(f"linux:{arch}", build_dir=build_dir) as dev:
        seq = (dev.last_seq + 1) & 0xFFFF
        dev.link.write(encode(Frame(Cmd.TEST_FAULT, seq)))   # udf: SIGILL, reported on the line
        reader = FrameReader()
        reader.feed(_read_until_closed(dev.link))
        assert reader.frames() == [Frame(Cmd.TEST_FAULT | REPLY, seq, b"", Status.OK)]
        assert b"EBNN-FAULT SIGILL sig=4 " in reader.skipped, reader.skipped
        assert dev.runtime.wait_exit(timeout=5) == 128 + 4


def _read_until_closed(link, timeout: float = 5.0) -> bytes:
    """Everything the runtime sends until it closes the line (bounded)."""
    out, deadline = b"", time.monotonic() + timeout
    link.timeout = 0.05
    while time.monotonic() < deadline:
        try:
            out += link.read(4096)
        except serial.SerialException:
            return out
    raise AssertionError(f"the line was not closed within {timeout} s; received {out!r}")


@pytest.mark.parametrize("arch", ARM)
def test_store_file_keeps_the_model_when_the_runtime_is_killed(build_dir, tmp_path, models,
                                                               images, arch):
    exe, store = ensure_runtime(arch, build_dir), tmp_path / "store.bin"
    with open_device(f"linux:{arch}?store={store}", build_dir=build_dir) as dev:
        assert dev.info().model.size == 0                # a new store is erased flash
        dev.load(models["cnn"])
        with pytest.raises(CommandError, match="ERR_MODEL"):   # a bad upload changes nothing
            dev.load(models["mlp"][:-16])
        dev.runtime.proc.kill()
        dev.runtime.proc.wait(timeout=5)
    with open_device(f"linux:{arch}?store={store}", build_dir=build_dir) as dev:
        assert dev.info().model.crc == zlib.crc32(models["cnn"])
        assert np.array_equal(dev.infer(images).scores, NativeModel(models["cnn"]).infer(images))
        # one store, one runtime: a second one is refused while this one holds it
        r = subprocess.run([ARCHES[arch].qemu, str(exe), "--store", str(store)],
                           capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert r.returncode == 2 and "in use by another runtime" in r.stderr, r.stderr
    store.write_bytes(bytes(100))
    r = subprocess.run([ARCHES[arch].qemu, str(exe), "--store", str(store)], capture_output=True,
                       text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and f"--store {store}: 100 bytes, expected" in r.stderr, r.stderr


@pytest.mark.parametrize("arch", ARM)
def test_bad_tty_is_a_clear_error(build_dir, tmp_path, arch):
    exe = ensure_runtime(arch, build_dir)
    plain = tmp_path / "not-a-tty"
    plain.write_bytes(b"")
    for path, message in ((tmp_path / "missing", "cannot open: No such file"),
                          (plain, "not a terminal device")):
        r = subprocess.run([ARCHES[arch].qemu, str(exe), "--tty", str(path)],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and f"--tty {path}: {message}" in r.stderr, r.stderr



@pytest.mark.parametrize("arch", ARM)
def test_board_run_pty_serves_session_after_session(build_dir, models, images, arch):
    """`edgebnn board run linux:ARCH`: the runtime on stdin/stdout (a pty master) keeps its
    committed model across clients that open the pty's path one after another."""
    proc, path, slave = serve_on_new_pty(LinuxRuntime(arch, ensure_runtime(arch, build_dir)))
    try:
        with open_device(path, timeout=2.0) as dev:
            dev.load(models["cnn"])
        with open_device(path, timeout=2.0) as dev:
            assert dev.info().board == f"linux-{arch}"
            assert np.array_equal(dev.infer(images).scores,
                                  NativeModel(models["cnn"]).infer(images))
        proc.terminate()
        assert proc.wait(timeout=5) == 128 + 15      # the boot ended by the forwarded SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        os.close(slave)
