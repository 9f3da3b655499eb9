"""What the training sections (`trnl`, `trnd`) share: a table (header and one entry per layer)
followed by 16-byte aligned blobs that the entries point at by offset (docs/format.md,
"Training section …"), and reading one back out of a model file."""
from __future__ import annotations

from typing import Callable

from edgebnn import format as fmt


def _padded(b: bytes) -> bytes:
    return b + bytes(-len(b) % fmt.ALIGN)


def layout(table_size: int, blobs: list[bytes],
           table: Callable[[list[int]], bytes]) -> bytes:
    """Section bytes: `table(offsets)` (of `table_size` bytes), padded, then every blob padded;
    offsets[i] is where blobs[i] starts in the section."""
    offsets, pos = [], table_size + -table_size % fmt.ALIGN
    for b in blobs:
        offsets.append(pos)
        pos += len(_padded(b))
    head = table(offsets)
    if len(head) != table_size:
        raise ValueError(f"section table is {len(head)} bytes, expected {table_size}")
    return _padded(head) + b"".join(_padded(b) for b in blobs)


def read(data: bytes, tag: bytes) -> bytes:
    """Section `tag` of a model file (its CRCs checked by fmt.from_bytes)."""
    model = fmt.from_bytes(data)
    if tag not in model.extra_sections:
        raise fmt.FormatError(f"the model has no {tag.decode()} training section")
    return model.extra_sections[tag]
