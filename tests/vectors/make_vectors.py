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


VECTORS = {"tiny_cnn": tiny_cnn, "tiny_mlp": tiny_mlp}


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
