"""The CPU fast path, decided once for the trainer and the benchmarks: channels_last by model family, fused
optimiser steps, a thread policy that does not oversubscribe the cores (how the threads wait between parallel
regions is set before torch loads: `actionbook.openmp`) and an allocator that keeps the memory a step frees for the
next step (`keep_freed_memory`).

Each choice was measured on the 2-core machines this project runs on (issue 19; `actionbook bench --steps`
repeats the step measurement): channels_last speeds up the 2D families at 112 px and more (tsn_r50 at 112 px:
0.88-0.91x a step) but not at the proxy's 32 px (tsn_r18 equal, tam_r18 1.2x slower), and it slows the 3D ones
(i3d_r50: 1.2x; i3d_r18 at 32 px: 1.4x); fused AdamW/SGD steps are several times cheaper than the per-parameter
loop PyTorch runs on the CPU by default.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable, Mapping

import torch
from torch import nn

from actionbook.models import model_entry
from actionbook.openmp import openmp_settings

# Families whose step is measured faster in channels_last on the CPU (the 2D ResNets fold time into the batch), from
# this input size up.
CHANNELS_LAST_FAMILIES = frozenset({"TSN", "TAM", "TSM"})
CHANNELS_LAST_MIN_SIZE = 112


def channels_last_default(model: str, input_size: int) -> bool:
    """Whether the registered `model` trains channels_last on `input_size` crops when the experiment leaves it to
    the family."""
    return model_entry(model).family in CHANNELS_LAST_FAMILIES and input_size >= CHANNELS_LAST_MIN_SIZE


def to_channels_last(model: nn.Module) -> nn.Module:
    """Every 4-dim weight channels_last and every 5-dim one channels_last_3d, in place (a 2D network may hold a
    Conv3d-shaped weight, TAM's, and a 3D one 2D convolutions)."""
    for p in model.parameters():
        if p.dim() in (4, 5):
            p.data = p.data.contiguous(memory_format=torch.channels_last if p.dim() == 4 else torch.channels_last_3d)
    return model


def fused_supported(params: Iterable[torch.Tensor]) -> bool:
    """PyTorch's fused AdamW/SGD take floating-point tensors on the CPU or a CUDA device, all on one device."""
    devices = {(p.device.type, p.dtype.is_floating_point) for p in params}
    return len(devices) == 1 and next(iter(devices)) in {("cpu", True), ("cuda", True)}


def cores() -> int:
    """The cores this process may run on (its affinity mask, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def intra_op_threads(workers: int = 0, processes: int = 1) -> int:
    """Torch's intra-op threads for one of `processes` training processes sharing the cores, each with `workers`
    loader processes: its share of the cores less one per worker (at least one). More threads than free cores make
    every parallel region wait for a descheduled thread."""
    return max(1, cores() // max(processes, 1) - workers)


def loader_workers(requested: int, device: torch.device | str) -> int:
    """Loader processes on the CPU: at most one per core beyond the first, which the training step keeps busy; on a
    GPU the request stands (the step does not occupy the host's cores)."""
    if torch.device(device).type != "cpu":
        return requested
    return min(requested, max(cores() - 1, 0))


# glibc's mallopt parameters (malloc.h) and the values the fast path sets: blocks of up to 32 MiB (the largest
# threshold glibc itself would adapt to) come from the heap, and up to 1 GiB freed at its top stays mapped
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEPT_FREED_MEMORY = {"mmap_threshold": 32 * 2**20, "trim_threshold": 2**30}
MALLOC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def keep_freed_memory(environ: Mapping[str, str] = os.environ) -> dict:
    """Keep the memory a training step frees mapped in this process for the next step, and say what was set.

    glibc returns a freed block of more than 128 KiB to the kernel (its mmap threshold grows only as far as the
    largest block freed so far), and memory freed at the heap's top beyond twice that; the next step's allocation
    of it then faults in every 4 KiB page again, at 2-4 us a fault on this project's VMs. A step of the pre-fast
    path s3d_r18 in a process of its own took 2,300-27,600 such faults (four steps of five over 16,000: its
    per-parameter optimizer allocates temporaries), the fast path's 0-5,300; with these settings 0-1,000 (issue
    19). A gradient of a conv whose taps were trimmed (`models.conv`) is one such block: layer4's 3x3 conv of S3D
    took 6.0 ms forward and backward where its 9.4 MB gradient faulted in (2,272 faults), 2.8-3.1 ms where it did
    not. Results do not change, only when pages are mapped; the process keeps its peak (`measure.memory` trims the
    heap before it reads one). The user's MALLOC_* or glibc.malloc tunables win; on a C library other than glibc
    nothing is set."""
    if any(name in environ for name in MALLOC_VARIABLES) or "glibc.malloc" in environ.get("GLIBC_TUNABLES", ""):
        return {"allocator": "the environment's malloc settings"}
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return {"allocator": "unchanged: no glibc"}
    if mallopt(M_MMAP_THRESHOLD, KEPT_FREED_MEMORY["mmap_threshold"]) != 1 or \
            mallopt(M_TRIM_THRESHOLD, KEPT_FREED_MEMORY["trim_threshold"]) != 1:
        return {"allocator": "unchanged: mallopt refused"}
    return {"allocator": "glibc, freed memory kept", **KEPT_FREED_MEMORY}


def apply_thread_policy(workers: int = 0, processes: int = 1) -> dict:
    """Set torch's intra-op threads for this process (`intra_op_threads`) and say what was set, with how OpenMP's
    threads wait (`actionbook.openmp`): the run record and the speed records keep both."""
    threads = intra_op_threads(workers, processes)
    torch.set_num_threads(threads)
    return {"intra_op_threads": threads, "cores": cores(), "processes": processes, "loader_workers": workers,
            "openmp": openmp_settings()}
