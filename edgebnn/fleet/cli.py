"""`edgebnn fleet train`: a federated run on this host's boards with Flower (docs/fleet.md).
One SuperLink and one SuperNode per board run here (edgebnn/fleet/deploy.py); each SuperNode's
ClientApp drives its board over serial. Per round it prints every client's held-out accuracy
(measured on its board) and the merged model's (host C core), with the serial bytes; a client
that fails is dropped from that round with its reason. It writes the merged model (-o), a
PNG of accuracy against rounds and a JSON of the rounds, all atomically, and refuses to replace
an existing output unless --overwrite."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Optional

from edgebnn import flags
from edgebnn.errors import UsageError, read_bytes, write_bytes, write_json


def _ports(text: str) -> list[str]:
    ports = [p.strip() for p in text.split(",")]
    if not ports or not all(ports):
        raise argparse.ArgumentTypeError(f"expected comma-separated ports, got {text!r}")
    return ports


def outputs(args: argparse.Namespace) -> dict[str, Path]:
    """The files the run writes: the model, the plot and the rounds (beside the model)."""
    out = Path(args.output)
    return {"-o": out, "--plot": Path(args.plot) if args.plot else out.with_suffix(".png"),
            "rounds": out.with_suffix(".rounds.json")}


def _check_outputs(args: argparse.Namespace) -> None:
    """UsageError before anything runs: an output that exists (without --overwrite), or one
    that is the input model."""
    model = Path(args.model).resolve()
    for flag, path in outputs(args).items():
        if path.resolve() == model:
            raise UsageError(f"{flag} {path} is the input model; name another file")
        if path.exists() and not args.overwrite:
            raise UsageError(f"{flag} {path} exists; pass --overwrite to replace it")


def node_configs(args: argparse.Namespace, progress_dir: Optional[Path]) -> list[dict]:
    """One SuperNode config per client: its port (or `host`) and shard."""
    ports = args.ports if args.ports else ["host"] * args.clients
    return [{"port": p, "partition-id": i, "num-partitions": len(ports),
             **({"progress": str(progress_dir / f"client-{i}.jsonl")} if progress_dir else {})}
            for i, p in enumerate(ports)]


def describe_round(event: dict, ports: list[str]) -> str:
    """The round table's lines for one `round` event."""
    lines = [f"round {event['round']}: merged model held-out accuracy {event['merged']:.4f}"]
    for part, m in sorted(event["clients"].items(), key=lambda kv: int(kv[0])):
        lines.append(f"  client {part} ({ports[int(part)]}): {m['num-examples']} samples, "
                     f"held-out accuracy {m['test-accuracy']:.4f}, serial "
                     f"{int(m['serial-bytes-sent']):,} B sent / "
                     f"{int(m['serial-bytes-received']):,} B received")
    for reason in event["failures"]:
        lines.append(f"  dropped from this round: {reason}")
    if not event["clients"]:
        lines.append("  no client returned a model: the global model is unchanged")
    return "\n".join(lines)


def plot(rounds: list[dict], n_clients: int, path: Path,
         table: Optional[dict[str, list[float]]] = None) -> None:
    """Accuracy against rounds: the merged model, each client's trained model and the
    baselines (dotted)."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [r["round"] for r in rounds]
    ax.plot(xs, [r["merged"] for r in rounds], "o-", lw=2, label="merged")
    for c in range(n_clients):
        pts = [(r["round"], r["clients"][str(c)]["test-accuracy"]) for r in rounds
               if str(c) in r["clients"]]
        if pts:
            ax.plot(*zip(*pts), "s--", label=f"client {c}")
    for name, values in (table or {}).items():
        ax.plot(xs, [values[x - 1] for x in xs], ":", label=name)
    ax.set_xlabel("round")
    ax.set_ylabel("held-out accuracy")
    ax.set_xticks(xs)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    write_bytes(path, buf.getvalue(), "--plot")


def baselines(model: bytes, source: str, args: argparse.Namespace, rounds: list[dict],
              n_clients: int) -> dict[str, list[float]]:
    """Held-out accuracy after each round's worth of epochs of training without the fleet, in
    the host C core (bit for bit a board's training at the same batch): each client alone on
    its shard, with the batch its board used, and one learner on the whole training split."""
    from edgebnn import format as fmt
    from edgebnn.fleet.client import shard, train_round
    from edgebnn.runs.provenance import Provenance

    splits = Provenance.of_model(fmt.from_bytes(model, source)).splits(source, args.data,
                                                                      limit=args.limit)
    epochs = args.rounds * args.epochs

    def per_round(train_set, batch: int, seed: int) -> list[float]:
        acc = train_round(model, train_set, splits.test, algo=args.algo, epochs=epochs,
                          batch=batch, seed=seed).test_accuracies
        return [acc[args.epochs * r - 1] for r in range(1, args.rounds + 1)]

    batches = {int(p): int(m["batch"]) for r in rounds for p, m in r["clients"].items()}
    out = {f"client {p} alone": per_round(shard(splits.train, p, n_clients, args.split,
                                                args.seed), batches.get(p, 100), args.seed + p)
           for p in range(n_clients)}
    out["all data, one learner"] = per_round(splits.train, min(batches.values(), default=100),
                                             args.seed)
    return out


def describe_baselines(table: dict[str, list[float]], rounds: list[dict]) -> str:
    """Merged accuracy per round beside the baselines'."""
    names = ["merged"] + list(table)
    lines = ["held-out accuracy per round (baselines: the host C core, as a board trains)",
             "  round  " + "  ".join(f"{n:>22}" for n in names)]
    for r in rounds:
        values = [r["merged"]] + [table[n][r["round"] - 1] for n in table]
        lines.append(f"  {r['round']:>5}  " + "  ".join(f"{v:>22.4f}" for v in values))
    return "\n".join(lines)


def _progress_bars(progress_dir: Path, ports: list[str], total: int):
    """One tqdm bar per client, fed from the epoch lines its ClientApp appends; returns
    (update, close)."""
    from tqdm import tqdm

    bars = [tqdm(total=total, desc=f"client {i} {p}", position=i, unit="epoch", leave=False,
                 disable=None) for i, p in enumerate(ports)]
    seen = [0] * len(ports)

    def update() -> None:
        for i, bar in enumerate(bars):
            f = progress_dir / f"client-{i}.jsonl"
            n = len(f.read_text().splitlines()) if f.exists() else 0
            if n > seen[i]:
                bar.update(n - seen[i])
                seen[i] = n

    def close() -> None:
        for bar in bars:
            bar.close()

    return update, close


def cmd_fleet_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from edgebnn import format as fmt
    from edgebnn.device import training
    from edgebnn.fleet import serverapp
    from edgebnn.fleet.deploy import LocalFederation, events

    if bool(args.ports) == bool(args.simulate):
        raise UsageError("fleet train needs --ports (one board per client) or --simulate "
                         "with --clients N (the host C core)")
    model = read_bytes(args.model)
    fmt.from_bytes(model, args.model)
    training.epoch_schedule(model, args.model, args.algo)   # its training section
    _check_outputs(args)
    files = outputs(args)
    ports = args.ports or ["host"] * args.clients
    with tempfile.TemporaryDirectory(prefix="edgebnn-fleet-") as tmp:
        work = Path(tmp)
        out, progress_dir = work / "out", work / "progress"
        out.mkdir()
        progress_dir.mkdir()
        run_config = {"model": str(Path(args.model).resolve()), "out": str(out),
                      "data": args.data or "", "limit": args.limit or 0, "split": args.split, "algo": args.algo,
                      "rounds": args.rounds, "epochs": args.epochs, "seed": args.seed,
                      "nodes": len(ports), "timeout": args.timeout,
                      "round-timeout": args.round_timeout}
        update, close = _progress_bars(progress_dir, ports, args.rounds * args.epochs) \
            if not args.quiet else (lambda: None, lambda: None)
        rounds = []
        print(f"fleet: {len(ports)} clients ({', '.join(ports)}), {args.split} split, "
              f"{args.rounds} rounds of {args.epochs} epoch(s), Flower SuperLink and "
              f"SuperNodes on 127.0.0.1", flush=True)
        try:
            with LocalFederation(work, node_configs(args, progress_dir)) as fed:
                fed.run(run_config)
                for event in events(out, args.round_timeout, fed, on_wait=update):
                    update()
                    if event["event"] == "start":
                        tqdm.write(f"round 0: global model held-out accuracy "
                                   f"{event['merged']:.4f}")
                    elif event["event"] == "round":
                        rounds.append(event)
                        tqdm.write(describe_round(event, ports))
        finally:
            close()
        merged = (out / serverapp.MERGED).read_bytes()
    table = baselines(model, args.model, args, rounds, len(ports)) if args.baselines else {}
    if table:
        print(describe_baselines(table, rounds))
    write_bytes(files["-o"], merged, "-o")
    write_json(files["rounds"], {"ports": ports, "split": args.split, "epochs": args.epochs,
                                 "rounds": rounds, "baselines": table})
    plot(rounds, len(ports), files["--plot"], table)
    print(f"wrote {files['-o']} ({len(merged):,} bytes), {files['--plot']}, {files['rounds']}")
    return 0


def add_parsers(sub) -> None:
    """Adds `fleet train` to the top-level subparsers."""
    from edgebnn.device.cli import PORT_HELP
    from edgebnn.fleet.client import SPLITS

    f = sub.add_parser("fleet", help="federated training on many boards with Flower")
    fsub = f.add_subparsers(dest="fleet_command", required=True)
    t = fsub.add_parser("train", help="each board trains on its own shard, Flower merges the "
                                      "integer training state every round (docs/fleet.md)")
    t.add_argument("model", help=".ebnn with the algorithm's training section")
    t.add_argument("--ports", type=_ports, help="comma-separated, one board per client: "
                                                + PORT_HELP)
    t.add_argument("--simulate", action="store_true",
                   help="clients train in the host C core (a board's bit-exact simulation)")
    t.add_argument("--clients", type=flags.positive_int, default=3,
                   help="with --simulate: how many (default 3)")
    t.add_argument("--data", help="data spec (default: the model's)")
    t.add_argument("--limit", type=flags.positive_int,
                   help="at most this many samples of the training pool and of the test set, "
                        "as `edgebnn train --limit` (quick runs on emulated boards)")
    t.add_argument("--split", default="by-class", choices=SPLITS,
                   help="how the training split is sharded (default by-class: non-IID)")
    t.add_argument("--algo", default="local", choices=("local", "drtp"))
    t.add_argument("--rounds", type=flags.positive_int, default=5)
    t.add_argument("--epochs", type=flags.positive_int, default=1, help="epochs per round")
    t.add_argument("--seed", type=flags.seed, default=0, help="shard and shuffle seed")
    t.add_argument("--timeout", type=flags.positive_float, default=5.0,
                   help="seconds per board reply (default 5)")
    t.add_argument("--round-timeout", type=flags.positive_float, default=600.0,
                   help="seconds a round waits for its clients (default 600)")
    t.add_argument("-o", "--output", required=True, metavar="MERGED.ebnn")
    t.add_argument("--plot", metavar="FILE.png", help="accuracy against rounds (default: "
                                                      "beside -o)")
    t.add_argument("--baselines", action="store_true",
                   help="also train each client alone on its shard, and one learner on all the "
                        "data, for the same epochs (host C core) and tabulate them per round")
    t.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.set_defaults(func=cmd_fleet_train)
