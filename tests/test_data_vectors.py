"""docs/data.md against the code: its split algorithm, implemented here from the text alone,
gives the loaders' splits; its digits conversion gives the loader's inputs; its published
vectors are the test rows, inputs and scores of tests/vectors/digits_mlp.ebnn in the C core, the
NumPy reference and `eval --save-logits`."""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from edgebnn import data, reference
from edgebnn import format as fmt
from edgebnn.cli import main
from edgebnn.data import mnist
from edgebnn.native import NativeModel

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "tests" / "vectors" / "digits_mlp.ebnn"


def _vectors() -> list[dict]:
    """The rows of docs/data.md's vectors block."""
    text = (ROOT / "docs" / "data.md").read_text()
    block = text.split("<!-- vectors: parsed by tests/test_data_vectors.py -->\n```\n")[1]
    block = block.split("```")[0]
    rows = []
    for m in re.finditer(r"row (\d+): digits index (\d+), label (\d+)\nraw +([\d ]+)\n"
                         r"input +([\d ]+)\nscores +([-\d ]+)\n", block):
        rows.append({"row": int(m[1]), "index": int(m[2]), "label": int(m[3]),
                     "raw": [int(v) for v in m[4].split()],
                     "input": [int(v) for v in m[5].split()],
                     "scores": [int(v) for v in m[6].split()]})
    assert len(rows) == 3
    return rows


def _parts_as_documented(y: np.ndarray, sizes: list[int], seed: int) -> list[np.ndarray]:
    """docs/data.md, "Splits", step 2, written from the text."""
    rng = np.random.default_rng(seed)
    labels = sorted(set(y.tolist()))
    perms = [rng.permutation(np.flatnonzero(y == c)) for c in labels]
    used = [0] * len(labels)
    parts = []
    for size in sizes:
        left = [len(p) - u for p, u in zip(perms, used)]
        n = min(size, sum(left))
        q = [r * (n / sum(left)) if sum(left) else 0.0 for r in left]
        take = [min(math.floor(v), r) for v, r in zip(q, left)]
        missing = n - sum(take)
        for c in sorted(range(len(labels)), key=lambda c: (-(q[c] - take[c]), c)):
            if missing and take[c] < left[c]:
                take[c] += 1
                missing -= 1
        parts.append(np.sort(np.concatenate(
            [p[u:u + t] for p, u, t in zip(perms, used, take)])))
        used = [u + t for u, t in zip(used, take)]
    parts.append(np.sort(np.concatenate([p[u:] for p, u in zip(perms, used)])))
    return parts


def _digits_as_documented() -> tuple[np.ndarray, np.ndarray]:
    d = load_digits()
    raw = d.images.astype(np.int64)
    return ((raw * 255 + 8) // 16).astype(np.uint8)[..., None], d.target


@pytest.mark.parametrize("seed, val, test, limit", [(0, 0.1, 0.2, None), (5, 0.15, 0.3, None),
                                                    (3, 0.1, 0.2, 401)])
def test_digits_splits_follow_the_documented_algorithm(seed, val, test, limit):
    x, y = _digits_as_documented()
    if limit is not None:
        keep = _parts_as_documented(y, [limit], seed)[0]
        x, y = x[keep], y[keep]
    n = len(y)
    test_idx, val_idx, train_idx = _parts_as_documented(
        y, [int(n * test + 0.5), int(n * val + 0.5)], seed)
    splits = data.load("digits", seed=seed, val_fraction=val, test_fraction=test, limit=limit)
    for got, idx in ((splits.train, train_idx), (splits.val, val_idx), (splits.test, test_idx)):
        assert np.array_equal(got.x, x[idx]) and np.array_equal(got.y, y[idx])


def test_official_test_set_keeps_file_order_and_validation_is_one_part(mnist_cache, monkeypatch):
    monkeypatch.setenv("EDGEBNN_CACHE", str(mnist_cache))
    pool, official = mnist.load_mnist()
    val_idx, train_idx = _parts_as_documented(pool.y, [int(len(pool) * 0.1 + 0.5)], 2)
    splits = data.load("mnist", seed=2)
    assert np.array_equal(splits.val.y, pool.y[val_idx])
    assert np.array_equal(splits.train.x, pool.x[train_idx])
    assert np.array_equal(splits.test.x, official.x)   # the whole file, in its order


def test_published_vectors_are_the_models_test_rows_and_scores(tmp_path):
    model = fmt.read(MODEL)
    assert model.meta["training"]["data"] == "digits" and model.meta["training"]["seed"] == 0
    test = data.load("digits", seed=0).test
    x, y = _digits_as_documented()
    test_idx = _parts_as_documented(y, [359, 180], 0)[0]   # the defaults' sizes (docs)
    raw = load_digits().images.astype(int)
    native = NativeModel(fmt.to_bytes(model)).infer(test.x)
    logits = tmp_path / "scores.npy"
    assert main(["eval", str(MODEL), "--save-logits", str(logits)]) == 0
    saved = np.load(logits)
    for v in _vectors():
        i, row = v["index"], v["row"]
        assert test_idx[row] == i and y[i] == v["label"] == test.y[row]
        assert raw[i].ravel().tolist() == v["raw"]
        assert x[i].ravel().tolist() == v["input"] == test.x[row].ravel().tolist()
        assert native[row].tolist() == v["scores"] == saved[row].tolist()
        assert reference.infer(model, test.x[row:row + 1])[0].tolist() == v["scores"]
