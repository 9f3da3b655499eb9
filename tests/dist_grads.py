"""Run by tests/test_distributed.py, alone or under torchrun: one backprop step's gradients of a
CNN (batch norm 2d, max pool) on a fixed batch of 50, saved by rank 0 to argv[1] — the
share-weighted sum over ranks under torchrun, as the runner's optimizer hook forms it."""
from __future__ import annotations

import os
import sys

import torch
import torch.nn.functional as F

from edgebnn.models import build_model
from edgebnn.train import distributed


def main(out: str) -> None:
    torch.manual_seed(0)
    model = build_model("cnn", (8, 8, 1), 10, width=4).train()
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 17, (50, 1, 8, 8), generator=g).float()
    y = torch.randint(0, 10, (50,), generator=g)
    distributed.init(torch.device("cpu"))
    part = distributed.shard(len(y)) if "WORLD_SIZE" in os.environ else slice(0, len(y))
    distributed.set_share(part.stop - part.start, len(y))
    with distributed.global_batch_norm(model):
        F.cross_entropy(model(x[part]), y[part]).backward()
    grads = {n: distributed.sum_(p.grad * distributed._Share.weight)
             for n, p in model.named_parameters() if p.grad is not None}
    if distributed.is_main():
        torch.save(grads, out)
    distributed.finish()


if __name__ == "__main__":
    main(sys.argv[1])
