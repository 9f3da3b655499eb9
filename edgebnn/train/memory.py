"""Measured training memory and counted training compute, the same way for every algorithm.

Memory (bytes, recorded in metrics.json under "memory"):
- learning_signal_bytes: what a rule holds to produce its update, at its peak during a step,
  plus the fixed tensors it keeps (feedback matrices). The peak is *measured*: while the runner
  executes `train_step`, `MemoryMeter.measure()` installs torch.autograd.graph.saved_tensors_hooks
  and counts the bytes of every tensor autograd saves for a backward pass, from when it is saved
  until the graph holding it is freed; tensors a rule keeps outside autograd between its forward
  pass and its update (DFA's layer inputs) are registered with `MemoryMeter.hold` and counted
  until they are freed. Storages are counted once however many views are saved, and parameters
  are never counted here (they have their own line).
  - saved_peak_bytes: that measured peak; feedback_bytes: the fixed tensors
    (`Algorithm.feedback_tensors()`).
- parameter_bytes, gradient_bytes (one .grad per trainable parameter, which every gradient-based
  rule here allocates), optimizer_state_bytes (measured from the optimizers' state after
  training: Adam's two moments and step counters).
- total_bytes: the sum of the lines above; process_peak_rss_bytes: the process's peak resident
  set (resource.getrusage), which also holds the interpreter, torch and the data set.

Compute (MACs per training iteration, "training_macs_per_iteration"): counted from layer shapes,
not timed. `layer_costs` runs one sample through the model and records, per weight layer l, its
forward multiply-accumulates f_l (Linear: in·out; Conv: H_out·W_out·C_out·k_h·k_w·C_in/groups),
its output channels and output size. Each algorithm's `training_macs(costs)` states per sample
which products its step performs, as multiples of f_l (a weight gradient and an input gradient
each cost what the layer's forward costs) plus its own products (feedback projections C·ch_l,
HSIC Gram matrices); the runner multiplies by the batch size. Elementwise work (BatchNorm, sign
and its STE, the optimizer update) is not counted: it is O(activations), not O(MACs).
With F = Σ f_l over all weight layers: backprop costs F + (F − f_first) + F = 3F − f_first (the
first layer needs no input gradient).
"""
from __future__ import annotations

import contextlib
import resource
import sys
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

import torch
from torch import nn

if TYPE_CHECKING:
    from edgebnn.train.base import Algorithm


def tensor_bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


class MemoryMeter:
    """Live and peak bytes of what a training step keeps for its learning signal."""

    def __init__(self, model: nn.Module) -> None:
        self._params = {p.untyped_storage().data_ptr() for p in model.parameters()}
        self._live: dict[int, list[int]] = {}   # storage pointer -> [references, bytes]
        self.current = 0
        self.peak = 0

    def _add(self, t: torch.Tensor) -> int | None:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr in self._params or storage.nbytes() == 0:
            return None
        entry = self._live.get(ptr)
        if entry is None:
            self._live[ptr] = [1, storage.nbytes()]
            self.current += storage.nbytes()
            self.peak = max(self.peak, self.current)
        else:
            entry[0] += 1
        return ptr

    def _release(self, ptr: int) -> None:
        entry = self._live[ptr]
        entry[0] -= 1
        if entry[0] == 0:
            self.current -= entry[1]
            del self._live[ptr]

    def hold(self, t: torch.Tensor) -> torch.Tensor:
        """Counts a tensor a rule keeps outside autograd until it is freed; returns it."""
        ptr = self._add(t)
        if ptr is not None:
            weakref.finalize(t, self._release, ptr)
        return t

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        """Counts every tensor autograd saves for backward while the block runs."""
        meter = self

        class _Saved:
            __slots__ = ("tensor", "ptr")

            def __init__(self, t: torch.Tensor) -> None:
                self.tensor, self.ptr = t, meter._add(t)

            def __del__(self) -> None:
                if self.ptr is not None:
                    meter._release(self.ptr)

        with torch.autograd.graph.saved_tensors_hooks(_Saved, lambda s: s.tensor):
            yield


@dataclass
class LayerCosts:
    """Per-sample forward MACs and output geometry of each weight layer, in model order."""

    forward: list[int]          # f_l
    channels: list[int]         # output channels / features
    outputs: list[int]          # output elements per sample (channels × positions)
    n_classes: int
    input_size: int             # elements of one input image
    batch_size: int = 1

    @property
    def total(self) -> int:
        """F: one forward pass."""
        return sum(self.forward)

    @property
    def hidden(self) -> int:
        """Σ f_l without the output layer."""
        return sum(self.forward[:-1])

    def projections(self) -> int:
        """Σ over hidden layers of C·ch_l: one class-space signal projected per layer."""
        return sum(self.n_classes * c for c in self.channels[:-1])


def layer_costs(model: nn.Module, input_shape: tuple[int, int, int], n_classes: int,
                batch_size: int) -> LayerCosts:
    """Counts one sample's forward MACs per weight layer (input_shape is H, W, C)."""
    from edgebnn import nn as bnn

    forward: list[int] = []
    channels: list[int] = []
    outputs: list[int] = []

    def hook(m: nn.Module, _inp: Any, out: torch.Tensor) -> None:
        per_out = m.weight[0].numel() if isinstance(m, nn.Conv2d) else m.weight.shape[1]
        forward.append(out[0].numel() * per_out)
        channels.append(int(m.weight.shape[0]))
        outputs.append(out[0].numel())

    layers = [m for m in model.modules() if isinstance(m, (bnn.BinaryLinear, bnn.BinaryConv2d))]
    handles = [m.register_forward_hook(hook) for m in layers]
    was_training = model.training
    try:
        model.eval()
        h, w, c = input_shape
        with torch.no_grad():
            model(torch.zeros(1, c, h, w))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return LayerCosts(forward, channels, outputs, n_classes, h * w * c, batch_size)


def _state_bytes(state: Any) -> int:
    if isinstance(state, torch.Tensor):
        return tensor_bytes(state)
    if isinstance(state, dict):
        return sum(_state_bytes(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return sum(_state_bytes(v) for v in state)
    return 0


def peak_rss_bytes() -> int:
    """The process's peak resident set size (ru_maxrss: KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def report(algo: "Algorithm", costs: LayerCosts) -> dict[str, Any]:
    """The "memory" and "compute" entries of metrics.json for a trained algorithm."""
    params = [p for p in algo.model.parameters()]
    feedback = sum(tensor_bytes(t) for t in algo.feedback_tensors())
    memory = {
        "learning_signal_bytes": algo.meter.peak + feedback,
        "saved_peak_bytes": algo.meter.peak,
        "feedback_bytes": feedback,
        "parameter_bytes": sum(tensor_bytes(p) for p in params),
        "gradient_bytes": sum(tensor_bytes(p) for p in params if p.requires_grad),
        "optimizer_state_bytes": sum(_state_bytes(dict(o.state)) for o in algo.optimizers()),
    }
    memory["total_bytes"] = sum(memory[k] for k in ("learning_signal_bytes", "parameter_bytes",
                                                    "gradient_bytes", "optimizer_state_bytes"))
    memory["process_peak_rss_bytes"] = peak_rss_bytes()
    return {"memory": memory,
            "compute": {"forward_macs_per_sample": costs.total,
                        "training_macs_per_sample": algo.training_macs(costs),
                        "training_macs_per_iteration": algo.training_macs(costs) * costs.batch_size,
                        "batch_size": costs.batch_size}}
