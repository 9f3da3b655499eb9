"""Checks of the size arguments the builders take, so a bad `--width` or `--layers` is one clear
error naming the argument and the expected value instead of a failure deep inside torch."""
from __future__ import annotations

from typing import Any

from edgebnn.errors import UsageError


def positive_int(value: Any, name: str, model: str) -> int:
    """A channel count, block count or patch size: a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name}: {model} takes a positive integer, got {value!r}")
    return value


def positive_number(value: Any, name: str, model: str) -> float:
    """A multiplier: a positive int or float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise UsageError(f"{name}: {model} takes a positive number, got {value!r}")
    return float(value)


#: the smallest map a stride or pool may produce: the last map of VGG-19 and MobileNetV2 at
#: 224 px (224 / 2^5), so their stride schedules scale with the input
SMALLEST_MAP = 7


def keeps_map(h: int, w: int, stride: int) -> bool:
    """Whether downsampling an h×w map by `stride` leaves it at least SMALLEST_MAP on each side.

    A model skips the downsampling that would not: binary 3×3 convolutions on 2×2 or 1×1 maps
    read mostly −1 padding, their batch norms went constant within tens of steps and VGG-19 and
    MobileNetV2 stayed at chance on 8×8 digits (docs/results.md, "Architectures")."""
    return min(h, w) // stride >= SMALLEST_MAP
