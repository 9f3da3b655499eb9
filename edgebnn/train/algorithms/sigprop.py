"""SigpropTL (Kohan, Rietman & Siegelmann, "Signal Propagation: The Framework for Learning and
Inference in a Forward Pass", IEEE TNNLS 2023), in the PEPITA-like form the BNN comparative study
implemented (Crulis et al. 2024; PEPITA: Dellaferrera & Kreiman, "Error-driven Input Modulation:
Solving the Credit Assignment Problem without a Backward Pass", ICML 2022).

Pass 1 (hidden layers in eval mode, no autograd) gives the output error e = softmax − onehot per
sample; only the output layer gets a true (cross-entropy) gradient. Pass 2 runs the hidden layers
without autograd on [x; x + e·F], F ∈ R^{C×input_size} fixed random. For each hidden weight
layer with post-Sign output h (clean half) and h_err (perturbed half):
    ∇W = (h − h_err)ᵀ · input_clean / (N · spatial_size),   ∇β = Σ (h − h_err) / (N · spatial)
(the layer's bias is the β of the BatchNorm before its Sign; the BatchNorm scale is not trained:
a positive scale before sign changes nothing). The 1/N makes it a batch mean like the other
rules' losses. Only one segment's clean inputs are kept at a time (one layer's, or a
residual block's layers') and no graph is stored.

Adapting it to these models:
- The output layer is ScoreLinear, whose learned temperature exists only in train mode, so it
  runs in train mode in pass 1 (the hidden layers are in eval mode, as in the study).
- Pass 2 runs in train mode on the concatenated batch, so BatchNorm normalises clean and
  perturbed halves alike and its running averages are updated once per batch.
- The first layer takes 8-bit pixels (0..255) where the study fed normalised images, so F's
  standard deviation is gain/√input_size with gain = 255 by default: the study's 1/√input_size
  on the pixel scale 0..1 (the study's own "gain" never reached F). config.algo_kwargs["gain"].
- The gradient reaches the latent weights through the sign STE like every other rule here.

Default learning rates: the study's grid choice per architecture (`default_lrs`; which
model takes which column: `segments.STUDY_ARCHITECTURE`).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from edgebnn.runs.config import TrainConfig
from edgebnn.train.base import StepResult
from edgebnn.train.feedback import output_error, random_matrices
from edgebnn.train.memory import LayerCosts
from edgebnn.train.segments import SegmentedAlgorithm, compact, study_lrs, weight_grad

DEFAULT_GAIN = 255.0


class SigpropTL(SegmentedAlgorithm):
    name = "sigprop"
    default_lrs = study_lrs(mixer=1e-3, mobilenetv2=1e-3, vgg=1e-4)

    def __init__(self, model: nn.Sequential, config: TrainConfig) -> None:
        super().__init__(model, config)
        self._gain = float(config.algo_kwargs.get("gain", DEFAULT_GAIN))
        self.perturbation: torch.Tensor | None = None   # F, sized on the first batch

    def feedback_tensors(self) -> list[torch.Tensor]:
        return [] if self.perturbation is None else [self.perturbation]

    def _matrix(self, x: torch.Tensor) -> torch.Tensor:
        if self.perturbation is None:
            size = x[0].numel()
            self.perturbation = random_matrices([(self.n_classes, size)], self.config.seed,
                                                self._gain / math.sqrt(size))[0].to(x.device)
        return self.perturbation

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> StepResult:
        n = len(y)
        # pass 1: the hidden layers as deployed, then a true gradient for the output layer
        self.model.eval()
        with torch.no_grad():
            h = x
            for segment in self.hidden:
                h = segment(h)
        self.model.train()
        logits, loss = self.output_update(h, y)
        e = output_error(logits, y)
        # pass 2: clean and perturbed inputs together, no autograd, one layer at a time
        with torch.no_grad():
            h = torch.cat([x, x + (e @ self._matrix(x)).view_as(x)])
            for segment in self.hidden:
                traces, h = segment.trace(h)   # every weight layer (several in a residual block)
                for layer, layer_in, act in traces:
                    # what this layer's update keeps: its clean input (one byte a value), h − h_err
                    clean = self.meter.hold(compact(layer_in[:n]))
                    diff = self.meter.hold(act[:n] - act[n:])
                    scale = n * (diff[0].numel() // diff.shape[1])   # N × spatial positions
                    layer.weight.grad = weight_grad(layer, clean.float(), diff) / scale
                    bn = segment.norm_after(layer)
                    if bn is not None and bn.affine:
                        bn.bias.grad = diff.transpose(0, 1).flatten(1).sum(1) / scale
                    del clean, diff, layer_in, act
                del traces
        self.step_segment()
        return self.result(logits, loss, y)

    def training_macs(self, costs: LayerCosts) -> int:
        """Pass 1 forward (F) + the output layer's weight gradient + pass 2 on a doubled batch
        through the hidden layers + one weight update per hidden layer + the perturbation e·F."""
        out = costs.forward[-1]
        return costs.total + out + 3 * costs.hidden + costs.n_classes * costs.input_size
