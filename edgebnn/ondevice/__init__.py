"""The training rules a device runs, one module each (`local`, `drtp`), in integers only so
that a Cortex-M without an FPU trains exactly as the host does. Each module holds the rule's
NumPy reference (the C core in native/src/train/ must match it bit for bit), the codec of the
training section that carries its state in a `.ebnn` file (`TAG`, `encode`, `decode`, `read`;
`section` is their shared layout) and its `epoch_schedule`: the parameters the host sets on
the device between epochs (`edgebnn/device/training.py` drives both)."""
from __future__ import annotations

from typing import Callable, Optional

#: per-epoch parameters from the epoch's training accuracy (None: nothing to set)
Schedule = Callable[[float], Optional[list[int]]]
