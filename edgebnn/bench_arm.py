"""ARM benchmark: `edgebnn bench --target aarch64|armv7|cortex-m0|cortex-m4|cortex-m7|cortex-m33|cortex-m55`.

Counts executed instructions, not time: QEMU's timing says nothing about a real core, but its
instruction counts are exact and repeatable, and instructions per binary MAC is what the
kernels are designed against (issue 6 targets: AArch64 inner loops <= 0.025, Cortex-M4 <= 0.25,
Cortex-M55 <= 0.1). It builds tools/bench_arm/bench_arm.c for the target (make -C native) and
runs it under QEMU:
- aarch64 / armv7 (Linux user mode): with the TCG plugin tools/qemu_plugin/insn_count.c, which
  needs the qemu-plugin.h of the installed QEMU (tools/qemu_plugin/fetch_header.sh fetches it
  from Debian's qemu source package, once);
- Cortex-M (bare metal on the MPS boards of firmware/boards.mk): with -icount, where the image's
  SysTick counts instructions.
Every count is printed beside the scalar reference's count for the same layer in the same run.
Never used for timed assertions; the counts themselves are deterministic (tests check that)."""
from __future__ import annotations

import re
import sys
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from edgebnn.errors import read_bytes, write_bytes

ROOT = Path(__file__).resolve().parents[1]
NATIVE = ROOT / "native"
PLUGIN_DIR = ROOT / "tools" / "qemu_plugin"
PLUGIN = PLUGIN_DIR / "build" / "libinsn_count.so"
PLUGIN_HEADER = PLUGIN_DIR / "build" / "include" / "qemu-plugin.h"

# Goals in instructions per binary MAC, on the best kernel of a layer (a target or layer
# without one is reported without): the inner loops' (issue 6) on every XOR-popcount layer, the
# whole layer's (issue 6 for the large layers, issue 15 for the small Cortex-M layers and the
# AArch64/ARMv7 convolutions, BIN in -> BIN out).
# The Cortex-M33 (ARMv8-M Mainline + DSP) runs the M4's SWAR/DSP path, so it has the M4's goals.
LOOP_GOALS = {"aarch64": 0.025, "cortex-m4": 0.25, "cortex-m7": 0.25, "cortex-m33": 0.25,
              "cortex-m55": 0.1}
_LARGE = ("dense_1024x1024_b1", "conv3x3_128to128_28x28", "resnet18_conv3x3_256_14x14")
_SMALL = ("dense_784x256_b1", "dense_256x256_b1", "conv3x3_32to32_16x16")
_CONV_A64 = {"conv3x3_128to128_28x28": 0.028, "resnet18_conv3x3_64_56x56": 0.034}
LAYER_GOALS = {
    "aarch64": _CONV_A64,
    "armv7": {k: 1.25 * v for k, v in _CONV_A64.items()},  # <= 1.25x the AArch64 goal
    "cortex-m4": dict.fromkeys(_LARGE + _SMALL, 0.25),
    "cortex-m7": dict.fromkeys(_LARGE + _SMALL, 0.25),
    "cortex-m33": dict.fromkeys(_LARGE + _SMALL, 0.25),
    "cortex-m55": {**dict.fromkeys(_LARGE, 0.1), **dict.fromkeys(_SMALL, 0.06)},
}
# Layers the loop goals are not about: a depthwise conv's binary MAC is a 1-bit add, no
# popcount; the 1x1 8-channel layer measures the per-call fixed cost, not a rate.
NO_GOAL = ("depthwise", "fixed_")
# Issue 15's per-call fixed cost goal: half the instructions of one call of the 1x1 8-channel
# layer when the issue was filed (564 aarch64, 775 armv7, 716 Cortex-M4, 643 Cortex-M55; the
# M7 and M33 run the M4's row), on the layer row as a rate like the others (per binary MAC).
FIXED = "fixed_1x1_8to8"
FIXED_GOALS = {"aarch64": 282, "armv7": 387, "cortex-m4": 358, "cortex-m7": 358,
               "cortex-m33": 358, "cortex-m55": 321}
ICOUNT_SHIFT = 7  # 2^7 ns per instruction: >= 3.2 SysTick ticks each, exact once rounded


@dataclass(frozen=True)
class Target:
    """How one target is built and run."""
    name: str
    make_target: str            # relative to native/
    command: tuple[str, ...]    # the emulator, before the program
    cpu: Optional[str] = None   # Cortex-M: -mcpu (make CPU=)
    clock: int = 0              # Cortex-M: core clock (SysTick rate), Hz
    board: Optional[str] = None  # Cortex-M: the firmware's board (firmware/boards.mk)


# Where a CPU's benchmark image runs when its board cannot hold it: (QEMU machine, its SysTick
# clock in Hz). The Cortex-M0's board (microbit) has 16 KiB of RAM and the benchmark needs
# megabytes; the MPS2 AN385's Cortex-M3 executes the ARMv6-M build's Thumb-1 code unchanged,
# so the instruction counts are the M0's.
BENCH_MACHINES = {"cortex-m0": ("mps2-an385", 25_000_000)}


def _cortex_m(name: str) -> Target:
    from edgebnn.device.qemu import emulated_boards
    boards = [b for b in emulated_boards().values() if b.cpu == name]
    if not boards:
        raise ValueError(f"firmware/boards.mk has no board with cpu := {name}")
    b = boards[0]
    machine, clock = BENCH_MACHINES.get(name, (b.qemu, b.clock))
    return Target(name, f"build/arch/{name}/bench_arm.elf",
                  ("qemu-system-arm", "-M", machine, "-nographic", "-monitor", "none",
                   "-semihosting-config", "enable=on,target=native",
                   "-icount", f"shift={ICOUNT_SHIFT},align=off,sleep=off", "-kernel"),
                  cpu=name, clock=clock, board=b.name)


def target(name: str) -> Target:
    """The Target called name (aarch64 runs with -cpu max: every extension QEMU has)."""
    if name == "aarch64":
        return Target(name, "build/arch/aarch64/bench_arm", ("qemu-aarch64", "-cpu", "max"))
    if name == "aarch64-baseline":
        return Target(name, "build/arch/aarch64/bench_arm", ("qemu-aarch64", "-cpu", "cortex-a53"))
    if name == "armv7":
        return Target(name, "build/arch/armv7/bench_arm", ("qemu-arm", "-cpu", "cortex-a15"))
    if name.startswith("cortex-m"):
        return _cortex_m(name)
    raise ValueError(f"unknown ARM target {name!r} (expected aarch64, aarch64-baseline, armv7, "
                     "cortex-m0, cortex-m4, cortex-m7, cortex-m33 or cortex-m55)")


TARGETS = ("aarch64", "aarch64-baseline", "armv7", "cortex-m0", "cortex-m4", "cortex-m7",
           "cortex-m33", "cortex-m55")


MODEL_DIR = NATIVE / "build" / "arch" / "bench_models"
VECTORS = ROOT / "tests" / "vectors"
# Reference models: the committed test vectors, and MNIST-shaped (28x28x1, 10 classes) models of
# the default architectures with random weights (instruction counts do not depend on the
# weights' values), as (name, builder name, builder arguments).
GENERATED = (("mnist_mlp", "mlp", {}), ("mnist_cnn", "cnn", {}))


def reference_models() -> list[tuple[str, Path]]:
    """(name, .ebnn path) of every reference model; the generated ones are written once."""
    models = [(p.stem, p) for p in sorted(VECTORS.glob("*.ebnn"))]
    for name, builder, kwargs in GENERATED:
        path = MODEL_DIR / f"{name}.ebnn"
        if not path.exists():
            import torch

            from edgebnn import format as fmt
            from edgebnn.export.ebnn import export_model
            from edgebnn.models import build_model
            torch.manual_seed(0)
            model = build_model(builder, (28, 28, 1), 10, **kwargs).eval()
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(path, fmt.to_bytes(export_model(model, (28, 28, 1), 10)))
        models.append((name, path))
    return models


def _stage_models(models: list[tuple[str, Path]]) -> Path:
    """The working directory the benchmark program runs in: the models as model<i>.ebnn."""
    if len(models) > 10:
        raise ValueError("the benchmark program reads at most 10 models (model0..model9.ebnn)")
    stage = MODEL_DIR / "stage"
    stage.mkdir(parents=True, exist_ok=True)
    for old in stage.glob("model*.ebnn"):
        old.unlink()
    for i, (_, path) in enumerate(models):
        write_bytes(stage / f"model{i}.ebnn", read_bytes(path))
    return stage


def _run(cmd: list[str], timeout: float, what: str, cwd: Optional[Path] = None
         ) -> subprocess.CompletedProcess:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{what} did not finish within {timeout:.0f} s: {' '.join(cmd)}") from None
    if r.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {r.returncode}): {' '.join(cmd)}\n"
                           f"{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return r


def build(t: Target) -> Path:
    """The benchmark program for t, built if out of date."""
    args = ["make", "-s", "-C", str(NATIVE), t.make_target] + ([f"CPU={t.cpu}"] if t.cpu else [])
    _run(args, 600, f"building the {t.name} benchmark")
    return NATIVE / t.make_target


def plugin() -> Path:
    """The instruction-counting plugin, built if out of date; a clear error when the QEMU header
    it needs has not been fetched."""
    if not PLUGIN_HEADER.exists():
        raise RuntimeError(f"{PLUGIN_HEADER.relative_to(ROOT)} is missing: run "
                           "tools/qemu_plugin/fetch_header.sh once (fetches qemu-plugin.h of the "
                           "installed QEMU from Debian's qemu source package; needs network)")
    _run(["make", "-s", "-C", str(PLUGIN_DIR)], 120, "building the QEMU plugin")
    return PLUGIN


def _mark_address(program: Path, nm: str) -> str:
    r = _run([nm, str(program)], 60, "reading the benchmark's symbols")
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "bench_mark":
            return "0x" + parts[0]
    raise RuntimeError(f"{program}: no bench_mark symbol")


_REGION = re.compile(r"^region (\S+) (\S+) (\S+) (\d+)(?: (\d+))?$")


_MODEL = re.compile(r"^model (\d+) (?:bytes (\d+) arena (\d+)|error (\S+))$", re.M)


def count(t: Target, models: list[tuple[str, Path]], timeout: float = 600) -> list[dict]:
    """Instructions of every region the benchmark program reports on target t, the cost of the
    marks themselves (the "empty" region) subtracted, and from the inner loops that of their
    call (a no-op's: "call", "call2"), so a loop figure is the kernel's own instructions: dicts
    kind (layer, loop, xorpop, model), name, kernel, macs, instructions; models also bytes and arena
    (their RAM)."""
    for tool in (t.command[0],):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (tools/setup.sh installs it)")
    program = build(t)
    stage = _stage_models(models)
    if t.cpu is None:
        nm = "aarch64-linux-gnu-nm" if "aarch64" in t.name else "arm-linux-gnueabihf-nm"
        mark = _mark_address(program, nm)
        cmd = [*t.command, "-plugin", f"{plugin()},mark={mark}", "-d", "plugin", str(program)]
        r = _run(cmd, timeout, f"the {t.name} benchmark", cwd=stage)
        marks = [int(m) for m in re.findall(r"^insn_count mark (\d+)$", r.stderr, re.M)]
        regions = [_REGION.match(line) for line in r.stdout.splitlines()]
        regions = [m for m in regions if m]
        if len(marks) != 2 * len(regions):
            raise RuntimeError(f"{t.name}: {len(marks)} marks for {len(regions)} regions\n"
                               f"{r.stdout[-2000:]}{r.stderr[-2000:]}")
        counts = [marks[2 * i + 1] - marks[2 * i] for i in range(len(regions))]
    else:
        r = _run([*t.command, str(program)], timeout, f"the {t.name} benchmark", cwd=stage)
        r.stdout += r.stderr  # semihosting writes to QEMU's stderr
        regions = [m for m in (_REGION.match(line) for line in r.stdout.splitlines()) if m]
        if not regions or any(m[5] is None for m in regions):
            raise RuntimeError(f"{t.name}: no tick counts in the output\n{r.stdout[-2000:]}")
        per_insn = t.clock * (2 ** ICOUNT_SHIFT) * 1e-9  # SysTick ticks per instruction
        counts = [round(int(m[5]) / per_insn) for m in regions]
    if not regions or regions[0][1] != "empty" or "bench_arm: done" not in r.stdout:
        raise RuntimeError(f"{t.name}: the benchmark did not run to the end\n{r.stdout[-2000:]}")
    info = {}
    for m in _MODEL.finditer(r.stdout):
        i = int(m[1])
        if m[4]:
            raise RuntimeError(f"{t.name}: reference model {models[i][0]} ({models[i][1]}) "
                               f"did not load: {m[4]}")
        info[f"model{i}.ebnn"] = dict(name=models[i][0], bytes=int(m[2]), arena=int(m[3]))
    empty = counts[0]
    # the inner-loop regions without the instructions of the call itself (a no-op's call)
    calls = {m[1]: c for m, c in zip(regions, counts) if m[1] in ("call", "call2")}
    if set(calls) != {"call", "call2"}:
        raise RuntimeError(f"{t.name}: the benchmark did not report its call regions")
    out = []
    for m, c in zip(regions[1:], counts[1:]):
        kind = m[1]
        if kind in calls:
            continue
        if kind in ("loop", "loop2", "xorpop", "xorpop2"):
            call = "call2" if kind.endswith("2") else "call"
            c, kind = c - calls[call] + empty, kind.rstrip("2")
        row = dict(kind=kind, name=m[2], kernel=m[3], macs=int(m[4]), instructions=c - empty)
        if m[1] == "model":
            if m[3] != "ok":
                raise RuntimeError(f"{t.name}: inference of {info[m[2]]['name']} failed: {m[3]}")
            row.update(info[m[2]])
        out.append(row)
    if len(info) != len(models):
        raise RuntimeError(f"{t.name}: {len(info)} of {len(models)} models ran (the image's "
                           f"buffers may be too small)\n{r.stdout[-2000:]}")
    return out


_SIZE = re.compile(r"^\[size\] (\S+) (flash|RAM): +(\d+) / (\d+) B", re.M)


def firmware_rows(t: Target) -> list[dict]:
    """Flash and RAM of the firmware (the protocol server, firmware/) for t's board against the
    budget of the part it models, as firmware/scripts/size-report.sh reports them."""
    from edgebnn.device.ports import ensure_firmware
    elf = ensure_firmware(t.board)
    r = _run(["sh", str(ROOT / "firmware" / "scripts" / "size-report.sh"), str(elf), t.board],
             60, "the firmware size report")
    out = []
    for m in _SIZE.finditer(r.stdout):
        used, budget = int(m[3]), int(m[4])
        out.append(dict(name=f"firmware/{t.board}", target=t.name,
                        metric=f"firmware_{m[2].lower()}_bytes", value=used, reference=budget,
                        ratio=used / budget))
    if len(out) != 2:
        raise RuntimeError(f"unexpected size report for {elf}:\n{r.stdout}")
    return out


# "xorpop": the row primitive alone on a layer that the row's own path (conv_bin) runs instead
# of the driver, so it is neither that layer's loop nor a share of it (no loop_share, no goal).
METRICS = {"layer": "instructions_per_binary_mac", "loop": "loop_instructions_per_binary_mac",
           "xorpop": "xorpop_instructions_per_binary_mac"}


def rows(name: str, models: Optional[list[tuple[str, Path]]] = None) -> list[dict]:
    """The issue-6 rows for target name: instructions per binary MAC of every kernel, for the
    whole layer and for its inner loops alone, beside the scalar reference kernel's figure for
    the same layer from the same run (ratio < 1: fewer instructions than ref), goal/met on the
    best kernel of each; then per reference model the instructions of one inference, with its
    size (flash) and arena (RAM); on Cortex-M the firmware's flash and RAM against the part's
    budget."""
    models = reference_models() if models is None else models
    regions = count(target(name), models)
    ref = {r["name"]: r["instructions"] / r["macs"] for r in regions
           if r["kernel"] == "ref" and r["kind"] == "layer"}
    base = name.replace("-baseline", "")
    loop_goal, layer_goals = LOOP_GOALS.get(base), LAYER_GOALS.get(base, {})
    out: list[dict] = []
    best: dict[tuple, dict] = {}
    for r in regions:
        if r["kind"] == "model":
            continue
        per_mac = r["instructions"] / r["macs"]
        reference = ref.get(r["name"])
        row = dict(name=f"{r['name']}/{r['kernel']}", target=name, metric=METRICS[r["kind"]],
                   value=per_mac, reference=reference,
                   ratio=per_mac / reference if reference else None,
                   instructions=r["instructions"], binary_macs=r["macs"])
        out.append(row)
        key = (r["kind"], r["name"])
        if r["kernel"] != "ref" and (key not in best or per_mac < best[key]["value"]):
            best[key] = row
    # the inner loops' share of each layer: the loop's rate over the layer's binary MACs
    loops = {r["name"]: r["value"] for r in out if r["metric"] == METRICS["loop"]}
    for row in out:
        if row["metric"] == METRICS["layer"] and row["name"] in loops:
            row["loop_share"] = loops[row["name"]] / row["value"]
    for (kind, layer), row in best.items():
        goal = layer_goals.get(layer) if kind == "layer" else loop_goal if kind == "loop" else None
        # a loop goal is about the best kernel's own loop: none where that kernel's path has no
        # loop row ("xorpop") and another kernel's loop would stand in for it
        layer_best = best.get(("layer", layer))
        if kind == "loop" and layer_best and layer_best["name"] != row["name"]:
            goal = None
        if kind == "layer" and layer == FIXED and base in FIXED_GOALS:
            row.update(goal=FIXED_GOALS[base] / row["binary_macs"],
                       met=row["instructions"] <= FIXED_GOALS[base])
        elif goal is not None and not layer.startswith(NO_GOAL):
            row.update(goal=goal, met=row["value"] <= goal)
    for r in regions:
        if r["kind"] == "model":
            out.append(dict(name=f"model/{r['name']}", target=name,
                            metric="instructions_per_inference", value=r["instructions"],
                            reference=None, ratio=None))
            out.append(dict(name=f"model/{r['name']}", target=name, metric="model_bytes",
                            value=r["bytes"], reference=None, ratio=None))
            out.append(dict(name=f"model/{r['name']}", target=name, metric="arena_bytes",
                            value=r["arena"], reference=None, ratio=None))
    t = target(name)
    if t.board is not None:
        out += firmware_rows(t)
    return out


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return str(v)
    return f"{v:.4g}"


def run(args) -> int:
    """`edgebnn bench --target T` for an ARM target: the table, or one JSON object per line."""
    import json
    try:
        result = rows(args.target)
    except (RuntimeError, ValueError) as e:
        print(f"edgebnn bench --target {args.target}: {e}", file=sys.stderr)
        return 2
    if args.json:
        for r in result:
            print(json.dumps(r))
        return 0
    print(f"# {args.target}: instructions counted under QEMU "
          f"({'TCG plugin' if target(args.target).cpu is None else f'-icount shift={ICOUNT_SHIFT}'})")
    print(f"{'name':40} {'metric':34} {'value':>10} {'reference':>10} {'ratio':>7}  goal")
    for r in result:
        goal = ""
        if "goal" in r:
            miss = r["value"] / r["goal"] - 1.0
            goal = f"{r['goal']:g} " + ("met" if r["met"] else f"MISSED by {100 * miss:.0f}%")
        print(f"{r['name']:40} {r['metric']:34} {_fmt(r['value']):>10} "
              f"{_fmt(r['reference']):>10} {_fmt(r['ratio']):>7}  {goal}")
    return 0
