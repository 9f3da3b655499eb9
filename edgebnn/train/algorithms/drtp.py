"""Direct random target projection (Frenkel, Lefebvre & Bol, "Learning without feedback: fixed
random learning signals allow for feedforward training of deep neural networks", Frontiers in
Neuroscience 2021), in the form the BNN comparative study used (Crulis et al. 2024).

Each hidden segment's learning signal is the target itself, projected: the gradient at its output
is (onehot − 1/C)·B_l / N with a fixed random B_l ~ N(0, 1) of shape (classes, channels),
broadcast over spatial positions. It is known before the forward pass, so each segment is
updated as soon as it has run and its output detached before the next one: no update locking,
and no graph is kept beyond one segment. The output layer learns by cross-entropy on its
detached input. The /N makes the signal the gradient of a batch-mean loss, like the others.

Default learning rates: the study's grid choice per architecture (`default_lrs`; which
model takes which column: `segments.STUDY_ARCHITECTURE`).
"""
from __future__ import annotations

import torch
from torch import nn

from edgebnn.runs.config import TrainConfig
from edgebnn.train.base import StepResult
from edgebnn.train.feedback import centred_onehot, project
from edgebnn.train.memory import LayerCosts
from edgebnn.train.segments import SegmentedAlgorithm, study_lrs


class DRTP(SegmentedAlgorithm):
    name = "drtp"
    default_lrs = study_lrs(mixer=1e-3, mobilenetv2=1e-3, vgg=1e-4)

    def __init__(self, model: nn.Sequential, config: TrainConfig) -> None:
        super().__init__(model, config)
        self.feedback = self.segment_feedback()

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> StepResult:
        target = centred_onehot(y, self.n_classes) / len(y)
        h = x
        for segment, matrix in zip(self.hidden, self.feedback):
            out = segment(h.detach())
            out.backward(project(target, matrix, out))
            self.step_segment(segment)
            h = out
        logits, loss = self.output_update(h, y)
        self.step_segment(self.head)
        return self.result(logits, loss, y)

    def training_macs(self, costs: LayerCosts) -> int:
        """Forward + one weight gradient per layer + the target projections; no input
        gradients at all (every segment's input is detached)."""
        return 2 * costs.total + costs.projections()
