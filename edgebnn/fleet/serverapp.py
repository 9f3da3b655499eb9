"""The Flower ServerApp of a fleet: FedAvg's rounds with the integer merge (strategy.py),
started by a SuperLink for `flwr run edgebnn/fleet/app`. Its run config
(edgebnn/fleet/app/pyproject.toml) names the global model file and an output folder on the
SuperLink's host; each round it scores the merged model on the held-out split in the host C
core and appends what happened to OUT/events.jsonl (the round table of `edgebnn fleet train`):

    {"event": "round", "round": r, "clients": {partition: metrics}, "failures": [reason, …],
     "merged": held-out accuracy}
    {"event": "done", "rounds": R}    or    {"event": "failed", "reason": …}

It writes OUT/round-R.ebnn after every round (atomically) and OUT/merged.ebnn at the end.
"""
from __future__ import annotations

import json
from pathlib import Path

from flwr.app import ArrayRecord, ConfigRecord, Context, MetricRecord
from flwr.serverapp import Grid, ServerApp

from edgebnn import format as fmt
from edgebnn.errors import EdgebnnError, read_bytes, write_bytes
from edgebnn.fleet.strategy import IntegerFedAvg, RoundLog, from_record, to_record
from edgebnn.runs.provenance import Provenance

app = ServerApp()
EVENTS = "events.jsonl"
MERGED = "merged.ebnn"


def emit(out: Path, **event) -> None:
    """Appends one event line (a line is written whole: the reader sees complete lines)."""
    with open(out / EVENTS, "a") as f:
        f.write(json.dumps(event) + "\n")


def held_out_accuracy(model: bytes, test) -> float:
    """Accuracy in the host C core (bit-exact with every board)."""
    from edgebnn.native import NativeModel

    return float((NativeModel(model).infer(test.x).argmax(1) == test.y).mean())


@app.main()
def main(grid: Grid, context: Context) -> None:
    run = context.run_config
    out = Path(str(run["out"]))
    try:
        _rounds(grid, run, out)
    except Exception as e:    # the reader waits for an end event: a bug must end it too
        emit(out, event="failed", reason=str(e) if isinstance(e, EdgebnnError)
             else f"{type(e).__name__}: {e}")
        raise


def _rounds(grid: Grid, run, out: Path) -> None:
    source = str(run["model"])
    model = read_bytes(source)
    test = Provenance.of_model(fmt.from_bytes(model, source)).splits(
        source, str(run["data"]) or None, limit=int(run["limit"]) or None).test
    nodes = int(run["nodes"])
    pending: dict[int, RoundLog] = {}

    def evaluate(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        merged = from_record(arrays)
        accuracy = held_out_accuracy(merged, test)
        if server_round:
            write_bytes(out / f"round-{server_round}.ebnn", merged)
            log = pending.pop(server_round, RoundLog())
            emit(out, event="round", round=server_round, clients=log.clients,
                 failures=log.failures, merged=accuracy)
        else:
            emit(out, event="start", merged=accuracy)
        return MetricRecord({"accuracy": accuracy})

    strategy = IntegerFedAvg(str(run["algo"]), on_round=pending.__setitem__,
                             fraction_evaluate=0.0, min_train_nodes=nodes,
                             min_available_nodes=nodes)
    result = strategy.start(grid, to_record(model), num_rounds=int(run["rounds"]),
                            timeout=float(run["round-timeout"]),
                            train_config=ConfigRecord({}), evaluate_fn=evaluate)
    write_bytes(out / MERGED, from_record(result.arrays))
    emit(out, event="done", rounds=int(run["rounds"]))
