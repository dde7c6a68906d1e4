"""Gradient accumulation: a row's global batch on fewer GPUs than the paper had.

`batch_size` stays the published global batch; each of the nnodes x nproc processes takes its strided share of
every global batch (the same (seed, epoch) sample order as without accumulation) and splits it into
`accumulate_steps` micro-batches that go through forward and backward one after the other, each loss divided by
their number, before one optimiser step. The LR schedule counts optimiser steps, so it is unchanged too:

    global batch = nnodes x nproc x micro-batch x accumulate_steps

With frozen BN (`freeze_bn`: running statistics) the step equals the unaccumulated one to float rounding
(tests/test_accumulation.py). With ordinary BN each micro-batch is normalised by its own statistics (like DDP's
per-process BN, on fewer clips), so the result differs; `batch_layout` says so in the run record.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import nn

from actionbook.errors import ConfigError
from actionbook.experiment import Experiment


def micro_batch_size(exp: Experiment, world_size: int) -> int:
    """Clips one process takes through forward and backward at once."""
    if exp.batch_size % (world_size * exp.accumulate_steps):
        raise ConfigError(f"batch_size {exp.batch_size} (global) does not divide into {world_size} processes x "
                          f"accumulate_steps={exp.accumulate_steps}: launch nnodes x nproc processes as the "
                          f"experiment says ({exp.nnodes} x {exp.nproc}) or change batch_size")
    return exp.batch_size // (world_size * exp.accumulate_steps)


def batch_layout(exp: Experiment, world_size: int) -> dict:
    """The record's account of how the global batch was made, and whether BN saw all of it."""
    micro = micro_batch_size(exp, world_size)
    if exp.freeze_bn:
        bn = "frozen (running statistics): equal to the global batch in one step"
    elif exp.sync_bn:
        bn = f"synchronised over the processes: statistics of {micro * world_size} clips per micro-batch"
    else:
        bn = f"per process and micro-batch: statistics of {micro} clips"
    if exp.sync_bn and exp.accumulate_steps > 1:
        bn += f", not of the global batch of {exp.batch_size}"
    return {"global": exp.batch_size, "processes": world_size, "micro_batch": micro,
            "accumulate_steps": exp.accumulate_steps, "bn_statistics": bn}


def grouped(loader, steps: int):
    """The loader's micro-batches, `steps` at a time (one optimiser step's worth)."""
    group = []
    for item in loader:
        group.append(item)
        if len(group) == steps:
            yield group
            group = []


def forward_backward(trainer, inputs: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[float, int, int]:
    """Forward and backward over one step's micro-batches (on the device), gradients summed as for their union;
    the gradient all-reduce of DDP runs once, after the last. Returns (mean loss, correct, clips)."""
    steps = len(inputs)
    loss_sum, correct, seen = 0.0, 0, 0
    for index, (x, y) in enumerate(inputs):
        last = index == steps - 1
        with trainer.ddp.no_sync() if trainer.ddp is not None and not last else nullcontext():
            with trainer._autocast():
                logits = trainer.forward(x)
                loss = nn.functional.cross_entropy(logits.float(), y)
            scaled = loss / steps
            (trainer.scaler.scale(scaled) if trainer.scaler else scaled).backward()
        loss_sum += loss.item()
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
    return loss_sum / steps, correct, seen
