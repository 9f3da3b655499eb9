"""Binary convolution, dense and batch-norm layers.

All pre-activations are exact integers held in float32 (sums of ±1 or of 0..255 × ±1 stay far
below 2^24), so eval-mode outputs equal the C core's integers. Weights keep a float latent copy
for the optimizer, clipped to [-1, 1]; the forward pass uses sign(latent).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from edgebnn.nn.binarize import binarize

#: Value of padded positions of a binary feature map (docs/format.md): −1, i.e. bit 0.
BINARY_PAD_VALUE = -1.0


class _BatchNormFoldable:
    """Eval-mode batch norm as y*scale + shift with scale and shift computed once in float32.

    Two rounded elementwise ops, the same for every tensor shape, so the exporter can evaluate
    exactly the decision the model makes and fold it into an integer threshold."""

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        weight = self.weight if self.affine else torch.ones_like(self.running_var)
        bias = self.bias if self.affine else torch.zeros_like(self.running_mean)
        scale = weight / torch.sqrt(self.running_var + self.eps)
        return scale.float(), (bias - self.running_mean * scale).float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or not self.track_running_stats:
            return super().forward(x)  # type: ignore[misc]
        scale, shift = self.folded()
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * scale.view(shape) + shift.view(shape)


class BatchNorm1d(_BatchNormFoldable, nn.BatchNorm1d):
    pass


class BatchNorm2d(_BatchNormFoldable, nn.BatchNorm2d):
    pass


class _BinaryWeights:
    """Mixin: ±1 weights from a latent float tensor.

    Latent weights keep PyTorch's default fan-in scaled init (|w| ≲ 1/√fan_in): near zero, a
    few optimizer steps flip a sign, where an init spread over [-1, 1] would freeze most signs
    for hundreds of steps.

    `binary` False (the `--binarize acts|none` ablations, edgebnn/nn/ablation.py) uses the
    latent weights themselves: the same layer at full precision, which does not deploy."""

    weight: nn.Parameter
    binary: bool = True

    def binary_weight(self) -> torch.Tensor:
        return binarize(self.weight) if self.binary else self.weight


class BinaryLinear(_BinaryWeights, nn.Linear):
    """±1 weights × ±1 activations."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.binary_weight())


class InputLinear(BinaryLinear):
    """First dense layer: raw 8-bit pixels (0..255, as float) × ±1 weights, exact integers."""


class ScoreLinear(BinaryLinear):
    """Last layer: ±1 weights producing integer class scores.

    Raw scores reach ±in_features, far too peaked for a softmax, so training multiplies them by a
    learned positive temperature. Eval mode returns the integer scores themselves: a positive
    scale never changes the argmax, and the C core returns the same integers."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        # Start at 1/sqrt(in_features): scores then have roughly unit variance.
        self.log_scale = nn.Parameter(torch.tensor(-0.5 * math.log(in_features)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = super().forward(x)
        return scores * self.log_scale.exp() if self.training else scores


class BinaryConv2d(_BinaryWeights, nn.Conv2d):
    """±1 convolution over a ±1 feature map; padding is −1 (BINARY_PAD_VALUE)."""

    pad_value = BINARY_PAD_VALUE

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, groups: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ph, pw = self.padding  # type: ignore[misc]
        if ph or pw:
            x = F.pad(x, (pw, pw, ph, ph), value=self.pad_value)
        return F.conv2d(x, self.binary_weight(), None, self.stride, 0, 1, self.groups)


class InputConv2d(BinaryConv2d):
    """First convolution: 8-bit pixels × ±1 weights; padded pixels are 0 like a black border."""

    pad_value = 0.0


def clip_latent_weights(model: nn.Module) -> None:
    """Keeps latent weights in [-1, 1] after an optimizer step, where the STE passes gradient."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, _BinaryWeights):
                m.weight.clamp_(-1.0, 1.0)
