"""Direct feedback alignment (Nøkland, "Direct Feedback Alignment Provides Learning in Deep
Neural Networks", NeurIPS 2016), in the form the BNN comparative study used (Crulis et al. 2024):
the gradient reaching each hidden segment's output (the next weight layer's input) is replaced
by e·B_l, with e = ∂CE/∂logits and a fixed random B_l ~ N(0, 1) of shape (classes, channels),
broadcast over spatial positions; it then flows locally through pooling, sign-STE and BatchNorm
into that segment's weights. The output layer keeps its true gradient.

Memory. The study kept the whole graph until e was known, so its DFA used as much memory as
backprop. Here the forward pass runs without autograd and keeps only each segment's input, in one
byte per value (binary activations as int8, pixels as uint8; `segments.compact`); once e is
known each segment is run again from its input (BatchNorm on the same batch statistics, running
averages counted once) and backpropagated locally from e·B_l, one segment's graph at a time. This
trades one extra forward pass of the hidden layers for a memory footprint like DRTP's.

Default learning rates: the study's grid choice per architecture (`default_lrs`; which
model takes which column: `segments.STUDY_ARCHITECTURE`).
"""
from __future__ import annotations

import torch
from torch import nn

from edgebnn.runs.config import TrainConfig
from edgebnn.train.base import StepResult
from edgebnn.train.feedback import output_error, project
from edgebnn.train.memory import LayerCosts
from edgebnn.train.segments import SegmentedAlgorithm, compact, frozen_bn_stats, study_lrs


class DFA(SegmentedAlgorithm):
    name = "dfa"
    default_lrs = study_lrs(mixer=1e-4, mobilenetv2=1e-3, vgg=1e-5)

    def __init__(self, model: nn.Sequential, config: TrainConfig) -> None:
        super().__init__(model, config)
        self.feedback = self.segment_feedback()

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> StepResult:
        inputs: list[torch.Tensor] = []
        h = x
        with torch.no_grad():
            for segment in self.hidden:
                inputs.append(self.meter.hold(compact(h)))
                h = segment(h)
        logits, loss = self.output_update(h, y)
        del h
        e = output_error(logits, y) / len(y)   # ∂(batch-mean CE)/∂logits
        for segment, matrix in zip(reversed(self.hidden), reversed(self.feedback)):
            with frozen_bn_stats(segment.body):
                out = segment(inputs.pop().float())
            out.backward(project(e, matrix, out))
        self.step_segment()
        return self.result(logits, loss, y)

    def training_macs(self, costs: LayerCosts) -> int:
        """Forward + the hidden layers' recompute + one weight gradient per layer + the error
        projections; no input gradients (each segment's input is detached)."""
        return 2 * costs.total + costs.hidden + costs.projections()
