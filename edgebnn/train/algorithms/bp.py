"""Backpropagation with the straight-through estimator (Courbariaux, Hubara et al., "Binarized
Neural Networks", NeurIPS 2016): sign() passes the gradient where |x| <= 1, latent weights are
clipped to [-1, 1] after each Adam step."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from edgebnn.nn import clip_latent_weights
from edgebnn.train.base import Algorithm, StepResult, decay_groups


class Backprop(Algorithm):
    name = "bp"
    # BinaryNet's starting rate (Courbariaux et al. 2016, MNIST): latent weights must travel
    # about 1 to flip, which 1e-3 does too slowly for short runs.
    default_lr = 3e-3

    def __init__(self, model, config) -> None:
        super().__init__(model, config)
        self.optimizer = torch.optim.Adam(
            decay_groups(model.parameters(), model, config.weight_decay), lr=self.lr)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> StepResult:
        logits = self.model(x)
        loss = F.cross_entropy(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        clip_latent_weights(self.model)
        return StepResult(loss.item(), int((logits.argmax(1) == y).sum()))
