"""The per-epoch checkpoint of a run (RUN/checkpoint.pt) and its checks on `--resume`.

It holds everything the next epoch depends on, so a resumed run continues bit-exactly: the
model (a `local` chain's integer hidden weights included), the algorithm's state
(`Algorithm.state_dict`: optimizers, feedback matrices, generators, step counters), the
learning-rate schedulers, the RNG states of torch, numpy and Python and of the runner's own
batch-order and augmentation generators, the epoch, the history, the best weights so far and
the early-stopping counters. Written atomically by rank 0 after every epoch; loaded with
`weights_only=True` (plain tensors and containers only), so a file cannot run code. The
content is stored as bytes beside its SHA-256 (an integrity check against damage, not a
signature), so a flipped byte anywhere is refused rather than resumed with wrong numbers.

A damaged, truncated or foreign file is refused with the file and the field at fault
(`CheckpointError`), before anything is written."""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import pickle
import random
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from edgebnn.errors import EdgebnnError, replacing
from edgebnn.runs.config import TrainConfig

NAME = "checkpoint.pt"
FORMAT, VERSION = "edgebnn-checkpoint", 1


class CheckpointError(EdgebnnError, ValueError):
    pass


def rng_states() -> dict[str, Any]:
    """torch's, numpy's legacy and Python's global generators (the MT19937 key as a tensor:
    weights_only loading takes no numpy arrays)."""
    np_state = np.random.get_state(legacy=False)
    np_state["state"] = {"key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
                         "pos": int(np_state["state"]["pos"])}
    return {"torch": torch.get_rng_state(), "numpy": np_state, "python": random.getstate()}


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    np_state = dict(states["numpy"])
    np_state["state"] = {"key": states["numpy"]["state"]["key"].numpy().astype(np.uint32),
                         "pos": states["numpy"]["state"]["pos"]}
    np.random.set_state(np_state)
    random.setstate(states["python"])


def save(folder: Path, config: TrainConfig, spec: dict[str, Any], **parts: Any) -> None:
    """Writes RUN/checkpoint.pt atomically (the previous one stays until the new one is whole)."""
    payload = {"format": FORMAT, "version": VERSION, "config": dataclasses.asdict(config),
               "spec": spec, "rng": rng_states(), **parts}
    inner = io.BytesIO()
    torch.save(payload, inner)
    body = inner.getvalue()
    with replacing(folder / NAME) as f:
        torch.save({"format": FORMAT, "sha256": hashlib.sha256(body).hexdigest(),
                    "payload": body}, f)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:200]


def _load(path: Path, data: object) -> Any:
    try:
        return torch.load(data, map_location="cpu", weights_only=True)
    except (RuntimeError, ValueError, OSError, EOFError, pickle.UnpicklingError, KeyError,
            TypeError, AttributeError, IndexError) as e:
        raise CheckpointError(f"damaged or truncated ({_first_line(e)})", file=path) from None


def contents(path: Path) -> dict[str, Any]:
    """The checkpoint file's payload after its digest and format checks (CheckpointError)."""
    outer = _load(path, path)
    if not isinstance(outer, dict) or outer.get("format") != FORMAT:
        raise CheckpointError("not an edgebnn checkpoint", file=path, field="format",
                              expected=FORMAT)
    body = outer.get("payload")
    if not isinstance(body, bytes) or hashlib.sha256(body).hexdigest() != outer.get("sha256"):
        raise CheckpointError("damaged: the content does not match its digest", file=path,
                              field="sha256")
    payload = _load(path, io.BytesIO(body))
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError("not an edgebnn checkpoint", file=path, field="format",
                              expected=FORMAT)
    if payload.get("version") != VERSION:
        raise CheckpointError("unsupported version", file=path, field="version",
                              expected=VERSION, found=payload.get("version"))
    return payload


def read(folder: Path, config: TrainConfig, spec: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint of the run in `folder`, checked against the run's config and model spec;
    CheckpointError naming the file and the field otherwise."""
    path = Path(folder) / NAME
    if not path.is_file():
        raise CheckpointError("no checkpoint to resume from (one is written after every "
                              "complete epoch)", file=path)
    payload = contents(path)
    stored = payload.get("config")
    if not isinstance(stored, dict):
        raise CheckpointError("missing", file=path, field="config")
    for key, value in dataclasses.asdict(config).items():
        if stored.get(key) != value:
            raise CheckpointError("another run's checkpoint", file=path, field=f"config.{key}",
                                  expected=repr(value), found=repr(stored.get(key)))
    if payload.get("spec") != spec:
        raise CheckpointError("another model's checkpoint", file=path, field="spec")
    epoch = payload.get("epoch")
    if not isinstance(epoch, int) or not 1 <= epoch <= config.epochs:
        raise CheckpointError("out of range", file=path, field="epoch",
                              expected=f"1..{config.epochs}", found=repr(epoch))
    return payload


@contextlib.contextmanager
def restoring(folder: Path, field: str) -> Iterator[None]:
    """Turns a failure to apply one part of a checkpoint into CheckpointError naming it."""
    try:
        yield
    except (KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError) as e:
        raise CheckpointError(f"does not fit this run ({_first_line(e)})",
                              file=Path(folder) / NAME, field=field) from None
