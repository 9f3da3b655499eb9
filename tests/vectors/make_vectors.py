"""Writes the .ebnn test vectors in this folder (run from the repo root:
`.venv/bin/python tests/vectors/make_vectors.py`). Each vector is a small model with fixed
weights, built directly with edgebnn.format (no training), plus a JSON file of inputs and the
scores docs/format.md implies for them, computed by the NumPy reference interpreter.
tests/test_vectors.py checks that the writer still produces these exact bytes and that the C
core and the reference still compute these scores; the C fuzzer uses them as seeds."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgebnn import format as fmt
from edgebnn import reference

HERE = Path(__file__).resolve().parent


def _bits(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    return rng.integers(0, 2, (rows, n), dtype=np.uint8)


def tiny_cnn() -> fmt.Model:
    """U8 conv 3×3 pad 1 (6×6×2 → 6×6×5) → maxpool 2×2 → BIN conv 3×3 stride 2 pad 1, groups 1
    (3×3×5 → 2×2×33) → dense to 4 scores: every op, odd channel counts, both pad kinds, a flip,
    and constant channels."""
    rng = np.random.default_rng(2024)
    u8_w = fmt.pack_bits(_bits(rng, 5, 3 * 3 * 2))
    t1 = np.array([-40, 0, 2**31 - 1, 100, -(2**31)])
    f1 = np.array([0, 1, 0, 0, 0], bool)
    bin_w = fmt.pack_bits(_bits(rng, 33 * 9, 5))                 # one word per tap
    t2 = rng.integers(-5, 6, 33)
    f2 = rng.integers(0, 2, 33).astype(bool)
    dense_w = fmt.pack_bits(_bits(rng, 4 * 4, 33))                # 2×2 pixels × 2 words each
    B, U8, I32 = fmt.DType.BIN, fmt.DType.U8, fmt.DType.I32
    layers = [
        fmt.Layer(fmt.Op.CONV2D, U8, B, (6, 6, 2), (6, 6, 5), (3, 3), (1, 1), (1, 1), in0=0,
                  weights=u8_w.tobytes(), thresholds=fmt.threshold_bytes(t1, f1)),
        fmt.Layer(fmt.Op.MAXPOOL, B, B, (6, 6, 5), (3, 3, 5), (2, 2), (2, 2), in0=1),
        fmt.Layer(fmt.Op.CONV2D, B, B, (3, 3, 5), (2, 2, 33), (3, 3), (2, 2), (1, 1), in0=2,
                  weights=bin_w.tobytes(), thresholds=fmt.threshold_bytes(t2, f2)),
        fmt.Layer(fmt.Op.DENSE, B, I32, (2, 2, 33), (1, 1, 4), (2, 2), in0=3,
                  weights=dense_w.tobytes()),
    ]
    return fmt.Model((6, 6, 2), 4, layers, {"classes": ["a", "b", "c", "d"],
                                            "source": "tests/vectors/make_vectors.py"})


def tiny_mlp() -> fmt.Model:
    """U8 dense (3×3×1 → 7, BIN) → dense (7 → 3 scores)."""
    rng = np.random.default_rng(7)
    layers = [
        fmt.Layer(fmt.Op.DENSE, fmt.DType.U8, fmt.DType.BIN, (3, 3, 1), (1, 1, 7), (3, 3),
                  weights=fmt.pack_bits(_bits(rng, 7, 9)).tobytes(),
                  thresholds=fmt.threshold_bytes(rng.integers(-300, 300, 7),
                                                 np.arange(7) % 3 == 0)),
        fmt.Layer(fmt.Op.DENSE, fmt.DType.BIN, fmt.DType.I32, (1, 1, 7), (1, 1, 3), (1, 1),
                  in0=1, weights=fmt.pack_bits(_bits(rng, 3, 7)).tobytes()),
    ]
    return fmt.Model((3, 3, 1), 3, layers)


def _conv(rng: np.random.Generator, in_type: fmt.DType, out_type: fmt.DType,
          in_shape: tuple[int, int, int], out_c: int, in0: int, kernel: int = 3,
          stride: int = 1, groups: int = 1) -> fmt.Layer:
    """A CONV2D with random ±1 weights, 'same' padding, and random thresholds when it outputs
    BIN (spread over about one standard deviation of its sums, so the bits vary)."""
    h, w, c = in_shape
    pad = kernel // 2
    out_shape = ((h + 2 * pad - kernel) // stride + 1, (w + 2 * pad - kernel) // stride + 1, out_c)
    layer = fmt.Layer(fmt.Op.CONV2D, in_type, out_type, (h, w, c), out_shape, (kernel, kernel),
                      (stride, stride), (pad, pad), groups, in0=in0)
    rows, per_row = layer.weight_rows()
    n = kernel * kernel * (c // groups)
    if in_type == fmt.DType.U8:
        layer.weights = fmt.pack_bits(_bits(rng, rows, n)).tobytes()
    else:
        layer.weights = fmt.pack_bits(_bits(rng, rows * kernel * kernel, c // groups)).tobytes()
    assert len(layer.weights) == rows * per_row * 4
    if out_type == fmt.DType.BIN:
        layer.thresholds = _thresholds(rng, out_c, np.sqrt(n))
    return layer


def _thresholds(rng: np.random.Generator, c: int, spread: float) -> bytes:
    s = max(1, int(spread))
    return fmt.threshold_bytes(rng.integers(-s, s + 1, c), rng.integers(0, 2, c).astype(bool))


def residual_net(seed: int, input_shape: tuple[int, int, int], c1: int, c2: int,
                 n_classes: int) -> fmt.Model:
    """A small residual network with an integer (I32) stream, every format 1.2 op and the
    wiring a ResNet needs: U8 stem conv -> I32 stream; THRESHOLD; BIN conv -> BIN; BIN conv
    -> I32; ADD with the stream (a skip over three layers); THRESHOLD; a stride-2 block whose
    shortcut is a strided 1x1 BIN conv -> I32 reading the same BIN tensor as the block (two
    readers); ADD; THRESHOLD; depthwise 3x3 BIN conv; GAP; DENSE U8 -> I32 scores."""
    rng = np.random.default_rng(seed)
    B, U8, I32 = fmt.DType.BIN, fmt.DType.U8, fmt.DType.I32
    h, w, _ = input_shape
    hh, hw = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    s1, s2 = (h, w, c1), (hh, hw, c2)
    stem = 128 * np.sqrt(9 * input_shape[2])         # spread of the U8 stem's sums

    def threshold(shape: tuple[int, int, int], tensor: int, spread: float) -> fmt.Layer:
        return fmt.Layer(fmt.Op.THRESHOLD, I32, B, shape, shape, in0=tensor,
                         thresholds=_thresholds(rng, shape[2], spread))

    def add(shape: tuple[int, int, int], a: int, b: int) -> fmt.Layer:
        return fmt.Layer(fmt.Op.ADD, I32, I32, shape, shape, in0=a, in1=b)

    layers = [
        _conv(rng, U8, I32, input_shape, c1, in0=0),              # t1: the stream
        threshold(s1, 1, stem),                                   # t2
        _conv(rng, B, B, s1, c1, in0=2),                          # t3
        _conv(rng, B, I32, s1, c1, in0=3),                        # t4
        add(s1, 4, 1),                                            # t5 = t4 + t1
        threshold(s1, 5, stem),                                   # t6
        _conv(rng, B, B, s1, c2, in0=6, stride=2),                # t7
        _conv(rng, B, I32, s2, c2, in0=7),                        # t8
        _conv(rng, B, I32, s1, c2, in0=6, kernel=1, stride=2),    # t9: shortcut of t6
        add(s2, 8, 9),                                            # t10
        threshold(s2, 10, np.sqrt(9 * c2 + c1)),                  # t11
        _conv(rng, B, B, s2, c2, in0=11, groups=c2),              # t12: depthwise
        fmt.Layer(fmt.Op.GAP, B, U8, s2, (1, 1, c2), in0=12),     # t13: +1 counts
        fmt.Layer(fmt.Op.DENSE, U8, I32, (1, 1, c2), (1, 1, n_classes), in0=13,
                  weights=fmt.pack_bits(_bits(rng, n_classes, c2)).tobytes()),
    ]
    return fmt.Model(input_shape, n_classes, layers, {"source": "tests/vectors/make_vectors.py"})


def residual_mlp(seed: int, input_shape: tuple[int, int, int], width: int,
                 n_classes: int) -> fmt.Model:
    """The residual ops on 1 × 1 × C tensors (DENSE outputs), ending in an ADD: U8 DENSE -> I32
    stream; THRESHOLD; BIN DENSE -> I32; ADD of the stream and that output (in1, which dies
    there, while the stream is read again later); THRESHOLD; BIN DENSE -> I32; ADD with the
    stream again; THRESHOLD; two BIN DENSE -> I32 score heads, one from the last THRESHOLD and
    one from the first (a skip); the scores are their ADD."""
    rng = np.random.default_rng(seed)
    B, U8, I32 = fmt.DType.BIN, fmt.DType.U8, fmt.DType.I32
    h, w, c = input_shape
    flat, out = (1, 1, width), (1, 1, n_classes)

    def dense(in_type: fmt.DType, in_shape: tuple[int, int, int], out_c: int,
              in0: int) -> fmt.Layer:
        n = in_shape[0] * in_shape[1] * in_shape[2]
        rows = _bits(rng, out_c, n) if in_type == U8 else _bits(rng, out_c * in_shape[0]
                                                                * in_shape[1], in_shape[2])
        return fmt.Layer(fmt.Op.DENSE, in_type, I32, in_shape, (1, 1, out_c), in_shape[:2],
                         in0=in0, weights=fmt.pack_bits(rows).tobytes())

    def threshold(tensor: int, spread: float) -> fmt.Layer:
        return fmt.Layer(fmt.Op.THRESHOLD, I32, B, flat, flat, in0=tensor,
                         thresholds=_thresholds(rng, width, spread))

    layers = [
        dense(U8, input_shape, width, 0),                             # t1: the stream
        threshold(1, 128 * np.sqrt(h * w * c)),                       # t2
        dense(B, flat, width, 2),                                     # t3
        fmt.Layer(fmt.Op.ADD, I32, I32, flat, flat, in0=1, in1=3),    # t4 = t1 + t3
        threshold(4, 128 * np.sqrt(h * w * c)),                       # t5
        dense(B, flat, width, 5),                                     # t6
        fmt.Layer(fmt.Op.ADD, I32, I32, flat, flat, in0=6, in1=1),    # t7 = t6 + t1
        threshold(7, 128 * np.sqrt(h * w * c)),                       # t8
        dense(B, flat, n_classes, 8),                                 # t9
        dense(B, flat, n_classes, 2),                                 # t10: from t2, a skip
        fmt.Layer(fmt.Op.ADD, I32, I32, out, out, in0=9, in1=10),     # scores = t9 + t10
    ]
    return fmt.Model(input_shape, n_classes, layers)


def tiny_resnet() -> fmt.Model:
    """residual_net on 7×7×3 input with 5 and 33 channels: odd sizes and a word boundary."""
    return residual_net(12, (7, 7, 3), 5, 33, 6)


VECTORS = {"tiny_cnn": tiny_cnn, "tiny_mlp": tiny_mlp, "tiny_resnet": tiny_resnet}


def inputs_for(model: fmt.Model, name: str) -> np.ndarray:
    rng = np.random.default_rng(sum(map(ord, name)))
    x = rng.integers(0, 256, (6, *model.input_shape), dtype=np.uint8)
    x[0] = 0
    x[1] = 255
    return x


def main() -> None:
    for name, build in VECTORS.items():
        model = build()
        data = fmt.to_bytes(model)
        (HERE / f"{name}.ebnn").write_bytes(data)
        x = inputs_for(model, name)
        expected = {"inputs": x.tolist(), "scores": reference.infer(model, x).tolist()}
        (HERE / f"{name}.json").write_text(json.dumps(expected) + "\n")
        print(f"{name}.ebnn: {len(data)} bytes")


if __name__ == "__main__":
    main()
