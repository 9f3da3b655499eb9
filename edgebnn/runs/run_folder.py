"""A run folder: config.json (how it was trained), model.pt (weights + model spec) and
metrics.json (what it reached). Everything needed to rebuild, evaluate and export the model."""
from __future__ import annotations

import dataclasses
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgebnn.errors import EdgebnnError, replacing, write_json
from edgebnn.models import build_from_spec
from edgebnn.runs.config import TrainConfig

CONFIG, CHECKPOINT, METRICS = "config.json", "model.pt", "metrics.json"


class RunFolderError(EdgebnnError, ValueError):
    pass


def save(folder: Path, config: TrainConfig, spec: dict[str, Any], model: nn.Module,
         metrics: dict[str, Any]) -> None:
    """Writes the three files, each atomically, metrics.json last: its presence marks a
    complete run (train/compare.py resumes on it), so an old one is removed first and a save
    cut short never leaves a new config beside old weights looking complete."""
    save_config(folder, config)
    with replacing(folder / CHECKPOINT) as f:
        torch.save({"spec": spec, "state_dict": model.state_dict()}, f)
    write_json(folder / METRICS, metrics)


def save_config(folder: Path, config: TrainConfig) -> None:
    """config.json alone, at the start of a run: what `--resume` continues from if the run
    stops before `save` (the per-epoch checkpoint beside it holds the rest). An old
    metrics.json goes first, so a new config never sits beside a completion mark."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / METRICS).unlink(missing_ok=True)
    except OSError as e:
        raise RunFolderError(f"cannot write the run folder ({e.strerror or e})",
                             file=folder) from None
    write_json(folder / CONFIG, dataclasses.asdict(config), sort_keys=True)


def check_out(folder: Path, overwrite: bool = False) -> None:
    """Refuses, before any training, a run folder that `save` could not write or that holds
    something already: a file, a non-empty folder (unless `overwrite`), or a place where the
    folder cannot be created. Nothing is created here; the writability of the deepest
    existing folder on the way is probed with a temporary file (which is removed)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise RunFolderError("is a file, expected a run folder to write", file=folder,
                             field="--out")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise RunFolderError("not empty (a run is there); pass --overwrite to replace its "
                             "files, or choose another --out", file=folder, field="--out")
    existing = next(p for p in (folder, *folder.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise RunFolderError(f"cannot create the folder ({existing} is a file)", file=folder,
                             field="--out")
    try:
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as e:
        raise RunFolderError(f"cannot write the run folder ({e.strerror or e})", file=folder,
                             field="--out") from None


def load(folder: Path) -> tuple[nn.Sequential, dict[str, Any], TrainConfig]:
    """(model in eval mode, model spec, config)."""
    folder = Path(folder)
    for name in (CONFIG, CHECKPOINT):
        if not (folder / name).is_file():
            raise RunFolderError(f"{folder}: no {name} (expected a run folder from "
                                 "`edgebnn train --out`)")
    try:
        ckpt = torch.load(folder / CHECKPOINT, map_location="cpu", weights_only=True)
        spec = ckpt["spec"]
        model = build_from_spec(spec)
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, RuntimeError, ValueError, OSError, EOFError, pickle.UnpicklingError) as e:
        raise RunFolderError(f"{folder / CHECKPOINT}: cannot rebuild the model ({e})") from None
    try:
        config = TrainConfig.from_file(folder / CONFIG)
    except (OSError, ValueError) as e:   # unreadable, or not JSON
        raise RunFolderError(f"{folder / CONFIG}: cannot read ({e})") from None
    return model.eval(), spec, config
