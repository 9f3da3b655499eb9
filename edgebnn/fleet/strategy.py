"""The Flower Strategy of a fleet: FedAvg's sampling, messaging and failure handling (a client
whose reply carries an error is left out of the round and logged), with FedAvg's float mean of
the arrays replaced by the integer merge of edgebnn.fleet.aggregate.

A model travels as an ArrayRecord holding one uint8 array, the `.ebnn` file (MODEL_KEY); a
client's reply adds a MetricRecord with its sample count (`num-examples`, FedAvg's weight key),
its partition and what it measured. `rounds` keeps, per round, every client's metrics and every
failure, for the round table of `edgebnn fleet train`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

import re

import numpy as np
from flwr.app import Array, ArrayRecord, Message, MetricRecord
from flwr.serverapp.strategy import FedAvg

from edgebnn.fleet.aggregate import merge

MODEL_KEY = "model"
#: how Flower words a ClientApp's exception in an error reply: <class 'T'>:<'message'>
_EXCEPTION = re.compile(r"<class '[^']*'>:<'(.*)'>", re.S)


def to_record(model: bytes) -> ArrayRecord:
    """A `.ebnn` file as the ArrayRecord Flower carries."""
    return ArrayRecord({MODEL_KEY: Array(np.frombuffer(model, dtype=np.uint8).copy())})


def from_record(record: ArrayRecord) -> bytes:
    """The `.ebnn` file an ArrayRecord carries."""
    return record[MODEL_KEY].numpy().astype(np.uint8).tobytes()


@dataclass
class RoundLog:
    """What one round's replies said: metrics per partition, and the failures' reasons."""

    clients: dict[int, dict] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


class IntegerFedAvg(FedAvg):
    """FedAvg whose aggregation is the integer merge of `algo`'s training state (sample-
    weighted, round half to even; edgebnn/fleet/aggregate.py); on_round(round, log) is called
    after each round's aggregation."""

    def __init__(self, algo: str, *, on_round: Optional[Callable[[int, RoundLog], None]] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.algo = algo
        self.on_round = on_round
        self.rounds: dict[int, RoundLog] = {}
        self.partitions: dict[int, int] = {}     # node id → partition, from its replies

    def _failure(self, msg: Message) -> str:
        """`client P: message` (the node's partition once a reply named it; the exception's
        own message, which names the board's port)."""
        node = msg.metadata.src_node_id
        m = _EXCEPTION.fullmatch(msg.error.reason)
        who = f"client {self.partitions[node]}" if node in self.partitions else f"node {node}"
        return f"{who}: {m.group(1) if m else msg.error.reason}"

    def aggregate_train(self, server_round: int, replies: Iterable[Message]
                        ) -> tuple[Optional[ArrayRecord], Optional[MetricRecord]]:
        replies = list(replies)
        valid, errors = self._check_and_log_replies(replies, is_train=True)
        for m in valid:
            self.partitions[m.metadata.src_node_id] = int(m.content["metrics"]["partition"])
        log = RoundLog(failures=[self._failure(m) for m in errors])
        # order by partition: the merge is exact in any order, the table is not
        contents = sorted((m.content for m in valid), key=lambda c: c["metrics"]["partition"])
        for c in contents:
            log.clients[int(c["metrics"]["partition"])] = dict(c["metrics"])
        self.rounds[server_round] = log
        arrays = metrics = None
        if contents:
            merged = merge(self.algo, [from_record(c[self.arrayrecord_key]) for c in contents],
                           [int(c["metrics"][self.weighted_by_key]) for c in contents])
            arrays = to_record(merged)
            metrics = self.train_metrics_aggr_fn(contents, self.weighted_by_key)
        if self.on_round:
            self.on_round(server_round, log)
        return arrays, metrics
