"""C header export and the embedding example (docs/embedding.md): the header compiles as C99 and
C++11 with warnings as errors; examples/embed/main.c, built against it for the host and for
Cortex-M4 (run under QEMU mps2-an386), prints the C core's scores for the trained MLP and CNN on
test and random images; a damaged .ebnn gives one clear line instead of a header."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgebnn.cli import main
from edgebnn.export import header
from edgebnn.native import NativeModel
from tests.conftest import random_images

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "embed"
ARM_TOOLS = ("make", "arm-none-eabi-gcc", "qemu-system-arm")
LINE = re.compile(r"sample (\d+) scores ((?:-?\d+ ?)+) class (\d+) \"(.*)\"")


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


@pytest.fixture(scope="module")
def embedded(trained_runs, digits, tmp_path_factory) -> dict[str, tuple[Path, np.ndarray]]:
    """{kind: (folder with model.h and samples.h, the C core's scores for those samples)}."""
    out = {}
    for kind, run in trained_runs.items():
        d = tmp_path_factory.mktemp(f"embed_{kind}")
        assert main(["export", str(run), "-o", str(d / "model.ebnn"),
                     "--header", str(d / "model.h")]) == 0
        images = np.concatenate([digits.test.x[:24], random_images((8, 8, 1), 8, seed=9)])
        (d / "samples.h").write_text(header.samples_text(images))
        out[kind] = (d, NativeModel.from_file(d / "model.ebnn").infer(images))
    return out


def _parse(stdout: str, n_classes: int) -> np.ndarray:
    rows = [LINE.fullmatch(line.strip()) for line in stdout.splitlines() if line.strip()]
    assert rows and all(rows), f"unexpected output:\n{stdout}"
    scores = np.array([[int(v) for v in m[2].split()] for m in rows], dtype=np.int32)
    assert scores.shape[1] == n_classes and [int(m[1]) for m in rows] == list(range(len(rows)))
    assert [int(m[3]) for m in rows] == list(scores.argmax(1))
    return scores


def _make(target: str, folder: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "-C", str(EXAMPLE), target, f"MODEL_DIR={folder}",
                           f"BUILD={folder / 'build'}", "QEMU_TIMEOUT=30"],
                          capture_output=True, text=True, timeout=timeout)


def test_macros_describe_the_model(embedded):
    folder, _ = embedded["cnn"]
    text = (folder / "model.h").read_text()
    data = (folder / "model.ebnn").read_bytes()
    native = NativeModel(data)
    macros = dict(re.findall(r"#define MODEL_(\w+) (\d+)u", text))
    h, w, c = native.input_shape
    assert {k: int(v) for k, v in macros.items()} == {
        "SIZE": len(data), "INPUT_H": h, "INPUT_W": w, "INPUT_C": c, "INPUT_SIZE": h * w * c,
        "N_CLASSES": native.n_classes, "ARENA_SIZE": native.arena_size}
    assert '#define MODEL_CLASS_NAMES {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}' in text
    array = re.search(r"model_data\[MODEL_SIZE\] = \{(.*?)\};", text, re.S)[1]
    assert bytes(int(v, 16) for v in array.replace(",", " ").split()) == data


@pytest.mark.parametrize("compiler, flags", [
    ("gcc", ["-x", "c", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]),
    ("gcc", ["-x", "c", "-std=c11", "-Wall", "-Wextra", "-Werror"]),
    ("g++", ["-x", "c++", "-std=c++11", "-Wall", "-Wextra", "-Werror"]),
])
def test_header_compiles_alone_and_twice(embedded, tmp_path, compiler, flags):
    """Self-contained, include-guarded, aligned, and silent when a file does not use it; the C
    core's public header beside it compiles in the same languages."""
    _need(compiler)
    folder, _ = embedded["mlp"]
    src = tmp_path / "use.c"
    src.write_text('#include "model.h"\n#include "model.h"\n#include "edgebnn.h"\n'
                   "int main(void) { return (int)((unsigned long)model_data % 16u)"
                   " + (MODEL_SIZE % 16u != 0u); }\n")
    unused = tmp_path / "unused.c"
    unused.write_text('#include "model.h"\nint unused_tu(void);\n'
                      "int unused_tu(void) { return 0; }\n")
    includes = [f"-I{folder}", f"-I{ROOT / 'native' / 'include'}"]
    r = subprocess.run([compiler, *flags, *includes, str(src), str(unused), "-o",
                        str(tmp_path / "a.out")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert subprocess.run([str(tmp_path / "a.out")], timeout=10).returncode == 0


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_example_on_host_matches_c_core(embedded, kind):
    _need("make", "cc")
    folder, expected = embedded[kind]
    r = _make("run-host", folder)
    assert r.returncode == 0, r.stdout + r.stderr
    assert np.array_equal(_parse(r.stdout, expected.shape[1]), expected)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_example_on_cortex_m4_under_qemu_matches_c_core(embedded, kind):
    _need(*ARM_TOOLS)
    folder, expected = embedded[kind]
    r = _make("run-cm4", folder)
    assert r.returncode == 0, r.stdout + r.stderr
    assert np.array_equal(_parse(r.stdout, expected.shape[1]), expected)


def test_docs_show_the_example_verbatim():
    doc = (ROOT / "docs" / "embedding.md").read_text()
    assert (EXAMPLE / "main.c").read_text().strip() in doc


def test_names_and_strings_are_sanitized():
    assert header.c_identifier("MNIST-cnn v2") == "mnist_cnn_v2"
    assert header.c_identifier("2nd model") == "m_2nd_model"
    assert header.c_identifier("--") == "model"
    assert header.c_string('a"b\\c\nä?') == '"a\\"b\\\\c\\012\\303\\244?"'


def test_corrupt_ebnn_gives_one_clear_line(embedded, tmp_path, capsys):
    folder, _ = embedded["mlp"]
    data = bytearray((folder / "model.ebnn").read_bytes())
    data[200] ^= 0xFF                                  # inside LAYR: its CRC no longer matches
    cases = {"flipped.ebnn": bytes(data), "short.ebnn": bytes(data[:100]),
             "text.ebnn": b"hello\n"}
    for name, content in cases.items():
        bad = tmp_path / name
        bad.write_bytes(content)
        out = tmp_path / f"{name}.h"
        assert main(["export", str(bad), "--header", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(bad) in err and "Traceback" not in err
        assert not out.exists()
