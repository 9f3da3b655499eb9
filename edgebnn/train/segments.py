"""Shared machinery of the layer-local learning rules (fa, dfa, drtp, hsic, sigprop).

Every one of those rules sees the network as a chain of *segments* (the study's "blocks"): one
weight unit with what follows it up to the next weight unit — BatchNorm → Sign (→ MaxPool) —
and, in front of it, the reshaping modules that only prepare its input (Flatten). A weight unit
is a top-level module of the nn.Sequential that has weights: a weight layer, or a residual
block (edgebnn.nn.StreamBlock: resnet18, mobilenetv2, mixer): a skip connection cannot be cut
into a chain, so a block gets one local learning signal at its output, and inside it the
gradient flows by backprop (DFA, DRTP, HSIC); the rules that update layer by layer (FA,
SigpropTL) reach every weight layer through `Segment.layers` / `Segment.trace`. The last
segment is the output layer (ScoreLinear) that gives the class scores. Deriving segments from the
nn.Sequential itself, instead of per model, keeps the rules working on every model builder's
chain, and leaves the architecture (and so the `.ebnn` export) untouched: the segments are
views on the model's own modules.

Also here: the optimizer set-up all of them share (Adam with the config's weight decay, latent
weights clipped after each step), running a segment with frozen BatchNorm statistics (for rules
that recompute a segment), storing ±1 / 8-bit activations in one byte, and the weight gradient of
a layer from a given output gradient (for rules that update without autograd).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import ClassVar, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from edgebnn import nn as bnn
from edgebnn.runs.config import TrainConfig
from edgebnn.train.base import Algorithm, StepResult, decay_groups
from edgebnn.train.feedback import random_matrices

#: the column of the comparative study's learning-rate grid (chosen per architecture: Mixer,
#: MobileNetV2, VGG-19) each model takes. The MLP takes the Mixer's (MLP blocks), the small VGG
#: VGG-19's; ResNet-18, not in the study, MobileNetV2's, the other residual CNN.
STUDY_ARCHITECTURE = {"mlp": "mixer", "mixer": "mixer", "mobilenetv2": "mobilenetv2",
                      "resnet18": "mobilenetv2", "vgg": "vgg", "vgg_small": "vgg", "cnn": "vgg"}


def study_lrs(mixer: float, mobilenetv2: float, vgg: float) -> dict[str, float]:
    """A rule's default learning rate for every model, from the study's choice per architecture
    (docs/algorithms.md has the grid)."""
    chosen = {"mixer": mixer, "mobilenetv2": mobilenetv2, "vgg": vgg}
    return {model: chosen[arch] for model, arch in STUDY_ARCHITECTURE.items()}


#: modules that only reshape the input of the next weight layer; they open its segment
_INPUT_PREP = (nn.Flatten, nn.Identity, nn.Dropout)
#: weight layers
_WEIGHT = (bnn.BinaryLinear, bnn.BinaryConv2d)


def weight_layers(module: nn.Module) -> list[nn.Module]:
    """The weight layers in `module` (itself included), in registration order."""
    return [m for m in module.modules() if isinstance(m, _WEIGHT)]


def _followers(root: nn.Module) -> dict[nn.Module, tuple[nn.Module | None, nn.Module | None]]:
    """For each weight layer in `root`: the BatchNorm and the Sign that directly follow it among
    its siblings (BatchNorm → Sign, or a bare Sign), None where there are none — a layer whose
    integer output goes to a residual sum or gives the scores."""
    out: dict[nn.Module, tuple[nn.Module | None, nn.Module | None]] = {}
    for parent in root.modules():
        kids = list(parent.children())
        for i, kid in enumerate(kids):
            if not isinstance(kid, _WEIGHT):
                continue
            after = kids[i + 1:i + 3]
            bn = after[0] if after and isinstance(after[0], nn.modules.batchnorm._BatchNorm) else None
            rest = after[1:] if bn is not None else after[:1]
            out[kid] = bn, rest[0] if rest and isinstance(rest[0], bnn.Sign) else None
    return out


@dataclass
class Segment:
    """One weight unit (a weight layer or a residual block) and the modules that turn its
    output into the next unit's input."""

    index: int
    body: nn.Sequential     # the model's own modules, in order (shared, not copied)
    unit: nn.Module         # the weight layer or the block
    is_output: bool         # the ScoreLinear giving the class scores

    @property
    def layer(self) -> nn.Module:
        """The unit's first weight layer (the unit itself for a weight layer)."""
        return weight_layers(self.unit)[0]

    @property
    def layers(self) -> list[nn.Module]:
        """Every weight layer of the segment, in order."""
        return weight_layers(self.body)

    @property
    def channels(self) -> int:
        """Output channels / features of the unit: the width feedback matrices need."""
        return int(getattr(self.unit, "out_channels", self.layer.weight.shape[0]))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def parameters(self) -> Iterator[nn.Parameter]:
        return self.body.parameters()

    def norm_after(self, layer: nn.Module) -> nn.Module | None:
        """The BatchNorm right after a weight layer of this segment (None if there is none)."""
        return _followers(self.body)[layer][0]

    def trace(self, x: torch.Tensor) -> tuple[list[tuple[nn.Module, torch.Tensor, torch.Tensor]],
                                              torch.Tensor]:
        """([(weight layer, its input, the activation right after its Sign)] for every weight
        layer of the segment, in execution order; the segment output).

        The Sign output is aligned with the layer output (before any pooling), which is what a
        weight update from activation differences needs; a layer without a Sign of its own (the
        integer output of a residual block, the scores) gives its output itself."""
        followers = _followers(self.body)
        records: dict[nn.Module, list[torch.Tensor]] = {}
        signs = {sign: layer for layer, (_, sign) in followers.items() if sign is not None}

        def on_layer(m: nn.Module, args: tuple, out: torch.Tensor) -> None:
            records[m] = [args[0], out]

        def on_sign(m: nn.Module, _args: tuple, out: torch.Tensor) -> None:
            records[signs[m]][1] = out

        handles = [l.register_forward_hook(on_layer) for l in followers]
        handles += [s.register_forward_hook(on_sign) for s in signs]
        try:
            out = self.body(x)
        finally:
            for handle in handles:
                handle.remove()
        return [(layer, inp, act) for layer, (inp, act) in records.items()], out


def split_segments(model: nn.Sequential) -> list[Segment]:
    """The model as segments; raises ValueError for a layout the local rules cannot split."""
    groups: list[list[nn.Module]] = []
    units: list[nn.Module] = []
    pending: list[nn.Module] = []
    for m in model:
        if weight_layers(m):
            groups.append([*pending, m])
            units.append(m)
            pending = []
        elif isinstance(m, _INPUT_PREP) or not groups:
            pending.append(m)
        else:
            groups[-1].append(m)
    if pending or not groups:
        raise ValueError("the model must end with its output weight layer (a ScoreLinear)")
    segments = [Segment(i, nn.Sequential(*mods), unit, isinstance(unit, bnn.ScoreLinear))
                for i, (mods, unit) in enumerate(zip(groups, units))]
    if not segments[-1].is_output or any(s.is_output for s in segments[:-1]):
        raise ValueError("the last weight layer, and only it, must be a ScoreLinear")
    return segments


def adam(model: nn.Module, lr: float, config: TrainConfig) -> torch.optim.Adam:
    """The optimizer of the comparative study: Adam, with the config's weight decay on the
    real-valued weights only (`base.decay_groups`).

    Rules that update segment by segment share one optimizer and clear gradients to None after
    each step: Adam skips parameters whose grad is None, so each step touches only the segment
    that just computed its gradient."""
    return torch.optim.Adam(decay_groups(model.parameters(), model, config.weight_decay), lr=lr)


@contextlib.contextmanager
def frozen_bn_stats(module: nn.Module) -> Iterator[None]:
    """Train-mode BatchNorm (batch statistics) that leaves the running averages alone.

    For running a segment a second time on the same batch (DFA's recompute) or for a probing
    pass: the running mean/var must count each batch once, as they do under backprop."""
    bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.track_running_stats for m in bns]
    try:
        for m in bns:
            m.track_running_stats = False
        yield
    finally:
        for m, s in zip(bns, saved):
            m.track_running_stats = s


def compact(x: torch.Tensor) -> torch.Tensor:
    """A one-byte copy of an activation that is exactly ±1 (int8) or 0..255 integers (uint8).

    Binary activations and 8-bit pixels are all these rules keep between the forward pass and
    the update, and both are exact in a byte: 4× less than float32. `.float()` restores them."""
    if bool(((x == 1) | (x == -1)).all()):
        return x.to(torch.int8)
    if bool(((x >= 0) & (x <= 255) & (x == x.round())).all()):
        return x.to(torch.uint8)
    return x


def weight_grad(layer: nn.Module, x: torch.Tensor, grad_out: torch.Tensor) -> torch.Tensor:
    """∂/∂W of Σ grad_out ⊙ layer(x) for a binary Linear/Conv2d, without autograd.

    The gradient reaches the latent weights through the sign STE (pass where |W| <= 1). Conv
    inputs are padded with the layer's own pad value, as its forward does."""
    if isinstance(layer, nn.Conv2d):
        ph, pw = layer.padding  # type: ignore[misc]
        if ph or pw:
            x = F.pad(x, (pw, pw, ph, ph), value=layer.pad_value)
        g = torch.nn.grad.conv2d_weight(x, layer.weight.shape, grad_out, layer.stride, 0,
                                        layer.dilation, layer.groups)
    else:
        g = grad_out.t() @ x
    return g * (layer.weight.abs() <= 1).to(g.dtype)


class SegmentedAlgorithm(Algorithm):
    """Base of the rules that see the model as segments and train it with one shared Adam.

    It owns what they all need: the segments, the optimizer, a per-architecture default
    learning rate (the study tuned the rate per architecture, and one value cannot serve both
    the MLP and the VGG-style CNN), the per-segment feedback matrices, the feedback tensors to
    report, and the output layer's cross-entropy update, which every one of these rules keeps
    (only FA alters it)."""

    #: default learning rate by model name (`study_lrs`); empty: `default_lr` for every model
    default_lrs: ClassVar[dict[str, float]] = {}

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.default_lrs:   # one table: the fallback for an unlisted model is the MLP's rate
            cls.default_lr = cls.default_lrs["mlp"]

    def __init__(self, model: nn.Sequential, config: TrainConfig) -> None:
        super().__init__(model, config)
        if config.lr is None:
            self.lr = self.default_lrs.get(config.model, self.default_lr)
        self.segments = split_segments(model)
        self.hidden, self.head = self.segments[:-1], self.segments[-1]
        self.n_classes = self.head.channels
        self.optimizer = adam(model, self.lr, config)
        self.feedback: list[torch.Tensor] = []

    def segment_feedback(self) -> list[torch.Tensor]:
        """One fixed B_l ~ N(0, 1) of shape (classes, channels) per hidden segment, the matrices
        through which DFA (the output error) and DRTP (the target) reach each segment."""
        return random_matrices([(self.n_classes, s.channels) for s in self.hidden],
                               self.config.seed)

    def feedback_tensors(self) -> list[torch.Tensor]:
        return list(self.feedback)

    def output_update(self, h: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Cross-entropy gradient for the output layer only (its input detached); returns the
        training-mode logits and the loss. The caller steps the optimizer."""
        logits = self.head(h.detach())
        loss = F.cross_entropy(logits, y)
        loss.backward()
        return logits.detach(), loss.item()

    def step_segment(self, segment: Segment | None = None) -> None:
        """Applies the gradients computed so far (one segment's, or all) and clears them."""
        self.optimizer.step()
        bnn.clip_latent_weights(segment.body if segment is not None else self.model)
        self.optimizer.zero_grad(set_to_none=True)

    @staticmethod
    def result(logits: torch.Tensor, loss: float, y: torch.Tensor) -> StepResult:
        return StepResult(loss, int((logits.argmax(1) == y).sum()))
