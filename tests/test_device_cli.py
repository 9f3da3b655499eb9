"""The device command line: `device info/load`, `eval --backend device:qemu:BOARD` (scores equal
the native backend's) and `board run` (a board that outlives its socket:// sessions).

Needs make, arm-none-eabi-gcc and qemu-system-arm (skipped otherwise)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from edgebnn import cli, format as fmt
from edgebnn.device.ports import ensure_firmware
from edgebnn.export import export_model
from tests.conftest import random_model

MISSING = [t for t in ("make", "arm-none-eabi-gcc", "qemu-system-arm") if shutil.which(t) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {', '.join(MISSING)}")
ROOT = Path(__file__).resolve().parents[1]
# `eval --backend device:qemu:B` against the host C core: the M4 reference board, the M33 and the
# STM32F405 and the micro:bit's Cortex-M0 (issue 14)
EVAL_BOARDS = ("mps2-an386", "mps2-an505", "netduinoplus2", "microbit")


@pytest.fixture(scope="module")
def firmware_env(tmp_path_factory):
    """EDGEBNN_FIRMWARE_BUILD pointing at fresh builds of EVAL_BOARDS, for in-process and child
    CLIs."""
    build = tmp_path_factory.mktemp("fw")
    for board in EVAL_BOARDS:
        ensure_firmware(board, build)
    old = os.environ.get("EDGEBNN_FIRMWARE_BUILD")
    os.environ["EDGEBNN_FIRMWARE_BUILD"] = str(build)
    yield build
    if old is None:
        del os.environ["EDGEBNN_FIRMWARE_BUILD"]
    else:
        os.environ["EDGEBNN_FIRMWARE_BUILD"] = old


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "mlp.ebnn"
    model = random_model("mlp", (8, 8, 1), 10, seed=21, layers=[64])
    fmt.write(export_model(model, (8, 8, 1), 10), path)
    return path


def test_eval_on_device_equals_native(firmware_env, model_file, tmp_path, capsys):
    results = {}
    for backend in ("native", *(f"device:qemu:{b}" for b in EVAL_BOARDS)):
        logits = tmp_path / f"{backend.replace(':', '_')}.npy"
        assert cli.main(["eval", str(model_file), "--data", "digits", "--backend", backend,
                         "--json", "--save-logits", str(logits)]) == 0
        results[backend] = (json.loads(capsys.readouterr().out.strip().splitlines()[-1]),
                            np.load(logits))
    (native, native_scores), *devices = results.values()
    for device, device_scores in devices:
        assert np.array_equal(native_scores, device_scores)
        assert native["accuracy"] == device["accuracy"] and native["n"] == device["n"] > 100


def test_device_info_load_and_errors(firmware_env, model_file, capsys):
    assert cli.main(["device", "info", "--port", "qemu:mps2-an386", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["board"] == "mps2-an386" and info["model"]["size"] == 0
    assert cli.main(["device", "load", str(model_file), "--port", "qemu:mps2-an386"]) == 0
    assert "loaded" in capsys.readouterr().out
    assert cli.main(["device", "load", str(ROOT / "README.md"), "--port",
                     "qemu:mps2-an386"]) == 2
    assert "LOAD_COMMIT (seq" in capsys.readouterr().err
    assert cli.main(["device", "info", "--port", "socket://127.0.0.1:1"]) == 2
    assert "socket://127.0.0.1:1: cannot open" in capsys.readouterr().err


def test_only_device_load_replaces_the_stored_model(firmware_env, model_file, tmp_path, capsys):
    """`device load A; eval B --backend device:P; device evaluate B; device info` shows A as the
    stored model: evaluating uploads into RAM only (issue 13)."""
    other = tmp_path / "other.ebnn"
    fmt.write(export_model(random_model("mlp", (8, 8, 1), 10, seed=22, layers=[32]), (8, 8, 1),
                           10), other)
    port = f"qemu:mps2-an386?store={tmp_path / 'an386.flash'}"
    assert cli.main(["device", "load", str(model_file), "--port", port]) == 0
    assert cli.main(["eval", str(other), "--data", "digits", "--backend", f"device:{port}"]) == 0
    assert cli.main(["device", "evaluate", str(other), "--port", port, "--data", "digits"]) == 0
    capsys.readouterr()
    assert cli.main(["device", "info", "--port", port, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    committed = {"size": model_file.stat().st_size,
                 "crc": zlib.crc32(model_file.read_bytes()), "name": model_file.name}
    assert info["model"]["crc"] == committed["crc"]       # a new QEMU serves the stored model
    assert (info["stored"], info["active_is_stored"]) == (committed, True)
    assert info["model_name"] == model_file.name
    assert cli.main(["device", "info", "--port", port]) == 0
    text = capsys.readouterr().out
    assert f"stored model (flash): 'mlp.ebnn', {committed['size']:,} B, CRC " \
           f"0x{committed['crc']:08x}" in text and "— the stored one" in text


def test_board_run_serves_socket_sessions(firmware_env, model_file, capsys):
    proc = subprocess.Popen([sys.executable, "-m", "edgebnn.cli", "board", "run", "mps2-an386"],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("socket://127.0.0.1:"), url
        assert cli.main(["device", "load", str(model_file), "--port", url]) == 0
        capsys.readouterr()
        # a second session finds the model the first one loaded
        assert cli.main(["device", "info", "--port", url, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["model"]["size"] == model_file.stat().st_size
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_board_run_on_a_store_in_use_or_in_a_missing_folder(firmware_env, tmp_path, capsys):
    """Issue 13: a second `board run` on a store another board holds, and a store in a folder
    that does not exist, are one-line errors naming the store (exit 2), not tracebacks or
    "cannot start qemu-system-arm"."""
    store = tmp_path / "S"
    proc = subprocess.Popen([sys.executable, "-m", "edgebnn.cli", "board", "run", "mps2-an386",
                             "--store", str(store)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        while not proc.stdout.readline().startswith("socket://"):
            pass
        assert cli.main(["board", "run", "mps2-an386", "--store", str(store)]) == 2
        err = capsys.readouterr().err
        assert f"store file {store} is in use by another board" in err, err
        assert "Traceback" not in err
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    missing = tmp_path / "no" / "such" / "S"
    assert cli.main(["device", "info", "--port", f"qemu:mps2-an386?store={missing}"]) == 2
    err = capsys.readouterr().err
    assert f"{missing}: the board's store: cannot write" in err and "qemu-system-arm" not in err
