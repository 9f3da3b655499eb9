"""Data-parallel training on torch.distributed: one process per device, launched by torchrun
(`edgebnn train --nproc N` runs torchrun's own entry point, torch.distributed.run; several
machines: docs/training.md). gloo on CPUs, NCCL on GPUs.

Every rank holds the whole training set and draws the same seeded batch order; each global
batch of `--batch-size` is cut into contiguous shards, one per rank (`shard`), whose union is
exactly the single-process batch. How the ranks' updates combine:
- gradient rules (bp, fa, dfa, drtp, hsic, sigprop, cyclic): each rank's gradients, weighted
  by its share of the batch (n_rank / n_batch), are summed across ranks right before every
  optimizer step (`average_gradients`, an optimizer pre-step hook): the gradient of the global
  batch's mean loss for every loss that is a per-sample mean. Batch-norm statistics in train
  mode are those of the global batch (`global_batch_norm`, a SyncBatchNorm that also runs on
  CPUs), so bp on N processes equals bp on one within float rounding. HSIC's kernel loss is
  not a per-sample mean: there each rank's shard is its HSIC batch (the loss is the shards'
  weighted mean). Fixed random matrices (fa, dfa, drtp feedback, sigprop's F) come from the
  seed and are identical on every rank.
- `local`: each rank's integer hidden-weight increments are summed (`sum_`, all_reduce SUM on
  int64), then applied once with the clipping and reinforcement of one process, so N
  processes give exactly one process's weights.
Only rank 0 writes the run folder and the checkpoints.
"""
from __future__ import annotations

import contextlib
import datetime
import os
import types
from typing import Iterator, Sequence

import torch
import torch.distributed as dist
from torch import nn

from edgebnn.errors import EdgebnnError, UsageError

#: seconds a collective waits for the other ranks before the run fails (EDGEBNN_DIST_TIMEOUT)
DEFAULT_TIMEOUT = 300.0
#: fault injection for the tests: "RANK:EPOCH:BATCH" makes that rank exit mid-epoch
FAULT_ENV = "EDGEBNN_FAULT_EXIT"
FAULT_EXIT_CODE = 17


class DistributedError(EdgebnnError):
    pass


def world() -> tuple[int, int]:
    """(rank, number of ranks); (0, 1) outside torch.distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def launched() -> bool:
    """True in a process that torchrun started as one of several ranks."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: torch.device) -> None:
    """Joins the process group torchrun set up (env://): gloo for CPUs, NCCL for GPUs."""
    if not launched() or dist.is_initialized():
        return
    timeout = float(os.environ.get("EDGEBNN_DIST_TIMEOUT", DEFAULT_TIMEOUT))
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout))


def finish() -> None:
    """Leaves the process group (no-op outside one). A rank that exits with the group still
    alive can abort at interpreter shutdown (gloo's threads are destroyed joinable:
    "terminate called without an active exception", SIGABRT), which torchrun then reports as
    that rank's failure although its work was done."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def check_nproc(nproc: int, device: torch.device) -> None:
    """One process per device: GPUs present for cuda; for CPUs, at most os.cpu_count()
    processes (more would time-share cores and only slow the run down)."""
    if device.type == "cuda":
        present, what = torch.cuda.device_count(), "CUDA devices"
    else:
        present, what = os.cpu_count() or 1, "CPU cores (os.cpu_count())"
    if nproc > present:
        raise UsageError(f"one process per device, expected at most {present} ({what}), "
                         f"found {nproc}", field="--nproc")


def shard(n: int) -> slice:
    """This rank's contiguous part of a global batch of n samples (sizes differ by at most
    one, the first ranks larger; a rank may get none of a short last batch)."""
    rank, size = world()
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (rank < extra))


class _Share:
    """This rank's share n_rank / n_batch of the current global batch (set per step)."""
    weight = 1.0


def set_share(local: int, total: int) -> None:
    _Share.weight = local / total


def sum_(t: torch.Tensor) -> torch.Tensor:
    """all_reduce SUM in place (identity on one process); returns t. NCCL reduces GPU tensors
    only: a CPU one (the local rule's increments, the epoch totals) goes through this rank's
    GPU and back."""
    if world()[1] > 1:
        if t.device.type == "cpu" and dist.get_backend() == "nccl":
            on_gpu = t.to(torch.device("cuda", torch.cuda.current_device()))
            dist.all_reduce(on_gpu, dist.ReduceOp.SUM)
            t.copy_(on_gpu)
        else:
            dist.all_reduce(t, dist.ReduceOp.SUM)
    return t


def average_gradients(optimizers: Sequence[torch.optim.Optimizer]) -> None:
    """Before every step of these optimizers, replaces each gradient present by the sum over
    ranks of share × gradient (one flat all_reduce per step). A rule that steps segment by
    segment has the same gradients present on every rank, so the collectives match."""
    if world()[1] == 1:
        return

    def pre_step(opt: torch.optim.Optimizer, *_: object) -> None:
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        if not grads:
            return
        flat = sum_(torch.cat([g.reshape(-1) for g in grads]) * _Share.weight)
        for g, part in zip(grads, flat.split([g.numel() for g in grads])):
            g.copy_(part.view_as(g))

    for opt in optimizers:
        opt.register_step_pre_hook(pre_step)


class _GlobalSum(torch.autograd.Function):
    """Sum over ranks with the gradient of the ranks' share-weighted losses: each rank's
    backward continues with Σ_r share_r·g_r / share_own, so that after `average_gradients`
    weights it by share_own again every path is counted once."""

    @staticmethod
    def forward(ctx, t: torch.Tensor) -> torch.Tensor:
        ctx.share = _Share.weight
        return sum_(t.clone())

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:
        if ctx.share == 0:
            return torch.zeros_like(sum_(g * 0))   # joins the collective, no samples here
        return sum_(g * ctx.share) / ctx.share


def _synced_forward(self: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """Train-mode batch norm on the global batch's statistics (biased variance to normalise,
    unbiased for the running average, as nn.BatchNorm)."""
    dims = [d for d in range(x.dim()) if d != 1]
    count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
    stats = _GlobalSum.apply(torch.cat([x.sum(dims), (x * x).sum(dims), count]))
    c = x.shape[1]
    n = stats[-1]
    mean, var = stats[:c] / n, stats[c:2 * c] / n - (stats[:c] / n) ** 2
    if self.track_running_stats:
        with torch.no_grad():
            self.num_batches_tracked += 1
            m = (1.0 / float(self.num_batches_tracked)) if self.momentum is None else self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean.detach())
            self.running_var.mul_(1 - m).add_(m * var.detach() * n / max(float(n) - 1, 1.0))
    shape = [1, c] + [1] * (x.dim() - 2)
    y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
    if self.affine:
        y = y * self.weight.view(shape) + self.bias.view(shape)
    return y


@contextlib.contextmanager
def global_batch_norm(model: nn.Module) -> Iterator[None]:
    """For one training step on several ranks: every train-mode batch norm of `model` uses the
    global batch's statistics. Nothing changes on one process."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if world()[1] == 1 or not bns:
        yield
        return
    for m in bns:
        m.forward = types.MethodType(
            lambda self, x: _synced_forward(self, x) if self.training else
            nn.modules.batchnorm._BatchNorm.forward(self, x), m)
    try:
        yield
    finally:
        for m in bns:
            del m.forward


def fault_point(epoch: int, batch: int) -> None:
    """Exits this rank at the point named by EDGEBNN_FAULT_EXIT (tests of a rank dying)."""
    spec = os.environ.get(FAULT_ENV)
    if spec and [int(v) for v in spec.split(":")] == [world()[0], epoch, batch]:
        os._exit(FAULT_EXIT_CODE)


def is_collective_failure(e: BaseException) -> bool:
    """A collective that failed because a peer went away (gloo raises a plain RuntimeError)."""
    text = str(e)
    return world()[1] > 1 and (isinstance(e, dist.DistError) or any(
        mark in text for mark in ("gloo", "NCCL", "Connection closed", "Connection reset")))


def collective_failed(e: Exception) -> DistributedError:
    """The message of a rank whose collective failed because another rank stopped."""
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return DistributedError(f"rank {world()[0]}: lost the other ranks ({first})")


def launch(nproc: int, train_argv: list[str]) -> None:
    """Runs `edgebnn train` (train_argv, without --nproc) in nproc processes on this machine
    through torchrun's own entry point, rendezvous on 127.0.0.1. A rank that fails is named."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    args = parse_args(["--nnodes", "1", "--nproc-per-node", str(nproc), "--max-restarts", "0",
                       "--rdzv-backend", "c10d", "--rdzv-endpoint", "127.0.0.1:0",
                       "--monitor-interval", "0.2", "-m", "edgebnn.cli", "train", *train_argv])
    try:
        run(args)
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()
        raise DistributedError(f"rank {rank} stopped (exit code {failure.exitcode}); the run "
                               "folder keeps the last complete epoch's checkpoint "
                               "(edgebnn train --resume continues it)") from None
