"""Training speed and memory on any device: the protocol, for any model builder and input shape.

One **iteration** is what a training loop's iteration timer measures: the wall time between the ends of consecutive
iterations, i.e. waiting for the data loader, the host-to-device copy and normalisation, forward, loss, backward,
gradient clipping and the optimiser step (`run_loader`). The first `warmup` iterations are timed but skipped; the
rest give mean, standard deviation (ddof=1), median, min and max in s/iter (`summarize`). On a GPU every iteration
ends with `loss.item()` and `torch.cuda.synchronize()`, so each time covers its own work. Runners compared on one
preloaded batch (compute only) run **interleaved** (`run_interleaved`): all are built and warmed up, then each
measured round runs one iteration of every runner, in a rotating order, so a busy machine slows all of them alike.

Memory: on a GPU, ``torch.cuda.max_memory_allocated`` in MiB with the peak reset after warm-up. On the CPU, the
**peak resident-set growth** in MiB: VmHWM (reset through /proc/self/clear_refs after warm-up) minus the resident
size before the runner was built, after returning freed heap to the OS (malloc_trim); main process only, loader
workers excluded. In an interleaved group each runner's memory is taken in a pass of its own before the timing,
with no other runner alive (the shared input batch is resident before and not counted); measured CPU figures still
move by about +-10% with allocator state, so memory differences under ~15% are not significant on the CPU.

Records: one JSON file per (setting, device, variant), `SCHEMA`; the study that measures says what else they hold.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from actionbook.data import to_model_input
from actionbook.errors import ConfigError
from actionbook.measure.fastpath import to_channels_last
from actionbook.measure.flops import count_flops
from actionbook.measure.memory import MemoryMeter
from actionbook.measure.peaks import sync
from actionbook.models import model_entry
from actionbook.runs import write_json_atomic

SCHEMA = "actionbook-speed/1"
OPTIONS = ("bf16", "channels_last", "compile", "cudnn_benchmark")
MEMORY_WARMUP = 2  # iterations before the memory peak is reset in an interleaved group's memory pass


def summarize(times: list[float], skip: int = 0) -> dict:
    """s/iter statistics of `times` after dropping the first `skip` (the warm-up)."""
    if skip < 0:
        raise ValueError("skip must be >= 0")
    kept = list(times[skip:])
    if not kept:
        raise ValueError(f"no iterations left to summarise: {len(times)} timed, {skip} skipped")
    return {
        "unit": "s/iter", "n": len(kept), "skipped": min(skip, len(times)),
        "mean": statistics.fmean(kept), "std": statistics.stdev(kept) if len(kept) > 1 else 0.0,
        "median": statistics.median(kept), "min": min(kept), "max": max(kept), "times": kept,
        "warmup_times": list(times[:skip]),
    }


# ---- what is trained, and how ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SpeedOptions:
    amp: str = "none"  # none, bf16, fp16 (CUDA)
    channels_last: bool = False
    compile: bool = False
    cudnn_benchmark: bool = False

    def label(self) -> str:
        on = [name for name, value in (("bf16", self.amp == "bf16"), ("fp16", self.amp == "fp16"),
                                       ("channels_last", self.channels_last), ("compile", self.compile),
                                       ("cudnn_benchmark", self.cudnn_benchmark)) if value]
        return "+".join(on) or "eager fp32"


def speed_option(name: str) -> SpeedOptions:
    """The options with the one speed option `name` (of OPTIONS) on."""
    return {"bf16": SpeedOptions(amp="bf16"), "channels_last": SpeedOptions(channels_last=True),
            "compile": SpeedOptions(compile=True), "cudnn_benchmark": SpeedOptions(cudnn_benchmark=True)}[name]


@dataclass(frozen=True)
class Workload:
    """The batch a runner trains on: uint8 clips of `shape` (N, 3, T, H, W) normalised with the model's `mean` and
    `std` (0-1 scale) on `device`, labels drawn from `num_classes`."""

    shape: tuple[int, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int
    device: str = "cpu"

    @classmethod
    def for_model(cls, model: str, shape: tuple[int, ...], num_classes: int, device: str = "cpu") -> Workload:
        """The workload of the registered model `model`, normalised as its registry entry says."""
        entry = model_entry(model)
        return cls(tuple(shape), tuple(entry.mean), tuple(entry.std), num_classes, device)

    @property
    def batch(self) -> int:
        return self.shape[0]

    def model_input(self, clips: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
        return to_model_input(clips, self.mean, self.std, self.device, channels_last=channels_last)


class Runner:
    """A model from `build()`, its optimiser (SGD lr 0.01, momentum 0.9, weight decay 1e-4, gradients clipped to
    `clip_grad` if given) and its options; `step` is one training iteration on a device batch."""

    def __init__(self, variant: str, build: Callable[[], nn.Module], workload: Workload,
                 options: SpeedOptions = SpeedOptions(), clip_grad: float | None = None):
        self.variant, self.build_model, self.workload, self.options = variant, build, workload, options
        self.device, self.clip_grad = torch.device(workload.device), clip_grad
        self.model: nn.Module | None = None
        self.memory: dict | None = None
        self.times: list[float] = []
        self.warmup_times: list[float] = []
        self.params: int | None = None

    def build(self) -> None:
        if self.options.amp == "fp16" and self.device.type != "cuda":
            raise ConfigError("fp16 autocast needs CUDA; on the CPU use bf16")
        model = self.build_model().to(self.device).train()
        self.params = sum(p.numel() for p in model.parameters())
        if self.options.channels_last:
            to_channels_last(model)
        self.model = model
        self.forward = torch.compile(model) if self.options.compile else model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    def adapt_input(self, x: torch.Tensor) -> torch.Tensor:
        if self.options.channels_last:
            return x.contiguous(memory_format=torch.channels_last_3d)
        return x

    def _autocast(self):
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.options.amp)
        return torch.autocast(self.device.type, dtype=dtype or torch.float32, enabled=dtype is not None)

    def step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Forward, loss, backward, clipping, optimiser step; returns the loss (a host sync, as a training loop's
        logging does), then waits for the device."""
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = self.options.cudnn_benchmark
        with self._autocast():
            logits = self.forward(x)
        loss = F.cross_entropy(logits.float(), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.clip_grad is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_grad)
        self.optimizer.step()
        value = loss.item()
        sync(self.device)
        return value

    def release(self) -> None:
        self.model = self.forward = self.optimizer = None

    def time_stats(self) -> dict:
        return summarize(self.warmup_times + self.times, skip=len(self.warmup_times))


def synthetic_batch(workload: Workload, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A host uint8 clip batch of the workload's shape and its labels, deterministic in `seed`."""
    g = torch.Generator().manual_seed(seed)
    clips = torch.randint(0, 256, workload.shape, generator=g, dtype=torch.uint8)
    labels = torch.randint(workload.num_classes, (workload.batch,), generator=torch.Generator().manual_seed(seed))
    return clips, labels


class SyntheticLoader:
    """Host uint8 batches made on the fly (no decoding): the loader for tests and for machines without video."""

    def __init__(self, workload: Workload, seed: int = 0):
        self.workload, self.seed = workload, seed
        self.description = {"source": "synthetic host tensors (random uint8, no decoding)"}

    def __iter__(self) -> Iterator:
        for i in itertools.count():
            clips, labels = synthetic_batch(self.workload, self.seed + i)
            yield clips, labels, []


# ---- the protocols ------------------------------------------------------------------------------------------------

def run_interleaved(runners: list[Runner], batch: tuple[torch.Tensor, torch.Tensor], warmup: int, iters: int,
                    progress: Callable[[str], None] | None = None, memory_warmup: int = MEMORY_WARMUP) -> None:
    """Compute-only protocol for several runners on one preloaded batch (normalised as the first runner's workload).

    1. Memory, each runner alone: built, `min(warmup, memory_warmup)` iterations, peak reset, one iteration
       measured, then released (so no runner's figure depends on which others are alive or built before it).
    2. Time: every runner is built again and warmed up (`warmup` iterations, timed and skipped); then `iters` rounds
       each run one iteration of every runner, the order rotating from round to round.
    """
    if warmup < 0 or iters < 1:
        raise ConfigError(f"warm-up must be >= 0 and iterations >= 1, got {warmup} and {iters}")
    say = progress or (lambda _msg: None)
    workload = runners[0].workload
    device = torch.device(workload.device)
    x = workload.model_input(batch[0])
    y = batch[1].to(device)
    meter = MemoryMeter(device)
    for runner in runners:
        say(f"memory {runner.variant}")
        meter.set_baseline()
        runner.build()
        xi = runner.adapt_input(x)
        for _ in range(min(warmup, memory_warmup)):
            runner.step(xi, y)
        meter.reset_peak()
        runner.step(xi, y)
        runner.memory = meter.peak()
        runner.release()
        del xi
    gc.collect()
    inputs = {}
    for runner in runners:
        say(f"build + warm-up {runner.variant}")
        runner.build()
        inputs[runner.variant] = runner.adapt_input(x)
        for _ in range(warmup):
            t0 = time.perf_counter()
            runner.step(inputs[runner.variant], y)
            runner.warmup_times.append(time.perf_counter() - t0)
    for i in range(iters):
        shift = i % len(runners)
        for runner in runners[shift:] + runners[:shift]:
            t0 = time.perf_counter()
            runner.step(inputs[runner.variant], y)
            runner.times.append(time.perf_counter() - t0)


def run_loader(runner: Runner, loader, warmup: int, iters: int) -> dict:
    """The loader-included protocol for one runner: each iteration is timed from the end of the previous one
    (waiting for the loader included); the first `warmup` are skipped; the memory peak is reset after warm-up.
    Returns the data times (blocked on the loader) alongside `runner.times`."""
    if warmup < 0 or iters < 1:
        raise ConfigError(f"warm-up must be >= 0 and iterations >= 1, got {warmup} and {iters}")
    device = runner.device
    meter = MemoryMeter(device)
    meter.set_baseline()
    runner.build()
    batches = iter(loader)
    data_times: list[float] = []
    tick = time.perf_counter()
    for i in range(warmup + iters):
        if i == warmup:
            meter.reset_peak()
            tick = time.perf_counter()
        clips, labels, _bad = next(batches)
        loaded = time.perf_counter()
        x = runner.workload.model_input(clips, channels_last=runner.options.channels_last)
        runner.step(x, labels.to(device, non_blocking=True))
        now = time.perf_counter()
        (runner.warmup_times if i < warmup else runner.times).append(now - tick)
        if i >= warmup:
            data_times.append(loaded - tick)
        tick = now
    runner.memory = meter.peak()
    return {"data_times": data_times}


# ---- what a measurement says --------------------------------------------------------------------------------------

def training_flops(model: nn.Module, input_shape: tuple[int, ...]) -> dict:
    """Multiply-adds of one forward pass of a batch of `input_shape` (conv + linear, counted as in fvcore) and the
    iteration's training FLOPs: 3 (backward = twice the forward) x 2 per multiply-add. `model` may be on meta."""
    counts = count_flops(model, input_shape)
    macs = counts["fvcore"].get("conv", 0) + counts["fvcore"].get("linear", 0)
    return {"forward_macs": macs, "forward_conv_macs": counts["conv_macs"]["total"],
            "mmaction_forward_flops": counts["mmaction"]["total"], "train_flops_per_iter": 6 * macs,
            "convention": "train FLOPs = 3 (fwd+bwd) x 2 x (conv + linear multiply-adds of the batch's forward pass)"}


def loadavg() -> list[float] | None:
    """The machine's 1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def mfu(seconds: float, flops: dict, peaks: dict, amp: str) -> dict:
    """Achieved training TFLOP/s and its share of each matmul peak measured in the same process; `mfu` is the
    share of the fp32 peak (the bf16 one for bf16 runs)."""
    achieved = flops["train_flops_per_iter"] / seconds
    out = {"achieved_tflops": achieved / 1e12}
    for name, peak in peaks.items():
        out[f"vs_{name}_peak"] = achieved / peak["flops_per_s"]
    # bf16 runs are held against the bf16 peak, unless bf16 is only emulated (then the fp32 peak is the ceiling)
    use_bf16 = amp == "bf16" and "bf16" in peaks and peaks["bf16"].get("native", True)
    out["peak_used"] = "bf16" if use_bf16 else "fp32"
    out["mfu"] = out[f"vs_{out['peak_used']}_peak"]
    return out


def record_name(record: dict) -> str:
    """The file name of a speed record: `<setting>.<device>.<variant>.json`."""
    return f"{record['setting']}.{record['device']}.{record['variant']}.json"


def write_records(out: str | Path, records: list[dict]) -> list[Path]:
    paths = []
    for record in records:
        path = Path(out) / record_name(record)
        write_json_atomic(path, record)
        paths.append(path)
    return paths


def load_records(directory: str | Path) -> list[dict]:
    """The speed records (`SCHEMA`) in `directory`, by file name."""
    records = []
    for path in sorted(Path(directory).glob("*.json")):
        record = json.loads(path.read_text())
        if record.get("schema") == SCHEMA:
            records.append(record)
    return records


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Temporarily set torch's intra-op threads (None: leave as is)."""
    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
