"""The benchmark cases: every row of MMAction2's speed table (and the final table's heavy I3D) as a network, a
sampler and a batch on a device, with the published s/iter and memory of each (mmaction-benchmark spec 2, 4.1)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from actionbook.errors import ConfigError
from actionbook.measure.speed import Workload
from actionbook.models import model_entry
from actionbook.studies.mmaction.settings import mmaction_setting

NUM_CLASSES = 400  # Kinetics-400
PUBLISHED_WARMUP = 50  # MMAction2: "we skip the first 50 iter times"
DEFAULTS = {
    # device -> (batch: None = the published batch per GPU, input size, warm-up, measured iterations, loader workers)
    "cuda": {"batch": None, "input_size": 224, "warmup": PUBLISHED_WARMUP, "iters": 50, "workers": 4},
    "cpu": {"batch": 1, "input_size": 64, "warmup": 3, "iters": 30, "workers": 1},  # 30: the records' floor
}


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
        return model_entry(self.model).family

    @property
    def clip_grad(self) -> float:
        """The config's gradient clipping (max norm): 20 for TSM, 40 for the others."""
        return 20.0 if self.key == "tsm" else 40.0

    @property
    def workload(self) -> Workload:
        """The batch the speed protocol trains on, normalised as the model's registry entry says."""
        return Workload.for_model(self.model, self.input_shape, NUM_CLASSES, self.device)

    def published(self) -> list[dict]:
        """The published s/iter and memory of this case, one per framework, with their batch and hardware."""
        return [dict(asdict(p), batch_per_gpu=self.published_batch, hardware="8x V100 (one process per GPU)")
                for p in PUBLISHED.get(self.key, ())]


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


def device_type(device: str) -> str:
    """'cpu' or 'cuda' for a device name (cuda:1 included); anything else is a ConfigError."""
    kind = torch.device(device).type
    if kind not in DEFAULTS:
        raise ConfigError(f"device must be cpu or cuda, got {device!r}")
    return kind


def bench_case(key: str, device: str = "cpu", batch: int | None = None, input_size: int | None = None) -> BenchCase:
    """The case `key` on `device`: by default the published batch at 224 on a GPU, batch 1 at 64x64 on the CPU."""
    if key not in _CASES:
        raise ConfigError(f"unknown benchmark case {key!r}; expected one of {', '.join(CASE_KEYS)}")
    defaults = DEFAULTS[device_type(device)]
    setting_name, seed_row, note = _CASES[key]
    s = mmaction_setting(setting_name)
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


def cases_summary() -> list[dict]:
    """The cases with their settings (for --list)."""
    return [{"key": k, "setting": s, "seed_row": seed, "note": note} for k, (s, seed, note) in _CASES.items()]
