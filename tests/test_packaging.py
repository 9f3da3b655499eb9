"""Installable where users already have torch (issue 16, part 9): the sdist holds what the
wheel is built from (the C core, the licence), and the wheel installs into a clean virtualenv
that already holds another torch — a CUDA build of another version — without replacing it, then
trains, exports and runs on the C core there. Slow: it installs torch and every dependency."""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the torch the clean environment holds first (EDGEBNN_TEST_OTHER_TORCH; not tools/requirements.txt's)
OTHER_TORCH = os.environ.get("EDGEBNN_TEST_OTHER_TORCH", "torch==2.14.1")


def _run(*cmd: str | Path, cwd: Path | None = None, timeout: int = 1200) -> str:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _build(tmp_path: Path) -> tuple[Path, Path]:
    """(sdist, wheel): the sdist from the repository, the wheel from the unpacked sdist."""
    dist = tmp_path / "dist"
    _run(sys.executable, "-c", "import sys; from setuptools import build_meta as b; "
         "print(b.build_sdist(sys.argv[1]))", dist, cwd=ROOT)
    sdist = next(dist.glob("edgebnn-*.tar.gz"))
    with tarfile.open(sdist) as t:
        names = t.getnames()
        t.extractall(tmp_path / "src", filter="data")
    top = sdist.name[: -len(".tar.gz")]
    assert f"{top}/LICENSE" in names and f"{top}/native/include/edgebnn.h" in names
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", dist, tmp_path / "src" / top)
    wheel = next(dist.glob("edgebnn-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        licence = [n for n in z.namelist() if n.endswith("licenses/LICENSE")]
        assert licence and b"Apache License" in z.read(licence[0])
        assert any(n.startswith("edgebnn/_native") for n in z.namelist())
    return sdist, wheel


@pytest.mark.slow
def test_wheel_installs_beside_another_torch_and_keeps_it(tmp_path):
    _, wheel = _build(tmp_path)
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    py = venv / "bin" / "python"
    _run(py, "-m", "pip", "install", "-q", OTHER_TORCH)
    before = _run(py, "-c", "import torch; print(torch.__version__)").strip()
    assert before.split("+")[0] == OTHER_TORCH.split("==")[1]   # 2.14.1+cu130: a CUDA build
    _run(py, "-m", "pip", "install", "-q", wheel)
    after = _run(py, "-c", "import torch; print(torch.__version__)").strip()
    assert after == before, "installing edgebnn replaced the torch already there"
    run = tmp_path / "run"
    _run(venv / "bin" / "edgebnn", "train", "--epochs", "1", "--quiet", "--out", run, cwd=tmp_path)
    _run(venv / "bin" / "edgebnn", "export", run, "-o", run / "m.ebnn", cwd=tmp_path)
    out = _run(venv / "bin" / "edgebnn", "eval", run / "m.ebnn", "--json", cwd=tmp_path)
    assert '"backend": "native"' in out
