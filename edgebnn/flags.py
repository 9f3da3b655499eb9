"""argparse `type=` functions for every numeric flag of the command line.

Why here: a flag value that cannot work (`--batch-size 0`, `--epochs -1`, `--lr nan`) must be
refused when the command line is parsed, with argparse's message naming the flag
(`argument --batch-size: expected a positive integer, found '0'`), not as a traceback or a
useless run minutes later. Each function says what the flag needs, and the subcommands of
cli.py, device/ and bench share them, so this module sits in the foundation layer and imports
nothing of edgebnn. tests/test_flags.py walks the parser and requires one of these on every
numeric flag.
"""
from __future__ import annotations

import argparse
import math
from typing import Any, Callable

__all__ = ["positive_int", "seed", "port_number", "positive_float",
           "non_negative_float", "positive_number", "positive_int_list",
           "positive_number_list"]

#: numpy's legacy seeding (np.random.seed) takes 0 to 2**32 - 1
SEED_MAX = 2**32 - 1


def _refuse(expected: str, text: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"expected {expected}, found {text!r}")


def _integer(text: str, low: int, high: int | None, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _refuse(expected, text) from None
    if value < low or (high is not None and value > high):
        raise _refuse(expected, text)
    return value


def positive_int(text: str) -> int:
    """Counts that must be at least 1: epochs, batch sizes, sample limits, image sizes."""
    return _integer(text, 1, None, "a positive integer")


def seed(text: str) -> int:
    """A random seed (0 to 2**32 - 1, what numpy accepts)."""
    return _integer(text, 0, SEED_MAX, f"an integer from 0 to {SEED_MAX}")


def counter(text: str) -> int:
    """The rollback counter of a signed file: a u32 in its trailer (edgebnn/signing.py)."""
    return _integer(text, 0, 0xFFFFFFFF, "an integer from 0 to 4294967295")


def port_number(text: str) -> int:
    """A TCP port (1 to 65535)."""
    return _integer(text, 1, 65535, "a TCP port from 1 to 65535")


def _real(text: str, expected: str, ok: Callable[[float], bool]) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _refuse(expected, text) from None
    if not (math.isfinite(value) and ok(value)):   # nan and inf fit no flag
        raise _refuse(expected, text)
    return value


def positive_float(text: str) -> float:
    """A finite number > 0: learning rates, timeouts in seconds."""
    return _real(text, "a positive number", lambda v: v > 0)


def non_negative_float(text: str) -> float:
    """A finite number >= 0: weight decay."""
    return _real(text, "a number >= 0", lambda v: v >= 0)


def positive_number(text: str) -> int | float:
    """--width: channels (an int) or a width multiplier (mobilenetv2, e.g. 0.25), > 0."""
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        return _real(text, "a positive number", lambda v: v > 0)


def _list(text: str, item: Callable[[str], Any], expected: str,
          unique: bool = False) -> list[Any]:
    """Comma-separated values, each accepted by `item`, at least one; `unique`: none repeated
    (a repeat in a grid would train the same run twice, while layer sizes may repeat)."""
    parts = [v.strip() for v in text.split(",") if v.strip()]
    try:
        values = [item(v) for v in parts]
    except argparse.ArgumentTypeError:
        values = []
    if values and not (unique and len(set(values)) < len(values)):
        return values
    raise _refuse(expected + (", none repeated" if unique else ""), text)


def positive_int_list(text: str) -> list[int]:
    """--layers: comma-separated sizes, each at least 1, at least one."""
    return _list(text, positive_int, "comma-separated positive integers")


def positive_number_list(text: str) -> list[int | float]:
    """A grid of learning rates or γ values (`edgebnn tune`): finite numbers > 0, integers kept
    as int (γ = 20 is then the same `--algo-arg gamma=20` gives)."""
    return _list(text, positive_number, "comma-separated positive numbers", unique=True)
