"""`edgebnn fleet train` with Flower's own SuperLink and SuperNodes on 127.0.0.1 (issue 18):
3 emulated boards for 3 rounds on a by-class (non-IID) split — the merged model beats every
board trained alone on its shard for the same epochs, and scores identically in the host C core
and on a board; killing one board's emulator mid-round drops it from the round, which completes
with the other two; the host C-core clients; outputs refused without --overwrite.

The boards need make, arm-none-eabi-gcc and qemu-system-arm (those tests skip otherwise)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edgebnn import format as fmt
from edgebnn.cli import main, model_splits
from edgebnn.device.ports import ensure_firmware, open_device
from edgebnn.fleet.client import shard, train_round
from edgebnn.native import NativeModel
from tests.test_device_train import chain_model

MISSING = [t for t in ("make", "arm-none-eabi-gcc", "qemu-system-arm") if shutil.which(t) is None]
needs_qemu = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {', '.join(MISSING)}")
PORTS = ["qemu:mps2-an386", "qemu:mps2-an386", "qemu:mps2-an500"]


@pytest.fixture(scope="module")
def global_model(tmp_path_factory, digits) -> Path:
    path = tmp_path_factory.mktemp("fleet") / "local.ebnn"
    path.write_bytes(chain_model((8, 8, 1), [64], digits))
    return path


def accuracy(model: bytes, ds) -> float:
    return float((NativeModel(model).infer(ds.x).argmax(1) == ds.y).mean())


def fleet(model: Path, out: Path, *extra: str) -> int:
    return main(["fleet", "train", str(model), "-o", str(out), "--quiet", *extra])


@needs_qemu
def test_three_boards_by_class_beat_each_board_alone(global_model, tmp_path, capsys):
    for board in {p.split(":")[1] for p in PORTS}:
        ensure_firmware(board)
    out = tmp_path / "merged.ebnn"
    assert fleet(global_model, out, "--ports", ",".join(PORTS), "--split", "by-class",
                 "--rounds", "3") == 0
    printed = capsys.readouterr().out
    assert "round 3: merged model held-out accuracy" in printed
    rounds = json.loads(out.with_suffix(".rounds.json").read_text())["rounds"]
    assert [sorted(r["clients"]) for r in rounds] == [["0", "1", "2"]] * 3
    assert all(not r["failures"] for r in rounds)
    assert all(m["serial-bytes-sent"] > 0 for r in rounds for m in r["clients"].values())
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"

    model = global_model.read_bytes()
    splits = model_splits(fmt.from_bytes(model).meta["training"], None, None, "local.ebnn")
    merged = out.read_bytes()
    merged_accuracy = accuracy(merged, splits.test)
    assert merged_accuracy == pytest.approx(rounds[-1]["merged"])
    # each board alone on its own shard for the same 3 epochs, with the batch its board used
    # (the host C core trains bit for bit as the board: test_device_train)
    alone = []
    for p in range(3):
        batch = int(rounds[0]["clients"][str(p)]["batch"])
        mine = shard(splits.train, p, 3, "by-class", 0)
        alone.append(train_round(model, mine, splits.test, epochs=3, batch=batch, seed=p).test_accuracy)
    assert merged_accuracy > max(alone), (merged_accuracy, alone)

    # the merged file loads and scores identically in the host C core and on a board
    with open_device(PORTS[2], timeout=5.0) as dev:
        dev.activate(merged, "merged")
        on_board = dev.infer(splits.test.x).scores
    np.testing.assert_array_equal(on_board, NativeModel(merged).infer(splits.test.x))


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


@needs_qemu
@pytest.mark.slow
def test_killing_a_board_mid_round_drops_it_and_the_round_completes(global_model, tmp_path):
    ensure_firmware("mps2-an500")
    board = subprocess.Popen([sys.executable, "-m", "edgebnn.cli", "board", "run", "mps2-an500"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = board.stdout.readline().strip()
        out = tmp_path / "merged.ebnn"
        run = subprocess.Popen(
            [sys.executable, "-m", "edgebnn.cli", "fleet", "train", str(global_model), "-o",
             str(out), "--quiet", "--ports", f"{PORTS[0]},{PORTS[1]},{url}", "--rounds", "3",
             "--epochs", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        for line in run.stdout:
            lines.append(line)
            if line.startswith("round 1:"):      # round 2 has begun: kill its emulator
                time.sleep(8)
                qemu = _children(board.pid)
                assert qemu, "board run has no QEMU child"
                for pid in qemu:
                    subprocess.run(["kill", "-9", str(pid)], check=True)
        assert run.wait(timeout=600) == 0, "".join(lines)
    finally:
        board.terminate()
        board.wait(timeout=10)
    text = "".join(lines)
    rounds = json.loads(out.with_suffix(".rounds.json").read_text())["rounds"]
    assert sorted(rounds[0]["clients"]) == ["0", "1", "2"]
    for r in rounds[1:]:
        assert sorted(r["clients"]) == ["0", "1"], text
        assert len(r["failures"]) == 1 and "dropped from this round" in text
    assert fmt.from_bytes(out.read_bytes())      # the merged model of the last round
    assert "round 3: merged model held-out accuracy" in text


def test_host_clients_and_refused_outputs(global_model, tmp_path, capsys):
    out = tmp_path / "merged.ebnn"
    assert fleet(global_model, out, "--simulate", "--clients", "2", "--split", "iid",
                 "--rounds", "1") == 0
    printed = capsys.readouterr().out
    assert "client 1 (host)" in printed and out.with_suffix(".png").exists()
    first = out.read_bytes()
    assert fleet(global_model, out, "--simulate", "--rounds", "1") == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == first
    assert fleet(global_model, global_model, "--simulate", "--overwrite") == 2
    assert "is the input model" in capsys.readouterr().err
    assert fleet(global_model, tmp_path / "x.ebnn") == 2
    assert "needs --ports" in capsys.readouterr().err


def test_limit_reaches_every_client_the_merge_and_the_baselines(global_model, tmp_path):
    """--limit caps the training pool and the test set as `edgebnn train --limit` does, in the
    clients' shards, the ServerApp's held-out score and the baselines alike."""
    out = tmp_path / "merged.ebnn"
    assert fleet(global_model, out, "--simulate", "--clients", "2", "--rounds", "1",
                 "--limit", "300", "--baselines") == 0
    meta = fmt.from_bytes(global_model.read_bytes()).meta["training"]
    splits = model_splits(meta, None, None, "local.ebnn", limit=300)
    full = model_splits(meta, None, None, "local.ebnn")
    assert len(splits.train) < len(full.train) and len(splits.test) < len(full.test)
    event = json.loads(out.with_suffix(".rounds.json").read_text())
    (r,) = event["rounds"]
    assert [r["clients"][str(p)]["num-examples"] for p in range(2)] == \
        [len(shard(splits.train, p, 2, "by-class", 0)) for p in range(2)]
    assert r["merged"] == accuracy(out.read_bytes(), splits.test)
    mine = train_round(global_model.read_bytes(), shard(splits.train, 0, 2, "by-class", 0),
                       splits.test, batch=r["clients"]["0"]["batch"], seed=0)
    assert event["baselines"]["client 0 alone"] == [mine.test_accuracy]
