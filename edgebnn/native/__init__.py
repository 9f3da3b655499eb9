"""Host binding of the C core: load a `.ebnn` model and run batches through it.

The model bytes are copied once into a 16-byte aligned buffer that the C descriptor points
into (the C core reads models in place and never copies them); the arena is allocated here,
sized by ebnn_arena_size(), because the C core never allocates."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edgebnn._native import ffi, lib

ALIGN = 16


class NativeError(RuntimeError):
    """A C core failure; `status` is the C status name, e.g. 'EBNN_ERR_SECTION_CRC'."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


def _status_name(code: int) -> str:
    return ffi.string(lib.ebnn_status_name(code)).decode()


def _check(code: int, where: str) -> None:
    if code != lib.EBNN_OK:
        message = ffi.string(lib.ebnn_status_message(code)).decode()
        raise NativeError(f"{where}: {_status_name(code)}: {message}", _status_name(code))


def _aligned(nbytes: int) -> tuple[object, object]:
    """(owner, pointer) to nbytes of zeroed memory aligned to ALIGN."""
    owner = ffi.new("uint8_t[]", nbytes + ALIGN)
    address = int(ffi.cast("uintptr_t", owner))
    return owner, owner + (-address % ALIGN)


def build_info() -> str:
    return ffi.string(lib.ebnn_build_info()).decode()


class NativeModel:
    def __init__(self, data: bytes, source: str = "<bytes>") -> None:
        self.source = source
        self._owner, self._data = _aligned(len(data))
        ffi.memmove(self._data, data, len(data))
        self._model = ffi.new("ebnn_model *")
        diag = ffi.new("ebnn_diag *")
        code = lib.ebnn_model_load(self._model, self._data, len(data), diag)
        if code != lib.EBNN_OK:
            where = source
            if diag.field != ffi.NULL:
                field = ffi.string(diag.field).decode()
                layer = f"layer {diag.layer}: " if diag.layer >= 0 else ""
                expected = f", expected {diag.expected}" if diag.expected or diag.got else ""
                where += f": {layer}{field} is {diag.got}{expected}"
            _check(code, where)
        self.arena_size = int(lib.ebnn_arena_size(self._model))
        self._arena_owner, self._arena = _aligned(self.arena_size)

    @classmethod
    def from_file(cls, path: str | Path) -> "NativeModel":
        return cls(Path(path).read_bytes(), str(path))

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self._model.in_h, self._model.in_w, self._model.in_c)

    @property
    def n_classes(self) -> int:
        return int(self._model.n_classes)

    def infer(self, x: np.ndarray) -> np.ndarray:
        """x: uint8 (N, H, W, C) → int32 scores (N, n_classes)."""
        x = np.asarray(x)
        if x.dtype != np.uint8 or x.ndim != 4 or tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"{self.source}: input is {x.dtype} {tuple(x.shape)}, expected "
                             f"uint8 (N, {', '.join(map(str, self.input_shape))})")
        x = np.ascontiguousarray(x)
        scores = np.empty((x.shape[0], self.n_classes), dtype=np.int32)
        code = lib.ebnn_infer_batch(self._model, ffi.from_buffer("uint8_t[]", x), x.shape[0],
                                    ffi.from_buffer("int32_t[]", scores), self._arena,
                                    self.arena_size)
        _check(code, self.source)
        return scores
