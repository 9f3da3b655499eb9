"""ARM benchmark: `edgebnn bench --target aarch64|armv7|cortex-m4|cortex-m7|cortex-m55`.

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
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
NATIVE = ROOT / "native"
PLUGIN_DIR = ROOT / "tools" / "qemu_plugin"
PLUGIN = PLUGIN_DIR / "build" / "libinsn_count.so"
PLUGIN_HEADER = PLUGIN_DIR / "build" / "include" / "qemu-plugin.h"

# Issue 6 goals in instructions per binary MAC (a target without one is reported without).
GOALS = {"aarch64": 0.025, "cortex-m4": 0.25, "cortex-m7": 0.25, "cortex-m55": 0.1}
ICOUNT_SHIFT = 7  # 2^7 ns per instruction: >= 3.2 SysTick ticks each, exact once rounded


@dataclass(frozen=True)
class Target:
    """How one target is built and run."""
    name: str
    make_target: str            # relative to native/
    command: tuple[str, ...]    # the emulator, before the program
    cpu: Optional[str] = None   # Cortex-M: -mcpu (make CPU=)
    clock: int = 0              # Cortex-M: core clock (SysTick rate), Hz


def _cortex_m(name: str) -> Target:
    from edgebnn.device.qemu import load_boards
    boards = [b for b in load_boards().values() if b.cpu == name]
    if not boards:
        raise ValueError(f"firmware/boards.mk has no board with cpu := {name}")
    b = boards[0]
    return Target(name, f"build/arch/{name}/bench_arm.elf",
                  ("qemu-system-arm", "-M", b.qemu, "-nographic", "-monitor", "none",
                   "-semihosting-config", "enable=on,target=native",
                   "-icount", f"shift={ICOUNT_SHIFT},align=off,sleep=off", "-kernel"),
                  cpu=name, clock=b.clock)


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
                     "cortex-m4, cortex-m7 or cortex-m55)")


TARGETS = ("aarch64", "aarch64-baseline", "armv7", "cortex-m4", "cortex-m7", "cortex-m55")


def _run(cmd: list[str], timeout: float, what: str) -> subprocess.CompletedProcess:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
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


def count(t: Target, timeout: float = 600) -> list[dict]:
    """Instructions of every region the benchmark program reports on target t, the cost of the
    marks themselves (the "empty" region) subtracted: dicts kind (layer, loop), name, kernel,
    macs, instructions."""
    for tool in (t.command[0],):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (tools/setup.sh installs it)")
    program = build(t)
    if t.cpu is None:
        nm = "aarch64-linux-gnu-nm" if "aarch64" in t.name else "arm-linux-gnueabihf-nm"
        mark = _mark_address(program, nm)
        cmd = [*t.command, "-plugin", f"{plugin()},mark={mark}", "-d", "plugin", str(program)]
        r = _run(cmd, timeout, f"the {t.name} benchmark")
        marks = [int(m) for m in re.findall(r"^insn_count mark (\d+)$", r.stderr, re.M)]
        regions = [_REGION.match(line) for line in r.stdout.splitlines()]
        regions = [m for m in regions if m]
        if len(marks) != 2 * len(regions):
            raise RuntimeError(f"{t.name}: {len(marks)} marks for {len(regions)} regions\n"
                               f"{r.stdout[-2000:]}{r.stderr[-2000:]}")
        counts = [marks[2 * i + 1] - marks[2 * i] for i in range(len(regions))]
    else:
        r = _run([*t.command, str(program)], timeout, f"the {t.name} benchmark")
        r.stdout += r.stderr  # semihosting writes to QEMU's stderr
        regions = [m for m in (_REGION.match(line) for line in r.stdout.splitlines()) if m]
        if not regions or any(m[5] is None for m in regions):
            raise RuntimeError(f"{t.name}: no tick counts in the output\n{r.stdout[-2000:]}")
        per_insn = t.clock * (2 ** ICOUNT_SHIFT) * 1e-9  # SysTick ticks per instruction
        counts = [round(int(m[5]) / per_insn) for m in regions]
    if not regions or regions[0][1] != "empty" or "bench_arm: done" not in r.stdout:
        raise RuntimeError(f"{t.name}: the benchmark did not run to the end\n{r.stdout[-2000:]}")
    empty = counts[0]
    return [dict(kind=m[1], name=m[2], kernel=m[3], macs=int(m[4]), instructions=c - empty)
            for m, c in zip(regions[1:], counts[1:])]


METRICS = {"layer": "instructions_per_binary_mac", "loop": "loop_instructions_per_binary_mac"}


def rows(name: str) -> list[dict]:
    """The issue-6 rows for target name: instructions per binary MAC of every kernel, for the
    whole layer and for its inner loops alone, beside the scalar reference kernel's figure for
    the same layer from the same run (ratio < 1: fewer instructions than ref); goal/met on the
    best kernel of each."""
    regions = count(target(name))
    ref = {r["name"]: r["instructions"] / r["macs"] for r in regions if r["kernel"] == "ref"}
    goal = GOALS.get(name.replace("-baseline", ""))
    out: list[dict] = []
    best: dict[tuple, dict] = {}
    for r in regions:
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
    if goal is not None:
        for row in best.values():
            row.update(goal=goal, met=row["value"] <= goal)
    return out
