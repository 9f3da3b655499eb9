"""The `trnl` ancillary section: the `local` rule's training state inside a `.ebnn` file
(layout in docs/format.md, "Training section trnl"), so the C core can keep training the model
on the device (native/src/train/local.c) with the same integer update as `local_step`.

It holds what inference does not need: the integer hidden weights (their signs are WGHT's bits),
the frozen ±1 readouts, γ per sub-network, the weight width, the seed, the batch counter and the
reinforcement thresholds p_q."""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from edgebnn import format as fmt
from edgebnn.export import section

TAG = b"trnl"
VERSION = 1
_HEAD = struct.Struct("<HHBxHII16x")      # version, n_hidden, weight_bits, n_classes, seed, step
_ENTRY = struct.Struct("<HHHHIII12x")     # layer, gamma, n_in, k, p_q, w_off, r_off
assert _HEAD.size == 32 and _ENTRY.size == 32


@dataclass
class LocalState:
    """The decoded section: per sub-network hidden weights (K, N_in), readouts ±1 (K, C), γ, p_q."""

    weight_bits: int
    seed: int
    step: int
    weights: list[np.ndarray]
    readouts: list[np.ndarray]
    gammas: list[int]
    thresholds: list[int]


def _weight_dtype(bits: int) -> str:
    return "<i1" if bits <= 8 else "<i2"


def encode(state: LocalState) -> bytes:
    """Section bytes; sub-network l is DENSE layer l + 1 (after the BINARIZE layer)."""
    n, n_classes = len(state.weights), state.readouts[0].shape[1]
    blobs = []
    for w, r in zip(state.weights, state.readouts):
        blobs.append(np.ascontiguousarray(w, dtype=_weight_dtype(state.weight_bits)).tobytes())
        # class c's column of R as one packed row, exactly the output DENSE layer's weights
        blobs.append(fmt.pack_bits((np.asarray(r).T >= 0).astype(np.uint8)).tobytes())

    def table(offsets: list[int]) -> bytes:
        head = _HEAD.pack(VERSION, n, state.weight_bits, n_classes, state.seed & 0xFFFFFFFF,
                          state.step & 0xFFFFFFFF)
        return head + b"".join(
            _ENTRY.pack(l + 1, g, w.shape[1], w.shape[0], p_q, offsets[2 * l],
                        offsets[2 * l + 1])
            for l, (w, g, p_q) in enumerate(zip(state.weights, state.gammas, state.thresholds)))

    return section.layout(_HEAD.size + _ENTRY.size * n, blobs, table)


def decode(body: bytes) -> LocalState:
    version, n, bits, n_classes, seed, step = _HEAD.unpack_from(body)
    if version != VERSION:
        raise fmt.FormatError(f"trnl: version is {version}, expected {VERSION}")
    state = LocalState(bits, seed, step, [], [], [], [])
    for l in range(n):
        _, g, n_in, k, p_q, w_off, r_off = _ENTRY.unpack_from(body, 32 + 32 * l)
        dt = np.dtype(_weight_dtype(bits))
        state.weights.append(np.frombuffer(body, dt, k * n_in, w_off).reshape(k, n_in).copy())
        rows = np.frombuffer(body, "<u4", n_classes * fmt.words(k), r_off)
        bits01 = fmt.unpack_bits(rows.reshape(n_classes, -1), k)
        state.readouts.append((bits01.T.astype(np.int8) * 2 - 1))
        state.gammas.append(g)
        state.thresholds.append(p_q)
    return state


def read(data: bytes) -> LocalState:
    """The training state of a model file."""
    return decode(section.read(data, TAG))


def from_rule(rule, step: int = 0) -> bytes:
    """The section of a LocalRule's model (edgebnn/train/algorithms/local.py), with its γ, seed
    and the current epoch's thresholds p_q."""
    hidden = rule.hidden
    return encode(LocalState(hidden[0].weight_bits, rule.seed, step,
                             [l.weight.numpy() for l in hidden], list(rule.readouts),
                             list(rule.gammas), rule.thresholds()))
