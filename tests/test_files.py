"""Nothing the package writes is lost half-way (issue 13): every file goes through
`errors.replacing` (temp in the same folder + fsync + rename), so a failing write leaves the old
file byte for byte and no temp file, with a message naming the file; `export` refuses an output
that is its input or another output; `train --out` refuses a non-empty or unwritable folder
before any training; no JSON file holds NaN."""
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


def test_one_class_is_refused_before_training(tmp_path, monkeypatch, capsys):
    from PIL import Image

    (tmp_path / "one" / "cat").mkdir(parents=True)
    for i in range(6):
        Image.new("RGB", (8, 8), (i, 0, 0)).save(tmp_path / "one" / "cat" / f"{i}.png")
    spec = f"folder:{tmp_path / 'one'}"
    code, err = _run(["train", "--data", spec, "--epochs", "1", "--out", str(tmp_path / "r")],
                     capsys)
    assert code == 2 and err == (f"edgebnn: error: {spec}: training samples of 1 class (cat), "
                                 "expected at least 2\n")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("output, flag", [("{m}", "--onnx"), ("./{m}", "--header"),
                                          ("hard.ebnn", "--onnx"), ("soft.onnx", "-o")])
def test_export_refuses_an_output_that_is_its_input(model_file, tmp_path, monkeypatch, output,
                                                   flag, capsys):
    model = tmp_path / "m.ebnn"
    model.write_bytes(model_file.read_bytes())
    os.link(model, tmp_path / "hard.ebnn")
    (tmp_path / "soft.onnx").symlink_to("m.ebnn")
    monkeypatch.chdir(tmp_path)
    out = output.format(m="m.ebnn")
    code, err = _run(["export", "m.ebnn", flag, out], capsys)
    assert code == 2 and err == (f"edgebnn: error: {out}: {flag}: is the input m.ebnn; choose "
                                 "another file\n")
    assert model.read_bytes() == model_file.read_bytes()


def test_export_refuses_two_outputs_in_one_file(model_file, tmp_path, capsys):
    out = tmp_path / "x.out"
    code, err = _run(["export", str(model_file), "-o", str(out), "--header",
                      str(tmp_path / "." / "x.out")], capsys)
    assert code == 2 and "--header: is also the -o file" in err and not out.exists()


def test_export_refuses_to_write_over_the_run_it_reads(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", "--layers", "8", "--epochs", "1", "--quiet", "--out",
                     str(run)]) == 0
    checkpoint = (run / "model.pt").read_bytes()
    code, err = _run(["export", str(run), "-o", str(run / "model.pt")], capsys)
    assert code == 2 and "-o: is the input" in err
    assert (run / "model.pt").read_bytes() == checkpoint


@pytest.fixture
def no_training(monkeypatch):
    """Fails the test if training starts: the --out checks must come before any epoch."""
    import edgebnn.train

    def train(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(edgebnn.train, "train", train)


def test_train_refuses_a_non_empty_out_folder(tmp_path, no_training, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_bytes(OLD)
    code, err = _run(["train", "--out", str(run)], capsys)
    assert code == 2 and err == (f"edgebnn: error: {run}: --out: not empty (a run is there); "
                                 "pass --overwrite to replace its files, or choose another "
                                 "--out\n")
    assert (run / "metrics.json").read_bytes() == OLD


@pytest.mark.parametrize("where, message", [
    ("file", "--out: is a file, expected a run folder to write"),
    ("file/run", "--out: cannot create the folder ("),
])
def test_train_refuses_an_unwritable_out_before_training(tmp_path, no_training, where, message,
                                                         capsys):
    (tmp_path / "file").write_bytes(OLD)
    code, err = _run(["train", "--out", str(tmp_path / where)], capsys)
    assert code == 2 and f"{tmp_path / where}: {message}" in err and err.count("\n") == 1
    assert (tmp_path / "file").read_bytes() == OLD


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_train_refuses_a_read_only_parent_before_training(tmp_path, no_training, capsys):
    parent = tmp_path / "ro"
    parent.mkdir(mode=0o555)
    code, err = _run(["train", "--out", str(parent / "run")], capsys)
    assert code == 2 and "--out: cannot write the run folder (Permission denied)" in err


def test_train_overwrite_replaces_the_run(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "--layers", "8", "--epochs", "1", "--quiet", "--out", str(run)]
    assert cli.main(args) == 0
    assert cli.main(args[:-2] + ["--seed", "1", "--overwrite"] + args[-2:]) == 0
    assert _strict_json(run / "config.json")["seed"] == 1
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.pt", "config.json", "metrics.json",
                                                    "model.pt"]


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


def test_nan_in_model_meta_is_refused_not_written(model_file):
    """A model's meta (the .ebnn `meta` section, the ONNX metadata) is strict JSON too: a NaN
    is a FormatError naming meta, and nothing is written."""
    import math
    from edgebnn.export import onnx as eonnx
    model = fmt.read(model_file)
    model.meta = {"training": {"lr": math.nan}}
    with pytest.raises(fmt.FormatError, match="meta: not JSON"):
        fmt.to_bytes(model)
    with pytest.raises(fmt.FormatError, match="meta: not JSON"):
        eonnx.to_onnx(model)
