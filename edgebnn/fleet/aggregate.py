"""The fleet's merge rule for models trained on device, in integers only, so that the same
round inputs give the same merged file on any host (bit-reproducible).

Both on-device rules keep integer state beside the ±1 weights inference uses: `local` its
hidden weights W (trnl), `drtp` its fixed-point latent weights (trnd); the ±1 weights are
sign(W) (sign(0) = +1). Averaging ±1 weights would lose what each board learned below the sign,
so the merge averages that integer state and re-derives the rest:

    W = round_half_even(Σ_i n_i·W_i / Σ_i n_i)          (n_i: client i's sample count)

computed exactly: num = Σ n_i·W_i and den = Σ n_i are integers, q = ⌊num / den⌋, r = num − q·den,
and q + 1 when 2r > den, or when 2r = den and q is odd (ties to even, so no drift to +∞ or −∞
over rounds). A weighted mean of values in the storage range stays in it, so no saturation is
needed. WGHT's bits are then sign(W), as the C core's training writes them.

What the rules keep fixed (local: the frozen readouts, γ, the weight width and seed; drtp: Q
format, seed, shifts and windows, thresholds) must be equal in every client's model and is
taken from the first; a difference is a FleetError naming the client. The batch counter (the
local rule's reinforcement draws and drtp's feedback do not repeat across rounds) becomes the
largest of the clients'; the local rule's reinforcement thresholds p_q, set from each board's
last training accuracy, are merged with the same weighted mean (the next round's first epoch
starts from the fleet's average).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from edgebnn import format as fmt
from edgebnn.errors import EdgebnnError
from edgebnn.ondevice import drtp, local


class FleetError(EdgebnnError):
    """A fleet run that cannot go on: clients' models that do not merge, no client left."""


def weighted_mean(values: Sequence[np.ndarray], counts: Sequence[int]) -> np.ndarray:
    """round_half_even(Σ n_i·v_i / Σ n_i) of integer arrays, exactly (module docstring); the
    dtype of values[0]."""
    if not values or len(values) != len(counts):
        raise FleetError(f"{len(values)} arrays and {len(counts)} sample counts to merge")
    if min(counts) < 0 or sum(counts) <= 0:
        raise FleetError(f"sample counts {list(counts)}: expected >= 0 with a positive total")
    num = sum(int(n) * np.asarray(v, dtype=np.int64) for v, n in zip(values, counts))
    den = int(sum(int(n) for n in counts))
    q, r = np.divmod(num, den)
    up = (2 * r > den) | ((2 * r == den) & (q % 2 == 1))
    return (q + up).astype(np.asarray(values[0]).dtype)


def _same(what: str, first, other, client: int) -> None:
    if not np.array_equal(np.asarray(first), np.asarray(other)):
        raise FleetError(f"client {client}'s model differs from client 0's in {what}: models "
                         "trained from different global models do not merge")


def _set_signs(model: fmt.Model, layer: int, w: np.ndarray) -> None:
    model.layers[layer].weights = fmt.pack_bits((w >= 0).astype(np.uint8)).tobytes()


def merge_local(models: Sequence[bytes], counts: Sequence[int]) -> bytes:
    """The merged `local` model: hidden weights averaged, WGHT's signs re-derived."""
    states = [local.read(m) for m in models]
    first = states[0]
    for i, s in enumerate(states[1:], 1):
        _same("the weight width and seed", (first.weight_bits, first.seed),
              (s.weight_bits, s.seed), i)
        _same("γ", first.gammas, s.gammas, i)
        for l, (r0, r) in enumerate(zip(first.readouts, s.readouts)):
            _same(f"sub-network {l}'s readout", r0, r, i)
        _same("the weight shapes", [w.shape for w in first.weights],
              [w.shape for w in s.weights], i)
    model = fmt.from_bytes(models[0])
    weights = [weighted_mean([s.weights[l] for s in states], counts)
               for l in range(len(first.weights))]
    p_q = weighted_mean([np.asarray(s.thresholds, dtype=np.int64) for s in states], counts)
    for l, w in enumerate(weights):
        _set_signs(model, l + 1, w)
    merged = local.LocalState(first.weight_bits, first.seed, max(s.step for s in states),
                              weights, first.readouts, first.gammas, [int(p) for p in p_q])
    model.extra_sections[local.TAG] = local.encode(merged)
    return fmt.to_bytes(model)


def _drtp_fixed(s: drtp.DrtpState) -> tuple:
    """What DRTP training leaves as it is: Q format, seed, and per layer its shift, window and
    weight shape."""
    return s.frac_bits, s.seed, [(x.layer, x.shift, x.window, x.weights.shape) for x in s.layers]


def merge_drtp(models: Sequence[bytes], counts: Sequence[int]) -> bytes:
    """The merged `drtp` model: latent weights averaged, WGHT's signs re-derived."""
    states = [drtp.read(m) for m in models]
    first = states[0]
    parsed = [fmt.from_bytes(m) for m in models]
    for i, (s, m) in enumerate(zip(states[1:], parsed[1:]), 1):
        _same("its Q format, seed, layers, shifts or windows", str(_drtp_fixed(first)),
              str(_drtp_fixed(s)), i)
        for x in first.layers:
            _same(f"layer {x.layer}'s thresholds", parsed[0].layers[x.layer].thresholds,
                  m.layers[x.layer].thresholds, i)
    model = parsed[0]
    layers = []
    for l, x in enumerate(first.layers):
        w = weighted_mean([s.layers[l].weights for s in states], counts)
        _set_signs(model, x.layer, w)
        layers.append(drtp.LayerState(x.layer, x.shift, x.window, w))
    merged = drtp.DrtpState(first.frac_bits, first.seed, max(s.step for s in states), layers)
    model.extra_sections[drtp.TAG] = drtp.encode(merged, model.n_classes)
    return fmt.to_bytes(model)


#: the merge of each on-device rule (edgebnn.device.training.SECTIONS' names)
MERGES = {"local": merge_local, "drtp": merge_drtp}


def merge(algo: str, models: Sequence[bytes], counts: Sequence[int]) -> bytes:
    """The merged model of the clients' trained `models` (same global model, rule `algo`)
    weighted by their sample counts; FleetError when they do not merge."""
    if algo not in MERGES:
        raise FleetError(f"unknown training algorithm {algo!r}; known: {', '.join(MERGES)}")
    if not models:
        raise FleetError("no client returned a model this round")
    try:
        return MERGES[algo](models, counts)
    except fmt.FormatError as e:
        raise FleetError(f"a client's model: {e}") from None
