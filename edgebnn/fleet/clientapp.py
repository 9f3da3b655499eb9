"""The Flower ClientApp of a fleet member: it runs on the host next to a board, under a Flower
SuperNode whose node config names the board and the member's shard:

    port            the board's --port (qemu:BOARD, socket://…, /dev/ttyACM0), or "host":
                    the host C core (a board's bit-exact simulation)
    partition-id    this member's shard, 0 … num-partitions − 1
    num-partitions
    data            optional: this host's own data spec (e.g. folder:/data/site-a), in place
                    of the run's; with num-partitions = 1 the member trains on all of it
    progress        optional: a file the member appends one JSON line to per epoch (for the
                    progress bars of `edgebnn fleet train`, which runs every node locally)

The run config (the ServerApp's, edgebnn/fleet/app/pyproject.toml) gives the data spec, the
split, the seed, the algorithm and the epochs per round. The data is loaded here and never
sent: the reply carries the trained model, the sample count and what the member measured. A
board that fails (its emulator killed, its link lost, no reply within the timeouts) raises, and
Flower turns that into an error reply the Strategy drops from the round.
"""
from __future__ import annotations

import json
from typing import Optional

from flwr.app import Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from edgebnn import format as fmt
from edgebnn.fleet.client import shard, train_round
from edgebnn.fleet.strategy import from_record, to_record
from edgebnn.runs.provenance import Provenance

app = ClientApp()
HOST = "host"


def _progress(path: Optional[str], **event) -> None:
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(event) + "\n")


@app.train()
def train(msg: Message, context: Context) -> Message:
    node, run = context.node_config, context.run_config
    partition, partitions = int(node["partition-id"]), int(node["num-partitions"])
    port = str(node.get("port", HOST))
    progress = str(node["progress"]) if node.get("progress") else None
    server_round = int(msg.content["config"]["server-round"])
    model = from_record(msg.content["arrays"])
    seed = int(run["seed"])
    splits = Provenance.of_model(fmt.from_bytes(model, "the global model")).splits(
        "the global model", str(node.get("data") or run["data"]) or None,
        limit=int(run["limit"]) or None)
    mine = shard(splits.train, partition, partitions, str(run["split"]), seed)
    result = train_round(
        model, mine, splits.test, algo=str(run["algo"]), epochs=int(run["epochs"]),
        seed=seed + 1000 * server_round + partition, port=None if port == HOST else port,
        timeout=float(run["timeout"]),
        on_epoch=lambda e: _progress(progress, round=server_round, partition=partition, epoch=e))
    metrics = MetricRecord({"num-examples": result.samples, "partition": partition,
                            "batch": result.batch,
                            "train-accuracy": result.train_accuracy,
                            "test-accuracy": result.test_accuracy,
                            "serial-bytes-sent": result.sent,
                            "serial-bytes-received": result.received})
    return Message(RecordDict({"arrays": to_record(result.model), "metrics": metrics}),
                   reply_to=msg)
