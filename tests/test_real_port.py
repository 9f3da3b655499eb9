"""The real-port path end to end: `edgebnn board run BOARD --pty` puts an emulated board's
console UART on a pseudo-terminal (QEMU `-serial pty`), and the host opens its /dev/pts/N by
path through pyserial (serial.Serial, termios) exactly as it opens /dev/ttyACM0 — no socket, no
mock: `device info` and `device load` through the CLI, INFER scores equal to the host C core's,
session after session on the same board (the ARM Linux runtime's pty:
tests/test_linux_runtime.py). Needs make, arm-none-eabi-gcc and qemu-system-arm."""
from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgebnn.cli import main
from edgebnn.device.ports import open_device
from edgebnn.native import NativeModel
from tests.conftest import random_images
from tests.serial_checks import SHAPE, small_models

ROOT = Path(__file__).resolve().parents[1]
MISSING = [t for t in ("make", "arm-none-eabi-gcc", "qemu-system-arm") if shutil.which(t) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {', '.join(MISSING)}")
BOARD = "mps2-an386"


@pytest.fixture
def pty_board(firmware_build, tmp_path, monkeypatch):
    """`edgebnn board run mps2-an386 --pty --store FILE` running; yields its pty path."""
    monkeypatch.setenv("EDGEBNN_FIRMWARE_BUILD", str(firmware_build[0]))
    proc = subprocess.Popen([sys.executable, "-m", "edgebnn.cli", "board", "run", BOARD, "--pty",
                             "--store", str(tmp_path / "flash.store")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ))
    try:
        ready = select.select([proc.stdout], [], [], 60)[0]
        line = proc.stdout.readline().decode().strip() if ready else ""
        assert line.startswith("/dev/"), f"no pty path: {line!r} {proc.stderr.read1()!r}"
        yield line
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_pty_port_by_path_info_load_infer(pty_board, tmp_path, capsys):
    path = pty_board
    model = small_models(seed=5)["mlp"]
    (tmp_path / "m.ebnn").write_bytes(model)
    assert main(["device", "info", "--port", path]) == 0
    assert f"on {BOARD}" in capsys.readouterr().out
    assert main(["device", "load", str(tmp_path / "m.ebnn"), "--port", path]) == 0
    images = random_images(SHAPE, 40, seed=3)
    with open_device(path, timeout=2.0) as dev:       # a later session: the model stayed
        assert type(dev.link).__module__ == "serial.serialposix"   # pyserial's real port
        assert dev.info().board == BOARD
        assert np.array_equal(dev.infer(images).scores, NativeModel(model).infer(images))


def test_pty_and_tcp_port_refused_together(capsys):
    assert main(["board", "run", BOARD, "--pty", "--tcp-port", "5555"]) == 2
    assert "--pty and --tcp-port" in capsys.readouterr().err
