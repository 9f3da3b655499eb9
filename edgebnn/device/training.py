"""Training a model on a board over serial, epoch by epoch — and the identical training in the
host C core, the simulation the board must match bit for bit.

Both run the same loop (`train_epochs`) on a `Learner`: `BoardLearner` streams each batch to the
board in one TRAIN request (the C core's training step runs there, on the model in its RAM
slot), `HostLearner` runs that step in the host build of the same C code (LocalTrainer,
DrtpTrainer). The batches (a seeded permutation per epoch) and the per-epoch parameters are
computed here, once, for both, so the two trained files are equal byte for byte.

Per-epoch parameters (`epoch_schedule`) are the rule's (edgebnn/ondevice/): the `local` rule's
reinforcement thresholds p_q, one per sub-network, from the previous epoch's training accuracy
(ondevice/local.py's epoch_schedule). The first
epoch keeps the thresholds stored in the model (what its exporter or its last training left
there); after every epoch the host sets p_q from the accuracy the board just counted, exactly as
LocalRule.end_epoch then LocalRule.thresholds do, so training resumes correctly from a pulled
model. DRTP has none: its update shifts and windows stay as the model stores them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Protocol

import numpy as np

from edgebnn.data.dataset import Dataset
from edgebnn.ondevice import Schedule, drtp, local
from edgebnn.ondevice.local import DEFAULT_BATCH
from edgebnn.errors import UsageError

#: what `--algo` accepts: the on-device rules, each reading the training section it needs
SECTIONS = {"local": local, "drtp": drtp}


@dataclass(frozen=True)
class Step:
    correct: int    # samples right before the update
    wrong: int      # samples that drove the update
    cycles: int     # board cycles of the step (0 on the host)


class Learner(Protocol):
    """Where the training steps run: a board, or the host C core."""

    where: str

    def step(self, x: np.ndarray, y: np.ndarray) -> Step: ...

    def set_params(self, values: list[int]) -> None: ...

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float: ...

    def model_bytes(self) -> bytes: ...


class BoardLearner:
    """Training on a board: the model is uploaded once (into RAM only: the stored model stays
    until a save, Device.activate), trained in place, and read back. `may_store`: the caller
    saves the result, so 1.1 firmware (which stores every upload) may store the upload too."""

    def __init__(self, dev, model: bytes, algo: str = "local", name: str = "",
                 may_store: bool = False) -> None:
        self.dev = dev
        self.algo = algo
        self.where = f"board {dev.name}"
        dev.train_algorithm_id(algo)          # fails before the upload if the firmware lacks it
        dev.activate(model, name, may_store=may_store)

    def step(self, x: np.ndarray, y: np.ndarray) -> Step:
        r = self.dev.train_batch(x, y, self.algo)
        return Step(r.correct, r.wrong, r.cycles)

    def set_params(self, values: list[int]) -> None:
        self.dev.set_train_params(values, self.algo)

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        correct, n, _ = self.dev.evaluate(x, y)
        return correct / n if n else float("nan")

    def model_bytes(self) -> bytes:
        return self.dev.read_model()


def host_trainer(model: bytes, algo: str, source: str = "<model to train>"):
    """The host C core's trainer of `algo` (edgebnn.native) on a copy of the model."""
    from edgebnn.native import DrtpTrainer, LocalTrainer

    return {"local": LocalTrainer, "drtp": DrtpTrainer}[algo](model, source)


class HostLearner:
    """The same training in the host build of the C core (the board's simulation)."""

    where = "host C core"

    def __init__(self, model: bytes, algo: str = "local") -> None:
        self.algo = algo
        self.trainer = host_trainer(model, algo)

    def step(self, x: np.ndarray, y: np.ndarray) -> Step:
        correct, wrong = self.trainer.step(x, y)
        return Step(correct, wrong, 0)

    def set_params(self, values: list[int]) -> None:
        """TRAIN_PARAMS' values, applied as the firmware applies them (train_cmd.c)."""
        if self.algo == "local":
            self.trainer.set_thresholds(values)
        else:
            for layer in range(len(values) // 2):
                self.trainer.set_hyper(layer, values[2 * layer], values[2 * layer + 1])

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        from edgebnn.native import NativeModel

        scores = NativeModel(self.model_bytes()).infer(x)
        return float((scores.argmax(1) == y).mean()) if len(y) else float("nan")

    def model_bytes(self) -> bytes:
        return self.trainer.to_bytes()


def epoch_schedule(model: bytes, source: str, algo: str = "local") -> Schedule:
    """The per-epoch parameters of training `model` with `algo` (module docstring), after
    checking it carries that algorithm's training section: FormatError naming `source` if not."""
    from edgebnn import format as fmt

    if algo not in SECTIONS:
        raise UsageError(f"unknown training algorithm {algo!r}; known: {', '.join(SECTIONS)}")
    rule = SECTIONS[algo]
    try:
        state = rule.read(model)
    except fmt.FormatError as e:
        raise fmt.FormatError(f"{source}: {e}; on-device training with {algo} needs a model "
                              f"exported from {rule.SECTION_SOURCE}") from None
    return rule.epoch_schedule(state)


def largest_batch(requested: Optional[int], frame_limit: int, scratch_size: Callable[[int], int],
                  scratch_limit: int) -> int:
    """The batch a board trains with: `requested` (default local.py's DEFAULT_BATCH) lowered to
    what one TRAIN frame carries and to the largest batch whose training scratch fits the
    board's arena (a scratch size of 0: above the core's batch limit); ValueError when not
    even one sample fits."""
    def fits(batch: int) -> bool:
        return 0 < scratch_size(batch) <= scratch_limit

    want = DEFAULT_BATCH if requested is None else requested
    if want < 1:
        raise UsageError(f"--batch must be >= 1, got {want}")
    hi = min(want, frame_limit)
    if hi < 1 or not fits(1):
        raise UsageError(f"one training sample does not fit the board (scratch "
                         f"{scratch_size(1):,} B, arena {scratch_limit:,} B)")
    lo = 1                                   # scratch grows with the batch: bisect
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def board_batch(dev, model: bytes, requested: Optional[int], algo: str = "local") -> int:
    """largest_batch for the board behind `dev`: one TRAIN frame (4 + n·(1 + input bytes) within
    HELLO's maximum payload) and INFO's arena, with the scratch sizes of the host build of the
    same C core."""
    from edgebnn import format as fmt

    info = dev.info()
    shape = fmt.from_bytes(model).input_shape
    frame_limit = min(dev.batch_size(1 + int(np.prod(shape))), 0xFFFF)
    return largest_batch(requested, frame_limit, host_trainer(model, algo).scratch_size,
                         info.arena_size)


@dataclass(frozen=True)
class Epoch:
    epoch: int
    train_accuracy: float   # over the epoch, each batch counted before its update
    test_accuracy: float    # held out, after the epoch
    wrong: int
    cycles: int             # board cycles spent in training steps
    seconds: float

    def describe(self, epochs: int, n_train: int) -> str:
        """One line: train and held-out accuracy, time, board cycles per sample."""
        cycles = f", {self.cycles / n_train:,.0f} cycles/sample" if self.cycles else ""
        return (f"epoch {self.epoch}/{epochs}: train accuracy {self.train_accuracy:.4f}, test "
                f"accuracy {self.test_accuracy:.4f} ({self.seconds:.1f} s{cycles})")


def train_epochs(learner: Learner, train_set: Dataset, test_set: Dataset, schedule: Schedule,
                 epochs: int, batch: int, seed: int = 0, progress: bool = False,
                 on_epoch: Optional[Callable[[Epoch], None]] = None) -> list[Epoch]:
    """Trains `epochs` epochs in batches of `batch` (order: one seeded generator, a fresh
    permutation each epoch, as the host trainer does), sets the next epoch's parameters and
    measures held-out accuracy after each. Deterministic in (model, data, epochs, batch, seed)."""
    from tqdm import tqdm

    if epochs < 1 or batch < 1:
        raise UsageError(f"epochs and batch must be >= 1, got {epochs} and {batch}")
    rng = np.random.default_rng(seed)
    n = len(train_set)
    history = []
    for epoch in range(1, epochs + 1):
        t0 = time.monotonic()
        order = rng.permutation(n)
        correct = wrong = cycles = 0
        bar = tqdm(range(0, n, batch), desc=f"{learner.where} epoch {epoch}/{epochs}",
                   disable=None if progress else True, leave=False, unit="batch")
        for start in bar:
            idx = order[start:start + batch]
            s = learner.step(train_set.x[idx], train_set.y[idx])
            correct, wrong, cycles = correct + s.correct, wrong + s.wrong, cycles + s.cycles
        accuracy = correct / n
        params = schedule(accuracy)
        if params is not None:
            learner.set_params(params)
        result = Epoch(epoch, accuracy, learner.accuracy(test_set.x, test_set.y), wrong, cycles,
                       time.monotonic() - t0)
        history.append(result)
        if on_epoch:
            on_epoch(result)
    return history


@dataclass(frozen=True)
class Outcome:
    """What `run_training` did."""
    where: str                      # "board qemu:…" or "host C core"
    batch: int
    scratch: int                    # bytes of training scratch one step of `batch` needs
    before: float                   # held-out accuracy of the model as given
    epochs: list[Epoch]
    model: bytes                    # the trained file (pulled back from a board)
    same_as_host: Optional[bool]    # with verify: the host C core's training gave these bytes


def run_training(model: bytes, source: str, splits, *, algo: str = "local", epochs: int = 1,
                 batch: Optional[int] = None, seed: int = 0, port: Optional[str] = None,
                 timeout: float = 2.0, save: bool = True, verify: bool = False,
                 progress: bool = False,
                 on_start: Optional[Callable[[str, int, int, float], None]] = None,
                 on_epoch: Optional[Callable[[Epoch], None]] = None) -> Outcome:
    """Trains `model` (named `source` in errors) for `epochs` epochs on splits.train, measuring
    splits.test, on the board at `port` — uploaded into RAM, trained over serial, pulled back
    and, with `save`, stored in its flash (TRAIN_SAVE: without it the board's stored model stays
    as it was) — or, without a port, in the host C core (batch default 100).
    With `verify` (board only) the host C core repeats the same training and the bytes are
    compared. on_start(where, batch, scratch bytes, accuracy before) and on_epoch report
    progress."""
    schedule = epoch_schedule(model, source, algo)
    scratch_size = host_trainer(model, algo, source).scratch_size

    def run(learner: Learner, batch: int) -> tuple[float, list[Epoch], bytes]:
        before = learner.accuracy(splits.test.x, splits.test.y)
        if on_start:
            on_start(learner.where, batch, scratch_size(batch), before)
        history = train_epochs(learner, splits.train, splits.test, schedule, epochs, batch, seed,
                               progress, on_epoch)
        return before, history, learner.model_bytes()

    if port is None:
        batch = batch or DEFAULT_BATCH
        learner: Learner = HostLearner(model, algo)
        before, history, trained = run(learner, batch)
        return Outcome(learner.where, batch, scratch_size(batch), before, history, trained, None)
    from edgebnn.device.ports import open_device

    with open_device(port, timeout=timeout) as dev:
        batch = board_batch(dev, model, batch, algo)
        learner = BoardLearner(dev, model, algo, Path(source).name, may_store=save)
        before, history, trained = run(learner, batch)
        if save:
            dev.save_model()
    same = None
    if verify:
        host = HostLearner(model, algo)
        train_epochs(host, splits.train, splits.test, schedule, epochs, batch, seed)
        same = host.model_bytes() == trained
    return Outcome(learner.where, batch, scratch_size(batch), before, history, trained, same)
