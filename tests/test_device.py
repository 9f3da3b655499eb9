"""`--device cpu|cuda|auto` (edgebnn/train/device.py): `cuda` without CUDA is refused by name,
`auto` without CUDA is the CPU run byte for byte (the exported .ebnn is identical), and moving
a rule's tensors keeps the aliases its optimizers and tables hold (checked on torch's `meta`
device, as this machine has no GPU: the CUDA path itself is built, not run)."""
from __future__ import annotations

import shutil

import pytest
import torch

from edgebnn import format as fmt
from edgebnn.cli import main
from edgebnn.errors import UsageError
from edgebnn.export import export_run
from edgebnn.models import build_from_spec
from edgebnn.train import TrainConfig, device, train
from edgebnn.train.base import get_algorithm

needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="tests the CPU-only case")


@needs_no_cuda
def test_cuda_without_cuda_is_refused_naming_the_flag(tmp_path, capsys):
    with pytest.raises(UsageError, match="--device: CUDA is not available"):
        device.resolve("cuda")
    assert main(["train", "--device", "cuda", "--epochs", "1", "--out", str(tmp_path / "r")]) == 2
    assert "--device: CUDA is not available" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()   # refused before anything is written
    assert main(["compare", "--device", "cuda", "--algos", "bp", "--seeds", "1",
                 "--out", str(tmp_path / "c")]) == 2
    assert not (tmp_path / "c" / "runs").exists()


def test_resolve():
    assert device.resolve("cpu") == torch.device("cpu")
    assert device.resolve("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(UsageError, match="--device: unknown device 'gpu'"):
        device.resolve("gpu")


@needs_no_cuda
@pytest.mark.parametrize("algo, kwargs", [("bp", {}), ("dfa", {}), ("local", {"layers": [32]}),
                                          ("cyclic", {})])
def test_auto_without_cuda_exports_the_cpu_runs_bytes(tmp_path, algo, kwargs):
    config = TrainConfig(algo=algo, model_kwargs=kwargs, epochs=1, limit=300)
    files = []
    for where in ("cpu", "auto"):   # one folder: the export records its path
        train(config, tmp_path / "run", progress=False, device=where)
        files.append(fmt.to_bytes(export_run(tmp_path / "run")))
        shutil.rmtree(tmp_path / "run")
    assert files[0] == files[1]


@pytest.mark.parametrize("algo", ["fa", "sigprop", "cyclic"])
def test_moving_a_rule_keeps_its_aliases(algo):
    """The parameters and the rule's tensors move in place: the optimizer still holds the
    model's parameters, FA's per-layer table still points at its feedback list."""
    config = TrainConfig(algo=algo, epochs=1)
    spec = {"name": "mlp", "input_shape": [8, 8, 1], "n_classes": 10, "kwargs": {},
            "classes": [str(d) for d in range(10)]}
    model = build_from_spec(get_algorithm(algo).model_spec(spec))
    rule = get_algorithm(algo)(model, config)
    params = {id(p) for p in model.parameters()}
    device.move_training(model, rule, torch.device("meta"))
    assert all(p.device.type == "meta" for p in model.parameters())
    for opt in rule.optimizers():
        held = [p for g in opt.param_groups for p in g["params"]]
        assert all(p.device.type == "meta" for p in held)
        assert {id(p) for p in held} & params   # the same objects, not copies
    if algo == "fa":
        assert all(any(m is f for f in rule.feedback) for m in rule._matrices.values())
        assert all(f.device.type == "meta" for f in rule.feedback)
