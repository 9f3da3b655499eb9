"""`cyclic`: cyclic precision training of binary networks — CycleBNN (F. Fontana, R. Lanzino,
M. Raoul, L. Cinque, G. L. Foresti, "CycleBNN: Cyclic Precision Training in Binary Neural
Networks", ECCV 2024 workshops, arXiv 2410.00050; code: fedeloper/CycleBNN).

What one step does (defaults from the paper):
- Precision schedule b(t) = round(b_min + ½(b_max − b_min)(1 − cos(π·(t mod T)/T))), b_min = 2,
  b_max = 6, T = total iterations / 8 (eight cycles per run; total = epochs × batches per
  epoch, known in `prepare`). round() is half-up.
- Before every sign, the value is quantized to b(t) bits: latent weights per output channel
  (`quantize_ste`, dim 0), pre-sign activations (the BatchNorm outputs) per tensor. The ±1
  products themselves stay 1-bit, so the forward pass is the deployed network plus
  quantization noise that is coarse at the start of each cycle and fine at its end.
- STEs as in the paper: identity for weights (latent weights are clipped to [−1, 1] after each
  step, like `bp`), 2·max(0, 1 − |x|) for activations (Bi-Real's ApproxSign), evaluated at the
  value before quantization (`quantized_sign`: at the quantized value a 2-bit grid has no level
  inside (−1, 1) and no gradient would reach a hidden layer).
- Gradients flowing back out of every hidden binary layer are stochastically rounded to 8 bits
  (`quantize_grad`, seeded by the run's seed, unbiased).
- Learnable per-channel scale α > 0 (α = exp(a), a learned) on the pre-sign activation. Choice:
  α exists **only in training** and is owned by the algorithm, not the model. It sits between
  BatchNorm and Sign, so it changes the training-time quantization grid and the width of the STE
  window (the gradient passes where |α·z| ≤ 1), but never the sign: sign(α·z) = sign(z) for
  α > 0. The eval-mode model is therefore untouched — (Input|Binary)Conv/Linear → BatchNorm →
  Sign … ScoreLinear — and exports and runs bit-exactly on the C core. (Equivalently α folds
  exactly into the BatchNorm's affine: γ' = α·γ, β' = α·β; nothing needs folding because the
  sign is all the deployed model keeps.) A scale *before* the BatchNorm, as in the paper's conv,
  would be cancelled by the training-mode batch statistics anyway.
- The paper's per-channel rescale of weights by 2√2/std and of activations by 1/std is not
  repeated: min-max quantization is scale-equivariant, so it does not change sign(q(x)).
- AdamW, lr 1e-3, cosine learning-rate decay to 0 over the run (stepped per iteration). The
  paper's batch size is 16; the runner's `--batch-size` is used as given.
Everything is done with hooks around the existing layers for the duration of one step (weights
through torch.func.functional_call), so the trained model is the same architecture `bp` trains.

Training compute (`training_macs`, documented in docs/algorithms.md): MACs weighted by the
product of their operands' bit widths, in full-precision (32 × 32-bit) MAC equivalents, averaged
over the run's schedule; `compute_details` adds the full-precision count and the saving in %.
`resnet18_mac_saving` evaluates the same cost model on ResNet-18's layer shapes analytically.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from edgebnn import nn as bnn
from edgebnn.nn import clip_latent_weights
from edgebnn.nn.quantize import quantize_grad, quantize_ste, quantized_sign
from edgebnn.runs.config import TrainConfig
from edgebnn.train.base import Algorithm, StepResult, decay_groups
from edgebnn.train.memory import LayerCosts

#: the paper's settings
B_MIN, B_MAX, CYCLES, GRAD_BITS = 2, 6, 8, 8
#: bit width of a full-precision operand in the cost model
FULL_BITS = 32
#: marks an operand whose bit width follows the schedule b(t)
SCHEDULED = "b(t)"

Bits = int | str


def precision_at(t: int, period: float, b_min: int = B_MIN, b_max: int = B_MAX) -> int:
    """b(t) = round(b_min + ½(b_max − b_min)(1 − cos(π·(t mod T)/T))), rounded half up."""
    phase = (t % period) / period
    return math.floor(b_min + 0.5 * (b_max - b_min) * (1 - math.cos(math.pi * phase)) + 0.5)


def cycle_period(total_iterations: int, cycles: int = CYCLES) -> float:
    """T = total iterations / cycles (at least one iteration)."""
    return max(1.0, total_iterations / cycles)


def schedule_moments(total_iterations: int, period: float, b_min: int = B_MIN,
                     b_max: int = B_MAX) -> tuple[float, float]:
    """(mean b, mean b²) over iterations 0 … total − 1: what a cost linear or quadratic in the
    scheduled bit width averages to over the run."""
    bs = [precision_at(t, period, b_min, b_max) for t in range(max(1, total_iterations))]
    return sum(bs) / len(bs), sum(b * b for b in bs) / len(bs)


# ---------------------------------------------------------------------------------------------
# Cost model


@dataclass(frozen=True)
class LayerPrecision:
    """One weight layer's forward MACs per sample and its operands' bit widths in training:
    activations a, weights w, and the gradient g arriving at its output. `first`: no input
    gradient is computed for it."""

    macs: int
    a: Bits
    w: Bits
    g: Bits
    first: bool = False


def _product(x: Bits, y: Bits, mean_b: float, mean_b2: float) -> float:
    """E[bits(x)·bits(y)] over the schedule."""
    n_sched = (x == SCHEDULED) + (y == SCHEDULED)
    if n_sched == 2:
        return mean_b2
    if n_sched == 1:
        return mean_b * (y if x == SCHEDULED else x)  # type: ignore[operator]
    return float(x) * float(y)  # type: ignore[arg-type]


def bit_weighted_training_macs(layers: Sequence[LayerPrecision], mean_b: float,
                               mean_b2: float) -> tuple[float, int]:
    """(bit-weighted, full-precision) training MACs per sample.

    Per layer of f forward MACs: forward a×w, input gradient g×w (not for the first layer),
    weight gradient g×a, each costing f·bits·bits/32² full-precision MAC equivalents (a
    multiplier's area/energy grows with the product of its operand widths). Full precision is
    32×32 everywhere, i.e. backprop's 3F − f_first."""
    weighted, full = 0.0, 0
    for layer in layers:
        passes = [(layer.a, layer.w), (layer.g, layer.a)]
        if not layer.first:
            passes.append((layer.g, layer.w))
        weighted += layer.macs * sum(_product(x, y, mean_b, mean_b2) for x, y in passes)
        full += layer.macs * len(passes)
    return weighted / FULL_BITS ** 2, full


def saving_percent(weighted: float, full: int) -> float:
    return 100.0 * (1.0 - weighted / full)


def resnet18_layers(imagenet: bool) -> list[LayerPrecision]:
    """ResNet-18's weight layers as CycleBNN trains them: the first conv, the classifier and (on
    ImageNet) the 1×1 downsample convs in full precision, every other conv binary (a = w = b(t),
    gradient 8 bits). CIFAR variant: 3×3 stem at 32×32, no max pool, 10 classes; ImageNet: 7×7
    stride-2 stem at 224×224, max pool, 1000 classes."""
    fp = LayerPrecision
    if imagenet:
        side, layers = 56, [fp(112 * 112 * 64 * 7 * 7 * 3, FULL_BITS, FULL_BITS, FULL_BITS, True)]
    else:
        side, layers = 32, [fp(32 * 32 * 64 * 3 * 3 * 3, FULL_BITS, FULL_BITS, FULL_BITS, True)]
    binary = dict(a=SCHEDULED, w=SCHEDULED, g=GRAD_BITS)
    c_in = 64
    for stage, c in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            side //= stride
            layers.append(fp(side * side * c * 9 * c_in, **binary))
            layers.append(fp(side * side * c * 9 * c, **binary))
            if c != c_in:
                down = side * side * c * c_in
                layers.append(fp(down, FULL_BITS, FULL_BITS, FULL_BITS) if imagenet
                              else fp(down, **binary))
            c_in = c
    layers.append(fp(512 * (1000 if imagenet else 10), FULL_BITS, FULL_BITS, FULL_BITS))
    return layers


def resnet18_mac_saving(imagenet: bool = False, total_iterations: int = 80_000) -> float:
    """The training-MAC saving in % of CycleBNN over full precision for ResNet-18 on the paper's
    schedule (2 → 6 bits, 8 cycles, 8-bit gradients), with this module's cost model.
    CIFAR-10: 97.12 %; ImageNet: 91.92 % (the paper reports 88.88 % / 96.09 %; docs/algorithms.md
    explains the difference). Any run long enough for the cycles to be sampled finely gives the
    same figure to 0.01 %."""
    mean_b, mean_b2 = schedule_moments(total_iterations, cycle_period(total_iterations))
    return saving_percent(*bit_weighted_training_macs(resnet18_layers(imagenet), mean_b, mean_b2))


def model_layers(costs: LayerCosts) -> list[LayerPrecision]:
    """An edgebnn model's weight layers as `cyclic` trains them: every layer has ±1 weights
    quantized to b(t) before their sign; the first takes 8-bit pixels, the others b(t)-bit
    pre-sign activations; gradients are 8-bit except at the output layer, whose output gradient
    (∂CE/∂logits) stays full precision."""
    last = len(costs.forward) - 1
    return [LayerPrecision(f, 8 if i == 0 else SCHEDULED, SCHEDULED,
                           FULL_BITS if i == last else GRAD_BITS, first=i == 0)
            for i, f in enumerate(costs.forward)]


# ---------------------------------------------------------------------------------------------
# Training


def _sign_channels(model: nn.Module) -> list[tuple[bnn.Sign, int]]:
    """Each Sign module with the channel count of what it binarizes (the BatchNorm before it)."""
    out, channels = [], None
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            channels = m.num_features
        elif isinstance(m, (bnn.BinaryLinear, bnn.BinaryConv2d)):
            channels = m.weight.shape[0]
        elif isinstance(m, bnn.Sign):
            if channels is None:
                raise ValueError("cyclic: a Sign without a layer before it")
            out.append((m, channels))
    return out


class CycleBNN(Algorithm):
    name = "cyclic"
    default_lr = 1e-3   # the paper's AdamW rate

    def __init__(self, model: nn.Module, config: TrainConfig) -> None:
        super().__init__(model, config)
        kw = config.algo_kwargs
        self.b_min, self.b_max = int(kw.get("b_min", B_MIN)), int(kw.get("b_max", B_MAX))
        self.cycles, self.grad_bits = int(kw.get("cycles", CYCLES)), int(kw.get("grad_bits", GRAD_BITS))
        self.binary = [(name, m) for name, m in model.named_modules()
                       if isinstance(m, (bnn.BinaryLinear, bnn.BinaryConv2d))]
        self.signs = _sign_channels(model)
        # log α per channel of each Sign's input: α = 1 at the start
        self.log_alpha = nn.ParameterList([nn.Parameter(torch.zeros(c)) for _, c in self.signs])
        self.optimizer = torch.optim.AdamW(
            decay_groups([*model.parameters(), *self.log_alpha], model, config.weight_decay),
            lr=self.lr)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.step = 0
        self.total_iterations: int | None = None
        self.period = 1.0
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None

    def prepare(self, train_x) -> None:
        """Knows the run length here: epochs × batches per epoch sets T and the cosine decay."""
        batches = -(-len(train_x) // self.config.batch_size)
        self.total_iterations = max(1, self.config.epochs * batches)
        self.period = cycle_period(self.total_iterations, self.cycles)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, T_max=self.total_iterations)

    def bits(self) -> int:
        """b(t) of the current iteration."""
        return precision_at(self.step, self.period, self.b_min, self.b_max)

    @contextlib.contextmanager
    def _quantized(self, bits: int) -> Iterator[dict[str, torch.Tensor]]:
        """Hooks for one step: every Sign's input becomes sign(b-bit quantized α·z) with the
        paper's STE at α·z (`quantized_sign`; the Sign then passes those ±1 unchanged); 8-bit
        stochastic gradients out of every hidden binary layer. Yields the b-bit weights to run the
        model with (functional_call), so the parameters themselves stay the latent floats."""
        handles = []
        for (sign, _), log_alpha in zip(self.signs, self.log_alpha):
            def pre(_m: nn.Module, args: tuple, la: torch.Tensor = log_alpha) -> tuple:
                (z,) = args
                alpha = la.exp().view((1, -1) + (1,) * (z.dim() - 2))
                return (quantized_sign(alpha * z, bits),)
            handles.append(sign.register_forward_pre_hook(pre))
        for _, layer in self.binary:
            if not isinstance(layer, bnn.ScoreLinear):
                handles.append(layer.register_forward_hook(
                    lambda _m, _a, out: quantize_grad(out, self.grad_bits, self.generator)))
        try:
            yield {f"{name}.weight": quantize_ste(layer.weight, bits, dim=0)
                   for name, layer in self.binary}
        finally:
            for h in handles:
                h.remove()

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> StepResult:
        if self.scheduler is None:
            raise RuntimeError("cyclic: prepare() must be called before training (run length)")
        with self._quantized(self.bits()) as weights:
            logits = torch.func.functional_call(self.model, weights, (x,))
        loss = F.cross_entropy(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        clip_latent_weights(self.model)
        self.step += 1
        return StepResult(loss.item(), int((logits.argmax(1) == y).sum()))

    def _moments(self) -> tuple[float, float]:
        total = self.total_iterations or 1000 * self.cycles  # before prepare: a fine sampling
        return schedule_moments(total, cycle_period(total, self.cycles), self.b_min, self.b_max)

    def training_macs(self, costs: LayerCosts) -> int:
        """Bit-weighted MACs per sample (32×32-bit equivalents), averaged over the run."""
        return round(bit_weighted_training_macs(model_layers(costs), *self._moments())[0])

    def compute_details(self, costs: LayerCosts) -> dict[str, Any]:
        mean_b, mean_b2 = self._moments()
        weighted, full = bit_weighted_training_macs(model_layers(costs), mean_b, mean_b2)
        return {"cost_model": "MACs x (operand bits product) / 32^2, averaged over b(t)",
                "full_precision_training_macs_per_sample": full,
                "full_precision_training_macs_per_iteration": full * costs.batch_size,
                "training_mac_saving_percent": saving_percent(weighted, full),
                "mean_bits": mean_b, "bits": [self.b_min, self.b_max],
                "gradient_bits": self.grad_bits, "cycle_iterations": self.period}
