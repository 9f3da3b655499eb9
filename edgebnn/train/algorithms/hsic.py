"""The HSIC bottleneck, layer-local (Ma, Lewis & Kleijn, "The HSIC Bottleneck: Deep Learning
without Back-Propagation", AAAI 2020), in the biologically plausible form of Pogodin & Latham
("Kernelized information bottleneck leads to biologically plausible 3-factor Hebbian learning in
deep networks", NeurIPS 2020) that the BNN comparative study used (Crulis et al. 2024).

Each hidden segment ("block") minimises HSIC(Z, Z) − γ·HSIC(Y, Z) on its own output Z (after
Sign and pooling, flattened per sample), with cosine-similarity kernels, Y the centred one-hot
labels (onehot − 1/C) and the biased estimator HSIC(K, L) = tr(K H L H)/(N − 1)², H = I − 11ᵀ/N.
The gradient is stopped between blocks (each block's input is detached) and each block is
updated as soon as it has run, so at most one block's graph and two N×N kernels are held. The
output layer learns by cross-entropy on its detached input. γ is config.algo_kwargs["gamma"]
(TrainConfig / config.json), default 20, the study's choice from {2, 20, 200}.

Default learning rates: the study's grid choice per architecture (`default_lrs`; which
model takes which column: `segments.STUDY_ARCHITECTURE`).
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from edgebnn.runs.config import TrainConfig
from edgebnn.train.base import StepResult
from edgebnn.train.feedback import centred_onehot
from edgebnn.train.memory import LayerCosts
from edgebnn.train.segments import SegmentedAlgorithm, study_lrs

DEFAULT_GAMMA = 20.0


def cosine_kernel(z: torch.Tensor) -> torch.Tensor:
    """N×N cosine similarities between the rows of z (flattened per sample)."""
    z = F.normalize(z.flatten(1), dim=1)
    return z @ z.t()


def hsic(k: torch.Tensor, l: torch.Tensor) -> torch.Tensor:
    """Biased HSIC estimator tr(K H L H)/(N − 1)² (H centres; HKH computed without H)."""
    n = k.shape[0]
    kc = k - k.mean(0, keepdim=True) - k.mean(1, keepdim=True) + k.mean()
    return (kc * l).sum() / (n - 1) ** 2


class HSIC(SegmentedAlgorithm):
    name = "hsic"
    default_lrs = study_lrs(mixer=1e-4, mobilenetv2=1e-4, vgg=1e-5)

    def __init__(self, model: nn.Sequential, config: TrainConfig) -> None:
        super().__init__(model, config)
        self.gamma = float(config.algo_kwargs.get("gamma", DEFAULT_GAMMA))

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> StepResult:
        label_kernel = cosine_kernel(centred_onehot(y, self.n_classes))
        h = x
        for segment in self.hidden:
            z = segment(h.detach())
            kz = cosine_kernel(z)
            (hsic(kz, kz) - self.gamma * hsic(label_kernel, kz)).backward()
            self.step_segment(segment)
            h = z
        logits, loss = self.output_update(h, y)
        self.step_segment(self.head)
        return self.result(logits, loss, y)

    def training_macs(self, costs: LayerCosts) -> int:
        """Forward + one weight gradient per layer + per block the Gram matrix Z·Zᵀ and its
        gradient (2·N·D_l per sample, D_l = the weight layer's output size, an upper bound
        where pooling shrinks the block output); no input gradients."""
        grams = sum(2 * costs.batch_size * d for d in costs.outputs[:-1])
        return 2 * costs.total + grams
