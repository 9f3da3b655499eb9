"""Binary MLP-Mixer (Tolstikhin et al., "MLP-Mixer: An all-MLP Architecture for Vision", 2021)
over an integer residual stream (edgebnn/nn/stream.py). Host-only: the exporter refuses it.

Patches → a ±1-weight patch embedding on the 8-bit pixels (a conv with kernel = stride = patch)
giving the integer stream of S tokens × D channels. Each layer has two StreamBlocks: token
mixing (BN → sign per channel, then a binary MLP across the S tokens, the same for every
channel) and channel mixing (BN → sign, a binary MLP across the D channels — 1×1 convolutions —
the same for every token); the MLPs' hidden layers are BN → sign, their outputs integers added to
the stream. The head reads the stream, counts +1s per channel over the tokens (global pooling)
and applies the ±1 classifier. Batch norm stands in for layer norm: it folds into thresholds.

Why host-only: token mixing is a dense layer over positions, applied per channel (a transpose
of the feature map), for which the .ebnn format has no op yet.

Sizes default to Mixer-S/16 (D = 512, 8 layers, token MLP 256, channel MLP 2048); the patch
size defaults to a quarter of the input side (16 tokens; 16 px patches at 224 would be 14×14
tokens), and `width` = D scales both MLPs (D/2 and 4·D) for an edge-sized Mixer.
"""
from __future__ import annotations

import torch
from torch import nn

from edgebnn import nn as bnn
from edgebnn.models.sizes import positive_int
from edgebnn.errors import UsageError

HOST_ONLY = ("MLP-Mixer is host-only: its token-mixing layers are dense across positions "
             "(a transposed feature map), which the .ebnn format has no op for; train and "
             "evaluate it with the torch backend")


class TokenMixing(nn.Module):
    """The token MLP of a ±1 map (N, D, H, W): per channel, S = H·W tokens → `hidden` units
    (BN → sign) → S integer outputs.

    The map is transposed to (N, S, D, 1) — tokens as channels, the D channels as positions —
    so the MLP is two 1×1 convolutions with batch norm per hidden unit, the same layer types
    as the rest of the network (and what the layer-local rules and the MAC count expect)."""

    #: read by the exporter, which refuses models containing this module
    host_only = HOST_ONLY

    def __init__(self, tokens: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = bnn.BinaryConv2d(tokens, hidden, 1)
        self.bn = bnn.BatchNorm2d(hidden)
        self.sign = bnn.Sign()
        self.fc2 = bnn.BinaryConv2d(hidden, tokens, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, d, h, w = x.shape
        t = x.flatten(2).transpose(1, 2).unsqueeze(3)            # (N, S, D, 1)
        u = self.fc2(self.sign(self.bn(self.fc1(t))))            # (N, S, D, 1)
        return u.squeeze(3).transpose(1, 2).reshape(n, d, h, w)


def mixer(input_shape: tuple[int, int, int], n_classes: int, width: int = 512, depth: int = 8,
          patch: int | None = None, remove_skips: bool = False) -> nn.Sequential:
    h, w, c = input_shape
    width, depth = positive_int(width, "width", "mixer"), positive_int(depth, "depth", "mixer")
    patch = positive_int(patch or max(1, min(h, w) // 4), "patch", "mixer")
    if patch > min(h, w):
        raise UsageError(f"patch: mixer takes a patch size up to the input side {min(h, w)}, "
                         f"got {patch}")
    tokens = (h // patch) * (w // patch)
    mods: list[nn.Module] = [bnn.InputConv2d(c, width, patch, stride=patch)]
    for _ in range(depth):
        token = nn.Sequential(TokenMixing(tokens, width // 2))
        channel = nn.Sequential(bnn.BinaryConv2d(width, 4 * width, 1), bnn.BatchNorm2d(4 * width),
                                bnn.Sign(), bnn.BinaryConv2d(4 * width, width, 1))
        mods += [bnn.StreamBlock(width, token, width, skip=not remove_skips),
                 bnn.StreamBlock(width, channel, width, skip=not remove_skips)]
    mods += [*bnn.stream_reader(width), bnn.GlobalCount(), bnn.ScoreLinear(width, n_classes)]
    return nn.Sequential(*mods)
