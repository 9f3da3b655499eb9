"""Where a model runs for evaluation: `torch` (a run folder, eval mode), `native` (a `.ebnn`
file on the host C core), `onnx` (an exported ONNX file on onnxruntime) or `device:PORT` (a
`.ebnn` file on a board over serial). Every backend maps uint8 (N, H, W, C) images to int32
scores, so their outputs can be compared bit for bit."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from edgebnn import data, format as fmt
from edgebnn.errors import UsageError, read_bytes
from edgebnn.runs.provenance import Provenance

Scorer = Callable[[np.ndarray], np.ndarray]

BACKENDS = ("torch", "native", "onnx")
DEVICE = "device:"


def _device_port(backend: str) -> str | None:
    """PORT of a `device:PORT` backend (edgebnn.device.ports parses it), else None."""
    return backend[len(DEVICE):] if backend.startswith(DEVICE) else None


def check_backend(name: str) -> str:
    """argparse type for --backend: one of BACKENDS or `device:PORT` (docs/protocol.md)."""
    if name in BACKENDS or _device_port(name):
        return name
    raise ValueError(f"unknown backend {name!r}, expected {' | '.join(BACKENDS)} | device:PORT")


def torch_scores(model: torch.nn.Module, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out.append(model(data.to_tensor(x[start:start + batch_size])).numpy())
    scores = np.concatenate(out) if out else np.zeros((0, 0), np.float32)
    assert np.array_equal(scores, np.round(scores)), "eval-mode scores must be integers"
    return scores.astype(np.int32)


def open_scorer(backend: str, model_path: Path, threads: int = 1
                ) -> tuple[Scorer, Provenance]:
    """(scorer, provenance) for a model: the provenance rebuilds the data it was trained on.
    threads > 1 splits the C core's layers across threads (native only: the scores are the
    same, only the time changes)."""
    if threads != 1 and backend != "native":
        raise UsageError(f"threads is {threads}: only the native backend runs threads, "
                         f"not {backend!r}")
    if backend == "torch":
        from edgebnn.runs import run_folder
        model, _, config = run_folder.load(model_path)
        return (lambda x: torch_scores(model, x)), Provenance.of_config(config)
    if backend == "native":
        from edgebnn.native import NativeModel
        model_bytes = read_bytes(model_path)
        native = NativeModel(model_bytes, str(model_path), threads=threads)
        return native.infer, Provenance.of_model(fmt.from_bytes(model_bytes, str(model_path)))
    if backend == "onnx":   # an ONNX file from `edgebnn export --onnx`, run by onnxruntime
        from edgebnn.export.onnx import open_scorer as open_onnx
        return open_onnx(model_path)
    port = _device_port(backend)
    if port is not None:   # a .ebnn file run on a board over serial
        from edgebnn.device.scorer import open_scorer as open_device_scorer
        return open_device_scorer(port, model_path)
    raise ValueError(f"unknown backend {backend!r}, expected one of {', '.join(BACKENDS)}")
