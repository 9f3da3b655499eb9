"""`edgebnn compare` on a tiny grid (digits, MLP 32, bp + drtp, 2 seeds, 1 epoch, 300 samples):
the table and CSV hold one row per algorithm with mean ± std and bp's ratio 1.00, the plot is a
PNG, a second invocation trains nothing (resume), and a bad name fails before any training."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from edgebnn.cli import main
from edgebnn.train.compare import PLOT, RESULTS_CSV, RESULTS_MD

ARGS = ["compare", "--data", "digits", "--model", "mlp", "--layers", "32", "--algos", "bp,drtp",
        "--seeds", "2", "--epochs", "1", "--limit", "300", "--quiet"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compare")
    assert main([*ARGS, "--out", str(out)]) == 0
    return out


def test_runs_written(compared):
    for algo in ("bp", "drtp"):
        for seed in (0, 1):
            assert (compared / "runs" / f"{algo}-s{seed}" / "metrics.json").is_file()


def test_markdown_table(compared):
    text = (compared / RESULTS_MD).read_text()
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in text.splitlines() if line.startswith("| `")}
    assert set(rows) == {"`bp`", "`drtp`"}
    header = [c.strip() for c in next(l for l in text.splitlines()
                                      if l.startswith("| algorithm")).split("|")[1:-1]]
    bp = dict(zip(header[1:], rows["`bp`"]))
    assert bp["runs"] == "2/2"
    assert re.fullmatch(r"\d+\.\d\d ± \d+\.\d\d", bp["test accuracy (%)"])
    assert bp["÷ bp"] == "1.00"
    assert "not used for any ratio" in text   # the RSS caveat


def test_csv(compared):
    with (compared / RESULTS_CSV).open() as f:
        rows = {r["algo"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"bp", "drtp"}
    assert float(rows["bp"]["learning_signal_bytes_vs_bp"]) == 1.0
    assert float(rows["bp"]["total_training_bytes_vs_bp"]) == 1.0
    # DRTP keeps no graph beyond one layer: its measured learning signal is below backprop's
    assert float(rows["drtp"]["learning_signal_bytes_vs_bp"]) < 1.0
    for r in rows.values():
        assert r["n"] == "2" and 0.0 <= float(r["test_accuracy_mean"]) <= 1.0
        assert float(r["test_accuracy_std"]) >= 0.0
        assert float(r["training_macs_per_iteration_mean"]) > 0


def test_plot_is_png(compared):
    data = (compared / PLOT).read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000


def test_resume_skips_completed_runs(compared):
    metrics = sorted((compared / "runs").glob("*/metrics.json"))
    before = {p: p.stat().st_mtime_ns for p in metrics}
    assert main([*ARGS, "--out", str(compared)]) == 0
    assert {p: p.stat().st_mtime_ns for p in metrics} == before
    assert (compared / RESULTS_MD).is_file()


def test_unknown_algorithm_fails_before_training(tmp_path, capsys):
    args = [a if a != "bp,drtp" else "bp,nope" for a in ARGS]
    assert main([*args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nope" in err and "drtp" in err
    assert not (tmp_path / "runs").exists()


def test_algo_arg_fills_algo_kwargs():
    from edgebnn.cli import _train_config, build_parser

    args = build_parser().parse_args(["train", "--algo", "hsic", "--algo-arg", "gamma=2",
                                      "--algo-arg", "gain=0.5", "--algo-arg", "mode=x",
                                      "--out", "unused"])
    assert _train_config(args).algo_kwargs == {"gamma": 2, "gain": 0.5, "mode": "x"}
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--algo-arg", "novalue", "--out", "unused"])



def test_regimen_and_device_flags_reach_every_run(tmp_path):
    """`compare --lr-schedule/--early-stop/--augment/--device` are those of each run."""
    assert main(["compare", "--algos", "bp", "--seeds", "1", "--epochs", "2", "--limit", "200",
                 "--lr-schedule", "cosine", "--early-stop", "--augment", "on",
                 "--device", "auto", "--quiet", "--out", str(tmp_path)]) == 0
    config = json.loads((tmp_path / "runs" / "bp-s0" / "config.json").read_text())
    assert (config["lr_schedule"], config["early_stop"], config["augment"]) == \
        ("cosine", True, "on")


SMALL = ["compare", "--data", "digits", "--model", "mlp", "--layers", "32", "--algos", "bp,drtp",
         "--seeds", "1", "--epochs", "1", "--limit", "300", "--quiet"]


def test_jobs_train_the_runs_of_one_process(tmp_path, monkeypatch):
    """`--jobs 2` (a process per run) trains exactly the weights of the runs in this process,
    at the same number of threads per run."""
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "1")   # the jobs' processes, as this one below
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main([*SMALL, "--out", str(tmp_path / "one")]) == 0
    finally:
        torch.set_num_threads(threads)
    assert main([*SMALL, "--jobs", "2", "--out", str(tmp_path / "two")]) == 0
    for run in ("bp-s0", "drtp-s0"):
        one, two = (torch.load(tmp_path / d / "runs" / run / "model.pt", weights_only=True)
                    for d in ("one", "two"))
        assert one["state_dict"].keys() == two["state_dict"].keys()
        assert all(torch.equal(one["state_dict"][k], two["state_dict"][k])
                   for k in one["state_dict"]), run
        accuracy = [json.loads((tmp_path / d / "runs" / run / "metrics.json").read_text())
                    ["accuracy"] for d in ("one", "two")]
        assert accuracy[0] == accuracy[1]


def test_a_job_whose_process_dies_is_recorded_and_trained_again(tmp_path, monkeypatch, capsys):
    from edgebnn.train.distributed import FAULT_ENV

    out = tmp_path / "c"
    monkeypatch.setenv(FAULT_ENV, "0:1:0")   # every run's process exits at its first batch
    assert main([*SMALL, "--jobs", "2", "--out", str(out)]) == 1
    for run in ("bp-s0", "drtp-s0"):
        assert (out / "runs" / run / "failed.txt").read_text().strip() == \
            "the process training it exited with status 17 before its run ended"
        assert not (out / "runs" / run / "metrics.json").exists()
    assert "exited with status 17" in (out / RESULTS_MD).read_text()
    assert "Traceback" not in capsys.readouterr().err
    monkeypatch.delenv(FAULT_ENV)
    assert main([*SMALL, "--jobs", "2", "--out", str(out)]) == 0
    assert all((out / "runs" / r / "metrics.json").is_file() for r in ("bp-s0", "drtp-s0"))
    assert not list(out.glob("runs/*/failed.txt"))
