"""Checks of the size arguments the builders take, so a bad `--width` or `--layers` is one clear
error naming the argument and the expected value instead of a failure deep inside torch."""
from __future__ import annotations

from typing import Any


def positive_int(value: Any, name: str, model: str) -> int:
    """A channel count, block count or patch size: a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: {model} takes a positive integer, got {value!r}")
    return value


def positive_number(value: Any, name: str, model: str) -> float:
    """A multiplier: a positive int or float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name}: {model} takes a positive number, got {value!r}")
    return float(value)
