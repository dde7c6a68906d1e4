"""The proxy-size training step of the four IBM families: today's path against the fast path, interleaved.

**today** is the step as the trainer ran it before issue 19: TAM as a literal Conv3d, every conv as declared,
PyTorch's default AdamW (a per-parameter loop on the CPU), contiguous tensors and OpenMP's threads waiting as libgomp
does when nothing is set (300,000 spins, then sleep). **fast** is the trainer's step now: TAM as a depthwise Conv2d
(`models.tam`), the convs in their cheaper exact form (`models.conv`: no taps that read only padding, (kt, 1, 1)
kernels as Conv2d, one-position convs as matrix products, the front channels_last), fused AdamW, channels_last for
the families where it is faster (`measure.fastpath`), the quiet machine's wait of `actionbook.openmp` (4,000
spins, then sleep: the benchmark wants a quiet machine) and freed memory kept for the next step
(`fastpath.keep_freed_memory`). **today_fast_runtime** is today's step with the fast path's wait and allocator:
today / today_fast_runtime is what the runtime settings bring, today_fast_runtime / fast what the kernels and the
optimizer bring. Each record also holds every path's FLOP rate against this machine's fp32 matmul peak, measured in
the same run before and after the rounds (the faster of the two: the host's speed drifts), counted twice: with the
FLOPs of the declared kernels (`mfu`, the tables' convention) and with those the step executed (`executed`: the
trimmed taps are not executed): how much room is left.

Each (model, path) runs in a process of its own (`_StepProcess`), as a training run does: the wait is set when a
process loads torch, and what a step costs depends on what else the process allocated before (with four models in
each process, the heap that i3d_r18 had grown spared today's s3d_r18 most of its page faults: 133 ms a step against
220 ms in a process of its own). All train the same network from the same weights, each on its own preloaded batch.
The parent asks for one step at a time, so one process is busy at a time: rounds run every (model, path) once, in an
order that rotates from round to round, with a pause before each step longer than any spin the idle process's threads
may still be in. The ratio of medians is the result. Denormals are flushed to zero (a fixed batch trained on
repeatedly drives gradients subnormal, and one subnormal-heavy step can take 40x as long).

`data_included` is the issue's acceptance check: a tam_r18 iteration of the fast path with its batches from a
DataLoader over decoded video, against a bare torchvision ResNet-18 step on random tensors holding the same frames
(64 frames of 32x32: batch 8 x 8 frames) with AdamW's defaults, alternating in this process.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from actionbook import data
from actionbook.errors import ConfigError
from actionbook.measure.fastpath import apply_thread_policy, channels_last_default, keep_freed_memory
from actionbook.measure.peaks import matmul_peak, sync
from actionbook.measure.speed import (
    Runner,
    SpeedOptions,
    Workload,
    loadavg,
    mfu,
    summarize,
    synthetic_batch,
    training_flops,
)
from actionbook.models import build_model, model_entry
from actionbook.models.conv import FastConv2d, FastConv3d
from actionbook.models.resnet2d import ResNet2d
from actionbook.models.resnet3d import ResNet3d
from actionbook.models.tam import TAM
from actionbook.openmp import OPENMP_QUIET, OPENMP_WAIT_VARIABLES

STEPS_SCHEMA = "actionbook-speed-steps/1"
STEP_MODELS = ("tsn_r18", "tam_r18", "i3d_r18", "s3d_r18")
PROXY_SHAPE = (8, 3, 8, 32, 32)  # the proxy study's batch: 8 clips x 8 frames of 32x32
PROXY_CLASSES = 4
PROXY_ADAMW = {"lr": 5e-4, "weight_decay": 5e-4}  # the proxy recipe's optimiser (its speed does not depend on them)
DEFAULT_ITERS, DEFAULT_WARMUP = 30, 3
# libgomp's wait when neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set: what the trainer ran with before issue 19
LIBGOMP_DEFAULT = {"GOMP_SPINCOUNT": "300000"}
SETTLE_S = 0.02  # the pause before each timed step: 300,000 spins took 7 ms on an AMD EPYC (23 ns a PAUSE)


@dataclass(frozen=True)
class StepPath:
    """How a step runs: TAM's formulation, the convs' form, the fused optimiser, channels_last by family, the OpenMP
    settings its process starts with and whether it keeps freed memory."""

    name: str
    tam_formulation: str
    fast_convs: bool
    fused_optimizer: bool
    family_channels_last: bool
    openmp: dict
    keep_freed_memory: bool


TODAY = StepPath("today", tam_formulation="conv3d", fast_convs=False, fused_optimizer=False,
                 family_channels_last=False, openmp=LIBGOMP_DEFAULT, keep_freed_memory=False)
FAST = StepPath("fast", tam_formulation="conv2d", fast_convs=True, fused_optimizer=True, family_channels_last=True,
                openmp=OPENMP_QUIET, keep_freed_memory=True)
# today's kernels and optimizer with the fast path's wait and allocator: splits the speed-up into what each part brings
TODAY_FAST_RUNTIME = replace(TODAY, name="today_fast_runtime", openmp=FAST.openmp,
                             keep_freed_memory=FAST.keep_freed_memory)
PATHS = {path.name: path for path in (TODAY, TODAY_FAST_RUNTIME, FAST)}


def set_formulation(model: nn.Module, path: StepPath) -> None:
    """TAM's formulation and the convs' form (block convs, the channels_last front), per module, as `path` says."""
    for module in model.modules():
        if isinstance(module, TAM):
            module.formulation = path.tam_formulation
        elif isinstance(module, (FastConv2d, FastConv3d)):
            module.fast = path.fast_convs
        elif isinstance(module, (ResNet2d, ResNet3d)):
            module.fast_front = path.fast_convs


class StepRunner(Runner):
    """One registered model on one path, trained with the proxy recipe's AdamW from seed-0 weights."""

    def __init__(self, model: str, path: StepPath, workload: Workload):
        channels_last = path.family_channels_last and channels_last_default(model, workload.shape[-1])
        super().__init__(f"{model}.{path.name}", partial(_seeded_model, model, workload), workload,
                         SpeedOptions(channels_last=channels_last))
        self.model_name, self.path = model, path

    def build(self) -> None:
        super().build()
        set_formulation(self.model, self.path)
        fused = {"fused": True} if self.path.fused_optimizer else {}
        self.optimizer = torch.optim.AdamW(self.model.parameters(), **PROXY_ADAMW, **fused)


def _seeded_model(name: str, workload: Workload) -> nn.Module:
    torch.manual_seed(0)
    return build_model(name, num_classes=workload.num_classes, frames=workload.shape[2])


class _StepProcess:
    """One model on one path in a Python process of its own, started with the path's OpenMP settings (whatever the
    caller's environment says about them): built and warmed up at start, then one timed step per request."""

    def __init__(self, model: str, path: StepPath, warmup: int):
        env = {k: v for k, v in os.environ.items() if k not in OPENMP_WAIT_VARIABLES} | path.openmp
        self.model, self.path = model, path
        self.process = subprocess.Popen([sys.executable, "-m", __name__, model, path.name, str(warmup)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.setup = self._reply()

    def _reply(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.model} step process of the {self.path.name} path exited with "
                               f"{self.process.wait()}")
        return json.loads(line)

    def step(self) -> float:
        self.process.stdin.write("step\n")
        self.process.stdin.flush()
        return self._reply()["seconds"]

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait()


def _serve(model: str, path_name: str, warmup: int) -> None:
    """The step process: build `model` on the path, count the FLOPs one step executes, warm up, say so (setup,
    FLOPs and warm-up times, one JSON line), then answer each line read from stdin with one timed step."""
    path = PATHS[path_name]
    setup = _benchmark_setup(keep_freed=path.keep_freed_memory)
    workload = Workload.for_model(model, PROXY_SHAPE, PROXY_CLASSES)
    runner = StepRunner(model, path, workload)
    runner.build()
    clips, labels = synthetic_batch(workload)
    x = runner.adapt_input(workload.model_input(clips))
    with FlopCounterMode(display=False) as counter:  # the kernels as they run: trimmed taps are not executed
        runner.step(x, labels)
    for _ in range(warmup):
        t0 = time.perf_counter()
        runner.step(x, labels)
        runner.warmup_times.append(time.perf_counter() - t0)
    _send({**setup, "channels_last": runner.options.channels_last, "executed_flops": counter.get_total_flops(),
           "warmup_times": runner.warmup_times})
    for _line in sys.stdin:
        t0 = time.perf_counter()
        runner.step(x, labels)
        _send({"seconds": time.perf_counter() - t0})


def _executed(flops: int, seconds: float, peaks: dict) -> dict:
    """The FLOPs a step executed (PyTorch's FlopCounterMode: convolutions and matrix products, forward and backward)
    and their rate against the fp32 matmul peak."""
    return {"flops_per_step": flops, "vs_fp32_peak": flops / seconds / peaks["fp32"]["flops_per_s"],
            "counter": "torch.utils.flop_counter.FlopCounterMode"}


def _ratio(paths: dict, slower: str, faster: str) -> float:
    return paths[slower]["time"]["median"] / paths[faster]["time"]["median"]


def _send(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def run_steps(models: tuple[str, ...] = STEP_MODELS, iters: int = DEFAULT_ITERS, warmup: int = DEFAULT_WARMUP,
              progress: Callable[[str], None] | None = None) -> list[dict]:
    """One record per model: the step times of the three paths (interleaved rounds, each model on each path in a
    process of its own) and the ratios of their medians."""
    if iters < 1 or warmup < 0:
        raise ConfigError(f"iterations must be >= 1 and warm-up >= 0, got {iters} and {warmup}")
    for model in models:
        model_entry(model)  # an unknown name fails here, with the valid ones
    say = progress or (lambda _msg: None)
    before = loadavg()
    say("measuring the fp32 matmul peak")
    first_peak = matmul_peak("cpu")
    processes = {}
    try:
        for model in models:  # one after the other: building and warming up are not timed, but stay alone
            for path in PATHS.values():
                say(f"build + warm-up {model} on the {path.name} path ({path.openmp})")
                processes[model, path.name] = _StepProcess(model, path, warmup)
        pairs = list(processes)
        times: dict[tuple[str, str], list[float]] = {pair: [] for pair in pairs}
        for i in range(iters):
            shift = i % len(pairs)
            for pair in pairs[shift:] + pairs[:shift]:
                time.sleep(SETTLE_S)
                times[pair].append(processes[pair].step())
    finally:
        for process in processes.values():
            process.close()
    say("measuring the fp32 matmul peak again")
    peaks = {"fp32": max(first_peak, matmul_peak("cpu"), key=lambda peak: peak["flops_per_s"])}
    after = loadavg()
    records = []
    for model in models:
        with torch.device("meta"):
            flops = training_flops(_seeded_model(model, Workload.for_model(model, PROXY_SHAPE, PROXY_CLASSES)),
                                   PROXY_SHAPE)
        paths = {}
        for path in PATHS.values():
            setup = processes[model, path.name].setup
            warm = setup["warmup_times"]
            time_ = summarize(warm + times[model, path.name], skip=len(warm))
            paths[path.name] = {**asdict(path), "channels_last": setup["channels_last"],
                                "process": {k: setup[k] for k in ("threads", "allocator", "flush_denormal", "torch")},
                                "time": time_, "mfu": mfu(time_["median"], flops, peaks, "none"),
                                "executed": _executed(setup["executed_flops"], time_["median"], peaks)}
        fast_setup = processes[model, FAST.name].setup
        records.append({
            "schema": STEPS_SCHEMA, "kind": "step", "model": model,
            **{k: fast_setup[k] for k in ("threads", "flush_denormal", "measured", "torch")},
            "protocol": _protocol(iters, warmup, "compute only: one preloaded batch; each model on each path in a "
                                                 "process of its own, started with the path's OpenMP settings; one "
                                                 "step at a time, "
                                                 f"rounds interleaved, {SETTLE_S * 1e3:.0f} ms pause before each"),
            "paths": paths, "flops": flops, "peaks": peaks,
            "speedup": _ratio(paths, "today", "fast"),
            "speedup_from_runtime": _ratio(paths, "today", "today_fast_runtime"),
            "speedup_from_kernels": _ratio(paths, "today_fast_runtime", "fast"),
            "load": {"loadavg_before": before, "loadavg_after": after}})
    return records


def _forever(loader):
    """A DataLoader's batches, epoch after epoch."""
    while True:
        yield from loader


def data_included(iters: int = DEFAULT_ITERS, warmup: int = DEFAULT_WARMUP, dataset: str = "synth-kinetics",
                  root: str | None = None, progress: Callable[[str], None] | None = None) -> dict:
    """The acceptance check: a fast-path tam_r18 iteration, data included (one loader worker: the machine's second
    core), against a bare torchvision ResNet-18 step on random tensors of the same 64 frames (AdamW defaults);
    rounds alternate the two."""
    import torchvision  # optional at import time: only this check needs it

    say = progress or (lambda _msg: None)
    workers = 1
    setup = _benchmark_setup(workers)
    frames, size = PROXY_SHAPE[2], PROXY_SHAPE[3]
    dataset_ = data.build_dataset(dataset, root=root, split="train", frames=frames, input_size=size, augment="none")
    if len(dataset_) < PROXY_SHAPE[0]:
        raise ConfigError(f"the {dataset} training split has {len(dataset_)} videos, fewer than a batch")
    loader = torch.utils.data.DataLoader(
        dataset_, batch_size=PROXY_SHAPE[0], shuffle=True, drop_last=True, num_workers=workers,
        collate_fn=data.collate_clips, worker_init_fn=data.seed_worker, persistent_workers=True,
        generator=torch.Generator().manual_seed(0))
    workload = Workload.for_model("tam_r18", PROXY_SHAPE, dataset_.num_classes)
    tam = StepRunner("tam_r18", FAST, workload)
    tam.build()
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(num_classes=dataset_.num_classes)
    resnet_opt = torch.optim.AdamW(resnet.parameters())
    frames_batch = torch.randn(PROXY_SHAPE[0] * frames, 3, size, size)
    labels = torch.randint(dataset_.num_classes, (PROXY_SHAPE[0] * frames,))

    def resnet_step() -> None:
        loss = F.cross_entropy(resnet(frames_batch), labels)
        resnet_opt.zero_grad(set_to_none=True)
        loss.backward()
        resnet_opt.step()
        loss.item()

    batches = _forever(loader)
    before = loadavg()
    tam_times, resnet_times, data_times = [], [], []
    say("tam_r18 with data vs torchvision resnet18 on random tensors")
    for i in range(warmup + iters):
        t0 = time.perf_counter()
        clips, y, _bad = next(batches)
        loaded = time.perf_counter()
        tam.step(workload.model_input(clips, channels_last=tam.options.channels_last), y)
        t1 = time.perf_counter()
        resnet_step()
        sync(torch.device("cpu"))
        t2 = time.perf_counter()
        tam_times.append(t1 - t0)
        resnet_times.append(t2 - t1)
        if i >= warmup:
            data_times.append(loaded - t0)
    after = loadavg()
    tam_stats, resnet_stats = summarize(tam_times, warmup), summarize(resnet_times, warmup)
    return {"schema": STEPS_SCHEMA, "kind": "data_included", "model": "tam_r18", **setup,
            "protocol": _protocol(iters, warmup, "tam_r18 fast path with a DataLoader over decoded video "
                                                 f"({dataset}, {workers} worker, uniform sampling, no augmentation) "
                                                 "alternating with torchvision resnet18 on random frames"),
            "tam_r18_with_data": {"time": tam_stats, "data_median_s": statistics.median(data_times)},
            "torchvision_resnet18_random": {"time": resnet_stats, "input": [PROXY_SHAPE[0] * frames, 3, size, size],
                                            "optimizer": "AdamW defaults"},
            "ratio": tam_stats["median"] / resnet_stats["median"],
            "load": {"loadavg_before": before, "loadavg_after": after}}


def _benchmark_setup(workers: int = 0, keep_freed: bool = True) -> dict:
    """Flush denormals, apply the thread policy and keep freed memory (unless told not to: today's path); what the
    records say about all three."""
    torch.set_flush_denormal(True)
    allocator = keep_freed_memory() if keep_freed else {"allocator": "glibc's defaults"}
    return {"threads": apply_thread_policy(workers), "allocator": allocator, "flush_denormal": True,
            "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"), "torch": torch.__version__}


def _protocol(iters: int, warmup: int, what: str) -> dict:
    return {"what": what, "iters": iters, "warmup": warmup, "batch": list(PROXY_SHAPE),
            "num_classes": PROXY_CLASSES, "statistic": "median"}


def record_file_name(record: dict) -> str:
    return f"{record['kind']}.{record['model']}.json"


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], int(sys.argv[3]))
