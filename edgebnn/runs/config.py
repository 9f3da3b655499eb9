"""Everything that defines a training run; stored as config.json in the run folder."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TrainConfig:
    data: str = "digits"
    model: str = "mlp"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    algo: str = "bp"
    algo_kwargs: dict[str, Any] = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 64
    lr: float | None = None          # None: the algorithm's published default
    weight_decay: float = 1e-5
    seed: int = 0
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    image_size: int | None = None    # folder: data sets are resized to this square
    limit: int | None = None         # use at most this many training samples
    lr_schedule: str = "constant"    # constant | cosine | step, per epoch (train/schedule.py)
    lr_step_size: int | None = None  # step: epochs per decay (None: a third of the run)
    lr_gamma: float = 0.1            # step: the factor of each decay
    early_stop: bool = False         # stop on the validation loss (train/early_stop.py)
    augment: str = "auto"            # auto (cifar10:, folder:) | on | off (train/augment.py)

    @classmethod
    def from_file(cls, path: Path) -> "TrainConfig":
        raw = json.loads(path.read_text())
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})
