"""Host binding of the C core: load a `.ebnn` model and run batches through it.

The model bytes are copied once into a 16-byte aligned buffer that the C descriptor points
into (the C core reads models in place and never copies them); the arena, the load-time
weight repack (ebnn_pack) and the worker threads' stacks are allocated here, sized by the
C core's size functions, because the C core never allocates."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edgebnn._native import ffi, lib
from edgebnn.errors import EdgebnnError, UsageError

ALIGN = 16


class NativeError(EdgebnnError, RuntimeError):
    """A C core failure; `status` is the C status name, e.g. 'EBNN_ERR_SECTION_CRC'. Where the
    C core filled an ebnn_diag, `file` is the model's source, `field` the failing field
    (`layer i: field`), `found` and `expected` its values, and `layer` the layer index."""

    def __init__(self, message: str, status: str, *, file: str | None = None,
                 field: str | None = None, expected: object = None, found: object = None,
                 layer: int | None = None) -> None:
        super().__init__(message)   # the message is already complete (see _check)
        self.status, self.layer = status, layer
        self.file, self.field, self.expected, self.found = file, field, expected, found


def _status_name(code: int) -> str:
    return ffi.string(lib.ebnn_status_name(code)).decode()


def _check(code: int, where: str, diag=None) -> None:
    """Raises NativeError for a failed status; with `diag`, `where` is the model's source and
    the message and fields name the layer and field the C core reported."""
    if code != lib.EBNN_OK:
        message = ffi.string(lib.ebnn_status_message(code)).decode()
        context = _diag_fields(where, diag) if diag is not None else {"file": where}
        where = _where(where, diag) if diag is not None else where
        raise NativeError(f"{where}: {_status_name(code)}: {message}", _status_name(code),
                          **context)


def _aligned(nbytes: int) -> tuple[object, object]:
    """(owner, pointer) to nbytes of zeroed memory aligned to ALIGN."""
    owner = ffi.new("uint8_t[]", nbytes + ALIGN)
    address = int(ffi.cast("uintptr_t", owner))
    return owner, owner + (-address % ALIGN)


def build_info() -> str:
    return ffi.string(lib.ebnn_build_info()).decode()


def _diag_fields(source: str, diag) -> dict:
    """NativeError's structured fields from a filled ebnn_diag (just the file when empty)."""
    if diag.field == ffi.NULL or not ffi.string(diag.field):
        return {"file": source}
    layer = int(diag.layer) if diag.layer >= 0 else None
    field = ffi.string(diag.field).decode()
    return {"file": source, "layer": layer,
            "field": f"layer {layer}: {field}" if layer is not None else field,
            "found": int(diag.got),
            "expected": int(diag.expected) if diag.expected or diag.got else None}


def _where(source: str, diag) -> str:
    """`source: layer i: field is got, expected e` from a filled ebnn_diag."""
    context = _diag_fields(source, diag)
    if "field" not in context:
        return source
    expected = f", expected {context['expected']}" if context["expected"] is not None else ""
    return f"{source}: {context['field']} is {context['found']}{expected}"


def _load(data: bytes, source: str) -> tuple[object, object, object]:
    """(owner, aligned copy of data, ebnn_model *) of a model the C loader accepts, else the
    NativeError naming `source` and the layer and field its ebnn_diag reports."""
    owner, copy = _aligned(len(data))
    ffi.memmove(copy, data, len(data))
    model = ffi.new("ebnn_model *")
    diag = ffi.new("ebnn_diag *")
    code = lib.ebnn_model_load(model, copy, len(data), diag)
    if code != lib.EBNN_OK:
        _check(code, source, diag)
    return owner, copy, model


def check_model(data: bytes, source: str = "<bytes>") -> None:
    """The C loader's verdict alone (ebnn_model_load, no arena or repack): NativeError when it
    refuses the file. edgebnn.format.from_bytes gives the same verdict and diagnostic
    (tests/test_format_agreement.py)."""
    _load(data, source)


class NativeModel:
    """A loaded model. `threads` > 1 splits every layer across up to that many threads (the
    host build's ebnn_infer_with; the scores do not depend on it), one per `work_per_thread`
    binary MACs of a call (0: the C core's default, EBNN_WORK_PER_THREAD); `pack` repacks the
    weights once here instead of on every call (ebnn_pack)."""

    def __init__(self, data: bytes, source: str = "<bytes>", threads: int = 1,
                 pack: bool = True, work_per_thread: int = 0) -> None:
        self.source = source
        self._owner, self._data, self._model = _load(data, source)
        self.arena_size = int(lib.ebnn_arena_size(self._model))
        self._arena_owner, self._arena = _aligned(self.arena_size)
        self._options = ffi.new("ebnn_options *")
        self._packed = None
        if pack:
            size = int(lib.ebnn_pack_size(self._model))
            self._packed = _aligned(size)
            _check(lib.ebnn_pack(self._model, self._packed[1], size), source)
            self._options.packed, self._options.packed_size = self._packed[1], size
        self.threads = threads
        self._options.work_per_thread = work_per_thread

    @property
    def threads(self) -> int:
        return int(self._options.threads) or 1

    @threads.setter
    def threads(self, n: int) -> None:
        if not 1 <= n <= lib.EBNN_MAX_THREADS:
            raise UsageError(f"threads is {n}, expected 1 to {lib.EBNN_MAX_THREADS}")
        size = int(lib.ebnn_threads_buffer_size(n))
        self._stacks = _aligned(size) if size else (None, ffi.NULL)
        self._options.threads = n
        self._options.thread_buffer, self._options.thread_buffer_size = self._stacks[1], size

    @classmethod
    def from_file(cls, path: str | Path, threads: int = 1) -> "NativeModel":
        return cls(Path(path).read_bytes(), str(path), threads=threads)

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
            raise UsageError(f"{self.source}: input is {x.dtype} {tuple(x.shape)}, expected "
                             f"uint8 (N, {', '.join(map(str, self.input_shape))})")
        x = np.ascontiguousarray(x)
        scores = np.empty((x.shape[0], self.n_classes), dtype=np.int32)
        code = lib.ebnn_infer_with(self._model, self._options, ffi.from_buffer("uint8_t[]", x),
                                   x.shape[0], ffi.from_buffer("int32_t[]", scores),
                                   self._arena, self.arena_size)
        _check(code, self.source)
        return scores


class _Trainer(NativeModel):
    """On-device training on a host copy of the model: the same C calls the firmware makes
    (ebnn_trainer_*, one interface over every rule), on the model bytes held by this object.
    `_rule` is the rule's id (EBNN_RULE_*)."""

    _rule = 0

    def __init__(self, data: bytes, source: str = "<bytes>") -> None:
        super().__init__(data, source, pack=False)  # the steps rewrite the weights in place
        self._size = len(data)
        self._train = ffi.new("ebnn_trainer *")
        diag = ffi.new("ebnn_diag *")
        _check(lib.ebnn_trainer_init(self._train, self._rule, self._model, self._data, diag),
               _where(source, diag))
        self._scratch = (None, None, 0)   # (owner, pointer, batch it was sized for)

    def scratch_size(self, batch: int) -> int:
        """Bytes of scratch one step over `batch` samples needs."""
        return int(lib.ebnn_trainer_buffer_size(self._train, batch))

    @property
    def step_index(self) -> int:
        return int(lib.ebnn_trainer_step_index(self._train))

    def _batch(self, x: np.ndarray, y: np.ndarray) -> tuple[object, object, object, int]:
        """A batch as the C calls take it: (inputs, labels, scratch, scratch size), the scratch
        grown to the largest batch seen."""
        x = np.ascontiguousarray(x, dtype=np.uint8)
        y = np.ascontiguousarray(y, dtype=np.uint8)
        if x.ndim != 4 or tuple(x.shape[1:]) != self.input_shape or len(y) != len(x):
            raise ValueError(f"{self.source}: batch is {x.shape} with {y.shape} labels")
        if self._scratch[2] < len(x):
            size = self.scratch_size(len(x))
            self._scratch = (*_aligned(size), len(x))
        _, pointer, batch = self._scratch
        return (ffi.from_buffer("uint8_t[]", x), ffi.from_buffer("uint8_t[]", y), pointer,
                self.scratch_size(batch))

    def step(self, x: np.ndarray, y: np.ndarray) -> tuple[int, int]:
        """One batch: uint8 images (N, H, W, C) and labels (N,) → (correct, wrong) of the
        model's prediction, as counted before the update (ebnn_train_stats)."""
        inputs, labels, scratch, size = self._batch(x, y)
        stats = ffi.new("ebnn_train_stats *")
        _check(lib.ebnn_trainer_step(self._train, inputs, labels, len(x), scratch, size, stats),
               self.source)
        return int(stats.correct), int(stats.wrong)

    def _set_params(self, first: int, values: list[int]) -> None:
        """Rule parameters first, first + 1, ... (edgebnn.h names each rule's), all checked
        before any is set."""
        for i, v in enumerate(values):
            _check(lib.ebnn_trainer_check_param(self._train, first + i, int(v)), self.source)
        for i, v in enumerate(values):
            _check(lib.ebnn_trainer_set_param(self._train, first + i, int(v)), self.source)

    def to_bytes(self) -> bytes:
        """The trained model file, CRCs rewritten (ebnn_trainer_finalize)."""
        _check(lib.ebnn_trainer_finalize(self._train), self.source)
        return bytes(ffi.buffer(self._data, self._size))


class LocalTrainer(_Trainer):
    """The `local` rule (native/src/train/local.c; state in the `trnl` section)."""

    _rule = lib.EBNN_RULE_LOCAL

    def set_thresholds(self, p_q: list[int]) -> None:
        """This epoch's reinforcement thresholds, one u32 per sub-network."""
        self._set_params(0, p_q)

    def increments(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, int, int]:
        """The first half of a step (ebnn_local_increments): the batch's summed increments,
        int32, every sub-network's K × N_in row-major one after the other, and (correct, wrong)
        as `step` counts them. Nothing changes until `apply`; data-parallel ranks sum theirs
        first."""
        inputs, labels, scratch, size = self._batch(x, y)
        increments = np.empty(int(lib.ebnn_local_increments_size(self._train)) // 4, np.int32)
        stats = ffi.new("ebnn_train_stats *")
        _check(lib.ebnn_local_increments(self._train, inputs, labels, len(x), scratch, size,
                                         ffi.from_buffer("int32_t[]", increments),
                                         increments.nbytes, stats), self.source)
        return increments, int(stats.correct), int(stats.wrong)

    def apply(self, increments: np.ndarray) -> None:
        """The second half (ebnn_local_apply): saturation, reinforcement, the step counter."""
        increments = np.ascontiguousarray(increments, dtype=np.int32)
        _check(lib.ebnn_local_apply(self._train, ffi.from_buffer("int32_t[]", increments),
                                    increments.nbytes), self.source)

    def section(self) -> np.ndarray:
        """The `trnl` section inside the model buffer the steps write, as a writable uint8 view
        (edgebnn.ondevice.local reads its layout)."""
        state = self._train.state.local
        return np.frombuffer(ffi.buffer(state.trnl, state.trnl_size), np.uint8)


class DrtpTrainer(_Trainer):
    """Integer DRTP (native/src/train/drtp.c; state in the `trnd` section), bit-identical to
    edgebnn.ondevice.drtp.DrtpReference."""

    _rule = lib.EBNN_RULE_DRTP

    def set_hyper(self, layer: int, shift: int, window: int) -> None:
        """Trained layer `layer`'s update shift and window (STE half-width, or the output
        layer's margin)."""
        self._set_params(2 * layer, [shift, window])
