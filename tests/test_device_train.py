"""On-device training over serial (docs/protocol.md "Training") on the three emulated boards:
training an untrained and a host-trained `local` chain, and an untrained DRTP chain, on digits
improves held-out accuracy, and the model pulled back is byte for byte the host C core's
simulation of the same batches and parameters (on both ARM Linux runtimes too); malformed
TRAIN / TRAIN_PARAMS requests get their precise error and leave the committed model intact;
TRAIN_SAVE makes the training survive a reset; the `edgebnn device train|evaluate|read|reset`
commands.

Needs make, arm-none-eabi-gcc and qemu-system-arm (skipped otherwise)."""
from __future__ import annotations

import json
import select
import shutil
import struct
import subprocess
import sys
import threading
import time
import zlib

import numpy as np
import pytest
import torch

from edgebnn import format as fmt
from edgebnn.cli import main, model_splits
from edgebnn.device import training
from edgebnn.device.client import _describe_error
from edgebnn.device.errors import CommandError, DeviceError
from edgebnn.device.framing import REPLY, Cmd, Frame, FrameReader, Status, encode
from edgebnn.device.linux import ARCHES as LINUX_ARCHES
from edgebnn.device.ports import ensure_firmware, open_device
from edgebnn.device.qemu import emulated_boards
from edgebnn.export import export_model, export_run
from edgebnn.models.local_chain import local_chain
from edgebnn.native import LocalTrainer, NativeModel
from edgebnn.ondevice import drtp as trnd, local as trnl
from edgebnn.ondevice.drtp import export_untrained
from edgebnn.train import TrainConfig, train
from edgebnn.train.algorithms.local import LocalRule

MISSING = [t for t in ("make", "arm-none-eabi-gcc", "qemu-system-arm") if shutil.which(t) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {', '.join(MISSING)}")

# mps2-an505 (M33) runs the M4's kernels and trainer code, bit for bit the mps2-an386's: its
# protocol, inference and trial boot are tested elsewhere; training it again would only cost time.
BOARDS = [b for b in emulated_boards() if b != "mps2-an505"]
BOARDS.remove("microbit")   # its 4 KiB model slot takes a narrower chain: its own test below
LAYERS = [64]
#: the widest one-hidden-layer local chain whose model (3,040 bytes with its training section)
#: fits the micro:bit's 4 KiB model slot (48 units: 4,288 bytes)
MICROBIT_LAYERS = [32]
SEED = 3


def chain_model(shape, layers, digits=None, seed: int = SEED) -> bytes:
    """An untrained chain exported with its training section (thresholds fitted on digits)."""
    torch.manual_seed(seed)
    chain = local_chain(shape, 10, layers)
    if digits is not None:
        chain.input_threshold().fit(digits.train.x)
    rule = LocalRule(chain, TrainConfig(algo="local", model_kwargs={"layers": layers}, seed=seed))
    model = export_model(chain, shape, 10, {"training": {"data": "digits", "seed": seed}})
    model.extra_sections[trnl.TAG] = trnl.from_rule(rule)
    return fmt.to_bytes(model)


def drtp_model(digits) -> bytes:
    """An untrained DRTP chain with its trnd section and the data spec."""
    model = fmt.from_bytes(export_untrained((8, 8, 1), 10, tuple(LAYERS), digits.train.x, SEED))
    model.meta["training"] = {"data": "digits", "seed": SEED}
    return fmt.to_bytes(model)


@pytest.fixture(scope="module")
def models(tmp_path_factory, digits) -> dict[str, bytes]:
    """local: untrained, and trained one epoch on the host by `edgebnn train --algo local`;
    drtp: untrained."""
    run = tmp_path_factory.mktemp("local_run")
    train(TrainConfig(algo="local", model_kwargs={"layers": LAYERS}, epochs=1, batch_size=100,
                      seed=SEED), run, progress=False)
    return {"untrained": chain_model((8, 8, 1), LAYERS, digits),
            "host-trained": fmt.to_bytes(export_run(run)), "drtp": drtp_model(digits)}


#: per board, the statuses of TRAIN, TRAIN_PARAMS and TRAIN_SAVE sent to the fresh board
FRESH: dict[str, list[int]] = {}


@pytest.fixture(scope="module", params=BOARDS)
def dev(request, digits):
    """One emulated board per module and board type, shared by its tests; first, while it has
    no model, it answers the training commands (recorded in FRESH)."""
    ensure_firmware(request.param)
    with open_device(f"qemu:{request.param}", timeout=5.0) as d:
        assert d.info().model.size == 0
        FRESH[request.param] = [_status(d, Cmd.TRAIN, train_request(
            1, digits.train.y[:2].astype(np.uint8).tobytes(), digits.train.x[:2].tobytes())),
            _status(d, Cmd.TRAIN_PARAMS, struct.pack("<BBHI", 1, 0, 1, 0)),
            _status(d, Cmd.TRAIN_SAVE, b"")]
        yield d


def _status(dev, cmd: int, payload: bytes) -> int:
    try:
        dev.request(cmd, payload)
    except CommandError as e:
        return e.status
    return Status.OK


@pytest.mark.parametrize("algo,start", [("local", "untrained"), ("local", "host-trained"),
                                        ("drtp", "drtp")])
def test_board_training_improves_and_equals_the_host_simulation(dev, models, algo, start):
    check_training_equals_the_host(dev, models[start], algo, start)


def check_training_equals_the_host(dev, model: bytes, algo: str, start: str) -> None:
    """One epoch on the board improves held-out accuracy, and the model pulled back, the
    epoch's figures and the board's EVALUATE are the host C core's simulation's."""
    splits = model_splits(fmt.from_bytes(model).meta["training"], None, None, start)
    schedule = training.epoch_schedule(model, start, algo)
    batch = training.board_batch(dev, model, None, algo)
    assert batch == (dev.max_payload - 4) // (1 + 64)      # the frame, not the arena, limits it

    before = float((NativeModel(model).infer(splits.test.x).argmax(1) == splits.test.y).mean())
    board = training.BoardLearner(dev, model, algo)
    (epoch,) = training.train_epochs(board, splits.train, splits.test, schedule, 1, batch, SEED)
    pulled = board.model_bytes()

    host = training.HostLearner(model, algo)
    (sim,) = training.train_epochs(host, splits.train, splits.test, schedule, 1, batch, SEED)
    assert host.model_bytes() == pulled, f"{dev.name}: board and host C core trained differently"
    assert (epoch.train_accuracy, epoch.wrong, epoch.test_accuracy) == \
        (sim.train_accuracy, sim.wrong, sim.test_accuracy)
    # the pulled file loads anywhere (CRCs refreshed), and the board's EVALUATE agrees with it
    scores = NativeModel(pulled).infer(splits.test.x)
    assert float((scores.argmax(1) == splits.test.y).mean()) == epoch.test_accuracy
    state = training.SECTIONS[algo].read(pulled)
    assert state.step == -(-len(splits.train) // batch)
    if algo == "local":
        assert state.thresholds == schedule(epoch.train_accuracy)
    assert epoch.cycles > 0
    # measured (the same on every board, as the host): local untrained 0.07 -> 0.55,
    # host-trained 0.63 -> 0.74; drtp untrained 0.07 -> 0.66
    assert epoch.test_accuracy > before + 0.05, (start, before, epoch.test_accuracy)


@pytest.mark.slow   # three samples per 256-byte frame: about 500 TRAIN requests on the M0
def test_microbit_training_improves_and_equals_the_host_simulation(digits):
    """`local` training on the Cortex-M0 within 16 KiB of RAM (issue 14): a 64-32-10 chain
    (measured: held-out 0.070 -> 0.384 after the epoch, 58 s)."""
    ensure_firmware("microbit")
    with open_device("qemu:microbit", timeout=5.0) as dev:
        check_training_equals_the_host(dev, chain_model((8, 8, 1), MICROBIT_LAYERS, digits),
                                       "local", "untrained")


def _linux_missing(arch: str) -> list[str]:
    a = LINUX_ARCHES[arch]
    return [t for t in ("make", a.compiler, a.qemu) if shutil.which(t) is None]


@pytest.mark.parametrize("arch", [pytest.param(a, marks=pytest.mark.skipif(
    bool(_linux_missing(a)), reason=f"not installed: {', '.join(_linux_missing(a))}"))
    for a in ("aarch64", "armv7")])
def test_training_on_the_arm_linux_runtime(models, arch):
    """The same protocol server on Raspberry Pi-class Linux (under qemu-user): trained there,
    the pulled model is the host C core's byte for byte."""
    model = models["untrained"]
    splits = model_splits(fmt.from_bytes(model).meta["training"], None, None, arch)
    result = training.run_training(model, arch, splits, epochs=1, seed=SEED, port=f"linux:{arch}",
                                   verify=True)
    assert result.same_as_host
    assert result.epochs[-1].test_accuracy > result.before + 0.05


def train_request(algo: int, labels: bytes, inputs: bytes, count: int | None = None) -> bytes:
    return struct.pack("<BBH", algo, 0, len(labels) if count is None else count) + labels + inputs


def expect(dev, status: Status, cmd: int, payload: bytes) -> CommandError:
    with pytest.raises(CommandError) as e:
        dev.request(cmd, payload)
    assert e.value.status == status, str(e.value)
    return e.value


def test_malformed_requests_leave_the_model_intact(dev, models, digits):
    x, y = digits.train.x[:8], digits.train.y[:8].astype(np.uint8)
    good = train_request(1, y.tobytes(), x.tobytes())
    assert FRESH[dev.info().board] == [Status.ERR_NO_MODEL] * 3

    plain = fmt.from_bytes(models["untrained"])           # the same model without trnl
    del plain.extra_sections[trnl.TAG]
    dev.load(fmt.to_bytes(plain))
    e = expect(dev, Status.ERR_MODEL, Cmd.TRAIN, good)
    assert "EBNN_ERR_TRAINING" in str(e) and "trnl is 0, expected 1" in str(e)
    expect(dev, Status.ERR_MODEL, Cmd.TRAIN_PARAMS, struct.pack("<BBHI", 1, 0, 1, 0))
    assert dev.read_model() == fmt.to_bytes(plain)

    model = models["untrained"]
    dev.load(model)
    bad = {
        "short prelude": (Cmd.TRAIN, good[:3]),
        "no samples": (Cmd.TRAIN, train_request(1, b"", b"")),
        "one byte short": (Cmd.TRAIN, good[:-1]),
        "one byte long": (Cmd.TRAIN, good + b"\0"),
        "count above the payload": (Cmd.TRAIN, train_request(1, y.tobytes(), x.tobytes(), 9)),
        "label 10 of 10 classes": (Cmd.TRAIN, train_request(1, bytes([0] * 7 + [10]),
                                                           x.tobytes())),
        "algorithm 0": (Cmd.TRAIN, train_request(0, y.tobytes(), x.tobytes())),
        "algorithm 9": (Cmd.TRAIN, train_request(9, y.tobytes(), x.tobytes())),
        "two thresholds for one sub-network": (Cmd.TRAIN_PARAMS,
                                               struct.pack("<BBHII", 1, 0, 2, 5, 5)),
        "count 1, no value": (Cmd.TRAIN_PARAMS, struct.pack("<BBH", 1, 0, 1)),
    }
    for name, (cmd, payload) in bad.items():
        with pytest.raises(CommandError) as e:
            dev.request(cmd, payload)
        assert e.value.status == Status.ERR_BAD_REQUEST, name
    assert dev.features == 0b11                            # local and drtp
    e = expect(dev, Status.ERR_MODEL, Cmd.TRAIN, train_request(2, y.tobytes(), x.tobytes()))
    assert "trnd is 0, expected 1" in str(e)               # a local model has no DRTP state
    with pytest.raises(ValueError, match="labels"):
        dev.train_batch(x, np.full(8, 10), "local")       # refused on the host already
    assert dev.read_model() == model                      # nothing was written

    # a resent TRAIN (same seq, same bytes) is answered from the reply cache: one step only
    frame = encode(Frame(Cmd.TRAIN, (dev.last_seq + 1) & 0xFFFF, good))
    replies = [_exchange(dev, frame) for _ in range(2)]
    assert replies[0] == replies[1] and replies[0].status == Status.OK
    dev.hello()                                           # a new session: seq in step again
    assert trnl.read(dev.read_model()).step == 1
    trainer = LocalTrainer(model)
    trainer.step(x, y)
    assert dev.read_model() == trainer.to_bytes()


def test_a_trained_model_survives_a_reset_once_saved(dev, models, digits):
    model = models["untrained"]
    dev.load(model)                                       # stored in flash by the commit
    trainer = LocalTrainer(model)
    x, y = digits.train.x[:40], digits.train.y[:40]
    dev.train_batch(x, y)
    trainer.step(x, y)
    dev.reset()                                           # training alone is in RAM only
    assert dev.read_model() == model
    dev.train_batch(x, y)
    summary = dev.save_model()
    trained = trainer.to_bytes()
    assert (summary.size, summary.crc) == (len(trained), zlib.crc32(trained))
    dev.reset()
    assert dev.read_model() == trained
    dev.request(Cmd.TRAIN_PARAMS, struct.pack("<BBHI", 1, 0, 1, 7))   # training resumes
    trainer.set_thresholds([7])
    assert dev.read_model() == trainer.to_bytes()


def check_a_full_frame_step(dev, model: bytes, digits) -> None:
    """Loads `model`, trains one step on the largest batch a frame carries, and checks the
    board's count and the model pulled back against the host C core's."""
    dev.load(model)
    trainer = LocalTrainer(model)
    batch = training.board_batch(dev, model, None)
    x, y = digits.train.x[:batch], digits.train.y[:batch]
    assert dev.train_batch(x, y).correct == trainer.step(x, y)[0]
    assert dev.read_model() == trainer.to_bytes()


def test_a_chain_filling_the_model_slot_trains_bit_exactly(dev, digits):
    """The largest models the firmware trains, on the board with the smallest slot
    (netduinoplus2, 32 KiB: one hidden layer of 400 units fills 97 % of it; docs/format.md
    "RAM"); a full-frame step on it."""
    if dev.info().board != "netduinoplus2":
        pytest.skip("one board is enough: the slot and arena sizes are the same build settings")
    model = chain_model((8, 8, 1), [400], digits)
    slot = dev.info().model_slot_size
    assert 0.95 * slot < len(model) <= slot
    check_a_full_frame_step(dev, model, digits)


def test_the_default_local_model_trains_on_the_mps2_boards(dev, digits):
    """`edgebnn train --algo local`'s default chain (256-256 with its training section: 96,048
    bytes as the CLI writes it, 95,824 here with less meta), above the 64 KiB slot every board
    had, fits the slots sized to the MPS2 board (1 MiB) and trains bit-exactly; the
    netduinoplus2 refuses it naming its model slot and what fits."""
    model = chain_model((8, 8, 1), [256, 256], digits)
    assert 65536 < len(model) < 96048
    info = dev.info()
    if info.board not in ("mps2-an386", "netduinoplus2"):
        pytest.skip("one board of each kind is enough: the others differ only in sizes")
    if info.board == "netduinoplus2":
        with pytest.raises(CommandError, match=rf"needs {len(model)} bytes, device has 32768\): the "
                                               r"model is larger than the board's model slot: "
                                               r"models up to 32,768 bytes fit"):
            dev.load(model)
        return
    check_a_full_frame_step(dev, model, digits)


def test_qemu_killed_mid_training_keeps_the_saved_model(tmp_path, models, digits):
    """The board dies between TRAIN requests: a clear host error naming QEMU's exit, and a
    board started again on the same flash serves the last saved model, not a torn one."""
    port = f"qemu:mps2-an386?store={tmp_path / 'an386.flash'}"
    x, y = digits.train.x[:62], digits.train.y[:62]
    ensure_firmware("mps2-an386")
    with open_device(port, timeout=2.0) as dev:
        dev.load(models["untrained"])
        dev.train_batch(x, y)
        dev.save_model()
        saved = dev.read_model()
        threading.Timer(0.5, dev.qemu.proc.kill).start()
        with pytest.raises(DeviceError, match="QEMU exited with status -9"):
            for _ in range(1000):
                dev.train_batch(x, y)
    with open_device(port, timeout=2.0) as dev:
        assert dev.read_model() == saved


def _exchange(dev, frame: bytes, timeout: float = 5.0) -> Frame:
    dev.link.write(frame)
    reader, deadline = FrameReader(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        dev.link.timeout = 0.05
        reader.feed(dev.link.read(4096))
        for f in reader.frames():
            if f.cmd == Cmd.TRAIN | REPLY:
                return f
    raise AssertionError("no TRAIN reply")


def test_drtp_parameters_are_checked_before_any_write(dev, models):
    """TRAIN_PARAMS for drtp: (shift, window) per trained layer; one shift above 30 refuses the
    whole request and sets nothing; valid ones land in the model's trnd section."""
    model = models["drtp"]
    dev.load(model)
    n = len(trnd.read(model).layers)
    assert n == 2
    expect(dev, Status.ERR_BAD_REQUEST, Cmd.TRAIN_PARAMS,
           struct.pack("<BBH4I", 2, 0, 4, 3, 100, 31, 5))
    expect(dev, Status.ERR_BAD_REQUEST, Cmd.TRAIN_PARAMS, struct.pack("<BBH2I", 2, 0, 2, 3, 100))
    assert dev.read_model() == model
    assert dev.set_train_params([3, 100, 1, 5], "drtp") == 0
    layers = trnd.read(dev.read_model()).layers
    assert [(l.shift, l.window) for l in layers] == [(3, 100), (1, 5)]
    host = training.HostLearner(model, "drtp")
    host.set_params([3, 100, 1, 5])
    assert dev.read_model() == host.model_bytes()


def test_a_batch_beyond_the_arena_is_refused(dev):
    """A 2x2 input with 256 hidden units: one frame carries 818 samples, whose scratch is
    larger than the arena of the boards with small RAM: ERR_TOO_LARGE with the arena and the
    bytes needed, naming the arena; the host
    picks the largest batch that fits, which trains."""
    model = chain_model((2, 2, 1), [256])
    trainer = LocalTrainer(model)
    arena = dev.info().arena_size
    n = (dev.max_payload - 4) // 5
    if trainer.scratch_size(n) <= arena:
        pytest.skip(f"{dev.info().board}'s arena ({arena} B) holds a whole frame's batch")
    dev.load(model)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 2, 2, 1), dtype=np.uint8)
    y = rng.integers(0, 10, n).astype(np.uint8)
    e = expect(dev, Status.ERR_TOO_LARGE, Cmd.TRAIN, train_request(1, y.tobytes(), x.tobytes()))
    assert "the board's arena" in _describe_error(Cmd.TRAIN, Status.ERR_TOO_LARGE, e.detail)
    assert struct.unpack("<II", e.detail) == (arena, trainer.scratch_size(n))
    assert dev.read_model() == model
    batch = training.board_batch(dev, model, n)
    assert batch < n and trainer.scratch_size(batch) <= arena < trainer.scratch_size(batch + 1)
    assert dev.train_batch(x[:batch], y[:batch]).step == 1
    trainer.step(x[:batch], y[:batch])
    assert dev.read_model() == trainer.to_bytes()


@pytest.fixture
def board_url():
    """`edgebnn board run mps2-an386` in the background: one emulated board that several CLI
    calls reach at its socket:// URL, as a user would keep one."""
    ensure_firmware("mps2-an386")
    proc = subprocess.Popen([sys.executable, "-m", "edgebnn.cli", "board", "run", "mps2-an386"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "board run printed no URL within 60 s"
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_train_verify_evaluate_read_reset(tmp_path, models, board_url, capsys):
    src, out, sim = tmp_path / "model.ebnn", tmp_path / "trained.ebnn", tmp_path / "sim.ebnn"
    src.write_bytes(models["untrained"])
    quick = ["--limit", "400", "--quiet"]
    assert main(["device", "train", str(src), "--simulate", "--batch", "62", *quick,
                 "-o", str(sim)]) == 0
    assert main(["device", "train", str(src), "--port", board_url, "--epochs", "1", *quick,
                 "--verify", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "epoch 1/1: train accuracy" in text and "identical model bytes" in text
    assert sim.read_bytes() == out.read_bytes()           # the board's default batch is 62
    # no MODEL: the board's own (trained) model, its data spec read back from it
    assert main(["device", "evaluate", "--port", board_url, "--json", "--limit", "400"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    splits = model_splits(fmt.from_bytes(models["untrained"]).meta["training"], None, None, "",
                          limit=400)
    scores = NativeModel(out.read_bytes()).infer(splits.test.x)
    assert result["correct"] == int((scores.argmax(1) == splits.test.y).sum())
    assert (result["n"], result["split"]) == (len(splits.test), "test")
    assert main(["device", "reset", "--port", board_url]) == 0
    pulled = tmp_path / "pulled.ebnn"                     # saved in flash: the reset keeps it
    assert main(["device", "read", "--port", board_url, "-o", str(pulled)]) == 0
    assert pulled.read_bytes() == out.read_bytes()
    # --no-save: another model trained in RAM only; the stored one (trained above) stays
    again = tmp_path / "again.ebnn"
    assert main(["device", "train", str(src), "--port", board_url, *quick, "--epochs", "2",
                 "--no-save", "-o", str(again)]) == 0
    capsys.readouterr()
    assert main(["device", "info", "--port", board_url, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert main(["device", "reset", "--port", board_url]) == 0
    assert main(["device", "read", "--port", board_url, "-o", str(pulled)]) == 0
    assert pulled.read_bytes() == out.read_bytes() != again.read_bytes()
    assert info["model"]["crc"] == zlib.crc32(again.read_bytes()) and not info["active_is_stored"]
    assert info["stored"]["crc"] == zlib.crc32(out.read_bytes())
    plain = tmp_path / "plain.ebnn"
    model = fmt.from_bytes(models["untrained"])
    del model.extra_sections[trnl.TAG]
    fmt.write(model, plain)
    capsys.readouterr()
    assert main(["device", "train", str(plain), "--simulate", "-o", str(out)]) == 2
    assert "no trnl training section" in capsys.readouterr().err
