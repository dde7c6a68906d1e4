"""Process-group set-up for torchrun (gloo on CPU, nccl on GPU) and the sampler that shards each global batch over
the ranks; a single process needs none of the set-up."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from actionbook.errors import ConfigError


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto") -> DistContext:
    """Read torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK) and join the process group if there is one."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise ConfigError("device=cuda was asked for but no CUDA device is available; use device=cpu or auto")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistContext(rank, world, local_rank, dev)


def cleanup(ctx: DistContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def all_gather_objects(ctx: DistContext, obj):
    """Every rank's `obj`, in rank order (a list of one on a single process)."""
    if not ctx.distributed:
        return [obj]
    out = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_flag(ctx: DistContext, flag: bool) -> bool:
    """True on every rank if it is true on any (a SIGTERM seen by one rank stops all of them together)."""
    if not ctx.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


class ShardedBatchSampler:
    """Global batches of a (seed, epoch)-determined order; each rank takes its strided share of every batch.

    One process with batch B and W processes with B/W each see the same samples per step. That makes DDP equal to
    single-process training (to float32 all-reduce rounding) when BatchNorm does not depend on the per-process
    batch: with freeze_bn (running statistics) or sync_bn (SyncBatchNorm over all ranks, CUDA). With ordinary BN
    each process normalises with its own share's statistics, and the runs differ. `start_batch` skips batches
    already trained before a resume. With `micro_batches` K > 1 (gradient accumulation) each rank's share comes as
    K consecutive micro-batches: one batch of the sampler is then K items of the loader.
    """

    def __init__(self, size: int, global_batch: int, ctx: DistContext, shuffle: bool, seed: int, drop_last: bool,
                 micro_batches: int = 1):
        self.size, self.global_batch, self.ctx = size, global_batch, ctx
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.micro_batches = micro_batches
        self.epoch, self.start_batch, self.limit = 0, 0, None

    def set_epoch(self, epoch: int, start_batch: int = 0, limit: int | None = None) -> None:
        self.epoch, self.start_batch, self.limit = epoch, start_batch, limit

    def _batches(self) -> list[list[int]]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.size, generator=g).tolist()
        else:
            order = list(range(self.size))
        batches = [order[i:i + self.global_batch] for i in range(0, self.size, self.global_batch)]
        if self.drop_last and batches and len(batches[-1]) < self.global_batch:
            batches.pop()
        return batches[:self.limit] if self.limit else batches

    def __len__(self) -> int:
        return len(self._batches()) * self.micro_batches

    def __iter__(self):
        for batch in self._batches()[self.start_batch:]:
            share = batch[self.ctx.rank::self.ctx.world_size]
            size = len(share) // self.micro_batches
            if size:
                for start in range(0, size * self.micro_batches, size):
                    yield share[start:start + size]
