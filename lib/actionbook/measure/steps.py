"""The proxy-size training step of the four IBM families: today's path against the fast path, in one process.

**today** is the step as the trainer ran it before issue 19: TAM as a literal Conv3d, every conv as declared,
PyTorch's default AdamW (a per-parameter loop on the CPU), contiguous tensors. **fast** is the trainer's step now: TAM
as a depthwise Conv2d (`models.tam`), the block convs in their cheaper exact form (`models.conv`: no taps that read
only padding, (kt, 1, 1) kernels as Conv2d), fused AdamW, channels_last for the families where it is faster
(`measure.fastpath`). Both paths
train the same network from the same weights on one preloaded batch, interleaved round by round (`run_interleaved`),
so a busy machine slows both alike; the ratio of medians is the result. Denormals are flushed to zero (a fixed
batch trained on repeatedly drives gradients subnormal, and one subnormal-heavy step can take 40x as long).

`data_included` is the issue's acceptance check: a tam_r18 iteration of the fast path with its batches from a
DataLoader over decoded video, against a bare torchvision ResNet-18 step on random tensors holding the same frames
(64 frames of 32x32: batch 8 x 8 frames) with AdamW's defaults, also interleaved.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from actionbook import data
from actionbook.errors import ConfigError
from actionbook.measure.fastpath import apply_thread_policy, channels_last_default
from actionbook.measure.peaks import sync
from actionbook.measure.speed import (
    Runner,
    SpeedOptions,
    Workload,
    loadavg,
    run_interleaved,
    summarize,
    synthetic_batch,
)
from actionbook.models import build_model
from actionbook.models.conv import FastConv2d, FastConv3d
from actionbook.models.tam import TAM

STEPS_SCHEMA = "actionbook-speed-steps/1"
STEP_MODELS = ("tsn_r18", "tam_r18", "i3d_r18", "s3d_r18")
PROXY_SHAPE = (8, 3, 8, 32, 32)  # the proxy study's batch: 8 clips x 8 frames of 32x32
PROXY_CLASSES = 4
PROXY_ADAMW = {"lr": 5e-4, "weight_decay": 5e-4}  # the proxy recipe's optimiser (its speed does not depend on them)
DEFAULT_ITERS, DEFAULT_WARMUP = 30, 3


@dataclass(frozen=True)
class StepPath:
    """How a step runs: TAM's formulation, the block convs' form, the fused optimiser, channels_last by family."""

    name: str
    tam_formulation: str
    fast_convs: bool
    fused_optimizer: bool
    family_channels_last: bool


TODAY = StepPath("today", tam_formulation="conv3d", fast_convs=False, fused_optimizer=False,
                 family_channels_last=False)
FAST = StepPath("fast", tam_formulation="conv2d", fast_convs=True, fused_optimizer=True, family_channels_last=True)


def set_formulation(model: nn.Module, path: StepPath) -> None:
    """TAM's formulation and the block convs' form, per module, as `path` says."""
    for module in model.modules():
        if isinstance(module, TAM):
            module.formulation = path.tam_formulation
        elif isinstance(module, (FastConv2d, FastConv3d)):
            module.fast = path.fast_convs


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


def run_steps(models: tuple[str, ...] = STEP_MODELS, iters: int = DEFAULT_ITERS, warmup: int = DEFAULT_WARMUP,
              progress: Callable[[str], None] | None = None) -> list[dict]:
    """One record per model: today's and the fast path's step times (interleaved), their medians' ratio."""
    if iters < 1 or warmup < 0:
        raise ConfigError(f"iterations must be >= 1 and warm-up >= 0, got {iters} and {warmup}")
    setup = _benchmark_setup()
    before = loadavg()
    runners = []
    for model in models:
        workload = Workload.for_model(model, PROXY_SHAPE, PROXY_CLASSES)
        runners += [StepRunner(model, TODAY, workload), StepRunner(model, FAST, workload)]
    batch = synthetic_batch(runners[0].workload)
    run_interleaved(runners, batch, warmup, iters, progress)
    after = loadavg()
    records = []
    for today, fast in zip(runners[::2], runners[1::2]):
        t, f = today.time_stats(), fast.time_stats()
        records.append({
            "schema": STEPS_SCHEMA, "kind": "step", "model": today.model_name, **setup,
            "protocol": _protocol(iters, warmup, "compute only: one preloaded batch, the two paths interleaved"),
            "paths": {"today": {**asdict(TODAY), "channels_last": today.options.channels_last, "time": t},
                      "fast": {**asdict(FAST), "channels_last": fast.options.channels_last, "time": f}},
            "speedup": t["median"] / f["median"],
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


def _benchmark_setup(workers: int = 0) -> dict:
    """Flush denormals and apply the thread policy; what the records say about both."""
    torch.set_flush_denormal(True)
    return {"threads": apply_thread_policy(workers), "flush_denormal": True,
            "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"), "torch": torch.__version__}


def _protocol(iters: int, warmup: int, what: str) -> dict:
    return {"what": what, "iters": iters, "warmup": warmup, "batch": list(PROXY_SHAPE),
            "num_classes": PROXY_CLASSES, "statistic": "median"}


def record_file_name(record: dict) -> str:
    return f"{record['kind']}.{record['model']}.json"
