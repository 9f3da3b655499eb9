"""Kernel benchmark: `edgebnn bench` / `python -m edgebnn.bench [--quick] [--json]`.

Builds and runs the C benchmark (tools/bench_kernels.c via `make -C native bench`; portable
flags, no -march), which times every kernel this CPU can run and measures the machine's
XNOR-popcount peak in the same run, then times onnxruntime and PyTorch float32 running the
same layers single-threaded, and the batch-1 latency of the reference models in the C core
against onnxruntime float32 of the same architectures. With --threads N (N > 1) the same run
adds every layer and model split across N threads in the C core (ebnn_infer_with's split,
weights repacked at load time) against onnxruntime and PyTorch on N threads. Timings are the
best of repeated calls (the machine may be shared). Each figure is printed beside its reference from the same run:
a table, or with --json one object per line with name, target, metric, value, reference,
ratio (and goal/met where issue 6 sets a target). Never used for timed assertions."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

from edgebnn import bench_arm, flags
from edgebnn.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
NATIVE = ROOT / "native"
BENCH = NATIVE / "build" / "bench" / "bench_kernels"

# name -> (batch, in_h, in_w, in_c, out_c, k, pad); the C side uses the same names. A batch-64
# dense layer runs in the C core as a 1x1 convolution over 64 pixels (the same MACs).
LAYERS = {
    "dense_4096x4096_b1": (1, 1, 1, 4096, 4096, 1, 0),
    "dense_4096x4096_b64": (64, 1, 1, 4096, 4096, 1, 0),
    "conv3x3_128to128_28x28": (1, 28, 28, 128, 128, 3, 1),
    "resnet18_conv3x3_64_56x56": (1, 56, 56, 64, 64, 3, 1),
    "resnet18_conv3x3_256_14x14": (1, 14, 14, 256, 256, 3, 1),
}
# Issue 6 targets: fraction of the measured peak, and speed-up over onnxruntime fp32.
PEAK_GOAL = 0.70
ORT_GOAL = {"dense_4096x4096_b1": 30.0, "conv3x3_128to128_28x28": 7.0,
            "resnet18_conv3x3_64_56x56": 7.0, "resnet18_conv3x3_256_14x14": 7.0}


def run_c_bench(quick: bool, threads: int = 1) -> list[dict]:
    r = subprocess.run(["make", "-s", "-C", str(NATIVE), "bench"], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"building the C benchmark failed:\n{r.stdout}{r.stderr}")
    args = (["--quick"] if quick else []) + (["--threads", str(threads)] if threads > 1 else [])
    r = subprocess.run([str(BENCH)] + args, capture_output=True, text=True, check=True)
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


def _best(fn, min_time: float) -> float:
    fn()  # warm-up
    best, end = float("inf"), time.perf_counter() + min_time
    while True:
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
        if time.perf_counter() > end:
            return best


def _ort_options(threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    return so


def float_rates(name: str, min_time: float, threads: int = 1) -> dict[str, float]:
    """MAC/s of onnxruntime and PyTorch float32 on `threads` threads, on the layer as a float
    layer."""
    import numpy as np

    batch, h, w, c, oc, k, pad = LAYERS[name]
    macs = batch * h * w * c * oc * k * k  # stride 1, 'same' padding or dense
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((oc, c, k, k), dtype=np.float32)
    dense = h == w == k == 1
    rates = {}
    try:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        if dense:
            node = helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)
            xin = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, c])
            init = numpy_helper.from_array(wt.reshape(oc, c), "w")
            feed = {"x": x.reshape(batch, c)}
        else:
            node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[pad] * 4)
            xin = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))
            init = numpy_helper.from_array(wt, "w")
            feed = {"x": x}
        yout = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
        graph = helper.make_graph([node], name, [xin], [yout], [init])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 9  # onnx 1.23 writes IR 14 by default; onnxruntime refuses it
        sess = ort.InferenceSession(model.SerializeToString(), _ort_options(threads),
                                    providers=["CPUExecutionProvider"])
        rates["onnxruntime_fp32"] = macs / _best(lambda: sess.run(None, feed), min_time)
    except ImportError:
        pass
    try:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            with torch.inference_mode():
                tx, tw = torch.from_numpy(x), torch.from_numpy(wt)
                if dense:
                    tx2, tw2 = tx.reshape(batch, c), tw.reshape(oc, c)
                    f = lambda: torch.nn.functional.linear(tx2, tw2)  # noqa: E731
                else:
                    f = lambda: torch.nn.functional.conv2d(tx, tw, padding=pad)  # noqa: E731
                rates["torch_fp32"] = macs / _best(f, min_time)
        finally:
            torch.set_num_threads(before)
    except ImportError:
        pass
    return rates


# Reference models for whole-model latency: name -> (builder name, input (H, W, C)).
MODELS = {"mlp": ("mlp", (28, 28, 1)), "cnn": ("cnn", (32, 32, 3)),
          "resnet18": ("resnet18", (32, 32, 3)), "mobilenetv2": ("mobilenetv2", (32, 32, 3))}


def model_rows(names: list[str], min_time: float, threads: int = 1) -> list[dict]:
    """Batch-1 latency of each reference model in the C core (its exported .ebnn, the kernels
    the CPU selects, weights repacked at load time) against onnxruntime float32 running the
    same architecture unbinarized (binarize="none", exported by torch.onnx), both on `threads`
    threads, in the same run. Random weights: the work per inference does not depend on their
    values."""
    import io

    import numpy as np
    import torch

    from edgebnn import format as fmt
    from edgebnn.export import export_model
    from edgebnn.models import build_model
    from edgebnn.native import NativeModel

    out: list[dict] = []
    torch.manual_seed(0)
    for name in names:
        builder, shape = MODELS[name]
        native = NativeModel(fmt.to_bytes(export_model(build_model(builder, shape, 10).eval(),
                                                       shape, 10)), threads=threads)
        x = np.random.default_rng(0).integers(0, 256, (1, *shape), dtype=np.uint8)
        ours = _best(lambda: native.infer(x), min_time)
        try:
            import onnxruntime as ort
        except ImportError:
            continue
        float_model = build_model(builder, shape, 10, binarize="none").eval()
        buf = io.BytesIO()
        xf = torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32))
        with warnings.catch_warnings():  # the TorchScript exporter's deprecation notices
            warnings.simplefilter("ignore")
            torch.onnx.export(float_model, (xf,), buf, dynamo=False, opset_version=17)
        sess = ort.InferenceSession(buf.getvalue(), _ort_options(threads),
                                    providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: xf.numpy()}
        ref = _best(lambda: sess.run(None, feed), min_time)
        suffix = f"@{threads}t" if threads > 1 else ""
        out.append(dict(name=f"model_{name}_{'x'.join(map(str, shape))}{suffix}", target="host",
                        metric="latency_s_vs_onnxruntime_fp32", value=ours, reference=ref,
                        ratio=ref / ours, threads=threads))
    return out


def thread_rows(c_rows: list[dict], threads: int, min_time: float) -> list[dict]:
    """Each layer split across `threads` threads in the C core: its speed-up over the same
    layer on one thread (both with the weights repacked beforehand), and against onnxruntime
    and PyTorch float32 on the same thread count, all from this run."""
    out: list[dict] = []
    by_layer: dict[str, dict[int, dict]] = {}
    for r in c_rows:
        if r["kind"] == "threads":
            by_layer.setdefault(r["name"], {})[r["threads"]] = r
    for name, runs in by_layer.items():
        one, many = runs[1], runs[threads]
        label = f"{name}/{many['kernel']}@{threads}t"
        out.append(dict(name=label, target="host", metric="speedup_vs_1_thread",
                        value=many["mac_per_s"], reference=one["mac_per_s"],
                        ratio=many["mac_per_s"] / one["mac_per_s"], threads=threads))
        for ref_name, rate in float_rates(name, min_time, threads).items():
            out.append(dict(name=label, target="host", metric=f"speedup_vs_{ref_name}",
                            value=many["mac_per_s"], reference=rate,
                            ratio=many["mac_per_s"] / rate, threads=threads))
    return out


def rows(quick: bool = False, threads: int = 1) -> list[dict]:
    c_rows = run_c_bench(quick, threads)
    min_time = 0.05 if quick else 0.5
    out: list[dict] = []
    peaks = {r["name"]: r["mac_per_s"] for r in c_rows if r["kind"] == "peak"}
    peak = max(peaks.values()) if peaks else None
    for name, value in peaks.items():
        out.append(dict(name=name, target="host", metric="binary_mac_per_s", value=value,
                        reference=peak, ratio=value / peak))
    layers: dict[str, list[dict]] = {}
    for r in c_rows:
        if r["kind"] == "layer":
            layers.setdefault(r["name"], []).append(r)
    for name, runs in layers.items():
        best = max(runs, key=lambda r: r["mac_per_s"])
        ours = best["mac_per_s"]
        for r in runs:  # every kernel against the peak
            row = dict(name=f"{name}/{r['kernel']}", target="host", metric="binary_mac_per_s",
                       value=r["mac_per_s"], reference=peak,
                       ratio=r["mac_per_s"] / peak if peak else None)
            if r is best and peak:
                row.update(goal=PEAK_GOAL, met=row["ratio"] >= PEAK_GOAL)
            out.append(row)
        for ref_name, rate in float_rates(name, min_time).items():
            row = dict(name=f"{name}/{best['kernel']}", target="host",
                       metric=f"speedup_vs_{ref_name}", value=ours, reference=rate,
                       ratio=ours / rate)
            if ref_name == "onnxruntime_fp32" and name in ORT_GOAL:
                row.update(goal=ORT_GOAL[name], met=row["ratio"] >= ORT_GOAL[name])
            out.append(row)
    models = ["mlp", "cnn"] if quick else list(MODELS)
    out += model_rows(models, min_time)
    if threads > 1:
        out += thread_rows(c_rows, threads, min_time)
        out += model_rows(models, min_time, threads)
    return out


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v / 1e9:.1f} G" if v >= 1e6 else f"{v:.3g}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="edgebnn bench", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="a few seconds: fewer layers, short timings")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--target", default="host",
                   choices=("host",) + bench_arm.TARGETS,
                   help="host: time the kernels here; an ARM target: count instructions under "
                        "QEMU (edgebnn/bench_arm.py)")
    p.add_argument("--threads", type=flags.positive_int, default=1, metavar="N",
                   help="host: also run every layer and model on N threads, against "
                        "onnxruntime and PyTorch on N threads (default 1: single-thread only)")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "target", "host") != "host":
        return bench_arm.run(args)
    if not 1 <= args.threads <= 64:
        raise UsageError(f"--threads is {args.threads}, expected 1 to 64")
    result = rows(quick=args.quick, threads=args.threads)
    if args.json:
        for r in result:
            print(json.dumps(r))
        return 0
    print(f"{'name':48} {'metric':32} {'value':>10} {'reference':>10} {'ratio':>8}  goal")
    for r in result:
        goal = "" if "goal" not in r else f"{r['goal']:g} {'met' if r['met'] else 'MISSED'}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3f}"
        print(f"{r['name']:48} {r['metric']:32} {_fmt(r['value']):>10} "
              f"{_fmt(r['reference']):>10} {ratio:>8}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
