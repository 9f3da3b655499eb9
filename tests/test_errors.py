"""One error root (edgebnn.errors): every user-facing error class derives from EdgebnnError,
the command line prints those as one line with status 2, and anything else (a bug) keeps its
traceback."""
from __future__ import annotations

import numpy as np
import pytest

from edgebnn import cli
from edgebnn import format as fmt
from edgebnn.data import DataError
from edgebnn.device.errors import BoardRestarted, CommandError, DeviceError
from edgebnn.device.fwimage import ImageError
from edgebnn.device.linux import LinuxRuntimeError
from edgebnn.device.qemu import QemuError
from edgebnn.errors import EdgebnnError, FileError, UsageError
from edgebnn.export import ExportError, export_model
from edgebnn.export.onnx import OnnxError
from edgebnn.format import FormatError
from edgebnn.native import NativeError, NativeModel
from edgebnn.runs.run_folder import RunFolderError
from tests.conftest import random_model


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> str:
    model = random_model("cnn", (8, 8, 1), 10, 0, width=8, fc=16)
    path = tmp_path_factory.mktemp("errors") / "m.ebnn"
    fmt.write(export_model(model, (8, 8, 1), 10), path)
    return str(path)


def _run(args, capsys) -> tuple[int, str]:
    code = cli.main(args)
    return code, capsys.readouterr().err


def test_message_names_file_field_expected_and_found():
    e = EdgebnnError(file="model.ebnn", field="layer 3 weights", expected="1024 bytes",
                     found=512)
    assert str(e) == "model.ebnn: layer 3 weights: expected 1024 bytes, found 512"
    assert (e.file, e.field, e.expected, e.found) == ("model.ebnn", "layer 3 weights",
                                                      "1024 bytes", 512)
    assert str(EdgebnnError("plain text")) == "plain text"
    assert str(UsageError("no data spec", file="m.ebnn")) == "m.ebnn: no data spec"


@pytest.mark.parametrize("cls, old_base", [
    (ExportError, ValueError), (OnnxError, ValueError), (RunFolderError, ValueError),
    (FormatError, ValueError), (ImageError, ValueError), (UsageError, ValueError),
    (DeviceError, RuntimeError), (BoardRestarted, RuntimeError), (CommandError, RuntimeError),
    (LinuxRuntimeError, RuntimeError), (QemuError, RuntimeError), (NativeError, RuntimeError),
    (DataError, ValueError), (FileError, Exception)])
def test_every_error_class_has_the_one_root(cls, old_base):
    assert issubclass(cls, EdgebnnError) and issubclass(cls, old_base)


def test_data_error_keeps_its_where_and_problem():
    e = DataError("idx:/d", "no such directory")
    assert str(e) == "idx:/d: no such directory" and e.file == "idx:/d"


def test_native_error_carries_the_c_diag(model_file):
    data = open(model_file, "rb").read()
    with pytest.raises(NativeError) as info:
        NativeModel(data[:10], "short.ebnn")
    e = info.value
    assert e.status == "EBNN_ERR_TRUNCATED" and e.file == "short.ebnn"
    assert (e.field, e.found, e.expected) == ("size", 10, 64)
    assert str(e).startswith("short.ebnn: size is 10, expected 64: EBNN_ERR_TRUNCATED: ")


@pytest.mark.parametrize("args, message", [
    (["device", "load", "/no/such.ebnn", "--port", "qemu:mps2-an386"],
     "/no/such.ebnn: cannot read (No such file or directory)"),
    (["flash", "/no/such.img", "--port", "qemu:mps2-an386"], "/no/such.img: cannot read"),
    (["device", "train", "/no/such.ebnn", "-o", "x.ebnn"], "device train needs --port"),
    (["device", "info", "--port", "qemu:mps2-an386?colour=red"], "unknown option 'colour=red'"),
    (["device", "info", "--port", "linux:sparc"], "linux:sparc: unknown architecture"),
    (["eval", "/no/model.onnx", "--data", "digits"], "/no/model.onnx"),
])
def test_user_mistakes_are_one_line(args, message, capsys):
    code, err = _run(args, capsys)
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_unwritable_outputs_are_named(model_file, tmp_path, capsys):
    folder = tmp_path / "a_folder"
    folder.mkdir()
    code, err = _run(["export", model_file, "-o", str(folder)], capsys)
    assert code == 2 and f"{folder}: cannot write" in err and err.count("\n") == 1
    code, err = _run(["export", model_file, "--header", str(folder)], capsys)
    assert code == 2 and f"{folder}: cannot write" in err
    code, err = _run(["eval", model_file, "--data", "digits", "--save-logits",
                      str(tmp_path / "no" / "l.npy")], capsys)
    assert code == 2 and "--save-logits: cannot write" in err and "l.npy" in err


def test_corrupt_run_folder_is_named(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{")
    (run / "model.pt").write_bytes(b"")   # an interrupted save
    code, err = _run(["export", str(run), "-o", str(tmp_path / "m.ebnn")], capsys)
    assert code == 2 and f"{run / 'model.pt'}: cannot rebuild" in err and err.count("\n") == 1


@pytest.mark.parametrize("bug", [ValueError("a bug"), TypeError("a bug"), OSError("a bug")])
def test_a_bug_is_not_swallowed(monkeypatch, bug, capsys):
    def broken(args):
        raise bug

    monkeypatch.setattr(cli, "cmd_info", broken)
    with pytest.raises(type(bug), match="a bug"):
        cli.main(["info"])
    assert "edgebnn: error" not in capsys.readouterr().err


def test_save_logits_still_writes(model_file, tmp_path, capsys):
    logits = tmp_path / "l.npy"
    assert cli.main(["eval", model_file, "--data", "digits", "--save-logits", str(logits)]) == 0
    assert np.load(logits).dtype == np.int32
