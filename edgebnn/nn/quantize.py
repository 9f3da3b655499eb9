"""Uniform quantizers for low-precision training (used by `--algo cyclic`, CycleBNN).

Two quantizers and the quantized sign, all "fake" (they return float tensors on the quantization grid):

- `quantize_ste(x, bits, dim)`: asymmetric min-max uniform quantization to 2^bits levels with
  round-to-nearest in the forward pass and the identity (straight-through) in the backward pass.
  The range is taken per slice along `dim` (per output channel for weights) or over the whole
  tensor (`dim=None`, activations), as CycleBNN/CPT do. Min-max grids are scale-equivariant
  (q(c·x) = c·q(x) for c > 0), which is why CycleBNN's per-channel rescaling of weights and
  activations before quantize-then-sign changes nothing in the forward pass and is not repeated.
- `quantize_grad(x, bits, generator)`: identity in the forward pass; in the backward pass the
  incoming gradient is stochastically rounded onto a *symmetric* grid of 2^bits − 1 levels
  (codes −(2^(bits−1) − 1) … 2^(bits−1) − 1, scale max|g| / that). Stochastic rounding
  floor(v + u), u ~ U[0, 1), is unbiased: E[q(g)] = g. A symmetric grid contains 0 exactly, so a
  gradient the sign's STE already blocked stays exactly zero instead of picking up rounding noise
  (the min-max grid of the CycleBNN code does not contain 0). The uniform draws come from a
  caller-owned torch.Generator, so a seeded run is reproducible.
- `quantized_sign(x, bits)`: the binary activation of CycleBNN, sign(q(x)) with q the b-bit
  min-max quantizer, and the approximate-sign STE 2·max(0, 1 − |x|) (Bi-Real Net's) evaluated
  at x itself. The quantizer is straight-through, so the window belongs at x: evaluated at
  q(x) instead, a 2-bit grid (levels lo, lo + s, hi − s, hi with s = (hi − lo)/3) has no level
  inside (−1, 1) once the range reaches ±3 — the usual case after batch norm — and no
  gradient reached any hidden layer.
"""
from __future__ import annotations

import torch


def _minmax_quantize(x: torch.Tensor, bits: int, dim: int | None) -> torch.Tensor:
    """x rounded to the nearest of 2^bits evenly spaced values spanning its min..max."""
    if dim is None:
        lo, hi = x.min(), x.max()
    else:
        reduce = [d for d in range(x.dim()) if d != dim % x.dim()]
        lo, hi = x.amin(dim=reduce, keepdim=True), x.amax(dim=reduce, keepdim=True)
    step = ((hi - lo) / (2 ** bits - 1)).clamp_min(1e-12)   # a constant slice stays itself
    return torch.round((x - lo) / step) * step + lo


class _QuantizeSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, bits: int, dim: int | None) -> torch.Tensor:  # type: ignore[override]
        return _minmax_quantize(x, bits, dim)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return grad, None, None


def quantize_ste(x: torch.Tensor, bits: int, dim: int | None = None) -> torch.Tensor:
    """b-bit min-max quantization (forward) with a straight-through gradient (backward)."""
    if bits < 1:
        raise ValueError(f"bits must be >= 1, got {bits}")
    return _QuantizeSTE.apply(x, bits, dim)


class _QuantizedSign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, bits: int) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return torch.where(_minmax_quantize(x, bits, None) >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * (2 * (1 - x.abs())).clamp_min(0), None


def quantized_sign(x: torch.Tensor, bits: int) -> torch.Tensor:
    """±1 = sign(b-bit min-max quantization of x); gradient 2·max(0, 1 − |x|) at x."""
    if bits < 1:
        raise ValueError(f"bits must be >= 1, got {bits}")
    return _QuantizedSign.apply(x, bits)


def stochastic_round_symmetric(g: torch.Tensor, bits: int,
                               generator: torch.Generator | None = None) -> torch.Tensor:
    """g stochastically rounded onto the symmetric grid scale·{−m, …, m}, m = 2^(bits−1) − 1,
    scale = max|g| / m (per tensor). Unbiased; zero maps to zero."""
    m = 2 ** (bits - 1) - 1
    scale = g.abs().max() / m
    if scale == 0:
        return g.clone()
    # drawn where the generator lives (the CPU one the rules seed), so the draws, and the run,
    # do not depend on where g is
    u = torch.rand(g.shape, generator=generator, dtype=g.dtype,
                   device=g.device if generator is None else generator.device).to(g.device)
    codes = torch.floor(g / scale + u).clamp_(-m, m)
    return codes * scale


class _QuantizeGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, bits: int,  # type: ignore[override]
                generator: torch.Generator | None) -> torch.Tensor:
        ctx.bits, ctx.generator = bits, generator
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return stochastic_round_symmetric(grad, ctx.bits, ctx.generator), None, None


def quantize_grad(x: torch.Tensor, bits: int = 8,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Identity forward; the gradient flowing back through it is quantized to `bits` bits."""
    if bits < 2:
        raise ValueError(f"gradient bits must be >= 2, got {bits}")
    return _QuantizeGrad.apply(x, bits, generator)
