"""The `edgebnn` command line: train, compare, tune, export, eval, info, demo."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from edgebnn import flags
from edgebnn.errors import EdgebnnError, UsageError, read_bytes, replacing, write_bytes


def _scalar(text: str) -> int | float | str:
    """An --algo-arg value: int if it reads as one, else float, else the string as given."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _algo_arg(text: str) -> tuple[str, int | float | str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, _scalar(value)


def _model_kwargs(args: argparse.Namespace) -> dict:
    """The model arguments given on the command line (the model's defaults for the others)."""
    kwargs = {k: v for k, v in (("layers", args.layers), ("width", args.width)) if v}
    if args.remove_skips:
        kwargs["remove_skips"] = True
    if args.binarize != "both":
        kwargs["binarize"] = args.binarize
    if args.no_depthwise:
        kwargs["depthwise"] = False
    return kwargs


def _add_model_arguments(p: argparse.ArgumentParser) -> None:
    from edgebnn.models import MODELS
    from edgebnn.nn import BINARIZE_MODES

    p.add_argument("--model", default="mlp", choices=sorted(MODELS))
    p.add_argument("--layers", type=flags.positive_int_list,
                   help="mlp hidden sizes, e.g. 700,500,300,200")
    p.add_argument("--width", type=flags.positive_number,
                   help="base channel count (vgg, vgg_small/cnn, resnet18, mixer) or width "
                        "multiplier (mobilenetv2)")
    p.add_argument("--remove-skips", action="store_true",
                   help="resnet18, mobilenetv2, mixer: no skip connections")
    p.add_argument("--no-depthwise", action="store_true",
                   help="mobilenetv2: dense binary 3x3 convolutions in place of the depthwise "
                        "ones (ReActNet's binary MobileNet; about 17x the weights at --width 0.25, "
                        "docs/models.md)")
    p.add_argument("--binarize", default="both", choices=BINARIZE_MODES,
                   help="what is binary: both (deployable), weights, acts or none (ablations, "
                        "torch backend only)")


def _add_regimen_arguments(p: argparse.ArgumentParser) -> None:
    """The flags `train` and `compare` share beyond the model: the regimen and the device."""
    from edgebnn.train.device import CHOICES

    p.add_argument("--lr-schedule", default="constant", choices=("constant", "cosine", "step"),
                   help="per-epoch learning-rate schedule (docs/training.md)")
    p.add_argument("--early-stop", action="store_true",
                   help="stop when the validation loss has not improved by 0.001 in 5 epochs")
    p.add_argument("--augment", default="auto", choices=("auto", "on", "off"),
                   help="random crop + flip; auto: for cifar10: and folder: data only")
    p.add_argument("--device", default="cpu", choices=CHOICES,
                   help="where to train: cpu, cuda (an error without CUDA) or auto (CUDA if "
                        "present); the exported model does not depend on it (docs/training.md)")


def _train_config(args: argparse.Namespace):
    from edgebnn.train import TrainConfig

    model_kwargs = _model_kwargs(args)
    return TrainConfig(data=args.data, model=args.model, model_kwargs=model_kwargs,
                       algo=args.algo, algo_kwargs=dict(args.algo_arg or []), epochs=args.epochs, batch_size=args.batch_size,
                       lr=args.lr, weight_decay=args.weight_decay, seed=args.seed,
                       image_size=args.image_size, limit=args.limit,
                       lr_schedule=args.lr_schedule, lr_step_size=args.lr_step_size,
                       lr_gamma=args.lr_gamma, early_stop=args.early_stop, augment=args.augment)


def _accuracy(value: float | None) -> str:
    """An accuracy for printing; None: the split was empty (metrics.json has null)."""
    return "n/a" if value is None else f"{value:.4f}"


def _resumed_config(args: argparse.Namespace):
    """The config stored in the --resume run; a flag given that contradicts it is refused
    (naming it), as the checkpoint continues that run and no other."""
    import dataclasses

    from edgebnn.runs.run_folder import CONFIG, METRICS, RunFolderError
    from edgebnn.train import TrainConfig

    folder = Path(args.resume)
    if (folder / METRICS).is_file():
        raise RunFolderError("the run is complete (metrics.json is there), nothing to resume",
                             file=folder, field="--resume")
    if not (folder / CONFIG).is_file():
        raise RunFolderError(f"no {CONFIG} (expected a run folder of `edgebnn train`)",
                             file=folder, field="--resume")
    try:
        stored = TrainConfig.from_file(folder / CONFIG)
    except (OSError, ValueError, TypeError) as e:
        raise RunFolderError(f"cannot read ({e})", file=folder / CONFIG) from None
    given = _train_config(args)
    default = _train_config(build_parser().parse_args(["train", "--resume", args.resume]))
    for f in dataclasses.fields(TrainConfig):
        value = getattr(given, f.name)
        if value != getattr(default, f.name) and value != getattr(stored, f.name):
            raise UsageError(f"the run in {folder} was trained with {getattr(stored, f.name)!r}",
                             field=f"--{f.name.replace('_', '-')}", found=repr(value))
    return stored


def _without_nproc(argv: Sequence[str]) -> list[str]:
    """The `train` command's arguments for each rank: these, without the subcommand and
    --nproc."""
    out, skip = [], False
    for a in argv[list(argv).index("train") + 1:]:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from edgebnn.runs.run_folder import check_out
    from edgebnn.train import distributed, train

    if args.out is None and args.resume is None:
        raise UsageError("expected --out RUN (a new run) or --resume RUN", field="--out")
    if args.out is not None and args.resume is not None and Path(args.out) != Path(args.resume):
        raise UsageError("--resume continues the run in its own folder; leave --out out",
                         field="--out")
    args.out = args.out or args.resume
    config = _resumed_config(args) if args.resume else _train_config(args)
    if not args.resume:
        check_out(Path(args.out), overwrite=args.overwrite)   # before any data or training
    if args.nproc > 1 and not distributed.launched():
        from edgebnn.train import device
        distributed.check_nproc(args.nproc, device.resolve(args.device))
        distributed.launch(args.nproc, _without_nproc(args.argv))   # rank 0 prints the result
        return 0
    metrics = train(config, Path(args.out), progress=not args.quiet,
                    resume=args.resume is not None, device=args.device)
    main_rank = distributed.is_main()
    distributed.finish()
    if not main_rank:
        return 0
    acc = metrics["accuracy"]
    print(f"{args.out}: test accuracy {_accuracy(acc['test'])} (val {_accuracy(acc['val'])}, "
          f"best epoch {metrics['best_epoch']}), {metrics['seconds_per_epoch']:.2f} s/epoch, "
          f"{metrics['parameters']:,} parameters, " + (
              f"{metrics['model_size_bytes']:,} bytes exported" if metrics["model_size_bytes"]
              else "not deployable (torch backend only)"))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from edgebnn.train.compare import RESULTS_MD, CompareSpec, check_algos, compare

    algos = check_algos(args.algos)
    spec = CompareSpec(data=args.data, model=args.model, algos=algos,
                       seeds=args.seeds, epochs=args.epochs, model_kwargs=_model_kwargs(args),
                       lr=args.lr, batch_size=args.batch_size, limit=args.limit,
                       image_size=args.image_size, lr_schedule=args.lr_schedule,
                       early_stop=args.early_stop, augment=args.augment, device=args.device,
                       jobs=args.jobs)
    if args.tuned:   # checked before any training
        from edgebnn.train.tune import read_tuned
        spec.tuned = read_tuned(Path(args.tuned), algos, {
            "data": spec.data, "model": spec.model, "model_kwargs": spec.model_kwargs})
    out = Path(args.out)
    rows = compare(spec, out, progress=not args.quiet)
    print((out / RESULTS_MD).read_text(), end="")
    print(f"wrote {out / RESULTS_MD}, results.csv and accuracy_vs_memory.png")
    return 1 if any(r["failures"] for r in rows) else 0


def cmd_tune(args: argparse.Namespace) -> int:
    from edgebnn.train.tune import TUNED, TuneSpec, tune

    spec = TuneSpec(data=args.data, model=args.model, algos=args.algos, lrs=args.lrs,
                    gammas=args.gammas, epochs=args.epochs, model_kwargs=_model_kwargs(args),
                    batch_size=args.batch_size, limit=args.limit, image_size=args.image_size,
                    lr_schedule=args.lr_schedule, early_stop=args.early_stop,
                    augment=args.augment, seed=args.seed, device=args.device, jobs=args.jobs)
    out = Path(args.out)
    result = tune(spec, out, progress=not args.quiet)
    for algo, entry in result["algorithms"].items():
        if "failed" in entry:
            print(f"{algo}: not chosen, {entry['failed']} (see {out}/runs/{algo}-*/failed.txt)")
            continue
        extra = "".join(f", {k} {v}" for k, v in entry["algo_kwargs"].items())
        print(f"{algo}: lr {entry['lr']}{extra} (validation accuracy "
              f"{entry['val_accuracy']:.4f})")
    for algo, reason in result["not_tuned"].items():
        print(f"{algo}: not tuned, {reason}")
    print(f"wrote {out / TUNED}; use it with `edgebnn compare --tuned {out / TUNED}`")
    return 1 if any("failed" in e for e in result["algorithms"].values()) else 0


def _binary_weight_count(model) -> int:
    """±1 weights in a .ebnn model (kernel area × input channels per group × outputs)."""
    return sum(layer.out_shape[2] * layer.kernel[0] * layer.kernel[1]
               * layer.in_shape[2] // layer.groups for layer in model.layers if layer.weights)


def _export_source(source: Path) -> "tuple[fmt.Model, bytes]":
    """(fmt.Model, .ebnn bytes) of a run folder (exported now) or of a `.ebnn` file (its bytes
    as they are, checked by the reader)."""
    from edgebnn import format as fmt
    from edgebnn.export import export_run

    if not (source.is_file() or source.suffix == ".ebnn"):
        model = export_run(source)
        return model, fmt.to_bytes(model)
    data = read_bytes(source)
    return fmt.from_bytes(data, str(source)), data


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same inode (hard and symbolic links too) when both
    exist, else the same resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:   # one is not there (yet)
        return os.path.realpath(a) == os.path.realpath(b)


def _check_outputs(source: Path, outputs: dict[str, str | None]) -> None:
    """Refuses an export output that is one of its inputs (`export m.ebnn --onnx m.ebnn` would
    replace the model) or another output, before anything is written."""
    from edgebnn.runs import run_folder

    inputs = ([source] if source.is_file() or source.suffix == ".ebnn"
              else [source / run_folder.CONFIG, source / run_folder.CHECKPOINT])
    given = [(flag, path) for flag, path in outputs.items() if path]
    for i, (flag, path) in enumerate(given):
        for other in inputs:
            if _same_file(Path(path), other):
                raise UsageError(f"is the input {other}; choose another file", file=path,
                                 field=flag)
        for other_flag, other_path in given[:i]:
            if _same_file(Path(path), Path(other_path)):
                raise UsageError(f"is also the {other_flag} file; choose another file",
                                 file=path, field=flag)


def cmd_export(args: argparse.Namespace) -> int:
    if not (args.output or args.onnx or args.header):
        raise UsageError("nothing to write: pass -o FILE.ebnn, --onnx FILE and/or --header FILE")
    _check_outputs(Path(args.run_dir), {"-o": args.output, "--onnx": args.onnx,
                                        "--header": args.header})
    model, data = _export_source(Path(args.run_dir))
    if args.train_section == "drtp":   # on-device DRTP state (docs/format.md, trnd)
        from edgebnn import format as fmt
        from edgebnn.ondevice import drtp
        if Path(args.run_dir).is_file():
            raise UsageError("--train-section drtp needs a run folder (its float latent weights)")
        model.extra_sections[drtp.TAG] = drtp.from_run(Path(args.run_dir), model)
        data = fmt.to_bytes(model)
    if args.sign:   # the .ebnn file and the C header carry the signature trailer
        from edgebnn.signing_cli import sign_bytes
        data = sign_bytes(data, args.sign, args.counter)
    if args.output:
        write_bytes(args.output, data)
        n_weights = _binary_weight_count(model)
        print(f"wrote {args.output}: {len(data):,} bytes; the same {n_weights:,} weights in "
              f"float32: {4 * n_weights:,} bytes ({4 * n_weights / len(data):.1f}x larger)")
    if args.onnx:
        from edgebnn.export import onnx as onnx_export
        print(f"wrote {args.onnx}: {onnx_export.write(model, args.onnx):,} bytes (ONNX)")
    if args.header:
        from edgebnn.export import header
        header.write(data, args.header, args.name, source=args.run_dir)
        print(f"wrote {args.header}: C header of {len(data):,} model bytes")
    return 0


def model_splits(meta: dict, data_spec: str | None, seed: int | None, source: object,
                 limit: int | None = None):
    """The data splits rebuilt the way the model's training split them, from its `training`
    metadata (Provenance.splits: `data_spec`/`seed` override the stored ones, `limit` keeps a
    seeded subset)."""
    from edgebnn.runs.provenance import Provenance

    return Provenance.from_meta(meta).splits(source, data_spec, seed, limit)


def evaluate(backend: str, model_path: Path, data_spec: str | None, split: str,
             seed: int | None, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(int32 scores, labels) of one split, rebuilt the way the model's training split it."""
    from edgebnn.backends import open_scorer

    scorer, provenance = open_scorer(backend, model_path, threads)
    ds = getattr(provenance.splits(model_path, data_spec, seed), split)
    return scorer(ds.x), ds.y


def _default_backend(model: Path) -> str:
    if model.is_dir():
        return "torch"
    return "onnx" if model.suffix == ".onnx" else "native"


def cmd_eval(args: argparse.Namespace) -> int:
    args.backend = args.backend or _default_backend(Path(args.model))
    if args.pubkey:   # checked before the model is used, on every backend
        from edgebnn.signing import check_pubkey
        if Path(args.model).is_dir() or Path(args.model).suffix == ".onnx":
            raise UsageError("only a .ebnn file carries a signature", field="--pubkey")
        check_pubkey(read_bytes(args.model), args.pubkey, args.model)
    scores, labels = evaluate(args.backend, Path(args.model), args.data, args.split, args.seed,
                              args.threads)
    n = len(labels)
    accuracy = float((scores.argmax(1) == labels).mean()) if n else None   # JSON null, not NaN
    if args.save_logits:
        with replacing(args.save_logits, field="--save-logits") as f:
            np.save(f, scores)
    if args.json:
        print(json.dumps({"accuracy": accuracy, "n": n, "backend": args.backend,
                          "split": args.split}, allow_nan=False))
    else:
        print(f"{args.model} [{args.backend}] {args.split}: accuracy {_accuracy(accuracy)} on "
              f"{n} samples")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    import edgebnn
    from edgebnn.train import algorithm_names

    print(f"edgebnn {edgebnn.__version__}")
    try:
        from edgebnn.native import build_info
        print(f"C core: {build_info()}")
    except ImportError as e:
        print(f"C core: not built ({e}); run tools/setup.sh")
    print(f"algorithms: {', '.join(algorithm_names())}")
    if args.file:   # a model or firmware image: signed or not, by which key, its counter
        from edgebnn.signing import describe
        print(f"{args.file}: {describe(read_bytes(args.file))}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on the bundled defaults: train → export → run on the host C core, on
    onnxruntime and on the emulated board, each cross-checked against PyTorch bit for bit;
    then train a `local` chain on the emulated board and pull it back, checked against the
    same training in the host C core byte for byte."""
    from edgebnn import format as fmt
    from edgebnn.export import export_run
    from edgebnn.export import onnx as onnx_export
    from edgebnn.train import TrainConfig, train

    out = Path(args.out)
    print(f"[1/7] training an MLP on digits with backprop -> {out}")
    metrics = train(TrainConfig(epochs=args.epochs), out, progress=not args.quiet)
    print(f"      test accuracy {metrics['accuracy']['test']:.4f}")
    model = export_run(out)
    model_path, onnx_path = out / "model.ebnn", out / "model.onnx"
    size = fmt.write(model, model_path)
    onnx_size = onnx_export.write(model, onnx_path)
    print(f"[2/7] exported {model_path} ({size:,} bytes) and {onnx_path} ({onnx_size:,} bytes)")
    expected, labels = evaluate("torch", out, None, "test", None)
    targets = [("native", model_path, "C core on the host"),
               ("onnx", onnx_path, "onnxruntime"),
               (f"device:qemu:{args.board}", model_path,
                f"emulated {args.board} board over serial")]
    all_same = True
    for step, (backend, path, what) in enumerate(targets, start=3):
        scores, _ = evaluate(backend, path, None, "test", None)
        same = np.array_equal(scores, expected)
        all_same &= same
        accuracy = float((scores.argmax(1) == labels).mean())
        print(f"[{step}/7] {what}: test accuracy {accuracy:.4f} on {len(labels)} images; "
              f"scores {'identical to' if same else 'DIFFERENT from'} PyTorch")
    return 0 if demo_board_training(args, out) and all_same else 1


def demo_board_training(args: argparse.Namespace, out: Path) -> bool:
    """Steps 6-7 of the demo: a `local` chain trained briefly on the host, exported with its
    training section, trained further on the emulated board over serial, pulled back; True when
    the pulled file equals the host C core's simulation of the same training."""
    from edgebnn import format as fmt
    from edgebnn.device.training import run_training
    from edgebnn.export import export_run
    from edgebnn.train import TrainConfig, train

    run_dir, path = out / "local", out / "local.ebnn"
    print(f"[6/7] training a `local` chain (128 hidden units, integer weights) on digits on the "
          f"host for 1 epoch -> {run_dir}")
    train(TrainConfig(algo="local", model_kwargs={"layers": [128]}, epochs=1, batch_size=100),
          run_dir, progress=not args.quiet)
    exported = export_run(run_dir)
    print(f"      exported {path} ({fmt.write(exported, path):,} bytes with its training "
          f"section)")
    splits = model_splits(exported.meta["training"], None, None, path)
    board = f"qemu:{args.board}"

    def start(where: str, batch: int, scratch: int, before: float) -> None:
        print(f"[7/7] emulated {args.board} board: training it over serial, {args.board_epochs} "
              f"epoch(s) in batches of {batch} ({scratch:,} B of scratch in its arena); test "
              f"accuracy before {before:.4f}", flush=True)

    def epoch(e) -> None:
        print(f"      {e.describe(args.board_epochs, len(splits.train))}", flush=True)

    result = run_training(fmt.to_bytes(exported), str(path), splits, epochs=args.board_epochs,
                          port=board, verify=True, progress=not args.quiet, on_start=start,
                          on_epoch=epoch)
    trained = out / "local_trained.ebnn"
    write_bytes(trained, result.model)
    print(f"      pulled back {trained}: test accuracy {result.before:.4f} -> "
          f"{result.epochs[-1].test_accuracy:.4f}; model bytes "
          f"{'identical to' if result.same_as_host else 'DIFFERENT from'} the host C core's "
          f"training")
    return bool(result.same_as_host)


def _add_study_arguments(p: argparse.ArgumentParser, out_help: str) -> None:
    """The flags `compare` and `tune` share: data, model, algorithms, training length, the
    regimen and the output folder."""
    p.add_argument("--data", default="digits")
    _add_model_arguments(p)
    p.add_argument("--algos", type=lambda s: [a for a in s.split(",") if a],
                   default="bp,fa,dfa,drtp,hsic,sigprop,local,cyclic",
                   help="comma-separated algorithm names (default: all eight)")
    p.add_argument("--epochs", type=flags.positive_int, default=10)
    p.add_argument("--batch-size", type=flags.positive_int, default=64)
    p.add_argument("--image-size", type=flags.positive_int)
    p.add_argument("--limit", type=flags.positive_int, help="use at most this many samples")
    _add_regimen_arguments(p)
    p.add_argument("--jobs", type=flags.positive_int, default=1,
                   help="runs trained at once, each in a process of its own (cores, or runs "
                        "sharing a GPU); the figures do not depend on it (docs/training.md)")
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    from edgebnn.backends import BACKENDS, check_backend
    from edgebnn.train import tune as tune_defaults
    from edgebnn.device.cli import add_parsers as add_device_parsers
    from edgebnn.device.flash import add_parser as add_flash_parser
    from edgebnn.fleet.cli import add_parsers as add_fleet_parsers
    from edgebnn.signing_cli import add_counter, add_parsers as add_signing_parsers

    p = argparse.ArgumentParser(prog="edgebnn", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a binary model into a run folder")
    t.add_argument("--data", default="digits",
                   help="digits | mnist5k | mnist | idx:DIR | cifar10:DIR | folder:DIR")
    _add_model_arguments(t)
    t.add_argument("--algo", default="bp")
    t.add_argument("--algo-arg", type=_algo_arg, action="append", metavar="KEY=VALUE",
                   help="algorithm hyperparameter (repeatable), e.g. gamma=20 for hsic")
    t.add_argument("--epochs", type=flags.positive_int, default=10)
    t.add_argument("--batch-size", type=flags.positive_int, default=64)
    t.add_argument("--lr", type=flags.positive_float, help="learning rate (default: the algorithm's)")
    t.add_argument("--weight-decay", type=flags.non_negative_float, default=1e-5,
                   help="L2 weight decay of the real-valued weights (default 1e-5; latent "
                        "binary weights and batch norm are never decayed, docs/models.md)")
    t.add_argument("--seed", type=flags.seed, default=0)
    t.add_argument("--image-size", type=flags.positive_int, help="resize images to this square size")
    t.add_argument("--limit", type=flags.positive_int, help="use at most this many samples")
    _add_regimen_arguments(t)
    t.add_argument("--lr-step-size", type=flags.positive_int,
                   help="step schedule: epochs per decay (default: a third of --epochs)")
    t.add_argument("--lr-gamma", type=flags.positive_float, default=0.1,
                   help="step schedule: factor of each decay (default 0.1)")
    t.add_argument("--nproc", type=flags.positive_int, default=1,
                   help="data-parallel processes on this machine, through torchrun "
                        "(at most one per CPU core / GPU; docs/training.md)")
    t.add_argument("--resume", metavar="RUN",
                   help="continue the run in RUN from its last epoch checkpoint")
    t.add_argument("--out", help="run folder to write (new or empty)")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the run in a non-empty --out folder")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.set_defaults(func=cmd_train)

    c = sub.add_parser("compare", help="train several algorithms × seeds; tabulate accuracy, "
                                       "memory, time and MACs")
    _add_study_arguments(c, "folder for runs/, results.md/.csv and the plot")
    c.add_argument("--seeds", type=flags.positive_int, default=3, help="seeds 0..N-1 per algorithm")
    rates = c.add_mutually_exclusive_group()
    rates.add_argument("--lr", type=flags.positive_float,
                       help="one rate for all (default: each algorithm's)")
    rates.add_argument("--tuned", metavar="FILE",
                       help="the rates (and HSIC's γ) `edgebnn tune` chose, from its tuned.json")
    c.set_defaults(func=cmd_compare)

    u = sub.add_parser("tune", help="choose each algorithm's learning rate (and HSIC's γ) on "
                                    "the validation split, for `compare --tuned`")
    _add_study_arguments(u, "folder for runs/ (one per grid point) and tuned.json")
    u.add_argument("--lrs", type=flags.positive_number_list,
                   default=list(tune_defaults.DEFAULT_LRS),
                   help="learning-rate grid (default: the study's 1e-3,1e-4,1e-5)")
    u.add_argument("--gammas", type=flags.positive_number_list,
                   default=list(tune_defaults.DEFAULT_GAMMAS),
                   help="HSIC's γ grid, crossed with --lrs (default: the study's 2,20,200)")
    u.add_argument("--seed", type=flags.seed, default=0, help="seed of every tuning run")
    u.set_defaults(func=cmd_tune)

    e = sub.add_parser("export", help="write a model as a .ebnn file, ONNX graph or C header")
    e.add_argument("run_dir", metavar="SOURCE", help="run folder, or a .ebnn file")
    e.add_argument("-o", "--output", metavar="FILE.ebnn")
    e.add_argument("--onnx", metavar="FILE",
                   help="ONNX graph giving the same scores (docs/onnx.md)")
    e.add_argument("--header", metavar="FILE",
                   help="C header embedding the model (docs/embedding.md)")
    e.add_argument("--name", help="C identifier prefix in the header (default: its file name)")
    e.add_argument("--train-section", choices=["drtp"],
                   help="add the state for on-device training with this rule (the `trnd` "
                        "section of docs/format.md; `local` runs always carry `trnl`)")
    e.add_argument("--sign", metavar="KEY", help="sign the .ebnn file (and the C header's "
                   "bytes) with this Ed25519 private key (docs/format.md \"Signature trailer\")")
    add_counter(e)
    e.set_defaults(func=cmd_export)

    v = sub.add_parser("eval", help="accuracy of a model on a data split")
    v.add_argument("model", help="run folder (torch), .ebnn file (native) or .onnx (onnx)")
    v.add_argument("--data", help="data spec (default: the one the model was trained on)")
    v.add_argument("--backend", type=check_backend,
                   help=f"{' | '.join(BACKENDS)} | device:PORT (PORT as for `device`; the model "
                        "goes into the board's RAM only, its flash is not written); default: "
                        "torch for a run folder, onnx for a .onnx file, native otherwise")
    v.add_argument("--split", default="test", choices=("train", "val", "test"))
    v.add_argument("--seed", type=flags.seed, help="split seed (default: the training seed)")
    v.add_argument("--json", action="store_true", help='last line: {"accuracy": …, "n": …}')
    v.add_argument("--save-logits", metavar="FILE.npy", help="save the int32 scores")
    v.add_argument("--threads", type=flags.positive_int, default=1, metavar="N",
                   help="native backend: split every layer across N threads (same scores)")
    v.add_argument("--pubkey", metavar="KEY.pub",
                   help="use the model only if it is signed with this Ed25519 public key")
    v.set_defaults(func=cmd_eval)

    i = sub.add_parser("info", help="version, C core build and kernels; with FILE, whether "
                                    "a model or firmware image is signed, by which key, and "
                                    "its counter")
    i.add_argument("file", nargs="?", metavar="FILE")
    i.set_defaults(func=cmd_info)

    from edgebnn import bench
    b = sub.add_parser("bench", help="kernel speed vs the XNOR-popcount peak and float32")
    bench.add_arguments(b)
    b.set_defaults(func=bench.run)

    d = sub.add_parser("demo", help="the main job on the bundled defaults, end to end")
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--epochs", type=flags.positive_int, default=10)
    d.add_argument("--board", default="mps2-an386", help="emulated board of the last steps")
    d.add_argument("--board-epochs", type=flags.positive_int, default=2,
                   help="epochs of on-device training on the emulated board")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_demo)
    add_device_parsers(sub)   # device info|load, board run
    add_flash_parser(sub)     # flash IMAGE --port P
    add_signing_parsers(sub)  # keys generate|show, sign
    add_fleet_parsers(sub)    # fleet train
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command. A user's mistake (EdgebnnError) is one line and exit status 2; any
    other exception is a bug and keeps its traceback."""
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
    except EdgebnnError as e:
        print(f"edgebnn: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
