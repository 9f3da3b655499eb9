"""Feedback alignment (Lillicrap, Cownden, Tweed & Akerman, "Random synaptic feedback weights
support error backpropagation for deep learning", Nature Communications 2016).

Backprop, except that the gradient a weight layer sends to its input is computed with a fixed
random matrix B_l of the weight's shape (N(0, 1), the scale of the ±1 weights it stands for)
instead of W_l: δ_{l−1} = (B_lᵀ-transported δ_l) ⊙ f′. Weight gradients are the true ones
(through the sign STE), so compute is backprop's, and so is memory: autograd no longer keeps the
binary weights for W_lᵀ·δ, and the B_l take their place (none for the first layer, which sends
no gradient to the pixels).

It is implemented on the model's own modules, without changing them: during a training step
each weight layer runs on a detached copy of its input (so autograd computes its weight gradient
but never W_lᵀ·δ), and a custom autograd function on its output routes δ to the real input
through B_l (a transposed linear map or a transposed convolution with the layer's stride,
groups and padding). ScoreLinear's positive training temperature multiplies its δ first, as it
would in backprop.

Not in the comparative study's code or results; default learning rate 3e-3, backprop's here.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from edgebnn import nn as bnn
from edgebnn.runs.config import TrainConfig
from edgebnn.train.base import StepResult
from edgebnn.train.feedback import random_matrices
from edgebnn.train.segments import SegmentedAlgorithm


class _FeedbackToInput(torch.autograd.Function):
    """Identity on a layer's output; its backward sends δ·B (not δ·W) to the layer's input."""

    @staticmethod
    def forward(ctx, out: torch.Tensor, x: torch.Tensor, matrix: torch.Tensor,  # type: ignore[override]
                layer: nn.Module) -> torch.Tensor:
        ctx.matrix, ctx.layer, ctx.x_shape = matrix, layer, x.shape
        return out.view_as(out)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        layer, matrix = ctx.layer, ctx.matrix
        delta = grad   # δ at the layer's linear output
        if isinstance(layer, bnn.ScoreLinear) and layer.training:
            delta = grad * layer.log_scale.detach().exp()
        if not isinstance(layer, nn.Conv2d):
            return grad, delta @ matrix, None, None
        ph, pw = layer.padding
        n, c, h, w = ctx.x_shape
        gx = torch.nn.grad.conv2d_input((n, c, h + 2 * ph, w + 2 * pw), matrix, delta,
                                        layer.stride, 0, layer.dilation, layer.groups)
        return grad, gx[:, :, ph:ph + h, pw:pw + w], None, None


class FeedbackAlignment(SegmentedAlgorithm):
    name = "fa"
    default_lr = 3e-3

    def __init__(self, model: nn.Sequential, config: TrainConfig) -> None:
        super().__init__(model, config)
        layers = [l for s in self.segments for l in s.layers][1:]   # all but the first
        self.feedback = random_matrices([tuple(l.weight.shape) for l in layers], config.seed)
        self._matrices = dict(zip(layers, self.feedback))

    @contextlib.contextmanager
    def _feedback_paths(self) -> Iterator[None]:
        """Hooks that detach each layer's input and reattach it through _FeedbackToInput."""
        inputs: dict[nn.Module, torch.Tensor] = {}

        def detach_input(layer: nn.Module, args: tuple) -> tuple:
            inputs[layer] = args[0]
            return (args[0].detach(), *args[1:])

        def route_feedback(layer: nn.Module, _args: tuple, out: torch.Tensor) -> torch.Tensor:
            x = inputs.pop(layer)
            return _FeedbackToInput.apply(out, x, self._matrices[layer], layer)

        handles = []
        for layer in self._matrices:
            handles.append(layer.register_forward_pre_hook(detach_input))
            handles.append(layer.register_forward_hook(route_feedback))
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> StepResult:
        with self._feedback_paths():
            logits = self.model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        self.step_segment()
        return self.result(logits.detach(), loss.item(), y)
