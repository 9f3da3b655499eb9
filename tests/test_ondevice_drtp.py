"""On-device DRTP: the C core (native/src/train/drtp.c, through cffi) against the Python
reference (edgebnn/ondevice/drtp.py), batch by batch, from the same model file — latent
weights, WGHT bits, step counter and statistics must be identical (the whole file is compared),
from untrained chains and from host-trained MLPs. Also the `trnd` section checks, held-out
accuracy after training, the export flag and the RAM figures of docs/format.md."""
from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch

from edgebnn import format as fmt
from edgebnn import reference
from edgebnn.cli import main
from edgebnn.export import ExportError, export_model, export_run
from edgebnn.native import DrtpTrainer, NativeError, NativeModel
from edgebnn.ondevice import drtp as trnd
from edgebnn.ondevice.drtp import (MAX_BATCH, DrtpReference, export_untrained, feedback_signs,
                                   round_shift)
from edgebnn.runs import run_folder
from edgebnn.train import TrainConfig, train
from tests.conftest import randomize_batch_norm

BATCH = 100


def accuracy(data: bytes, split) -> float:
    return float((NativeModel(data).infer(split.x).argmax(1) == split.y).mean())


def epochs(split, n: int, seed: int, per_epoch: int | None = None):
    """The (x, y) batches of n shuffled epochs of per_epoch samples (a short last batch too)."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        order = rng.permutation(len(split.y))[:per_epoch]
        for start in range(0, len(order), BATCH):
            idx = order[start:start + BATCH]
            yield split.x[idx], split.y[idx]


def assert_lockstep(data: bytes, split, n_epochs: int, per_epoch: int) -> bytes:
    """Trains the C core and the reference side by side; returns the trained file."""
    ref, trainer = DrtpReference(data), DrtpTrainer(data)
    for x, y in epochs(split, n_epochs, 0, per_epoch):
        py = ref.step(x, y)
        assert trainer.step(x, y) == (py.correct, py.wrong)
    trained = trainer.to_bytes()
    assert trained == ref.to_bytes()
    assert trainer.step_index == ref.state.step == n_epochs * -(-per_epoch // BATCH)
    return trained


def test_rounding_and_projection_rules():
    """rnd(v, s) is symmetric with ties away from zero; B is ±1 and depends on every key part."""
    np.testing.assert_array_equal(round_shift(np.array([3, 1, -1, -3, 2, -2, 5]), 1),
                                  [2, 1, -1, -2, 1, -1, 3])
    np.testing.assert_array_equal(round_shift(np.array([7, -7]), 0), [7, -7])
    b = feedback_signs(5, 0, 64, 10)
    assert set(np.unique(b)) == {-1, 1} and abs(b.mean()) < 0.15
    for other in (feedback_signs(6, 0, 64, 10), feedback_signs(5, 1, 64, 10)):
        assert (other != b).mean() > 0.3


@pytest.mark.parametrize("layers", [(64,), (40, 33)])
def test_c_training_is_bit_identical_to_python_untrained(digits, layers):
    data = export_untrained((8, 8, 1), 10, layers, digits.train.x, seed=3)
    trained = assert_lockstep(data, digits.train, 2, 6 * BATCH + 37)
    # the trained file runs on the unchanged engine: C scores = the NumPy interpreter's
    np.testing.assert_array_equal(NativeModel(trained).infer(digits.test.x),
                                  reference.infer(fmt.from_bytes(trained), digits.test.x))
    before, after = trnd.read(data).layers[0].weights, trnd.read(trained).layers[0].weights
    constant = fmt.from_bytes(data).layers[0].binarize_thresholds().reshape(-1) == 0
    assert constant.any() and not constant.all()
    np.testing.assert_array_equal(after[:, constant], before[:, constant])
    assert (after[:, ~constant] != before[:, ~constant]).mean() > 0.5
    # their signs alternate along each unit, so the constant inputs cancel
    assert np.abs(np.where(before[:, constant] >= 0, 1, -1).sum(axis=1)).max() <= 1


@pytest.fixture(scope="module")
def host_run(tmp_path_factory):
    """An MLP trained briefly on the host with float DRTP (U8 first layer, folded batch norm)."""
    out = tmp_path_factory.mktemp("drtp_run")
    train(TrainConfig(algo="drtp", model="mlp", model_kwargs={"layers": [64, 32]}, epochs=2,
                      seed=1), out, progress=False)
    return out


def with_section(model: torch.nn.Module, seed: int = 0) -> bytes:
    exported = export_model(model, (8, 8, 1), 10)
    exported.extra_sections[trnd.TAG] = trnd.from_torch(model, exported, seed=seed)
    return fmt.to_bytes(exported)


def test_c_training_is_bit_identical_from_a_host_trained_mlp(digits, host_run):
    model, _, _ = run_folder.load(host_run)
    data = with_section(model)
    assert_lockstep(data, digits.train, 1, 4 * BATCH)
    # random batch norms: negative scales (flipped units), thresholds out of reach
    flipped = with_section(randomize_batch_norm(model, 4), seed=9)
    t, flip = fmt.from_bytes(flipped).layers[0].threshold_arrays()
    assert flip.any() and not flip.all()
    assert_lockstep(flipped, digits.train, 1, 3 * BATCH + 5)


def test_training_on_the_c_core_improves_held_out_accuracy(digits):
    data = export_untrained((8, 8, 1), 10, (128,), digits.train.x, seed=0)
    trainer = DrtpTrainer(data)
    for x, y in epochs(digits.train, 4, 0):
        trainer.step(x, y)
    before, after = accuracy(data, digits.test), accuracy(trainer.to_bytes(), digits.test)
    # measured over seeds 0-5: 0.07-0.15 before, 0.81-0.85 after 4 epochs (K = 256: 0.84-0.88)
    assert before < 0.25 and after > 0.7, (before, after)


def test_training_improves_a_host_trained_mlp(digits, host_run):
    exported = export_run(host_run)
    exported.extra_sections[trnd.TAG] = trnd.from_run(host_run, exported)
    data = fmt.to_bytes(exported)
    trainer = DrtpTrainer(data)
    for x, y in epochs(digits.train, 4, 1):
        trainer.step(x, y)
    before, after = accuracy(data, digits.test), accuracy(trainer.to_bytes(), digits.test)
    # measured: two host epochs of float DRTP leave it at 0.18, four device epochs reach 0.78
    assert after > before + 0.3 and after > 0.6, (before, after)


def test_scratch_bytes(digits):
    """RAM of one step (docs/format.md "Training section trnd" lists these figures)."""
    cases = [((64,), 100, 2912), ((128, 64), 100, 5568), ((256,), 100, 10880),
             ((256,), 1, 1184)]
    for layers, batch, expected in cases:
        trainer = DrtpTrainer(export_untrained((8, 8, 1), 10, layers, digits.train.x))
        assert trainer.scratch_size(batch) == expected, (layers, batch)
    assert trainer.scratch_size(0) == 0 and trainer.scratch_size(MAX_BATCH + 1) == 0


def corrupt(data: bytes, offset: int, value: bytes) -> bytes:
    """The file with bytes of its trnd section replaced, CRCs made valid again."""
    model = fmt.from_bytes(data)
    section = bytearray(model.extra_sections[trnd.TAG])
    section[offset:offset + len(value)] = value
    model.extra_sections[trnd.TAG] = bytes(section)
    return fmt.to_bytes(model)


def test_training_section_is_validated(digits):
    data = export_untrained((8, 8, 1), 10, (40, 33), digits.train.x)
    state = trnd.read(data)
    plain = fmt.from_bytes(data)
    del plain.extra_sections[trnd.TAG]
    first_w = 32 + 3 * 16   # header, 3 entries (16-aligned already)
    w00 = int(state.layers[0].weights[0, 0])
    truncated = fmt.from_bytes(data)
    truncated.extra_sections[trnd.TAG] = truncated.extra_sections[trnd.TAG][:-16]
    cases = {
        "trnd": fmt.to_bytes(plain),
        "version": corrupt(data, 0, b"\x02\x00"),
        "n_layers": corrupt(data, 2, b"\x02\x00"),
        "frac_bits": corrupt(data, 4, b"\x0f"),
        "n_classes": corrupt(data, 6, b"\x0b\x00"),
        "reserved": corrupt(data, 20, b"\x01"),
        "layer": corrupt(data, 32, b"\x02\x00"),
        "n_in": corrupt(data, 32 + 2, b"\x41\x00"),
        "k": corrupt(data, 32 + 4, b"\x29\x00"),
        "shift": corrupt(data, 32 + 6, b"\x1f"),
        "w_off": corrupt(data, 32 + 12, (first_w + 16).to_bytes(4, "little")),
        "weight": corrupt(data, first_w, (2000).to_bytes(2, "little", signed=True)),
        "sign": corrupt(data, first_w, (-1 - w00).to_bytes(2, "little", signed=True)),
        "size": fmt.to_bytes(truncated),
    }
    for field, bad in cases.items():
        with pytest.raises(NativeError) as e:
            DrtpTrainer(bad)
        assert e.value.status == "EBNN_ERR_TRAINING", field
        assert f"{field} is" in str(e.value), (field, str(e.value))
    # the model itself still runs without (or with a broken) training section
    NativeModel(cases["trnd"])
    NativeModel(cases["sign"])


def test_step_arguments_are_checked(digits):
    trainer = DrtpTrainer(export_untrained((8, 8, 1), 10, (32,), digits.train.x))
    x = np.zeros((MAX_BATCH + 1, 8, 8, 1), np.uint8)
    with pytest.raises(NativeError) as e:
        trainer.step(x, np.zeros(len(x), np.uint8))
    assert e.value.status == "EBNN_ERR_LIMIT"
    with pytest.raises(NativeError) as e:
        trainer.step(x[:2], np.array([0, 10], np.uint8))
    assert e.value.status == "EBNN_ERR_ARG"
    ref = DrtpReference(trainer.to_bytes())
    for bad_x, bad_y in ((x, np.zeros(len(x))), (x[:2], np.array([0, 10]))):
        with pytest.raises(ValueError):
            ref.step(bad_x, bad_y)
    with pytest.raises(NativeError) as e:
        trainer.set_hyper(0, 31, 8)
    assert e.value.status == "EBNN_ERR_ARG"
    with pytest.raises(NativeError):
        trainer.set_hyper(2, 1, 8)
    assert trainer.step_index == 0
    trainer.set_hyper(1, 3, 5)   # stored in the section
    assert [(s.shift, s.window) for s in trnd.read(trainer.to_bytes()).layers][1] == (3, 5)


def test_export_flag_writes_the_section(tmp_path, digits, host_run, capsys):
    out = tmp_path / "m.ebnn"
    assert main(["export", str(host_run), "-o", str(out), "--train-section", "drtp"]) == 0
    trainer = DrtpTrainer(out.read_bytes())
    trainer.step(digits.train.x[:20], digits.train.y[:20])
    NativeModel(trainer.to_bytes())
    local_run = tmp_path / "local"
    train(TrainConfig(algo="local", model_kwargs={"layers": [16]}, epochs=1, batch_size=100),
          local_run, progress=False)
    model, _, _ = run_folder.load(local_run)
    with pytest.raises(ExportError, match="integer weights"):
        trnd.from_torch(model, export_run(local_run))


def test_exporter_refuses_models_drtp_cannot_train(digits):
    from edgebnn.models import build_model
    cnn = build_model("cnn", (8, 8, 1), 10, width=4, fc=16)
    with pytest.raises(ExportError, match="CONV2D"):
        trnd.from_torch(cnn, export_model(cnn, (8, 8, 1), 10))
    wide = build_model("mlp", (128, 128, 4), 10, layers=[8])
    with pytest.raises(ExportError, match="65535"):
        trnd.from_torch(wide, export_model(wide, (128, 128, 4), 10))


def batch_file(split, sizes, seed: int) -> tuple[bytes, list[tuple[np.ndarray, np.ndarray]]]:
    """batches.bin for tests/native/train_drtp_cm.c (layout in its comment) and the batches."""
    rng = np.random.default_rng(seed)
    out, batches = bytearray(len(sizes).to_bytes(2, "little") + bytes(6)), []
    for n in sizes:
        idx = rng.permutation(len(split.y))[:n]
        x, y = split.x[idx], split.y[idx].astype(np.uint8)
        out += n.to_bytes(2, "little") + bytes(6) + x.tobytes() + y.tobytes() + bytes(-n % 8)
        batches.append((x, y))
    return bytes(out), batches


def test_cortex_m4_training_is_bit_identical(tmp_path, digits, host_run):
    """The same step compiled for the M4 target (bare metal, qemu mps2-an386) trains to the
    same file, byte for byte, as the host build: a BINARIZE chain and an MLP with flipped units."""
    from tests.test_kernels_arch import BOARDS, NATIVE, make, need, run
    need("arm-none-eabi-gcc", "qemu-system-arm")
    elf = NATIVE / "build" / "arch" / "cortex-m4" / "train_drtp_cm.elf"
    make(str(elf.relative_to(NATIVE)), "CPU=cortex-m4")
    model, _, _ = run_folder.load(host_run)
    models = [export_untrained((8, 8, 1), 10, (64, 40), digits.train.x, seed=5),
              with_section(randomize_batch_norm(model, 3), seed=11)]
    for data in models:
        batches, pairs = batch_file(digits.train, (100, 57, 100, 100, 33, 100), seed=2)
        (tmp_path / "m.ebnn").write_bytes(data)
        (tmp_path / "batches.bin").write_bytes(batches)
        trainer, correct, wrong = DrtpTrainer(data), 0, 0
        for x, y in pairs:
            c, w = trainer.step(x, y)
            correct, wrong = correct + c, wrong + w
        r = run(["qemu-system-arm", "-M", BOARDS["cortex-m4"], "-nographic", "-monitor", "none",
                 "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)],
                timeout=120, cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        expected = (f"crc {zlib.crc32(trainer.to_bytes()):08x}\ncorrect {correct:08x}\n"
                    f"wrong {wrong:08x}\n")
        assert (r.stdout + r.stderr).replace("\r", "") == expected
