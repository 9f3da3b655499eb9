"""`edgebnn tune` on a tiny grid (digits, MLP 32, 300 samples, 1 epoch; bp × 2 rates, hsic × 2
rates × 2 γ, local not tuned): the choice is the best validation accuracy, the test split is
never read for it (a sweep with the test split emptied chooses the same), a sweep killed
mid-run continues without redoing finished runs, `compare --tuned` trains with the chosen
values, and bad grids and tuned files are refused naming the flag, file and field."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgebnn.cli import main
from edgebnn.runs.provenance import Provenance
from edgebnn.train import checkpoint, compare, sweep
from edgebnn.train.tune import TUNED

SETTINGS = ["--data", "digits", "--model", "mlp", "--layers", "32", "--epochs", "1",
            "--limit", "300", "--quiet"]
ARGS = ["tune", *SETTINGS, "--lrs", "1e-2,1e-3", "--gammas", "2,20"]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tune")
    assert main([*ARGS, "--algos", "bp,hsic,local", "--out", str(out)]) == 0
    return out / TUNED


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_the_choice_is_the_best_validation_accuracy(tuned):
    result = json.loads(tuned.read_text())
    bp, hsic = result["algorithms"]["bp"], result["algorithms"]["hsic"]
    assert [p["lr"] for p in bp["grid"]] == [1e-2, 1e-3]
    assert [(p["lr"], p["algo_kwargs"]) for p in hsic["grid"]] == [
        (1e-2, {"gamma": 2}), (1e-2, {"gamma": 20}), (1e-3, {"gamma": 2}), (1e-3, {"gamma": 20})]
    for entry in (bp, hsic):
        best = max(p["val_accuracy"] for p in entry["grid"])
        assert entry["val_accuracy"] == best
        assert any(p["lr"] == entry["lr"] and p["algo_kwargs"] == entry["algo_kwargs"]
                   and p["val_accuracy"] == best for p in entry["grid"])
    assert "local" in result["not_tuned"] and "local" not in result["algorithms"]
    assert not any("test" in k for k in _keys(result))   # no test figure is even recorded


def test_the_test_split_is_never_used(tuned, tmp_path, monkeypatch):
    """With every test sample removed the sweep trains and chooses exactly the same: nothing
    of the choice came from the test set (were it read, its accuracy is null here)."""
    rebuild = Provenance.rebuild

    def without_test(self, limit=None):
        splits = rebuild(self, limit)
        return splits._replace(test=splits.test.subset(splits.test.y[:0]))

    monkeypatch.setattr(Provenance, "rebuild", without_test)
    assert main([*ARGS, "--algos", "bp", "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "runs" / "bp-lr0.01" / "metrics.json").read_text())
    assert metrics["accuracy"]["test"] is None and metrics["n"]["test"] == 0
    again = json.loads((tmp_path / TUNED).read_text())["algorithms"]["bp"]
    assert again == json.loads(tuned.read_text())["algorithms"]["bp"]


def test_a_killed_sweep_continues_where_it_stopped(tuned, tmp_path, monkeypatch):
    save, saves = checkpoint.save, []

    def killed_in_second_run(*args, **kwargs):   # Ctrl-C while the second run checkpoints
        saves.append(args)
        if len(saves) == 2:
            raise KeyboardInterrupt
        return save(*args, **kwargs)

    monkeypatch.setattr(checkpoint, "save", killed_in_second_run)
    with pytest.raises(KeyboardInterrupt):
        main([*ARGS, "--algos", "bp", "--out", str(tmp_path)])
    first = tmp_path / "runs" / "bp-lr0.01" / "metrics.json"
    assert first.is_file() and not (tmp_path / "runs" / "bp-lr0.001" / "metrics.json").exists()
    assert not (tmp_path / TUNED).exists()
    monkeypatch.setattr(checkpoint, "save", save)
    finished = first.stat().st_mtime_ns
    trained, train = [], sweep.train
    monkeypatch.setattr(sweep, "train", lambda config, *a, **k: (
        trained.append(config.lr), train(config, *a, **k))[1])
    assert main([*ARGS, "--algos", "bp", "--out", str(tmp_path)]) == 0
    assert trained == [1e-3] and first.stat().st_mtime_ns == finished
    again = json.loads((tmp_path / TUNED).read_text())["algorithms"]["bp"]
    assert again == json.loads(tuned.read_text())["algorithms"]["bp"]


def test_compare_tuned_trains_with_the_chosen_values(tuned, tmp_path):
    chosen = json.loads(tuned.read_text())["algorithms"]
    out = tmp_path / "compare"
    assert main(["compare", *SETTINGS, "--algos", "bp,hsic,local", "--seeds", "1",
                 "--tuned", str(tuned), "--out", str(out)]) == 0
    for algo in ("bp", "hsic"):
        config = json.loads((out / "runs" / f"{algo}-s0" / "config.json").read_text())
        assert config["lr"] == chosen[algo]["lr"]
        assert config["algo_kwargs"] == chosen[algo]["algo_kwargs"]
    local = json.loads((out / "runs" / "local-s0" / "config.json").read_text())
    assert local["lr"] is None and local["algo_kwargs"] == {}
    assert f"bp lr {chosen['bp']['lr']}" in (out / compare.RESULTS_MD).read_text()


def _edited(tuned: Path, tmp_path: Path, edit) -> Path:
    raw = json.loads(tuned.read_text())
    edit(raw)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.parametrize("edit, extra, field", [
    (lambda r: r.update(format="something else"), [], "format"),
    (lambda r: None, ["--layers", "64"], "settings.model_kwargs"),
    (lambda r: None, ["--algos", "bp,drtp"], "algorithms.drtp"),
    (lambda r: r["algorithms"]["bp"].update(lr=-1), [], "algorithms.bp.lr"),
    (lambda r: r["algorithms"]["hsic"].update(algo_kwargs={"gamma": "x"}), [],
     "algorithms.hsic.algo_kwargs"),
])
def test_a_bad_tuned_file_is_refused_before_training(tuned, tmp_path, capsys, edit, extra,
                                                     field):
    path = _edited(tuned, tmp_path, edit)
    out = tmp_path / "compare"
    assert main(["compare", *SETTINGS, "--algos", "bp,hsic", "--seeds", "1", *extra,
                 "--tuned", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"error: {path}: {field}: " in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("content, expected", [(None, "No such file"), ("{", "not JSON")])
def test_a_missing_or_unreadable_tuned_file_is_named(tmp_path, capsys, content, expected):
    path = tmp_path / "tuned.json"
    if content is not None:
        path.write_text(content)
    assert main(["compare", *SETTINGS, "--tuned", str(path), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and expected in err and "Traceback" not in err


def test_tuned_and_one_rate_are_exclusive(tuned, capsys):
    with pytest.raises(SystemExit) as info:
        main(["compare", *SETTINGS, "--lr", "1e-3", "--tuned", str(tuned), "--out", "never"])
    assert info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize("grid", [["--lrs", "fast"], ["--lrs", "1e-3,-1"], ["--gammas", ""]])
def test_a_bad_grid_is_refused_naming_its_flag(grid, capsys):
    with pytest.raises(SystemExit) as info:
        main([*ARGS, *grid, "--out", "never-written"])
    assert info.value.code == 2 and f"argument {grid[0]}: expected " in capsys.readouterr().err


def test_an_unknown_algorithm_fails_before_training(tmp_path, capsys):
    assert main([*ARGS, "--algos", "bp,nope", "--out", str(tmp_path / "t")]) == 2
    assert "unknown algorithm(s) nope" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


def test_a_grid_that_cannot_choose_says_so(tmp_path, capsys):
    """4 samples leave no validation split: the file records why there is no choice, and
    `compare --tuned` refuses it naming the algorithm."""
    out = tmp_path / "t"
    assert main(["tune", *SETTINGS[:-3], "--limit", "4", "--lrs", "1e-3", "--algos", "bp",
                 "--quiet", "--out", str(out)]) == 1
    entry = json.loads((out / TUNED).read_text())["algorithms"]["bp"]
    assert "failed" in entry and "failed" in entry["grid"][0]
    assert "bp: not chosen" in capsys.readouterr().out
    assert main(["compare", *SETTINGS, "--algos", "bp", "--tuned", str(out / TUNED),
                 "--out", str(tmp_path / "c")]) == 2
    assert "algorithms.bp: no chosen values" in capsys.readouterr().err
