"""The host options of the C core (ebnn_infer_with): the load-time weight repack and N worker
threads must give exactly the scores of one thread repacking on the fly, on the reference
models (random weights, and the committed test vectors), whatever the thread count; bad
options are refused with a clear error."""
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from edgebnn import format as fmt
from edgebnn.bench import MODELS
from edgebnn.export import export_model
from edgebnn.models import build_model
from edgebnn.native import NativeModel

VECTORS = Path(__file__).resolve().parent / "vectors"
NATIVE = Path(__file__).resolve().parent.parent / "native"


def _scores_by_options(data: bytes, images: np.ndarray) -> dict[tuple[int, bool], np.ndarray]:
    out = {}
    for threads in (1, 2, 3, 4, 7):
        for pack in (False, True):  # every thread however small the model (work_per_thread 1)
            out[threads, pack] = NativeModel(data, threads=threads, pack=pack,
                                             work_per_thread=1).infer(images)
    out[0, True] = NativeModel(data, threads=4).infer(images)  # the default work per thread
    return out


def _check_identical(data: bytes, shape: tuple[int, int, int]) -> None:
    images = np.random.default_rng(1).integers(0, 256, (3, *shape), dtype=np.uint8)
    runs = _scores_by_options(data, images)
    want = runs[1, False]
    for (threads, pack), got in runs.items():
        assert np.array_equal(got, want), f"{threads} threads, pack={pack}"


def _random_batch_norms(model: torch.nn.Module) -> torch.nn.Module:
    """Random batch-norm statistics, so that the exported thresholds vary and about half the
    channels are flipped (negative scale): a part that reads another part's thresholds or
    flip bits then changes the scores."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.weight.normal_(), m.bias.normal_(), m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
    return model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_reference_models_identical_on_any_thread_count(name):
    builder, shape = MODELS[name]
    torch.manual_seed(0)
    model = _random_batch_norms(build_model(builder, shape, 10)).eval()
    data = fmt.to_bytes(export_model(model, shape, 10))
    _check_identical(data, shape)


@pytest.mark.parametrize("vector", ["tiny_mlp", "tiny_cnn", "tiny_resnet"])
def test_committed_vectors_identical_on_any_thread_count(vector):
    data = (VECTORS / f"{vector}.ebnn").read_bytes()
    _check_identical(data, NativeModel(data).input_shape)


def test_bad_thread_counts_are_refused():
    data = (VECTORS / "tiny_mlp.ebnn").read_bytes()
    for n in (0, 65):
        with pytest.raises(ValueError, match=f"threads is {n}, expected 1 to 64"):
            NativeModel(data, threads=n)


def test_c_tests_race_free_under_thread_sanitizer():
    """test_native (300 random models on 1-5 threads, tests/native/test_engine.c) under TSan:
    no data race between the chunks, the barrier and the start gate."""
    if shutil.which("cc") is None:
        pytest.skip("cc not installed")
    r = subprocess.run(["make", "-s", "-C", str(NATIVE), "build/tsan/test_native"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([str(NATIVE / "build" / "tsan" / "test_native")], capture_output=True,
                       text=True, timeout=300)
    out = r.stdout + r.stderr
    if "FATAL: ThreadSanitizer" in out:  # e.g. a kernel whose address layout TSan refuses
        pytest.skip(out.splitlines()[0])
    assert r.returncode == 0 and "ThreadSanitizer" not in out and "all passed" in out, out
