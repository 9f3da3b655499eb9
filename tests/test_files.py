"""Nothing the package writes is lost half-way (issue 13): every file goes through
`errors.replacing` (temp in the same folder + fsync + rename), so a failing write leaves the old
file byte for byte and no temp file, with a message naming the file; no JSON file holds NaN."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgebnn import cli
from edgebnn import format as fmt
from edgebnn.errors import EdgebnnError, FileError, replacing, write_bytes, write_json
from edgebnn.export import export_model
from tests.conftest import random_model

OLD = b"the old contents, which must survive\n"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    """A model of about 20 KB (bigger than the file-size limit below)."""
    model = random_model("mlp", (8, 8, 1), 10, 0, layers=[512, 256])
    path = tmp_path_factory.mktemp("files") / "m.ebnn"
    fmt.write(export_model(model, (8, 8, 1), 10), path)
    assert path.stat().st_size > 16384
    return path


def _old_file(folder: Path, name: str = "out.ebnn") -> Path:
    path = folder / name
    path.write_bytes(OLD)
    return path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _run(args, capsys) -> tuple[int, str]:
    code = cli.main(args)
    return code, capsys.readouterr().err


def test_file_too_large_keeps_the_old_model(model_file, tmp_path):
    """A real failing write: the kernel refuses to grow a file past RLIMIT_FSIZE (EFBIG; Python
    ignores SIGXFSZ), as a full disk refuses with ENOSPC, part-way through the model."""
    out = _old_file(tmp_path)
    code = ("import resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, "
            f"(16384, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))\n"
            "from edgebnn.cli import main\n"
            f"sys.exit(main(['export', {str(model_file)!r}, '-o', {str(out)!r}]))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 2, r.stderr
    assert r.stderr == f"edgebnn: error: {out}: cannot write (File too large)\n"
    assert out.read_bytes() == OLD and _leftovers(tmp_path) == []


def test_disk_full_at_fsync_keeps_the_old_file(model_file, tmp_path, monkeypatch, capsys):
    """ENOSPC where delayed allocation reports it: at fsync, after every write() succeeded."""
    out = _old_file(tmp_path)

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    for flag in ("-o", "--onnx", "--header"):
        code, err = _run(["export", str(model_file), flag, str(out)], capsys)
        assert code == 2 and err == f"edgebnn: error: {out}: cannot write (No space left on device)\n"
        assert out.read_bytes() == OLD and _leftovers(tmp_path) == []


def test_a_failure_inside_the_block_keeps_the_old_file(tmp_path):
    out = _old_file(tmp_path)
    with pytest.raises(ZeroDivisionError):
        with replacing(out) as f:
            f.write(b"half of it")
            1 / 0
    assert out.read_bytes() == OLD and _leftovers(tmp_path) == []


def test_replacing_keeps_mode_and_links(tmp_path):
    out = _old_file(tmp_path)
    out.chmod(0o640)
    link = tmp_path / "link.ebnn"
    link.symlink_to(out.name)
    write_bytes(link, b"new")
    assert link.is_symlink() and out.read_bytes() == b"new"
    assert out.stat().st_mode & 0o777 == 0o640
    write_bytes(os.devnull, b"discarded")   # a device is written, never replaced
    assert not Path(os.devnull).is_file()


def test_nan_is_never_written_as_json(tmp_path):
    out = _old_file(tmp_path, "metrics.json")
    with pytest.raises(EdgebnnError, match=f"^{out}: cannot write as JSON .*nan"):
        write_json(out, {"accuracy": float("nan")})
    assert out.read_bytes() == OLD


def _strict_json(path: Path):
    def refuse(constant: str):
        raise AssertionError(f"{path} holds {constant}")
    return json.loads(path.read_text(), parse_constant=refuse)


def test_an_empty_split_is_null_in_metrics(tmp_path, capsys):
    """--limit 4 leaves no validation sample: its accuracy is null, not NaN (invalid JSON)."""
    run = tmp_path / "run"
    assert cli.main(["train", "--layers", "8", "--epochs", "1", "--limit", "4", "--quiet",
                     "--out", str(run)]) == 0
    metrics = _strict_json(run / "metrics.json")
    assert metrics["n"]["val"] == 0 and metrics["accuracy"]["val"] is None
    assert "(val n/a," in capsys.readouterr().out


def test_run_folder_write_failure_is_named(tmp_path, monkeypatch):
    """A failing save names the file and leaves no metrics.json (the completion mark)."""
    from edgebnn.runs import run_folder
    from edgebnn.train import TrainConfig, train

    run = tmp_path / "run"
    train(TrainConfig(model_kwargs={"layers": [8]}, epochs=1), run, progress=False)
    old = (run / "model.pt").read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(FileError, match=f"^{run / 'config.json'}: cannot write"):
        train(TrainConfig(model_kwargs={"layers": [8]}, epochs=1, seed=1), run, progress=False)
    assert not (run / run_folder.METRICS).exists() and (run / "model.pt").read_bytes() == old
    assert _leftovers(run) == []
