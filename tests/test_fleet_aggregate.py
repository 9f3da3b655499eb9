"""The fleet's integer merge (edgebnn/fleet/aggregate.py) through the Flower Strategy that uses
it: for random client models and sample counts, the merged model equals the rule computed here
independently (exact rationals, Python's round half to even), its ±1 weights are the merged
integers' signs, the C core accepts it, and the result does not depend on the reply order."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from flwr.app import Message, MetricRecord, RecordDict

from flwr.supercore.task_identity import TaskIdentity

from edgebnn import format as fmt
from edgebnn.fleet.aggregate import FleetError, merge, weighted_mean
from edgebnn.fleet.strategy import IntegerFedAvg, from_record, to_record
from edgebnn.native import DrtpTrainer, LocalTrainer
from edgebnn.ondevice import drtp, local
from edgebnn.ondevice.drtp import export_untrained
from tests.test_device_train import chain_model


def expected_mean(values: list[np.ndarray], counts: list[int]) -> np.ndarray:
    flat = [v.reshape(-1).tolist() for v in values]
    total = sum(counts)
    out = [round(sum(Fraction(n * v[i]) for v, n in zip(flat, counts)) / total)
           for i in range(len(flat[0]))]
    return np.array(out, dtype=np.int64).reshape(values[0].shape)


def signs_of(model: fmt.Model, layer: int, shape) -> np.ndarray:
    rows = model.layers[layer].weight_array()
    return fmt.unpack_bits(rows, shape[1]).astype(bool)


def random_local(base: bytes, rng: np.random.Generator) -> bytes:
    """`base` with random hidden weights (over the whole int8 range), signs to match, and a
    random batch counter and p_q: what a board could return."""
    state, model = local.read(base), fmt.from_bytes(base)
    state.weights = [rng.integers(-128, 128, w.shape).astype(np.int8) for w in state.weights]
    state.thresholds = [int(t) for t in rng.integers(0, 2**32, len(state.thresholds))]
    state.step = int(rng.integers(0, 10_000))
    for l, w in enumerate(state.weights):
        model.layers[l + 1].weights = fmt.pack_bits((w >= 0).astype(np.uint8)).tobytes()
    model.extra_sections[local.TAG] = local.encode(state)
    return fmt.to_bytes(model)


def random_drtp(base: bytes, rng: np.random.Generator) -> bytes:
    state, model = drtp.read(base), fmt.from_bytes(base)
    lim = 1 << state.frac_bits
    for s in state.layers:
        s.weights = rng.integers(-lim, lim + 1, s.weights.shape).astype(np.int16)
        model.layers[s.layer].weights = fmt.pack_bits((s.weights >= 0).astype(np.uint8)).tobytes()
    state.step = int(rng.integers(0, 10_000))
    model.extra_sections[drtp.TAG] = drtp.encode(state, model.n_classes)
    return fmt.to_bytes(model)


def reply(model: bytes, n: int, partition: int) -> Message:
    content = RecordDict({"arrays": to_record(model),
                          "metrics": MetricRecord({"num-examples": n, "partition": partition})})
    return Message(content, dst_node_id=0, message_type="train")


@pytest.fixture(autouse=True)
def task_identity(monkeypatch):
    """Messages outside a running app: the identity Flower's processes set (a ServerApp's)."""
    for key, value in (("_run_id", 1), ("_node_id", 0), ("_task_id", 1)):
        monkeypatch.setattr(TaskIdentity, key, value)


@pytest.fixture(scope="module")
def bases(digits) -> dict[str, bytes]:
    return {"local": chain_model((8, 8, 1), [40, 24], digits),
            "drtp": export_untrained((8, 8, 1), 10, (32,), digits.train.x, 1)}


@pytest.mark.parametrize("algo", ["local", "drtp"])
@pytest.mark.parametrize("seed", range(4))
def test_strategy_merge_equals_the_rule_computed_independently(bases, algo, seed):
    rng = np.random.default_rng(seed)
    n_clients = int(rng.integers(1, 6))
    counts = [int(c) for c in rng.integers(1, 500, n_clients)]
    counts[0] = counts[-1] if n_clients > 1 and seed % 2 else counts[0]   # ties in the weights
    make = random_local if algo == "local" else random_drtp
    models = [make(bases[algo], rng) for _ in range(n_clients)]

    strategy = IntegerFedAvg(algo)
    order = rng.permutation(n_clients)
    arrays, _ = strategy.aggregate_train(1, [reply(models[i], counts[i], int(i)) for i in order])
    merged = from_record(arrays)
    assert merged == merge(algo, models, counts)           # any reply order: the same bytes
    assert sorted(strategy.rounds[1].clients) == list(range(n_clients))

    out = fmt.from_bytes(merged)
    if algo == "local":
        states, got = [local.read(m) for m in models], local.read(merged)
        for l, w in enumerate(got.weights):
            want = expected_mean([s.weights[l] for s in states], counts)
            np.testing.assert_array_equal(w, want)
            np.testing.assert_array_equal(signs_of(out, l + 1, w.shape), want >= 0)
        want_p = expected_mean([np.array(s.thresholds, dtype=np.int64) for s in states], counts)
        assert got.thresholds == want_p.tolist()
        assert got.step == max(s.step for s in states)
        LocalTrainer(merged, "merged")                      # the C core accepts it
    else:
        states, got = [drtp.read(m) for m in models], drtp.read(merged)
        for l, s in enumerate(got.layers):
            want = expected_mean([st.layers[l].weights for st in states], counts)
            np.testing.assert_array_equal(s.weights, want)
            np.testing.assert_array_equal(signs_of(out, s.layer, s.weights.shape), want >= 0)
        DrtpTrainer(merged, "merged")


def test_half_way_rounds_to_even():
    got = weighted_mean([np.array([1, 2, -1, -2, 3], np.int8), np.array([2, 3, -2, -3, 3], np.int8)],
                        [1, 1])
    np.testing.assert_array_equal(got, [2, 2, -2, -2, 3])


def test_models_of_different_global_models_do_not_merge(bases, digits):
    other = chain_model((8, 8, 1), [40, 24], digits, seed=9)
    with pytest.raises(FleetError, match="client 1's model differs"):
        merge("local", [bases["local"], other], [1, 1])
    with pytest.raises(FleetError, match="sample counts"):
        merge("local", [bases["local"]], [0])
