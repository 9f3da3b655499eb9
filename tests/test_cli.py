"""The command-line contract: train, export, eval (torch and native), info."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from edgebnn.cli import main


def _run(args, capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--data", "digits", "--model", "mlp", "--layers", "64",
                 "--algo", "bp", "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    return out


def test_export_prints_sizes(cli_run, tmp_path, capsys):
    code, out, _ = _run(["export", str(cli_run), "-o", str(tmp_path / "m.ebnn")], capsys)
    assert code == 0
    size = (tmp_path / "m.ebnn").stat().st_size
    assert f"{size:,} bytes" in out and "float32" in out
    assert f"{4 * (64 * 64 + 64 * 10):,} bytes" in out


def test_eval_backends_agree_and_json(cli_run, tmp_path, capsys):
    model = tmp_path / "m.ebnn"
    assert main(["export", str(cli_run), "-o", str(model)]) == 0
    results = {}
    for name, backend, path, extra in (("torch", "torch", cli_run, []),
                                       ("native", "native", model, []),
                                       ("native3", "native", model, ["--threads", "3"])):
        logits = tmp_path / f"{name}.npy"
        code, out, _ = _run(["eval", str(path), "--data", "digits", "--backend", backend,
                             "--json", "--save-logits", str(logits), *extra], capsys)
        assert code == 0
        results[name] = json.loads(out.strip().splitlines()[-1])
        results[name]["scores"] = np.load(logits)
    assert results["torch"]["n"] == results["native"]["n"] == 359
    assert results["torch"]["accuracy"] == results["native"]["accuracy"] > 0.5
    assert np.array_equal(results["torch"]["scores"], results["native"]["scores"])
    assert np.array_equal(results["native3"]["scores"], results["native"]["scores"])
    assert results["native"]["scores"].dtype == np.int32


def test_eval_uses_the_stored_data_spec(cli_run, tmp_path, capsys):
    model = tmp_path / "m.ebnn"
    main(["export", str(cli_run), "-o", str(model)])
    capsys.readouterr()
    code, out, _ = _run(["eval", str(model), "--json"], capsys)
    assert code == 0 and json.loads(out.splitlines()[-1])["n"] == 359


def test_info(capsys):
    code, out, _ = _run(["info"], capsys)
    assert code == 0 and "edgebnn 0.1.0" in out and "kernels" in out and "bp" in out


@pytest.mark.parametrize("args, message", [
    (["train", "--data", "idx:/no/such/dir", "--out", "x"], "/no/such/dir"),
    (["train", "--data", "imagenet", "--out", "x"], "imagenet"),
    (["export", "/no/run", "-o", "x.ebnn"], "/no/run: no config.json"),
    (["eval", "/no/model.ebnn", "--data", "digits"], "/no/model.ebnn"),
    (["eval", "/no/run", "--backend", "torch", "--threads", "2"],
     "only the native backend runs threads"),
])
def test_errors_are_one_line(args, message, capsys):
    code, _, err = _run(args, capsys)
    assert code == 2 and message in err and err.count("\n") == 1


def test_corrupt_model_file_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.ebnn"
    bad.write_bytes(b"EBNN" + bytes(100))
    code, _, err = _run(["eval", str(bad), "--data", "digits"], capsys)
    assert code == 2 and "bad.ebnn" in err and "EBNN_ERR" in err


def test_console_script_entry_point():
    proc = subprocess.run([sys.executable, "-m", "edgebnn.cli", "info"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "C core:" in proc.stdout


def test_demo_main_job_end_to_end(tmp_path, capsys):
    """The README's main job: train → export → C core, onnxruntime and the emulated board,
    then training on the emulated board."""
    import shutil
    if not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")):
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm (tools/setup.sh installs them)")
    code, out, _ = _run(["demo", "--out", str(tmp_path / "demo"), "--epochs", "2",
                         "--board-epochs", "1", "--quiet"], capsys)
    assert code == 0, out
    assert out.count("identical to PyTorch") == 3 and "[5/7] emulated mps2-an386" in out
    assert (tmp_path / "demo" / "model.ebnn").is_file() and (tmp_path / "demo" / "model.onnx").is_file()
    # then on-device training, pulled back and equal to the host C core's
    assert "identical to the host C core's training" in out
    assert (tmp_path / "demo" / "local_trained.ebnn").is_file()


def test_eval_picks_the_backend_from_the_model(cli_run, tmp_path, capsys):
    onnx_path = tmp_path / "m.onnx"
    assert main(["export", str(cli_run), "--onnx", str(onnx_path)]) == 0
    capsys.readouterr()
    for path, backend in ((cli_run, "torch"), (onnx_path, "onnx")):
        code, out, _ = _run(["eval", str(path), "--json"], capsys)
        assert code == 0 and json.loads(out.splitlines()[-1])["backend"] == backend
