"""On-device training with the `local` rule: the C core (native/src/train/local.c, through cffi)
against the Python reference `local_step` (LocalRule.train_step), batch by batch, from the same
exported model, samples and seed — hidden integers, mistake counts, WGHT bits and the trained
model's scores must all be identical. Also the `trnl` section checks and the RAM figures."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edgebnn import format as fmt
from edgebnn.backends import torch_scores
from edgebnn.data.tensors import to_tensor
from edgebnn.export import export_model
from edgebnn.models.local_chain import local_chain
from edgebnn.native import LocalTrainer, NativeError, NativeModel
from edgebnn.ondevice import local as trnl
from edgebnn.train import TrainConfig
from edgebnn.train.algorithms.local import LocalRule

BATCH = 100


def make_rule(digits, layers, seed=7, **algo):
    """An untrained chain (thresholds fitted) and its Python trainer (the torch engine, the
    reference: the default engine is this C core itself)."""
    torch.manual_seed(seed)
    chain = local_chain((8, 8, 1), 10, layers)
    config = TrainConfig(algo="local", model_kwargs={"layers": list(layers)},
                         batch_size=BATCH, seed=seed, algo_kwargs={"engine": "torch", **algo})
    rule = LocalRule(chain, config)
    rule.prepare(digits.train.x)
    # digits' border pixels are nearly constant: disabled inputs, which the C step must skip
    assert chain.input_threshold().disabled_features().any()
    return rule


def export_with_state(rule) -> bytes:
    model = export_model(rule.model, (8, 8, 1), 10)
    model.extra_sections[trnl.TAG] = trnl.from_rule(rule, step=rule.step)
    return fmt.to_bytes(model)


def assert_same_state(rule, data: bytes):
    state = trnl.read(data)
    assert state.step == rule.step
    for l, layer in enumerate(rule.hidden):
        np.testing.assert_array_equal(state.weights[l], layer.weight.numpy(), err_msg=f"layer {l}")
    # the packed sign bits in WGHT are what the exporter packs from the Python weights
    ours = fmt.from_bytes(data).layers
    ref = fmt.from_bytes(export_with_state(rule)).layers
    for a, b in zip(ours, ref):
        assert a.weights == b.weights and a.thresholds == b.thresholds


@pytest.mark.parametrize("layers,gamma", [((64,), None), ((128, 64), None), ((40, 33), 7)])
def test_c_training_is_bit_identical_to_python(digits, layers, gamma):
    kw = {} if gamma is None else {"gamma": gamma}
    rule = make_rule(digits, layers, **kw)
    trainer = LocalTrainer(export_with_state(rule))
    rng = np.random.default_rng(0)
    x_all, y_all = digits.train.x, digits.train.y
    for epoch in range(2):
        order = rng.permutation(len(y_all))[:6 * BATCH + 37]   # a short last batch too
        correct_sum = 0
        for start in range(0, len(order), BATCH):
            idx = order[start:start + BATCH]
            x, y = x_all[idx], y_all[idx]
            py = rule.train_step(to_tensor(x), torch.from_numpy(y.astype(np.int64)))
            correct, wrong = trainer.step(x, y)
            assert correct == py.correct
            assert wrong == round(py.loss * len(y))
            correct_sum += correct
        assert_same_state(rule, trainer.to_bytes())
        # the epoch boundary: the host turns the accuracy into thresholds for both
        rule.end_epoch(epoch, correct_sum / len(order))
        assert all(p > 0 for p in rule.thresholds())
        trainer.set_thresholds(rule.thresholds())
    trained = trainer.to_bytes()
    assert_same_state(rule, trained)
    scores = NativeModel(trained).infer(digits.test.x)
    np.testing.assert_array_equal(scores, torch_scores(rule.model, digits.test.x))


def test_training_on_the_c_core_improves_held_out_accuracy(digits):
    rule = make_rule(digits, (128,))
    data = export_with_state(rule)
    before = (NativeModel(data).infer(digits.test.x).argmax(1) == digits.test.y).mean()
    trainer = LocalTrainer(data)
    rng = np.random.default_rng(1)
    p_rule = make_rule(digits, (128,))   # only for its thresholds formula per epoch
    for epoch in range(4):
        order = rng.permutation(len(digits.train.y))
        correct = sum(trainer.step(digits.train.x[order[s:s + BATCH]],
                                   digits.train.y[order[s:s + BATCH]])[0]
                      for s in range(0, len(order), BATCH))
        p_rule.end_epoch(epoch, correct / len(order))
        trainer.set_thresholds(p_rule.thresholds())
    after = (NativeModel(trainer.to_bytes()).infer(digits.test.x).argmax(1)
             == digits.test.y).mean()
    # measured: about 0.1 before, about 0.8 after 4 epochs
    assert before < 0.3 and after > 0.6, (before, after)


def test_scratch_bytes(digits):
    """RAM of one step (docs/format.md "Training section trnl" lists these figures)."""
    for layers, batch, expected in [((64,), 100, 2960), ((128, 64), 100, 5872),
                                    ((128, 64), 1, 1120)]:
        trainer = LocalTrainer(export_with_state(make_rule(digits, layers)))
        assert trainer.scratch_size(batch) == expected, (layers, batch)


def corrupt(data: bytes, offset_in_trnl: int, value: bytes) -> bytes:
    """The file with bytes of its trnl section replaced, CRCs made valid again."""
    model = fmt.from_bytes(data)
    section = bytearray(model.extra_sections[trnl.TAG])
    section[offset_in_trnl:offset_in_trnl + len(value)] = value
    model.extra_sections[trnl.TAG] = bytes(section)
    return fmt.to_bytes(model)


def test_training_section_is_validated(digits):
    rule = make_rule(digits, (40, 33))
    data = export_with_state(rule)
    LocalTrainer(data)
    # without the section the model still runs, but cannot be trained
    plain = fmt.to_bytes(export_model(rule.model, (8, 8, 1), 10))
    NativeModel(plain)
    first_w = 32 + 2 * 32
    cases = {
        "no section": plain,
        "version": corrupt(data, 0, b"\x02\x00"),
        "n_hidden": corrupt(data, 2, b"\x03\x00"),
        "weight_bits": corrupt(data, 4, b"\x11"),
        "gamma 0": corrupt(data, 32 + 2, b"\x00\x00"),
        "w_off": corrupt(data, 32 + 12, b"\x10\x00\x00\x00"),
        "sign": corrupt(data, first_w, bytes([(-1 - int(rule.hidden[0].weight[0, 0])) & 0xFF])),
    }
    for name, bad in cases.items():
        with pytest.raises(NativeError) as e:
            LocalTrainer(bad)
        assert e.value.status == "EBNN_ERR_TRAINING", name
    # a truncated section
    model = fmt.from_bytes(data)
    model.extra_sections[trnl.TAG] = model.extra_sections[trnl.TAG][:-16]
    with pytest.raises(NativeError) as e:
        LocalTrainer(fmt.to_bytes(model))
    assert e.value.status == "EBNN_ERR_TRAINING"


def test_export_run_writes_the_training_section(tmp_path, digits):
    from edgebnn.export import export_run
    from edgebnn.train import train
    config = TrainConfig(algo="local", model_kwargs={"layers": [32]}, epochs=1,
                         batch_size=100, seed=2)
    train(config, tmp_path, progress=False)
    data = fmt.to_bytes(export_run(tmp_path))
    trainer = LocalTrainer(data)
    trainer.step(digits.train.x[:50], digits.train.y[:50])
    assert trainer.step_index == 1
    NativeModel(trainer.to_bytes())
