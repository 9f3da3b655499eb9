"""The C core's own tests, driven from pytest: the C unit tests and the loader fuzzer (both
built with ASan + UBSan), and the Cortex-M cross build.

Environment:
  EBNN_FUZZ_CASES   cases per fuzz run (default 20000; at least 5000)
  EBNN_FUZZ_CORPUS  a directory of .ebnn files to mutate besides the generated models; by
                    default tests/vectors/ when it holds any .ebnn file
"""

import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native"
BUILD = NATIVE / "build"
ALLOC = {"malloc", "free", "calloc", "realloc"}
FUZZ_CASES = max(5000, int(os.environ.get("EBNN_FUZZ_CASES", "20000")))
SUMMARY = re.compile(
    r"fuzz_loader: seed=(\d+) cases=(\d+) corpus_files=(\d+) corpus_cases=(\d+) ran=(\d+) "
    r"skipped_large=(\d+) time=([\d.]+)s statuses:(.*)"
)


def run(cmd, timeout=300, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture(scope="session")
def built():
    """Builds (and runs once) the sanitized unit tests and the fuzzer."""
    if shutil.which(os.environ.get("CC", "cc")) is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler (cc/gcc) on PATH")
    r = run(["make", "-C", str(NATIVE), "test", "fuzz"], timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def fuzz_corpus():
    env = os.environ.get("EBNN_FUZZ_CORPUS")
    if env:
        return Path(env)
    vectors = ROOT / "tests" / "vectors"
    return vectors if any(vectors.glob("*.ebnn")) else None


def test_unit_tests(built):
    assert "test_native: all passed" in built


def test_unit_tests_random_seed(built):
    seed = random.randrange(1, 2**32)
    print(f"test_native seed {seed}")
    r = run([str(BUILD / "asan" / "test_native"), str(seed)])
    assert r.returncode == 0, f"seed {seed}:\n{r.stdout}{r.stderr}"
    assert "test_native: all passed" in r.stdout


@pytest.mark.parametrize("seed", [1, "random"])
def test_fuzz_loader(built, seed):
    if seed == "random":
        seed = random.randrange(1, 2**32)
    print(f"fuzz_loader seed {seed} cases {FUZZ_CASES}")
    cmd = [str(BUILD / "asan" / "fuzz_loader"), str(seed), str(FUZZ_CASES)]
    corpus = fuzz_corpus()
    if corpus is not None:
        cmd.append(str(corpus))
    r = run(cmd)
    print(r.stdout)
    assert r.returncode == 0, f"seed {seed}:\n{r.stdout}{r.stderr}"
    m = SUMMARY.search(r.stdout)
    assert m, r.stdout
    cases, n_corpus, ran = int(m[2]), int(m[3]), int(m[5])
    counts = {k: int(v) for k, v in re.findall(r"(EBNN_\w+)=(\d+)", m[8])}
    assert cases == FUZZ_CASES and sum(counts.values()) == cases
    assert counts.get("EBNN_OK", 0) > 0 and ran > 0
    # The mutations reach the deep checks, not only the CRCs.
    for status in ("EBNN_ERR_SECTION", "EBNN_ERR_LAYER", "EBNN_ERR_SHAPE", "EBNN_ERR_WEIGHTS"):
        assert counts.get(status, 0) > 0, status
    if corpus is not None:
        assert n_corpus > 0, f"no .ebnn files read from {corpus}"


def test_host_library_builds_with_werror():
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) on PATH")
    r = run(["make", "-B", "-C", str(NATIVE), "lib"])
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("cpu", ["cortex-m4", "cortex-m7", "cortex-m0plus", "cortex-m55"])
def test_cortex_m_build(cpu):
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    r = run(["make", "-B", "-C", str(NATIVE), "lib-cm4", f"CPU={cpu}"])
    assert r.returncode == 0, r.stdout + r.stderr
    archive = BUILD / cpu / "libedgebnn.a"
    nm = run(["arm-none-eabi-nm", "-u", str(archive)])
    assert nm.returncode == 0, nm.stderr
    undefined = {line.split()[-1] for line in nm.stdout.splitlines() if line.strip().startswith("U ")}
    assert not undefined & ALLOC, f"heap use: {sorted(undefined & ALLOC)}"
    # No global mutable state: nothing in .data or .bss.
    size = run(["arm-none-eabi-size", str(archive)])
    for line in size.stdout.splitlines()[1:]:
        text, data, bss = (int(x) for x in line.split()[:3])
        assert data == 0 and bss == 0, line
