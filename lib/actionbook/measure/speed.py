"""Training speed and memory: MMAction2's benchmark protocol (mmaction-benchmark spec, section 2), run on any device.

One **iteration** is what MMAction2's `IterTimerHook` timed: the wall time between the ends of consecutive
iterations, i.e. waiting for the data loader, the host-to-device copy and normalisation, forward, loss, backward,
gradient clipping and the optimiser step. The first `warmup` iterations are timed but skipped (MMAction2 skipped
50); the rest give mean, standard deviation (ddof=1), median, min and max in s/iter. On a GPU every iteration ends
with `loss.item()` and `torch.cuda.synchronize()`, so each time covers its own work.

Variants of a benchmark case (one record each, `variant` field):

* ``train``: the table's protocol: batches from a DataLoader over real decoded video (the synthetic Kinetics set by
  default), the project's model in eager fp32. Reports the data-time share (time blocked on the loader / time).
* ``compute``: the same iteration on a preloaded batch already normalised on the device (spec 5.9's compute-only
  figure): forward, loss, backward, clipping, optimiser step.
* ``impl-<name>``: the same network from another implementation (torchvision, pytorchvideo, MMAction2 itself),
  eager fp32, through the same compute-only step.
* ``opt-<name>``: the project's model with one speed option on (bf16 autocast, channels-last, torch.compile,
  cuDNN benchmark), and ``opt-best``: all options that helped, together.

The compute, impl and opt variants of a case run **interleaved** in one process: every runner is built and warmed
up, then each measured round runs one iteration of every runner (in a rotating order), so a busy machine slows all
of them alike and the ratios stay fair.

Memory: on a GPU, ``torch.cuda.max_memory_allocated`` in MiB with the peak reset after warm-up (the published
column's meaning, spec 2 and 5.2). On the CPU, the **peak resident-set growth** in MiB: VmHWM (reset through
/proc/self/clear_refs after warm-up) minus the resident size before the runner was built, after returning freed
heap to the OS (malloc_trim); main process only, loader workers excluded. In an interleaved group each runner's
memory is taken in a pass of its own before the timing, with no other runner alive (the shared input batch is
resident before and not counted); measured CPU figures still move by about +-10% with allocator state, so memory
differences under ~15% between implementations are not significant on the CPU.

FLOPs and MFU: the training FLOPs of an iteration are 3 x 2 x (convolution + linear multiply-adds of a forward
pass) x batch (backward counted as twice the forward; conv/linear counted as in fvcore). Model FLOP utilisation is
that over the time, divided by the device's matrix-multiply peak measured in the same process (fp32, and bf16 for
bf16 runs).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import itertools
import json
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from actionbook.errors import ConfigError

SCHEMA = "actionbook-speed/1"
NUM_CLASSES = 400
PUBLISHED_WARMUP = 50  # MMAction2: "we skip the first 50 iter times"
DEFAULTS = {
    # device -> (batch: None = the published batch per GPU, input size, warm-up, measured iterations, loader workers)
    "cuda": {"batch": None, "input_size": 224, "warmup": PUBLISHED_WARMUP, "iters": 50, "workers": 4},
    "cpu": {"batch": 1, "input_size": 64, "warmup": 2, "iters": 5, "workers": 1},
}
OPTIONS = ("bf16", "channels_last", "compile", "cudnn_benchmark")
MEMORY_WARMUP = 2  # iterations before the memory peak is reset in an interleaved group's memory pass
IMPLEMENTATIONS = ("torchvision", "pytorchvideo", "mmaction2")
SPEED_RECORDS = Path("book") / "records" / "speed"


# ---- the cases: every row of the seed table ----------------------------------------------------------------------

@dataclass(frozen=True)
class PublishedSpeed:
    framework: str
    s_iter: float | None
    s_iter_std: float | None
    memory_mib: int | None
    source: str


# The seed table (MMAction2 docs/benchmark.md at bc33ac79, 2020-07-01) and the cells filled an hour later
# (537aced6: the open-mmaction I3D time; c4f4db48: SlowFast, SlowOnly and R(2+1)D). 8x V100, batch per GPU as in
# the settings; PyTorch 1.4, fp32, cuDNN benchmark off.
_SEED = "seed table (bc33ac79)"
_FILLED = "c4f4db48 (spec 4.1)"
PUBLISHED: dict[str, tuple[PublishedSpeed, ...]] = {
    "tsn": (PublishedSpeed("mmaction-lite", 0.2966, 0.0030, 8339, _SEED),
            PublishedSpeed("open-mmaction", 0.3659, 0.0102, 8245, _SEED)),
    "i3d": (PublishedSpeed("mmaction-lite", 0.4528, 0.1458, 5169, _SEED),
            PublishedSpeed("open-mmaction", 0.5873, 0.0867, 5065, "537aced6 (the seed's 0.3659 is a copy-paste "
                                                                  "error)")),
    "i3d_fast": (PublishedSpeed("mmaction-lite", 0.3886, 0.3733, 5169, _SEED),),
    "i3d_heavy": (PublishedSpeed("mmaction-lite", 0.34, None, 4742, "fd993ca0 (final table, video 8x8)"),
                  PublishedSpeed("PySlowFast", 0.44, None, 4700, "fd993ca0 (final table, video 8x8)")),
    "tsm": (PublishedSpeed("mmaction-lite", 0.3052, 0.0095, 7077, _SEED),
            PublishedSpeed("HAN", 0.3843, 0.0143, 9337, _SEED)),
    "slowfast_4x16": (PublishedSpeed("mmaction-lite", 0.80, None, 6203, _FILLED),
                      PublishedSpeed("PySlowFast", 1.40, None, 6850, _FILLED)),
    "slowfast_8x8": (PublishedSpeed("mmaction-lite", 1.05, None, 9062, _FILLED),
                     PublishedSpeed("PySlowFast", 1.41, None, 10230, _FILLED)),
    "slowonly_4x16": (PublishedSpeed("mmaction-lite", 0.30, None, 3158, _FILLED),
                      PublishedSpeed("PySlowFast", 1.03, None, 3481, _FILLED)),
    "slowonly_8x8": (PublishedSpeed("mmaction-lite", 0.50, None, 5820, _FILLED),
                     PublishedSpeed("PySlowFast", 1.29, None, 6400, _FILLED)),
    "r2plus1d_32x2": (PublishedSpeed("mmaction-lite", 0.48, None, 3998, _FILLED + "; the slot's label says 8x8x1 "
                                     "and its memory fits an 8-frame clip at batch ~6 (spec 4.1 caveat)"),),
    "r2plus1d_8x8": (PublishedSpeed("mmaction-lite", 1.29, None, 12974, _FILLED + "; the memory fits the real "
                                    "32x2x1 at batch 6 (spec 4.1 caveat): the two R(2+1)D slots look swapped"),),
}


@dataclass(frozen=True)
class BenchCase:
    """One row of the speed table: a setting (network + sampler) at a batch and input size on a device."""

    key: str  # short name: tsn, i3d, slowfast_4x16, ...
    setting: str  # MMAction2's config name
    model: str  # registry name
    clip_len: int
    frame_interval: int
    num_clips: int
    published_batch: int
    batch: int
    input_size: int
    device: str = "cpu"
    seed_row: bool = True  # a row of the seed table (the heavy I3D is from the final table)
    note: str = ""

    @property
    def frames(self) -> int:
        return self.num_clips if self.clip_len == 1 else self.clip_len * self.num_clips

    @property
    def sampler(self) -> str:
        return f"{self.clip_len}x{self.frame_interval}x{self.num_clips}"

    @property
    def input_shape(self) -> tuple[int, int, int, int, int]:
        return (self.batch, 3, self.frames, self.input_size, self.input_size)

    @property
    def family(self) -> str:
        from actionbook.models import model_entry

        return model_entry(self.model).family


# key -> (setting name in MMACTION_SETTINGS, seed row?, note). The seed's "i3d_r50_fast32x2x1" is the I3D network
# with a faster data pipeline (turbojpeg + lazy fused crop/resize), which this project's loader does not have.
_CASES = {
    "tsn": ("tsn_r50_1x1x3_100e_kinetics400_rgb", True, ""),
    "i3d": ("i3d_r50_32x2x1_100e_kinetics400_rgb", True, ""),
    "i3d_fast": ("i3d_r50_32x2x1_100e_kinetics400_rgb", True,
                 "seed row i3d_r50_fast32x2x1: the I3D network and sampler; MMAction2's 'fast' (later 'lazy') "
                 "pipeline (turbojpeg, lazy fused crop/resize) is not reproduced, so the loader is the I3D row's"),
    "i3d_heavy": ("i3d_r50_video_heavy_8x8x1_100e_kinetics400_rgb", False,
                  "not in the seed table; the final table's I3D heavy (8x8x1, compared there with PySlowFast)"),
    "tsm": ("tsm_r50_1x1x8_50e_kinetics400_rgb", True, "the seed writes _100e_; the 2020 config file was _50e_"),
    "slowfast_4x16": ("slowfast_r50_video_4x16x1_256e_kinetics400_rgb", True, ""),
    "slowfast_8x8": ("slowfast_r50_video_8x8x1_256e_kinetics400_rgb", True, ""),
    "slowonly_4x16": ("slowonly_r50_video_4x16x1_256e_kinetics400_rgb", True, ""),
    "slowonly_8x8": ("slowonly_r50_video_8x8x1_256e_kinetics400_rgb", True, ""),
    "r2plus1d_32x2": ("r2plus1d_r34_32x2x1_180e_kinetics400_rgb", True, ""),
    "r2plus1d_8x8": ("r2plus1d_r34_8x8x1_180e_kinetics400_rgb", True, ""),
}
CASE_KEYS = tuple(_CASES)
SEED_CASE_KEYS = tuple(k for k, (_, seed, _) in _CASES.items() if seed)


def resolve_settings(names: list[str]) -> list[str]:
    """Case keys for names given on a command line: keys (tsn, slowfast_4x16, ...), MMAction2 config names
    (either spelling of the fast I3D), 'seed' (the seed table's rows) or 'all'."""
    keys: list[str] = []
    for name in names:
        if name in ("all", "seed"):
            found = list(CASE_KEYS if name == "all" else SEED_CASE_KEYS)
        elif name in _CASES:
            found = [name]
        elif name.replace("fast32x2x1", "fast_32x2x1") == "i3d_r50_fast_32x2x1_100e_kinetics400_rgb":
            found = ["i3d_fast"]
        else:
            found = [k for k, (setting, _, _) in _CASES.items() if setting == name and k != "i3d_fast"]
        if not found:
            raise ConfigError(f"unknown benchmark setting {name!r}; expected 'all', 'seed', one of "
                              f"{', '.join(CASE_KEYS)} or an MMAction2 config name")
        keys += [k for k in found if k not in keys]
    return keys


def bench_case(key: str, device: str = "cpu", batch: int | None = None, input_size: int | None = None) -> BenchCase:
    """The case `key` on `device`: by default the published batch at 224 on a GPU, batch 1 at 64x64 on the CPU."""
    from actionbook.published.mmaction_settings import mmaction_setting

    if key not in _CASES:
        raise ConfigError(f"unknown benchmark case {key!r}; expected one of {', '.join(CASE_KEYS)}")
    device_type = torch.device(device).type
    if device_type not in DEFAULTS:
        raise ConfigError(f"device must be cpu or cuda, got {device!r}")
    setting_name, seed_row, note = _CASES[key]
    s = mmaction_setting(setting_name)
    defaults = DEFAULTS[device_type]
    batch = batch if batch is not None else (defaults["batch"] or s.batch_per_gpu)
    input_size = input_size if input_size is not None else defaults["input_size"]
    for label, value in (("batch", batch), ("input size", input_size)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{label} must be a positive whole number, got {value!r}")
    if input_size < 32:
        raise ConfigError(f"input size {input_size} is too small for a ResNet (at least 32)")
    setting = "i3d_r50_fast_32x2x1_100e_kinetics400_rgb" if key == "i3d_fast" else s.setting  # the seed's row
    return BenchCase(key, setting, s.model, s.clip_len, s.frame_interval, s.num_clips, s.batch_per_gpu, batch,
                     input_size, device, seed_row, "; ".join(n for n in (note, s.note) if n))


# ---- statistics -------------------------------------------------------------------------------------------------

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


# ---- memory -----------------------------------------------------------------------------------------------------

def _proc_status_mib(field_name: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class MemoryMeter:
    """Peak memory of a stretch of iterations, relative to a baseline taken before the runner was built."""

    def __init__(self, device: torch.device):
        self.device = device
        self.baseline = 0.0
        self.cpu_method = "VmHWM reset via /proc/self/clear_refs"
        self._sampled_peak = 0.0
        self._sampler = None

    @property
    def kind(self) -> str:
        if self.device.type == "cuda":
            return "cuda max_memory_allocated (MiB), peak reset after warm-up, minus memory allocated before the " \
                   "runner was built"
        return ("cpu peak RSS growth (MiB): peak resident set during the measured iterations minus the resident set "
                f"before the runner was built (freed heap returned first with malloc_trim); {self.cpu_method}; "
                "main process only")

    def _current(self) -> float:
        if self.device.type == "cuda":
            return torch.cuda.memory_allocated(self.device) / 2**20
        return _proc_status_mib("VmRSS") or 0.0

    def set_baseline(self) -> float:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
        else:
            _malloc_trim()
        self.baseline = self._current()
        return self.baseline

    def reset_peak(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        _malloc_trim()
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.cpu_method = "resident set sampled every 2 ms (clear_refs unavailable)"
            self._start_sampler()

    def _start_sampler(self) -> None:
        import threading

        self._sampled_peak = self._current()
        stop = threading.Event()

        def sample():
            while not stop.wait(0.002):
                self._sampled_peak = max(self._sampled_peak, self._current())

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        self._sampler = (stop, thread)

    def peak(self) -> dict:
        """{'mib': peak - baseline, 'raw_peak_mib', 'baseline_mib', 'kind'}."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            raw = torch.cuda.max_memory_allocated(self.device) / 2**20
        elif self._sampler is not None:
            stop, thread = self._sampler
            stop.set()
            thread.join()
            self._sampler = None
            raw = self._sampled_peak
        else:
            raw = _proc_status_mib("VmHWM") or 0.0
        return {"mib": raw - self.baseline, "raw_peak_mib": raw, "baseline_mib": self.baseline, "kind": self.kind}


# ---- the device's matmul peak --------------------------------------------------------------------------------------

def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32, max_size: int | None = None,
                repeats: int = 5, min_seconds: float = 0.02) -> dict:
    """Measured square-matmul throughput (FLOP/s, 2 n^3 per product): n doubles from 256 until one product takes
    `min_seconds` (or n reaches `max_size`: 2048 on the CPU, 8192 on a GPU), then the best of `repeats`."""
    device = torch.device(device)
    max_size = max_size or (8192 if device.type == "cuda" else 2048)
    n = 256
    while True:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        a @ b
        _sync(device)
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds or n >= max_size:
            break
        n *= 2
    best = elapsed
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return {"dtype": str(dtype).replace("torch.", ""), "size": n, "flops_per_s": 2 * n**3 / best, "seconds": best}


def device_peaks(device: str | torch.device) -> dict:
    """fp32 and bf16 matmul peaks (and tf32 on GPUs); bf16 without native CPU support is measured and flagged."""
    device = torch.device(device)
    peaks = {"fp32": matmul_peak(device, torch.float32)}
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            peaks["bf16"] = matmul_peak(device, torch.bfloat16)
        previous = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = True
        try:
            peaks["tf32"] = matmul_peak(device, torch.float32)
        finally:
            torch.backends.cuda.matmul.allow_tf32 = previous
    else:
        peaks["bf16"] = matmul_peak(device, torch.bfloat16, max_size=1024)
        native = _cpu_has_native_bf16()
        peaks["bf16"]["native"] = native
        if not native:
            peaks["bf16"]["note"] = "this CPU has no AVX512-BF16/AMX: bf16 arithmetic is emulated"
    return peaks


def _cpu_has_native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags for f in ("avx512_bf16", "amx_bf16"))


# ---- implementations of the same network ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Implementation:
    name: str  # actionbook, torchvision, pytorchvideo, mmaction2
    build: Callable[[BenchCase], nn.Module] | None  # None: no implementation of this network
    note: str
    version: str | None = None


def _library_version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except Exception:  # an absent optional library
        return None


def _build_ours(case: BenchCase) -> nn.Module:
    from actionbook.models import build_model

    return build_model(case.model, num_classes=NUM_CLASSES, frames=case.frames)


def _temporal_shift(x: torch.Tensor, frames: int, shift_div: int) -> torch.Tensor:
    """TSM's shift written independently for the torchvision comparison (pad-and-concatenate form)."""
    nt, c, h, w = x.shape
    video = x.view(nt // frames, frames, c, h, w)
    fold = c // shift_div
    from_next = F.pad(video[:, 1:, :fold], (0, 0, 0, 0, 0, 0, 0, 1))
    from_previous = F.pad(video[:, :-1, fold:2 * fold], (0, 0, 0, 0, 0, 0, 1, 0))
    return torch.cat((from_next, from_previous, video[:, :, 2 * fold:]), dim=2).view(nt, c, h, w)


class TorchvisionSegments(nn.Module):
    """torchvision's ResNet-50 on every frame, with MMAction2's TSN head (features averaged, dropout 0.4) or TSM
    head (logits averaged, dropout 0.5) and, for TSM, the shift applied to each bottleneck's conv1 input (a forward
    pre-hook: the residual branch only, as in TSM)."""

    def __init__(self, frames: int, num_classes: int, consensus: str, dropout: float, shift_div: int | None = None):
        super().__init__()
        import torchvision

        self.frames, self.consensus = frames, consensus
        self.backbone = torchvision.models.resnet50()
        self.backbone.fc = nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2048, num_classes)
        if shift_div:
            for block in self.backbone.modules():
                if isinstance(block, torchvision.models.resnet.Bottleneck):
                    block.conv1.register_forward_pre_hook(
                        lambda _module, args: (_temporal_shift(args[0], frames, shift_div),))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, h, w = x.shape
        features = self.backbone(x.transpose(1, 2).reshape(n * t, c, h, w)).view(n, t, -1)
        if self.consensus == "features":
            return self.fc(self.dropout(features.mean(dim=1)))
        return self.fc(self.dropout(features)).mean(dim=1)


class TwoPathways(nn.Module):
    """Feeds a (N, 3, T, H, W) clip to a pytorchvideo SlowFast as [every alpha-th frame, every frame]."""

    def __init__(self, net: nn.Module, alpha: int):
        super().__init__()
        self.net, self.alpha = net, alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net([x[:, :, ::self.alpha], x])


_I3D_INFLATE_PV = ((3, 1, 1), [(3, 1, 1), (1, 1, 1)], [(3, 1, 1), (1, 1, 1)], [(1, 1, 1), (3, 1, 1)])


def _build_pytorchvideo(case: BenchCase) -> nn.Module:
    """MMAction2's 3D ResNet-50s assembled from pytorchvideo's builders (create_resnet / create_slowfast)."""
    from pytorchvideo.models.resnet import create_resnet

    common = dict(model_depth=50, model_num_class=NUM_CLASSES, dropout_rate=0.5, head_pool=nn.AdaptiveAvgPool3d,
                  head_output_size=(1, 1, 1), head_activation=None)
    if case.key.startswith("slowonly"):
        return create_resnet(stem_conv_kernel_size=(1, 7, 7), **common)
    if case.key in ("i3d", "i3d_fast"):
        return create_resnet(stem_conv_kernel_size=(5, 7, 7), stem_conv_stride=(2, 2, 2),
                             stem_pool_stride=(2, 2, 2), stage1_pool=nn.MaxPool3d, stage1_pool_kernel_size=(2, 1, 1),
                             stage_conv_a_kernel_size=_I3D_INFLATE_PV, **common)
    if case.key == "i3d_heavy":
        return create_resnet(stem_conv_kernel_size=(5, 7, 7), stage1_pool=nn.MaxPool3d,
                             stage1_pool_kernel_size=(2, 1, 1), stage_conv_a_kernel_size=((3, 1, 1),) * 4, **common)
    if case.key.startswith("slowfast"):
        from pytorchvideo.models.slowfast import FastToSlowFusionBuilder, create_slowfast

        alpha, kernel = (8, 5) if case.key == "slowfast_4x16" else (4, 7)
        fusion = FastToSlowFusionBuilder(slowfast_channel_reduction_ratio=8, conv_fusion_channel_ratio=2,
                                         conv_kernel_size=(kernel, 1, 1), conv_stride=(alpha, 1, 1), norm=None,
                                         activation=None, max_stage_idx=3).create_module
        net = create_slowfast(model_depth=50, model_num_class=NUM_CLASSES, dropout_rate=0.5, fusion_builder=fusion,
                              head_pool=nn.AdaptiveAvgPool3d, head_output_size=(1, 1, 1), head_activation=None)
        return TwoPathways(net, alpha)
    raise ConfigError(f"pytorchvideo has no builder for {case.key}")


def _import_mmaction():
    """MMAction2 1.2.0's PyPI wheel lacks mmaction/models/localizers/drn (open-mmlab/mmaction2#2714), which
    `mmaction.models` imports; stand in an empty module for that localizer (unused here) before importing."""
    import importlib.util
    import sys
    import types

    spec = importlib.util.find_spec("mmaction")
    if spec is None:
        raise ImportError("mmaction2 is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    if not (root / "models" / "localizers" / "drn").is_dir():
        for name in ("mmaction.models.localizers.drn", "mmaction.models.localizers.drn.drn"):
            stub = types.ModuleType(name)
            stub.__path__ = []
            stub.DRN = None
            sys.modules.setdefault(name, stub)
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    register_all_modules(init_default_scope=True)
    return MODELS


class MmactionRecognizer(nn.Module):
    """An MMAction2 backbone and head (built from their registry with the 2020 configs' arguments), called as
    MMAction2's Recognizer2D/3D call them; the loss is the caller's, as for every implementation here."""

    def __init__(self, backbone: nn.Module, head: nn.Module, two_d: bool):
        super().__init__()
        import logging

        from mmengine.logging import MMLogger

        self.backbone, self.cls_head, self.two_d = backbone, head, two_d
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)  # init_weights logs every parameter at INFO
        try:
            for module in (self.backbone, self.cls_head):
                module.init_weights()
        finally:
            logger.setLevel(level)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.two_d:
            n, c, t, h, w = x.shape
            return self.cls_head(self.backbone(x.transpose(1, 2).reshape(n * t, c, h, w)), num_segs=t)
        return self.cls_head(self.backbone(x))


def _build_mmaction2(case: BenchCase) -> nn.Module:
    registry = _import_mmaction()
    head3d = dict(type="I3DHead", num_classes=NUM_CLASSES, in_channels=2048, spatial_type="avg", dropout_ratio=0.5,
                  init_std=0.01)
    slow = dict(type="ResNet3dSlowOnly", depth=50, pretrained=None, lateral=False, conv1_kernel=(1, 7, 7),
                conv1_stride_t=1, pool1_stride_t=1, inflate=(0, 0, 1, 1), norm_eval=False)
    if case.key == "tsn":
        backbone = dict(type="ResNet", depth=50, pretrained=None, norm_eval=False)
        head = dict(type="TSNHead", num_classes=NUM_CLASSES, in_channels=2048, spatial_type="avg",
                    consensus=dict(type="AvgConsensus", dim=1), dropout_ratio=0.4, init_std=0.01)
    elif case.key == "tsm":
        backbone = dict(type="ResNetTSM", depth=50, pretrained=None, pretrained2d=False, norm_eval=False,
                        num_segments=case.frames, shift_div=8)
        head = dict(type="TSMHead", num_classes=NUM_CLASSES, in_channels=2048, num_segments=case.frames,
                    spatial_type="avg", consensus=dict(type="AvgConsensus", dim=1), dropout_ratio=0.5,
                    init_std=0.001, is_shift=True)
    elif case.key in ("i3d", "i3d_fast", "i3d_heavy"):
        heavy = case.key == "i3d_heavy"
        backbone = dict(type="ResNet3d", depth=50, pretrained=None, pretrained2d=False, norm_eval=False,
                        conv1_kernel=(5, 7, 7), conv1_stride_t=1 if heavy else 2, pool1_stride_t=1 if heavy else 2,
                        with_pool2=True, zero_init_residual=False, conv_cfg=dict(type="Conv3d"),
                        inflate=(1, 1, 1, 1) if heavy else ((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0)))
        head = head3d
    elif case.key.startswith("slowonly"):
        backbone, head = slow, head3d
    elif case.key.startswith("slowfast"):
        rate, kernel = (8, 5) if case.key == "slowfast_4x16" else (4, 7)
        backbone = dict(type="ResNet3dSlowFast", pretrained=None, resample_rate=rate, speed_ratio=rate,
                        channel_ratio=8,
                        slow_pathway=dict(type="resnet3d", depth=50, pretrained=None, lateral=True,
                                          fusion_kernel=kernel, conv1_kernel=(1, 7, 7), dilations=(1, 1, 1, 1),
                                          conv1_stride_t=1, pool1_stride_t=1, inflate=(0, 0, 1, 1), norm_eval=False),
                        fast_pathway=dict(type="resnet3d", depth=50, pretrained=None, lateral=False, base_channels=8,
                                          conv1_kernel=(5, 7, 7), conv1_stride_t=1, pool1_stride_t=1,
                                          norm_eval=False))
        head = dict(head3d, type="SlowFastHead", in_channels=2304)
    elif case.key.startswith("r2plus1d"):
        backbone = dict(type="ResNet2Plus1d", depth=34, pretrained=None, pretrained2d=False, norm_eval=False,
                        conv_cfg=dict(type="Conv2plus1d"), norm_cfg=dict(type="BN3d", requires_grad=True, eps=1e-3),
                        act_cfg=dict(type="ReLU"), conv1_kernel=(3, 7, 7), conv1_stride_t=1, pool1_stride_t=1,
                        inflate=(1, 1, 1, 1), spatial_strides=(1, 2, 2, 2), temporal_strides=(1, 2, 2, 2),
                        zero_init_residual=False)
        head = dict(head3d, in_channels=512)
    else:
        raise ConfigError(f"no MMAction2 config for {case.key}")
    return MmactionRecognizer(registry.build(backbone), registry.build(head), two_d=case.clip_len == 1)


def implementations(case: BenchCase) -> list[Implementation]:
    """Other maintained implementations of the case's network, with a note on what was checked; `build` is None
    where a library has no implementation of this very network (the note says why)."""
    key = case.key
    out = []
    if key in ("tsn", "tsm"):
        shift = key == "tsm"
        out.append(Implementation(
            "torchvision",
            lambda c, shift=shift: TorchvisionSegments(c.frames, NUM_CLASSES, "logits" if shift else "features",
                                                       0.5 if shift else 0.4, 8 if shift else None),
            "torchvision.models.resnet50 (the same ResNet-50 v1.5) per frame + the MMAction2 "
            + ("TSM head and a temporal shift pre-hook on every bottleneck's conv1 (written here)" if shift
               else "TSN head (feature consensus, written here)"),
            _library_version("torchvision")))
    else:
        out.append(Implementation(
            "torchvision", None,
            "no same network: torchvision.models.video has r3d_18, mc3_18, r2plus1d_18 (18 layers, its own stem and "
            "mid-channel rule), s3d, mvit and swin3d; no ResNet-50 I3D/SlowOnly/SlowFast and no R(2+1)D-34"))
    if key.startswith(("i3d", "slowonly", "slowfast")):
        out.append(Implementation(
            "pytorchvideo", _build_pytorchvideo,
            "pytorchvideo's create_resnet/create_slowfast configured to MMAction2's network (stem, pools, inflation, "
            "laterals without BN/ReLU); global average head pool (nn.AdaptiveAvgPool3d, one of its options)",
            _library_version("pytorchvideo")))
    else:
        out.append(Implementation(
            "pytorchvideo", None,
            "no same network: pytorchvideo has no 2D TSN/TSM ResNet and its R(2+1)D is the bottleneck R(2+1)D-50, "
            "not the BasicBlock R(2+1)D-34"))
    out.append(Implementation(
        "mmaction2", _build_mmaction2,
        "MMAction2 1.x backbone + head from its registry with the 2020 config arguments (called as its recognizer "
        "does; its data preprocessor, runner and hooks are not used)", _library_version("mmaction")))
    return out


def implementation_available(impl: Implementation) -> str | None:
    """None if `impl` can be built here, else why not."""
    if impl.build is None:
        return impl.note
    module = {"torchvision": "torchvision", "pytorchvideo": "pytorchvideo", "mmaction2": "mmaction"}.get(impl.name)
    if module:
        import importlib.util

        if importlib.util.find_spec(module) is None:
            hint = {"pytorchvideo": "pip install pytorchvideo (pure Python; pulls no torch)",
                    "mmaction2": "its PyPI wheel needs mmcv and mmengine: see bench_cli's --help for a side install"}
            return f"{impl.name} is not installed ({hint.get(impl.name, '')})"
    return None


# ---- one training step, and the runners ----------------------------------------------------------------------------

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


def _option(name: str) -> SpeedOptions:
    return {"bf16": SpeedOptions(amp="bf16"), "channels_last": SpeedOptions(channels_last=True),
            "compile": SpeedOptions(compile=True), "cudnn_benchmark": SpeedOptions(cudnn_benchmark=True)}[name]


def _is_3d(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv3d) for m in model.modules())


def _normalise(clips: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (N, 3, T, H, W) on the host -> float normalised with MMAction2's mean/std on the device."""
    from actionbook.models.registry import MMACTION_MEAN, MMACTION_STD

    clips = clips.to(device, non_blocking=True)
    mean = torch.tensor(MMACTION_MEAN, device=device).view(3, 1, 1, 1)
    std = torch.tensor(MMACTION_STD, device=device).view(3, 1, 1, 1)
    return (clips.float() / 255 - mean) / std


class Runner:
    """A model, its optimiser (SGD momentum 0.9, weight decay 1e-4, gradient clipping as MMAction2) and its options;
    `step` is one training iteration on a device batch."""

    def __init__(self, variant: str, case: BenchCase, impl: Implementation, options: SpeedOptions = SpeedOptions(),
                 clip_grad: float | None = None):
        self.variant, self.case, self.impl, self.options = variant, case, impl, options
        self.device = torch.device(case.device)
        self.clip_grad = clip_grad if clip_grad is not None else (20.0 if case.key == "tsm" else 40.0)
        self.model: nn.Module | None = None
        self.memory: dict | None = None
        self.times: list[float] = []
        self.warmup_times: list[float] = []
        self.params: int | None = None

    def build(self) -> None:
        if self.options.amp == "fp16" and self.device.type != "cuda":
            raise ConfigError("fp16 autocast needs CUDA; on the CPU use bf16")
        model = self.impl.build(self.case).to(self.device).train()
        self.params = sum(p.numel() for p in model.parameters())
        self.memory_format = None
        if self.options.channels_last:
            self.memory_format = torch.channels_last_3d if _is_3d(model) else torch.channels_last
            model = model.to(memory_format=self.memory_format)
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
        """Forward, loss, backward, clipping, optimiser step; returns the loss (a host sync, as mmcv's
        _parse_losses), then waits for the device."""
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = self.options.cudnn_benchmark
        with self._autocast():
            logits = self.forward(x)
        loss = F.cross_entropy(logits.float(), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_grad)
        self.optimizer.step()
        value = loss.item()
        _sync(self.device)
        return value

    def release(self) -> None:
        self.model = self.forward = self.optimizer = None


def _labels(batch: int, seed: int) -> torch.Tensor:
    return torch.randint(NUM_CLASSES, (batch,), generator=torch.Generator().manual_seed(seed))


def synthetic_batch(case: BenchCase, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A host uint8 clip batch (N, 3, T, H, W) and labels, deterministic in `seed`."""
    g = torch.Generator().manual_seed(seed)
    clips = torch.randint(0, 256, case.input_shape, generator=g, dtype=torch.uint8)
    return clips, _labels(case.batch, seed)


# ---- the protocols ------------------------------------------------------------------------------------------------

def run_interleaved(runners: list[Runner], batch: tuple[torch.Tensor, torch.Tensor], warmup: int, iters: int,
                    progress: Callable[[str], None] | None = None, memory_warmup: int = MEMORY_WARMUP) -> None:
    """Compute-only protocol for several runners on one preloaded batch.

    1. Memory, each runner alone: built, `min(warmup, memory_warmup)` iterations, peak reset, one iteration
       measured, then released (so no runner's figure depends on which others are alive or built before it).
    2. Time: every runner is built again and warmed up (`warmup` iterations, timed and skipped); then `iters` rounds
       each run one iteration of every runner, the order rotating from round to round.
    """
    if warmup < 0 or iters < 1:
        raise ConfigError(f"warm-up must be >= 0 and iterations >= 1, got {warmup} and {iters}")
    say = progress or (lambda _msg: None)
    device = torch.device(runners[0].case.device)
    x = _normalise(batch[0], device)
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


class SyntheticLoader:
    """Host uint8 batches made on the fly (no decoding): the loader for tests and for machines without the data
    layer's synthetic videos."""

    def __init__(self, case: BenchCase, seed: int = 0):
        self.case, self.seed = case, seed
        self.description = {"source": "synthetic host tensors (random uint8, no decoding)"}

    def __iter__(self) -> Iterator:
        for i in itertools.count():
            clips, labels = synthetic_batch(self.case, self.seed + i)
            yield clips, labels, []


_AUGMENT = {"TSN": "mmaction-tsn", "TSM": "v1", "I3D": "mmaction-i3d"}


class VideoLoader:
    """A DataLoader over decoded video (the project's data layer), cycling epochs with persistent workers."""

    def __init__(self, case: BenchCase, dataset: str = "synth-kinetics", root: str | None = None, workers: int = 1,
                 seed: int = 0):
        from actionbook import data

        augment = _AUGMENT.get(case.family, "mmaction-rrc")
        self.dataset = data.build_dataset(dataset, root=root, split="train", frames=case.clip_len,
                                          sampling="mmaction", frame_interval=case.frame_interval,
                                          num_clips=case.num_clips, input_size=case.input_size, augment=augment,
                                          seed=seed)
        if len(self.dataset) < case.batch:
            raise ConfigError(f"batch {case.batch} is larger than the {dataset} training split ({len(self.dataset)})")
        self.loader = torch.utils.data.DataLoader(
            self.dataset, batch_size=case.batch, shuffle=True, drop_last=True, num_workers=workers,
            collate_fn=data.collate_clips, worker_init_fn=data.seed_worker, persistent_workers=workers > 0,
            pin_memory=torch.device(case.device).type == "cuda", generator=torch.Generator().manual_seed(seed))
        self.description = {"source": "DataLoader over decoded video", "dataset": dataset, "augment": augment,
                            "workers": workers, "videos": len(self.dataset), "sampling": "mmaction",
                            "note": "synthetic videos are small (80x60, short): decoding is cheaper than 256p "
                                    "Kinetics" if dataset.startswith("synth") else ""}

    def __iter__(self) -> Iterator:
        while True:
            yield from self.loader


def run_loader(runner: Runner, loader, warmup: int, iters: int) -> dict:
    """The table's protocol for one runner: each iteration is timed from the end of the previous one (waiting for
    the loader included); the first `warmup` are skipped; the memory peak is reset after warm-up. Returns the data
    times (blocked on the loader) alongside `runner.times`."""
    if warmup < 0 or iters < 1:
        raise ConfigError(f"warm-up must be >= 0 and iterations >= 1, got {warmup} and {iters}")
    device = torch.device(runner.case.device)
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
        x = runner.adapt_input(_normalise(clips, device))
        runner.step(x, labels.to(device, non_blocking=True))
        now = time.perf_counter()
        (runner.warmup_times if i < warmup else runner.times).append(now - tick)
        if i >= warmup:
            data_times.append(loaded - tick)
        tick = now
    runner.memory = meter.peak()
    return {"data_times": data_times}


# ---- FLOPs, records, tables -------------------------------------------------------------------------------------

def training_flops(case: BenchCase, model: nn.Module | None = None) -> dict:
    """Multiply-adds of one forward pass of the batch (conv + linear, fvcore's operators) and the iteration's
    training FLOPs (x2 per multiply-add, x3 for forward + backward)."""
    from actionbook.measure.flops import count_flops

    if model is None:
        with torch.device("meta"):
            model = _build_ours(case)
    counts = count_flops(model, case.input_shape)
    macs = counts["fvcore"].get("conv", 0) + counts["fvcore"].get("linear", 0)
    return {"forward_macs": macs, "forward_conv_macs": counts["conv_macs"]["total"],
            "mmaction_forward_flops": counts["mmaction"]["total"], "train_flops_per_iter": 6 * macs,
            "convention": "train FLOPs = 3 (fwd+bwd) x 2 x (conv + linear multiply-adds of the batch's forward pass)"}


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _time_stats(runner: Runner) -> dict:
    return summarize(runner.warmup_times + runner.times, skip=len(runner.warmup_times))


def _mfu(seconds: float, flops: dict, peaks: dict, amp: str) -> dict:
    achieved = flops["train_flops_per_iter"] / seconds
    out = {"achieved_tflops": achieved / 1e12}
    for name, peak in peaks.items():
        out[f"vs_{name}_peak"] = achieved / peak["flops_per_s"]
    # bf16 runs are held against the bf16 peak, unless bf16 is only emulated (then the fp32 peak is the ceiling)
    use_bf16 = amp == "bf16" and "bf16" in peaks and peaks["bf16"].get("native", True)
    out["peak_used"] = "bf16" if use_bf16 else "fp32"
    out["mfu"] = out[f"vs_{out['peak_used']}_peak"]
    return out


def _published(case: BenchCase) -> list[dict]:
    return [dict(asdict(p), batch_per_gpu=case.published_batch, hardware="8x V100 (one process per GPU)")
            for p in PUBLISHED.get(case.key, ())]


def make_record(case: BenchCase, runner: Runner, *, protocol: dict, flops: dict, peaks: dict,
                data: dict | None = None, loader: dict | None = None,
                load: dict | None = None, provenance: dict | None = None, implementations_note: list | None = None,
                scale_note: str = "") -> dict:
    """The JSON record of one (setting, device, variant)."""
    from actionbook.measure.environment import describe_device

    stats = _time_stats(runner)
    record = {
        "schema": SCHEMA,
        "kind": "speed",
        "case": case.key,
        "setting": case.setting,
        "seed_row": case.seed_row,
        "model": case.model,
        "sampler": case.sampler,
        "frames": case.frames,
        "device": torch.device(case.device).type,
        "device_name": describe_device(torch.device(case.device)),
        "variant": runner.variant,
        "implementation": runner.impl.name,
        "implementation_version": runner.impl.version,
        "implementation_note": runner.impl.note,
        "params": runner.params,
        "options": asdict(runner.options) | {"label": runner.options.label()},
        "input": {"batch": case.batch, "published_batch": case.published_batch, "input_size": case.input_size,
                  "published_input_size": 224, "shape": list(case.input_shape),
                  **(loader or {"source": "preloaded batch on the device (normalised float)"})},
        "protocol": protocol,
        "time": stats,
        "data": data,
        "memory": runner.memory,
        "flops": flops,
        "mfu": _mfu(stats["mean"], flops, peaks, runner.options.amp),
        "peaks": peaks,
        "compared_to": None,
        "published": _published(case),
        "load": load,
        "note": "; ".join(n for n in (scale_note, case.note) if n),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "provenance": provenance,
    }
    if implementations_note is not None:
        record["implementations"] = implementations_note
    return record


def record_path(out: str | Path, record: dict) -> Path:
    return Path(out) / f"{record['setting']}.{record['device']}.{record['variant']}.json"


def write_records(out: str | Path, records: list[dict]) -> list[Path]:
    from actionbook.report.records import write_json_atomic

    paths = []
    for record in records:
        path = record_path(out, record)
        write_json_atomic(path, record)
        paths.append(path)
    return paths


def load_records(directory: str | Path = SPEED_RECORDS) -> list[dict]:
    directory = Path(directory)
    records = []
    for path in sorted(directory.glob("*.json")):
        record = json.loads(path.read_text())
        if record.get("schema") == SCHEMA:
            records.append(record)
    return records


def speed_table(records: list[dict], device: str | None = None) -> list[dict]:
    """The table's rows: the `train` variant (loader included) of every case, beside its compute-only time."""
    compute = {(r["case"], r["device"]): r for r in records if r["variant"] == "compute"}
    rows = []
    for r in records:
        if r["variant"] != "train" or (device and r["device"] != device):
            continue
        c = compute.get((r["case"], r["device"]))
        mmaction = next((p for p in r["published"] if p["framework"] == "mmaction-lite"), None)
        rows.append({
            "case": r["case"], "setting": r["setting"], "device": r["device"], "batch": r["input"]["batch"],
            "input_size": r["input"]["input_size"], "mean": r["time"]["mean"], "std": r["time"]["std"],
            "median": r["time"]["median"], "n": r["time"]["n"], "skipped": r["time"]["skipped"],
            "data_share": (r["data"] or {}).get("data_share"), "memory_mib": r["memory"]["mib"],
            "memory_kind": r["memory"]["kind"].split(" (")[0], "mfu": r["mfu"]["mfu"],
            "compute_mean": c["time"]["mean"] if c else None, "compute_mfu": c["mfu"]["mfu"] if c else None,
            "published_s_iter": mmaction["s_iter"] if mmaction else None,
            "published_memory_mib": mmaction["memory_mib"] if mmaction else None,
        })
    order = {k: i for i, k in enumerate(CASE_KEYS)}
    return sorted(rows, key=lambda row: (row["device"], order.get(row["case"], 99)))


def ratio_table(records: list[dict], device: str | None = None) -> list[dict]:
    """One row per compared variant (impl-*, opt-*): its s/iter against the eager-fp32 run of this project's model
    measured interleaved with it (kept in the record's `compared_to`).

    `ratio` = variant / ours-eager (options: < 1 means the option helps); `ours_over_theirs` = ours-eager / theirs
    for other implementations (< 1 means ours is faster). Memory is each runner's own, of the case's kind."""
    order = {k: i for i, k in enumerate(CASE_KEYS)}
    rows = []
    for r in records:
        if (device and r["device"] != device) or not r["variant"].startswith(("impl-", "opt-")):
            continue
        base = (r.get("compared_to") or {}).get("baseline")
        if base is None:
            continue
        ratio = r["time"]["mean"] / base["mean"]
        rows.append({
            "case": r["case"], "device": r["device"], "variant": r["variant"], "implementation": r["implementation"],
            "options": r["options"]["label"], "mean": r["time"]["mean"], "std": r["time"]["std"],
            "ours_mean": base["mean"], "ours_std": base["std"], "ratio": ratio,
            "ratio_paired": r["compared_to"].get("ratio_paired_median"),
            "ours_over_theirs": 1 / ratio if r["variant"].startswith("impl-") else None,
            "memory_mib": r["memory"]["mib"], "ours_memory_mib": base["memory_mib"],
            "params": r["params"], "ours_params": base["params"], "mfu": r["mfu"]["mfu"], "ours_mfu": base["mfu"],
        })
    return sorted(rows, key=lambda row: (row["device"], order.get(row["case"], 99), row["variant"]))


def fastest_table(records: list[dict], device: str | None = None) -> list[dict]:
    """Per case: this project's model at its fastest (eager fp32 or the best option measured) against the fastest
    other implementation of the same network in eager fp32, from one interleaved run.

    `ours_best_over_fastest_other` < 1 means ours (with its best option) is the fastest measured."""
    by_case: dict[tuple[str, str], list[dict]] = {}
    for row in ratio_table(records, device):
        by_case.setdefault((row["case"], row["device"]), []).append(row)
    out = []
    for (case, dev), rows in by_case.items():
        ours = [{"variant": "compute", "options": "eager fp32", "mean": rows[0]["ours_mean"]}]
        ours += [r for r in rows if r["variant"].startswith("opt-")]
        others = [r for r in rows if r["variant"].startswith("impl-")]
        best = min(ours, key=lambda r: r["mean"])
        other = min(others, key=lambda r: r["mean"]) if others else None
        out.append({
            "case": case, "device": dev, "ours_eager": rows[0]["ours_mean"], "ours_best_variant": best["variant"],
            "ours_best_options": best["options"], "ours_best": best["mean"],
            "fastest_other": other["implementation"] if other else None,
            "fastest_other_mean": other["mean"] if other else None,
            "ours_eager_over_fastest_other": rows[0]["ours_mean"] / other["mean"] if other else None,
            "ours_best_over_fastest_other": best["mean"] / other["mean"] if other else None,
        })
    return out


def format_fastest_table(rows: list[dict]) -> str:
    lines = ["| case | device | ours eager fp32 | ours best (options) | fastest other (eager fp32) | "
             "ours eager / other | ours best / other |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        other = (f"{r['fastest_other_mean']:.3f} ({r['fastest_other']})" if r["fastest_other"] else "none installed")
        lines.append(f"| {r['case']} | {r['device']} | {r['ours_eager']:.3f} | {r['ours_best']:.3f} "
                     f"({r['ours_best_options']}) | {other} | {_fmt(r['ours_eager_over_fastest_other'], '.2f')} | "
                     f"{_fmt(r['ours_best_over_fastest_other'], '.2f')} |")
    return "\n".join(lines)


def _fmt(value, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def format_speed_table(rows: list[dict]) -> str:
    lines = ["| case | device | batch | input | s/iter mean ± std | median | data share | compute-only s/iter | "
             "memory (MiB) | MFU | published s/iter (batch/GPU, V100) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['device']} | {r['batch']} | {r['input_size']} | {r['mean']:.3f} ± {r['std']:.3f} | "
            f"{r['median']:.3f} | {_fmt(r['data_share'], '.0%')} | {_fmt(r['compute_mean'], '.3f')} | "
            f"{r['memory_mib']:.0f} ({r['memory_kind']}) | {_fmt(r['mfu'], '.1%')} | "
            f"{_fmt(r['published_s_iter'], '.4g')} |")
    return "\n".join(lines)


def format_ratio_table(rows: list[dict]) -> str:
    lines = ["| case | device | variant | s/iter mean ± std | ours eager fp32 | variant / ours | paired (median of "
             "rounds) | ours / theirs | memory MiB (ours) | params (ours) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['device']} | {r['variant']} | {r['mean']:.3f} ± {r['std']:.3f} | "
            f"{r['ours_mean']:.3f} | {r['ratio']:.2f} | {_fmt(r.get('ratio_paired'), '.2f')} | "
            f"{_fmt(r['ours_over_theirs'], '.2f')} | "
            f"{r['memory_mib']:.0f} ({r['ours_memory_mib']:.0f}) | {_fmt(r['params'], ',')} "
            f"({_fmt(r['ours_params'], ',')}) |")
    return "\n".join(lines)


# ---- the benchmark of a list of cases -------------------------------------------------------------------------------

@dataclass
class BenchPlan:
    """What `run_bench` measures (everything the CLI takes)."""

    keys: list[str]
    device: str = "cpu"
    batch: int | None = None
    input_size: int | None = None
    warmup: int | None = None
    iters: int | None = None
    compare: bool = False
    options: list[str] = field(default_factory=list)
    best: bool = True  # with options: also all helpful options together ("opt-best")
    loader: str = "video"  # video (the data layer) or synthetic (host tensors, no decoding)
    dataset: str = "synth-kinetics"
    data_root: str | None = None
    workers: int | None = None
    out: str | None = str(SPEED_RECORDS)
    seed: int = 0

    def resolved(self) -> BenchPlan:
        device_type = torch.device(self.device).type
        if device_type not in DEFAULTS:
            raise ConfigError(f"device must be cpu or cuda, got {self.device!r}")
        if device_type == "cuda" and not torch.cuda.is_available():
            raise ConfigError("--device cuda asked for, but no CUDA device is available")
        unknown = sorted(set(self.options) - set(OPTIONS))
        if unknown:
            raise ConfigError(f"unknown speed option(s) {', '.join(unknown)}; expected {', '.join(OPTIONS)}")
        if self.loader not in ("video", "synthetic"):
            raise ConfigError(f"loader must be video or synthetic, got {self.loader!r}")
        d = DEFAULTS[device_type]
        return replace(self, warmup=d["warmup"] if self.warmup is None else self.warmup,
                       iters=d["iters"] if self.iters is None else self.iters,
                       workers=d["workers"] if self.workers is None else self.workers)


def _scale_note(plan: BenchPlan, case: BenchCase) -> str:
    parts = []
    if case.batch != case.published_batch:
        parts.append(f"batch {case.batch} per device (published {case.published_batch} per GPU)")
    if case.input_size != 224:
        parts.append(f"input {case.input_size}x{case.input_size} (published 224x224)")
    if plan.warmup != PUBLISHED_WARMUP:
        parts.append(f"first {plan.warmup} iterations skipped (published 50)")
    if torch.device(plan.device).type == "cpu":
        parts = ["CPU-scale run"] + parts + [f"{plan.iters} measured iterations",
                                             f"torch threads: {torch.get_num_threads()} of {os.cpu_count()} cores, "
                                             "shared with other work (load in 'load')"]
    return ", ".join(parts)


def run_bench(plan: BenchPlan, progress: Callable[[str], None] | None = print) -> list[dict]:
    """Measure every case of `plan`; returns the records (and writes them under `plan.out` unless it is None)."""
    from actionbook.measure.environment import provenance

    plan = plan.resolved()
    say = progress or (lambda _msg: None)
    device = torch.device(plan.device)
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)
    say(f"measuring the {device.type} matmul peaks")
    peaks = device_peaks(device)
    prov = provenance(seed=plan.seed)
    prov["versions"].update({name: _library_version(module) for name, module in
                             (("pytorchvideo", "pytorchvideo"), ("mmaction2", "mmaction"), ("mmcv", "mmcv"),
                              ("mmengine", "mmengine"))})
    prov["threads"] = torch.get_num_threads()
    prov["flags"] = {"cudnn_benchmark_default": False, "allow_tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
                     "allow_tf32_cudnn": torch.backends.cudnn.allow_tf32}
    all_records: list[dict] = []
    cudnn_benchmark = torch.backends.cudnn.benchmark
    try:
        for key in plan.keys:
            case = bench_case(key, plan.device, plan.batch, plan.input_size)
            if "compile" in plan.options:
                torch._dynamo.reset()  # fresh caches per case: no recompile limit reached, no graphs kept alive
            records = _bench_one(plan, case, peaks, prov, say)
            if plan.out:
                write_records(plan.out, records)
            all_records += records
    finally:
        torch.backends.cudnn.benchmark = cudnn_benchmark
    return all_records


def _protocol(plan: BenchPlan, variant_kind: str, interleaved: list[str] | None = None) -> dict:
    protocol = {
        "name": "mmaction2-iter-time",
        "iteration": ("loader wait + host-to-device copy and normalisation + forward + loss + backward + gradient "
                      "clipping + SGD step" if variant_kind == "train" else
                      "forward + loss + backward + gradient clipping + SGD step on a preloaded, normalised batch"),
        "timing": ("wall time between consecutive iteration ends" if variant_kind == "train" else
                   "wall time of each iteration, runners interleaved round by round (rotating order)"),
        "sync": "loss.item() and torch.cuda.synchronize() at the end of every iteration on CUDA; CPU work is "
                "synchronous",
        "warmup_skipped": plan.warmup, "measured_iterations": plan.iters, "published_warmup_skipped": PUBLISHED_WARMUP,
        "std": "sample standard deviation (ddof=1)",
        "optimizer": "SGD lr 0.01 momentum 0.9 weight decay 1e-4, clip_grad_norm 40 (TSM 20); TSM's per-group "
                     "learning rates not reproduced (no effect on speed)",
        "loss": "cross-entropy on fp32 logits; 400 classes",
        "processes": "1 process, 1 device (the published runs: 8 GPUs with DDP)",
    }
    if interleaved:
        protocol["interleaved_with"] = interleaved
        protocol["memory_pass"] = (f"before timing, each runner alone (others released): built, min(warm-up, "
                                   f"{MEMORY_WARMUP}) iterations, peak reset, one iteration measured, released; "
                                   "then rebuilt for the timed, interleaved phase")
    return protocol


def _bench_one(plan: BenchPlan, case: BenchCase, peaks: dict, prov: dict, say) -> list[dict]:
    scale = _scale_note(plan, case)
    ours = Implementation("actionbook", _build_ours, "this project's model (actionbook.models)", None)
    flops = training_flops(case)
    records = []

    # 0. one untimed iteration first, so one-time costs of the process and of these shapes (library initialisation,
    # kernel caches) land in no measured runner's memory
    prewarm = Runner("prewarm", case, ours)
    prewarm.build()
    clips, labels = synthetic_batch(case, plan.seed)
    prewarm.step(_normalise(clips, prewarm.device), labels.to(prewarm.device))
    prewarm.release()
    del prewarm, clips, labels
    gc.collect()

    # 1. the table's protocol: loader included, ours in eager fp32, alone
    say(f"[{case.key}] train (loader included), batch {case.batch}, input {case.input_size}")
    if plan.loader == "video":
        loader = VideoLoader(case, plan.dataset, plan.data_root, plan.workers, plan.seed)
    else:
        loader = SyntheticLoader(case, plan.seed)
    load_before = _loadavg()
    runner = Runner("train", case, ours)
    data = run_loader(runner, loader, plan.warmup, plan.iters)
    mean_data = statistics.fmean(data["data_times"])
    stats = _time_stats(runner)
    data_summary = {"mean_data_s": mean_data, "data_share": mean_data / stats["mean"], "data_times": data["data_times"],
                    "meaning": "time blocked waiting for the loader / iteration time"}
    records.append(make_record(case, runner, protocol=_protocol(plan, "train"), flops=flops, peaks=peaks,
                               data=data_summary, loader=loader.description,
                               load={"loadavg_before": load_before, "loadavg_after": _loadavg()},
                               provenance=prov, scale_note=scale))
    runner.release()
    del loader
    gc.collect()

    # 2. compute-only, other implementations and speed options, interleaved
    runners = [Runner("compute", case, ours)]
    skipped = []
    if plan.compare:
        for impl in implementations(case):
            reason = implementation_available(impl)
            if reason:
                skipped.append({"implementation": impl.name, "measured": False, "reason": reason})
                continue
            runners.append(Runner(f"impl-{impl.name}", case, impl))
            skipped.append({"implementation": impl.name, "measured": True, "note": impl.note,
                            "version": impl.version})
    option_names = []
    for name in plan.options:
        if name == "cudnn_benchmark" and torch.device(case.device).type != "cuda":
            skipped.append({"option": name, "measured": False, "reason": "N/A on the CPU (a cuDNN setting)"})
            continue
        option_names.append(name)
        runners.append(Runner(f"opt-{name}", case, ours, _option(name)))
    say(f"[{case.key}] interleaved: {', '.join(r.variant for r in runners)}")
    load_before = _loadavg()
    batch = synthetic_batch(case, plan.seed)
    run_interleaved(runners, batch, plan.warmup, plan.iters, progress=lambda m: say(f"[{case.key}] {m}"))
    load = {"loadavg_before": load_before, "loadavg_after": _loadavg()}
    variants = [r.variant for r in runners]
    group = []
    for r in runners:
        rec = make_record(case, r, protocol=_protocol(plan, "compute", variants), flops=flops, peaks=peaks,
                          load=load, provenance=prov, scale_note=scale,
                          implementations_note=skipped if r.variant == "compute" else None)
        if r.variant.startswith("impl-"):
            rec["same_network_check"] = same_network_check(r.model, runners[0], case, flops)
        group.append(rec)
    for r in runners:
        r.release()
    base = group[0]
    for rec in group[1:]:
        rec["compared_to"] = _compare(rec, base)
    records += group

    # 3. all helpful options together
    if plan.best and len(option_names) > 1:
        helpful = [rec["variant"][4:] for rec in group[1:]
                   if rec["variant"].startswith("opt-") and rec["compared_to"]["ratio_paired_median"] < 1]
        if len(helpful) > 1:
            combined = SpeedOptions()
            for name in helpful:
                combined = replace(combined, **{k: v for k, v in asdict(_option(name)).items()
                                                if v != getattr(SpeedOptions(), k)})
            say(f"[{case.key}] opt-best ({combined.label()}) interleaved with compute")
            pair = [Runner("compute", case, ours), Runner("opt-best", case, ours, combined)]
            run_interleaved(pair, batch, plan.warmup, plan.iters)
            recs = [make_record(case, r, protocol=_protocol(plan, "compute", ["compute", "opt-best"]), flops=flops,
                                peaks=peaks, load={"loadavg_before": load_before, "loadavg_after": _loadavg()},
                                provenance=prov, scale_note=scale) for r in pair]
            best = recs[1]
            best["compared_to"] = _compare(best, recs[0])
            best["compared_to"]["note"] = "against its own interleaved eager-fp32 run (not written as a record)"
            records.append(best)
            for r in pair:
                r.release()
    return records


def same_network_check(model: nn.Module, ours: Runner, case: BenchCase, flops: dict) -> dict:
    """Parameter count and convolution multiply-adds of another implementation against this project's model."""
    from actionbook.measure.flops import count_flops

    out = {"params": sum(p.numel() for p in model.parameters()), "ours_params": ours.params,
           "ours_conv_macs": flops["forward_conv_macs"]}
    try:
        out["conv_macs"] = count_flops(model, case.input_shape)["conv_macs"]["total"]
    except Exception as err:  # a model the meta-device counter cannot run: say so, do not fail the benchmark
        out["conv_macs"] = None
        out["conv_macs_error"] = f"{type(err).__name__}: {err}"
    out["same"] = out["params"] == out["ours_params"] and out["conv_macs"] == out["ours_conv_macs"]
    return out


def _compare(record: dict, baseline: dict) -> dict:
    """The ratio to the eager-fp32 run measured interleaved with this one; the baseline's figures are kept here, so
    the ratio stays with the run it came from even when a later run rewrites the compute record."""
    stats, base = record["time"], baseline["time"]
    # the i-th measured time of every runner of an interleaved group comes from the same round: a per-round ratio
    # cancels load that drifts from round to round
    rounds = [t / b for t, b in zip(stats["times"], base["times"])]
    return {"variant": baseline["variant"], "label": baseline["options"]["label"],
            "implementation": baseline["implementation"], "ratio_mean": stats["mean"] / base["mean"],
            "ratio_median": stats["median"] / base["median"],
            "ratio_paired_median": statistics.median(rounds) if rounds else None, "round_ratios": rounds,
            "baseline": {"mean": base["mean"], "std": base["std"], "median": base["median"], "n": base["n"],
                         "times": base["times"], "memory_mib": baseline["memory"]["mib"],
                         "params": baseline["params"], "mfu": baseline["mfu"]["mfu"], "created": baseline["created"]},
            "meaning": f"this variant's s/iter / {baseline['variant']}'s, measured interleaved (< 1: faster)"}


def cases_summary() -> list[dict]:
    """The cases with their settings (for --list)."""
    return [{"key": k, "setting": s, "seed_row": seed, "note": note} for k, (s, seed, note) in _CASES.items()]


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
