"""Tests for edgebnn.data: loaders on generated files, splits, errors, tensors."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from edgebnn.data import (
    CIFAR10_CLASSES, DIGIT_CLASSES, FASHION_MNIST_CLASSES, DataError, Dataset, Splits,
    batches, load, load_digits, read_idx, split, subsample, to_tensor,
)

IDX_NAMES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}


# ----------------------------------------------------------------------------- helpers

def idx_bytes(arr: np.ndarray, dtype_code: int = 0x08) -> bytes:
    head = bytes([0, 0, dtype_code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


def write(path: Path, data: bytes, gz: bool = False) -> Path:
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def make_idx(directory: Path, n_train: int = 12, n_test: int = 5, gz: bool = False,
             seed: int = 1, hw: tuple[int, int] = (4, 3)) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    parts = {}
    for part, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, size=(n, *hw), dtype=np.uint8)
        y = (np.arange(n) % 10).astype(np.uint8)
        write(directory / IDX_NAMES[part, "images"], idx_bytes(x), gz)
        write(directory / IDX_NAMES[part, "labels"], idx_bytes(y), gz)
        parts[part] = (x, y)
    return parts


def cifar_records(labels: list[int], seed: int = 0) -> tuple[bytes, np.ndarray]:
    """Records whose R, G, B planes have distinct values; returns (bytes, expected HWC images)."""
    rng = np.random.default_rng(seed)
    chw = rng.integers(0, 256, size=(len(labels), 3, 32, 32), dtype=np.uint8)
    chw[:, 0, 0, 0], chw[:, 1, 0, 0], chw[:, 2, 0, 0] = 10, 20, 30  # pixel (0,0) = R10 G20 B30
    rec = np.concatenate([np.array(labels, np.uint8)[:, None], chw.reshape(len(labels), -1)], 1)
    return rec.tobytes(), chw.transpose(0, 2, 3, 1)


def make_cifar(directory: Path, n_batches: int = 2, per_batch: int = 10) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    expected = {"train_x": [], "train_y": []}
    for b in range(1, n_batches + 1):
        labels = [(i + b) % 10 for i in range(per_batch)]
        data, x = cifar_records(labels, seed=b)
        (directory / f"data_batch_{b}.bin").write_bytes(data)
        expected["train_x"].append(x)
        expected["train_y"] += labels
    labels = list(range(10))
    data, x = cifar_records(labels, seed=99)
    (directory / "test_batch.bin").write_bytes(data)
    expected.update(train_x=np.concatenate(expected["train_x"]), test_x=x, test_y=labels)
    return expected


COLORS = {"cat": (255, 0, 0), "dog": (0, 255, 0), "fox": (0, 0, 255)}


def make_folder(root: Path, per_class: int = 4, size: tuple[int, int] = (12, 8)) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, color in COLORS.items():
        (root / name).mkdir()
        for i in range(per_class):
            img = Image.new("RGB", size, color)
            ext = "png" if i % 2 == 0 else "jpg"
            img.save(root / name / f"{i}.{ext}", quality=95)


def expect_error(match: str, fn, *args, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg, msg
    assert match in msg, msg
    return info.value


# ----------------------------------------------------------------------------- bundled

def test_digits_scaled_to_8_bit():
    from sklearn.datasets import load_digits as sk

    ds = load_digits()
    raw = sk().images
    assert ds.x.shape == (1797, 8, 8, 1) and ds.x.dtype == np.uint8 and ds.y.dtype == np.int64
    expected = np.vectorize(lambda v: round(v * 255 / 16))(raw).astype(np.uint8)
    np.testing.assert_array_equal(ds.x[..., 0], expected)
    assert ds.x.max() == 255 and ds.classes == DIGIT_CLASSES


def test_mnist5k_shape_and_range():
    splits = load("mnist5k", seed=3)
    total = sum(len(s) for s in splits)
    assert total == 5000
    assert (len(splits.test), len(splits.val)) == (1000, 500)
    for s in splits:
        assert s.x.shape[1:] == (28, 28, 1) and s.x.dtype == np.uint8
        assert s.x.max() == 255 and s.name == "mnist5k"
    assert set(np.unique(splits.train.y)) == set(range(10))


# ----------------------------------------------------------------------------- splits

def toy(n: int = 100, classes: int = 3) -> Dataset:
    x = np.arange(n, dtype=np.uint8).reshape(n, 1, 1, 1)  # pixel value identifies the example
    y = (np.arange(n) % classes).astype(np.int64)
    y[: n // 2] = 0  # unbalanced
    return Dataset(x, y, [f"c{i}" for i in range(classes)], "toy")


def test_split_deterministic_disjoint_stratified():
    ds = toy()
    a = split(ds, 0.1, 0.2, seed=5)
    b = split(ds, 0.1, 0.2, seed=5)
    c = split(ds, 0.1, 0.2, seed=6)
    assert isinstance(a, Splits) and [len(s) for s in a] == [70, 10, 20]
    for s1, s2 in zip(a, b):
        np.testing.assert_array_equal(s1.x, s2.x)
    ids = [set(s.x.ravel().tolist()) for s in a]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert set().union(*ids) == set(range(100))
    assert set(a.test.x.ravel().tolist()) != set(c.test.x.ravel().tolist())
    # stratified: class 0 is ~2/3 of the data and of each split
    frac0 = np.mean(ds.y == 0)
    assert abs(np.mean(a.test.y == 0) - frac0) <= 0.05
    assert a.classes == ds.classes


def test_split_rejects_bad_fractions():
    with pytest.raises(ValueError):
        split(toy(), 0.5, 0.5, 0)


def test_subsample_stratified_and_deterministic():
    ds = toy(300)
    s = subsample(ds, 30, 1)
    assert len(s) == 30 and set(np.unique(s.y)) == {0, 1, 2}
    np.testing.assert_array_equal(s.x, subsample(ds, 30, 1).x)
    assert subsample(ds, None, 1) is ds


# ----------------------------------------------------------------------------- IDX

@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    parts = make_idx(tmp_path / "mnist", gz=gz)
    s = load(f"idx:{tmp_path / 'mnist'}", val_fraction=0.25, seed=0)
    assert s.test.name == f"idx:{tmp_path / 'mnist'}"
    # official test set kept intact and in order
    np.testing.assert_array_equal(s.test.x[..., 0], parts["test"][0])
    np.testing.assert_array_equal(s.test.y, parts["test"][1])
    # train + val are exactly the training images (pixels identify them)
    got = np.concatenate([s.train.x, s.val.x])[..., 0]
    want = parts["train"][0]
    assert len(s.val) == 3 and got.shape == want.shape and s.train.x.dtype == np.uint8
    assert sorted(map(bytes, got)) == sorted(map(bytes, want))
    assert s.classes == DIGIT_CLASSES


def test_idx_class_names(tmp_path):
    make_idx(tmp_path / "Fashion-MNIST" / "raw")
    assert load(f"idx:{tmp_path / 'Fashion-MNIST' / 'raw'}").classes == FASHION_MNIST_CLASSES
    make_idx(tmp_path / "own")
    (tmp_path / "own" / "classes.txt").write_text("\n".join(f"k{i}" for i in range(10)) + "\n\n")
    assert load(f"idx:{tmp_path / 'own'}").classes == [f"k{i}" for i in range(10)]


def test_idx_resize(tmp_path):
    make_idx(tmp_path / "m", hw=(28, 28))
    s = load(f"idx:{tmp_path / 'm'}", image_size=14)
    assert s.train.x.shape[1:] == (14, 14, 1) and s.test.x.shape[1:] == (14, 14, 1)


def test_idx_truncated(tmp_path):
    make_idx(tmp_path)
    p = tmp_path / IDX_NAMES["train", "images"]
    p.write_bytes(p.read_bytes()[:-7])
    e = expect_error("train-images-idx3-ubyte", load, f"idx:{tmp_path}")
    assert "truncated" in str(e) and str(16 + 12 * 12) in str(e)


def test_idx_truncated_gzip_stream(tmp_path):
    make_idx(tmp_path, gz=True)
    p = tmp_path / (IDX_NAMES["test", "labels"] + ".gz")
    p.write_bytes(p.read_bytes()[:-10])
    expect_error("t10k-labels-idx1-ubyte.gz", load, f"idx:{tmp_path}")


def test_idx_wrong_magic_type_and_dims(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"\x12\x34\x08\x03" + bytes(12))
    expect_error("not an IDX file", read_idx, p, 3)
    p.write_bytes(idx_bytes(np.zeros((2, 2, 2)), dtype_code=0x0D))
    e = expect_error("0x0D (float32) is not supported", read_idx, p, 3)
    assert str(e).startswith(str(p))
    # labels file where an images file is expected: 1 dim instead of 3
    make_idx(tmp_path / "d")
    img = tmp_path / "d" / IDX_NAMES["train", "images"]
    img.write_bytes(idx_bytes(np.zeros(12, np.uint8)))
    expect_error("train-images-idx3-ubyte: IDX magic is 0x00000801 with 1 dims, expected 3 dims",
                 load, f"idx:{tmp_path / 'd'}")


def test_idx_label_count_mismatch_and_range(tmp_path):
    make_idx(tmp_path)
    lbl = tmp_path / IDX_NAMES["test", "labels"]
    lbl.write_bytes(idx_bytes(np.zeros(4, np.uint8)))
    e = expect_error("t10k-labels-idx1-ubyte", load, f"idx:{tmp_path}")
    assert "4 labels, expected 5" in str(e)
    lbl.write_bytes(idx_bytes(np.array([0, 1, 2, 3, 12], np.uint8)))
    expect_error("label 12 at record 4 is out of range", load, f"idx:{tmp_path}")


def test_idx_missing_file(tmp_path):
    make_idx(tmp_path)
    (tmp_path / IDX_NAMES["test", "images"]).unlink()
    expect_error("t10k-images-idx3-ubyte: file not found", load, f"idx:{tmp_path}")


# ----------------------------------------------------------------------------- CIFAR-10

def test_cifar10_chw_to_hwc(tmp_path):
    exp = make_cifar(tmp_path / "cifar-10-batches-bin")
    s = load(f"cifar10:{tmp_path}", val_fraction=0.2)  # finds the nested batches dir
    assert s.classes == CIFAR10_CLASSES
    assert s.test.x.shape == (10, 32, 32, 3) and s.test.x.dtype == np.uint8
    np.testing.assert_array_equal(s.test.x, exp["test_x"])
    np.testing.assert_array_equal(s.test.y, exp["test_y"])
    assert tuple(s.test.x[0, 0, 0]) == (10, 20, 30)
    assert (len(s.train), len(s.val)) == (16, 4)
    got = np.concatenate([s.train.x, s.val.x])
    assert sorted(map(bytes, got)) == sorted(map(bytes, exp["train_x"]))


def test_cifar10_meta_names_and_limit(tmp_path):
    make_cifar(tmp_path, n_batches=1, per_batch=20)
    (tmp_path / "batches.meta.txt").write_text("".join(f"n{i}\n" for i in range(10)) + "\n")
    s = load(f"cifar10:{tmp_path}", limit=10, image_size=8)
    assert s.classes == [f"n{i}" for i in range(10)]
    assert len(s.train) + len(s.val) == 10 and len(s.test) == 10
    assert s.train.x.shape[1:] == (8, 8, 3)


def test_cifar10_bad_size_and_missing(tmp_path):
    make_cifar(tmp_path)
    (tmp_path / "data_batch_2.bin").write_bytes(bytes(3073 * 2 + 5))
    expect_error("data_batch_2.bin: size is 6151 bytes, expected a non-zero multiple of 3073",
                 load, f"cifar10:{tmp_path}")
    (tmp_path / "test_batch.bin").unlink()
    (tmp_path / "data_batch_2.bin").unlink()
    expect_error("test_batch.bin: file not found", load, f"cifar10:{tmp_path}")
    empty = tmp_path / "empty"
    empty.mkdir()
    expect_error("no data_batch_*.bin files found", load, f"cifar10:{empty}")


def test_cifar10_label_out_of_range(tmp_path):
    make_cifar(tmp_path)
    data, _ = cifar_records([3, 10])
    (tmp_path / "test_batch.bin").write_bytes(data)
    expect_error("test_batch.bin: label 10 at record 1 is out of range", load, f"cifar10:{tmp_path}")


# ----------------------------------------------------------------------------- folders

def test_folder_flat_layout(tmp_path):
    make_folder(tmp_path / "imgs", per_class=5)
    s = load(f"folder:{tmp_path / 'imgs'}", image_size=6, val_fraction=0.2, test_fraction=0.2)
    assert s.classes == ["cat", "dog", "fox"]
    assert [len(d) for d in s] == [9, 3, 3]
    for d in s:
        assert d.x.shape[1:] == (6, 6, 3) and d.x.dtype == np.uint8
        for img, label in zip(d.x, d.y):
            color = np.array(COLORS[d.classes[label]])
            assert np.abs(img.astype(int) - color).max() <= 8  # JPEG tolerance


def test_folder_train_val_layout_default_size(tmp_path):
    make_folder(tmp_path / "train", per_class=4)
    make_folder(tmp_path / "val", per_class=2)
    (tmp_path / "val" / "cat" / "notes.txt").write_text("ignored")
    s = load(f"folder:{tmp_path}")
    assert len(s.test) == 6 and len(s.train) + len(s.val) == 12
    assert s.train.x.shape[1:] == (32, 32, 3)
    assert sorted(s.test.y.tolist()) == [0, 0, 1, 1, 2, 2]
    # limit picks a stratified subset before decoding
    s = load(f"folder:{tmp_path}", limit=3, val_fraction=0.0)
    assert sorted(s.train.y.tolist()) == [0, 1, 2] and len(s.test) == 3


def test_folder_resize_is_center_crop(tmp_path):
    root = tmp_path / "r" / "only"
    root.mkdir(parents=True)
    arr = np.zeros((4, 12, 3), np.uint8)
    arr[:, 4:8] = 200  # bright middle third of a wide image
    Image.fromarray(arr).save(root / "a.png")
    s = load(f"folder:{tmp_path / 'r'}", image_size=4, val_fraction=0, test_fraction=0)
    assert s.train.x.shape == (1, 4, 4, 3) and s.train.x.min() == 200


def test_folder_corrupt_and_empty(tmp_path):
    make_folder(tmp_path / "a")
    (tmp_path / "a" / "dog" / "bad.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    expect_error("bad.jpg: cannot read image", load, f"folder:{tmp_path / 'a'}")
    (tmp_path / "e" / "cls").mkdir(parents=True)
    (tmp_path / "e" / "cls" / "readme.txt").write_text("no images")
    e = expect_error("no classes found", load, f"folder:{tmp_path / 'e'}")
    assert str(e).startswith(str(tmp_path / "e"))


def test_folder_unknown_val_class(tmp_path):
    make_folder(tmp_path / "train")
    make_folder(tmp_path / "val")
    (tmp_path / "val" / "owl").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "val" / "owl" / "x.png")
    expect_error("owl: class folder not in", load, f"folder:{tmp_path}")


# ----------------------------------------------------------------------------- spec + errors

def test_bad_specs(tmp_path):
    expect_error("unknown data spec, expected one of: digits, mnist5k, mnist, idx:DIR", load,
                 "mnist10k")
    expect_error("unknown data spec", load, "tar:/x")
    missing = tmp_path / "nope"
    expect_error(f"idx:{missing}: directory {missing} does not exist", load, f"idx:{missing}")
    f = tmp_path / "file"
    f.write_text("x")
    expect_error("is not a directory", load, f"folder:{f}")


def test_data_error_is_value_error_and_picklable():
    e = DataError("a.bin", "bad\nthing")
    assert isinstance(e, ValueError) and str(e) == "a.bin: bad thing"
    e2 = pickle.loads(pickle.dumps(e))
    assert str(e2) == str(e) and e2.where == "a.bin"


# ----------------------------------------------------------------------------- tensors

def test_to_tensor_and_batches():
    x = np.random.default_rng(0).integers(0, 256, (10, 3, 4, 2), dtype=np.uint8)
    t = to_tensor(x)
    assert t.dtype == torch.float32 and t.shape == (10, 2, 3, 4)
    assert torch.equal(t, torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32)))
    ds = Dataset(x, np.arange(10, dtype=np.int64) % 2, ["a", "b"], "t")
    plain = list(batches(ds, 4))
    assert [len(b[1]) for b in plain] == [4, 4, 2]
    assert torch.equal(torch.cat([b[0] for b in plain]), t)
    assert [len(b[1]) for b in batches(ds, 4, drop_last=True)] == [4, 4]
    order = lambda rng: torch.cat([b[0][:, 0, 0, 0] for b in batches(ds, 3, shuffle=True, rng=rng)])
    assert torch.equal(order(7), order(7))
    g = np.random.default_rng(7)
    first, second = order(g), order(g)
    assert torch.equal(first, order(7)) and not torch.equal(first, second)
    assert sorted(first.tolist()) == sorted(t[:, 0, 0, 0].tolist())
