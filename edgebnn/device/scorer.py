"""The `device:PORT` evaluation backend: upload a `.ebnn` model to a board (into RAM only: the
model stored in its flash stays) and score the samples there, over the serial link (with
`qemu:BOARD` ports the board lives for one call)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from edgebnn import format as fmt
from edgebnn.errors import read_bytes
from edgebnn.runs.provenance import Provenance


def open_scorer(port: str, model_path: Path, timeout: float = 2.0
                ) -> tuple[Callable[[np.ndarray], np.ndarray], Provenance]:
    """(scorer, provenance) like edgebnn.backends.open_scorer; the scorer opens the port, makes
    the model the active one without touching the board's stored model (a RAM-only load:
    Device.activate), infers in batches and closes the port again."""
    from edgebnn.device.ports import open_device

    data = read_bytes(model_path)
    provenance = Provenance.of_model(fmt.from_bytes(data, str(model_path)))

    def score(x: np.ndarray) -> np.ndarray:
        with open_device(port, timeout=timeout) as dev:
            dev.activate(data, Path(model_path).name)
            return dev.infer(x).scores

    return score, provenance
