"""One fleet member's round, without Flower: take the global model, train it for the round's
epochs on this member's shard (on its board over serial, as `edgebnn device train` streams
data, or in the host C core: the board's bit-exact simulation), and hand back the trained file
with the sample count. The Flower ClientApp (clientapp.py) wraps it; the shard never leaves
the host next to the board.

Shards: `iid` — a seeded permutation of the training split cut into equal parts; `by-class` —
client p of n gets the classes c with c mod n = p (non-IID: a client never sees the others'
classes).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from edgebnn.data.dataset import Dataset
from edgebnn.errors import UsageError

SPLITS = ("iid", "by-class")


def shard(ds: Dataset, partition: int, partitions: int, split: str, seed: int) -> Dataset:
    """Client `partition`'s part of `ds` (module docstring); UsageError for a bad split."""
    if split not in SPLITS:
        raise UsageError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    if not 0 <= partition < partitions:
        raise UsageError(f"partition {partition} is not in 0..{partitions - 1}")
    if split == "iid":
        order = np.random.default_rng(seed).permutation(len(ds))
        idx = np.sort(np.array_split(order, partitions)[partition])
    else:
        idx = np.flatnonzero(ds.y % partitions == partition)
    return Dataset(ds.x[idx], ds.y[idx], ds.classes, f"{ds.name}[{split} {partition}/{partitions}]")


class CountingLink:
    """A pyserial-like link that counts the bytes written to and read from it (the serial
    traffic of a round), passing everything else through."""

    def __init__(self, link) -> None:
        self.__dict__.update(_link=link, sent=0, received=0)

    def write(self, data: bytes) -> int:
        self.sent += len(data)
        return self._link.write(data)

    def read(self, size: int = 1) -> bytes:
        data = self._link.read(size)
        self.received += len(data)
        return data

    def __getattr__(self, name: str):
        return getattr(self._link, name)

    def __setattr__(self, name: str, value) -> None:
        if name in ("sent", "received"):
            self.__dict__[name] = value
        else:
            setattr(self._link, name, value)


@dataclass(frozen=True)
class RoundResult:
    """What one member's round produced."""
    model: bytes          # the trained file (pulled back from the board)
    samples: int          # the shard's size: the merge's weight
    batch: int            # samples per training step (a board's frame and arena limit it)
    train_accuracy: float
    test_accuracy: float  # held out, of the trained model, measured where it trained
    test_accuracies: tuple[float, ...]   # the same after each epoch
    sent: int             # bytes the host wrote to the serial link (0 on the host C core)
    received: int         # bytes it read back
    where: str


def train_round(model: bytes, train_set: Dataset, test_set: Dataset, *, algo: str = "local",
                epochs: int = 1, batch: Optional[int] = None, seed: int = 0,
                port: Optional[str] = None, timeout: float = 2.0,
                on_epoch: Optional[Callable[[int], None]] = None) -> RoundResult:
    """Trains `model` on `train_set` for `epochs` epochs on the board at `port` (in its RAM
    only: the board's stored model stays), or without a port in the host C core (batch default
    100), and measures `test_set`. on_epoch(epoch) after each epoch."""
    from edgebnn.device import training

    schedule = training.epoch_schedule(model, "the global model", algo)
    report = (lambda e: on_epoch(e.epoch)) if on_epoch else None

    def run(learner, batch: int) -> tuple[list, bytes]:
        history = training.train_epochs(learner, train_set, test_set, schedule, epochs, batch,
                                        seed, on_epoch=report)
        return history, learner.model_bytes()

    if port is None:
        batch = batch or training.DEFAULT_BATCH
        history, trained = run(training.HostLearner(model, algo), batch)
        sent = received = 0
        where = "host C core"
    else:
        from edgebnn.device.ports import open_device

        with open_device(port, timeout=timeout) as dev:
            dev.link = link = CountingLink(dev.link)
            batch = training.board_batch(dev, model, batch, algo)
            history, trained = run(training.BoardLearner(dev, model, algo, "fleet"), batch)
            sent, received, where = link.sent, link.received, f"board {port}"
    last = history[-1]
    return RoundResult(trained, len(train_set), batch, last.train_accuracy, last.test_accuracy,
                       tuple(e.test_accuracy for e in history), sent, received, where)
