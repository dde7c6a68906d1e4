"""The Experiment: the one validated configuration every entry point builds (notebook, CLI, runner, tests).

It is flat on purpose: its fields are exactly the papermill parameters of `notebooks/train.ipynb` and the keys of a
`params/*.yaml` file. It comes from a params file (`read_params`, the one reader) with `--set key=value` overrides
(`parse_overrides`, the one parser: values are YAML), or from keyword values; invalid input stops here with a
one-line `ConfigError` naming the field and what is accepted. The field defaults are the IBM code's defaults; the
train notebook's parameters cell sets the CPU-scale ones, the params files a table row's whole recipe.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import yaml

from actionbook.data import dataset_info
from actionbook.errors import ConfigError
from actionbook.models import build_model, model_entry
from actionbook.models.pretrained import TEMPORAL_STARTS

SAMPLINGS = ("uniform", "dense", "mmaction")
AUGMENTS = ("v1", "v2", "mmaction-tsn", "mmaction-i3d", "mmaction-rrc", "none")  # actionbook.data.transforms
SCHEDULERS = ("cosine", "multisteps", "step", "constant")
OPTIMIZERS = ("sgd", "adamw")
AMP_MODES = ("none", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")
# Fields that do not change what a run computes: they may differ between a run and its resume, and they do not
# enter the run's identity (`Experiment.run_id`); the table's reported numbers do not either.
RUN_NEUTRAL = frozenset({"name", "notes", "workers", "log_every", "checkpoint_every", "device", "data_root"})
MODEL_OPTIONS = ("temporal_pooling", "dropout", "blending_frames", "blending_method", "dw_conv", "dw_t_conv",
                 "legacy_pool5", "lateral_kernel")


@dataclass
class Experiment:
    """A training/evaluation configuration. Defaults: the IBM code's recipe defaults (224 px, global batch 256, SGD),
    on the synthetic Something-Something stand-in so nothing must be downloaded; CPU-scale values come from the
    train notebook's parameters cell, a table row's recipe from its params file."""

    name: str = ""
    # data
    dataset: str = "synth-something"
    data_root: str | None = None
    frames: int = 8
    sampling: str = "uniform"
    frame_interval: int = 1
    input_size: int = 224
    scale_size: int | None = None
    augment: str = "v1"
    flip: bool = True
    test_clips: int = 1
    test_crops: int = 1
    bad_file_threshold: float = 0.01
    # model (None: the model's own default)
    model: str = "tam_r50"
    temporal_pooling: str | None = None
    dropout: float | None = None
    blending_frames: int | None = None
    blending_method: str | None = None
    dw_conv: bool | None = None
    dw_t_conv: bool | None = None
    legacy_pool5: bool | None = None
    lateral_kernel: int | None = None
    pretrained: str = "none"  # "imagenet", "none", or a checkpoint path (fine-tune from a fewer-frame model)
    imagenet_checkpoint: str | None = None  # torchvision-format 2D weights; None = torchvision's cache
    temporal_start: str = "random"  # temporal-only convs under pretrained=imagenet: "random" (the paper), "identity"
    # optimisation
    epochs: int = 50
    batch_size: int = 256  # global, split over processes as the IBM code does
    optimizer: str = "sgd"  # the papers' SGD; "adamw" trains from scratch in far fewer steps (the CPU proxy)
    lr: float = 0.01
    lr_scheduler: str = "cosine"
    lr_steps: list[int] = field(default_factory=lambda: [15, 30, 45])
    warmup_epochs: float = 0.0
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    no_decay_on_bn_bias: bool = False
    clip_gradient: float | None = None
    # engine
    sync_bn: bool = False  # SyncBatchNorm over all ranks (CUDA only)
    freeze_bn: bool = False  # BN in eval mode (running statistics): small per-device batches, fair DDP checks on CPU
    amp: str = "none"
    channels_last: bool | None = None  # None: the model family's measured default (measure/fastpath.py)
    compile: bool = False
    device: str = "auto"
    nproc: int = 1  # processes per node (one per GPU)
    nnodes: int = 1  # nodes: the world is nnodes x nproc processes (torchrun's --nnodes)
    accumulate_steps: int = 1  # micro-batches per optimiser step; batch_size stays global (train/accumulate.py)
    workers: int = 2
    seed: int = 0
    iters_per_epoch: int | None = None  # cap (smoke tests, CPU-scale runs); None = the whole split
    checkpoint_every: int = 0  # also checkpoint every N iterations (0: only at epoch ends)
    eval_every: int = 1  # validate (and checkpoint) every N epochs, and always after the last
    log_every: int = 10
    # the published numbers of the table row this reproduces (absent for free experiments)
    reported_top1: float | None = None
    reported_top5: float | None = None
    reported_flops: int | None = None
    reported_params: int | None = None
    reported_iter_time: float | None = None  # s/iter of a speed-benchmark row (MMAction2 table), and its std
    reported_iter_time_std: float | None = None
    reported_memory_mib: int | None = None  # peak GPU memory of that row, MiB
    notes: list[str] = field(default_factory=list)

    # ---- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Experiment:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(unknown_names_message("parameter(s)", unknown, names))
        exp = cls(**{k: _coerce(k, v) for k, v in values.items()})
        exp.validate()
        return exp

    @classmethod
    def from_params(cls, path: str | Path, **overrides) -> Experiment:
        return cls.from_dict({**read_params(path), **overrides})

    def replace(self, **overrides) -> Experiment:
        return Experiment.from_dict({**self.to_dict(), **overrides})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    # ---- derived ------------------------------------------------------------------------------------------
    def model_options(self) -> dict[str, Any]:
        """The model options that were set (None means: the model's default)."""
        return {k: getattr(self, k) for k in MODEL_OPTIONS if getattr(self, k) is not None}

    @property
    def num_classes(self) -> int:
        return dataset_info(self.dataset).num_classes

    def computing_values(self) -> dict[str, Any]:
        """The fields that decide what the run computes (all but RUN_NEUTRAL and the reported numbers)."""
        return {k: v for k, v in self.to_dict().items() if k not in RUN_NEUTRAL and not k.startswith("reported_")}

    def run_id(self) -> str:
        """A short hash of `computing_values`: one default run folder per distinct experiment."""
        return hashlib.sha256(json.dumps(self.computing_values(), sort_keys=True).encode()).hexdigest()[:8]

    # ---- validation ---------------------------------------------------------------------------------------
    def validate(self) -> None:
        _one_of("sampling", self.sampling, SAMPLINGS)
        _one_of("augment", self.augment, AUGMENTS)
        _one_of("optimizer", self.optimizer, OPTIMIZERS)
        _one_of("lr_scheduler", self.lr_scheduler, SCHEDULERS)
        _one_of("amp", self.amp, AMP_MODES)
        _one_of("device", self.device, DEVICES)
        _one_of("temporal_start", self.temporal_start, TEMPORAL_STARTS)
        for name in ("frames", "frame_interval", "input_size", "epochs", "batch_size", "nproc", "nnodes",
                     "accumulate_steps", "test_clips", "log_every", "eval_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("workers", "checkpoint_every", "seed", "warmup_epochs", "weight_decay"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be 0 or more, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be a positive learning rate, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.iters_per_epoch is not None and self.iters_per_epoch < 1:
            raise ConfigError(f"iters_per_epoch caps the iterations of an epoch: at least 1, or null for the whole "
                              f"split; got {self.iters_per_epoch}")
        if self.clip_gradient is not None and not self.clip_gradient > 0:
            raise ConfigError(f"clip_gradient is a gradient-norm bound: positive, or null for none; got "
                              f"{self.clip_gradient}")
        if any(not isinstance(m, int) or m < 1 for m in self.lr_steps):
            raise ConfigError(f"lr_steps are epochs (whole numbers of at least 1), got {self.lr_steps}")
        _one_of("test_crops", self.test_crops, (1, 3, 5, 10))
        if self.batch_size % (self.nnodes * self.nproc * self.accumulate_steps):
            raise ConfigError(f"batch_size {self.batch_size} (global) must divide evenly into nnodes={self.nnodes} x "
                              f"nproc={self.nproc} processes x accumulate_steps={self.accumulate_steps} micro-batches")
        if not 0 <= self.bad_file_threshold <= 1:
            raise ConfigError(f"bad_file_threshold is a share between 0 and 1, got {self.bad_file_threshold}")
        dataset_info(self.dataset)  # raises ConfigError listing the known datasets
        model_entry(self.model)  # raises ConfigError listing the valid models
        self._check_model_builds()

    def _check_model_builds(self) -> None:
        """Frame counts and options the model cannot take fail here, before any data is touched."""
        with torch.device("meta"):
            build_model(self.model, num_classes=dataset_info(self.dataset).num_classes, frames=self.frames,
                        **self.model_options())


# What other code bases (the IBM code, MMAction2, PySlowFast) call some fields: the likeliest "did you mean".
ALIASES = {"learning_rate": "lr", "base_lr": "lr", "lr_schedule": "lr_scheduler", "num_frames": "frames",
           "clip_len": "frames", "groups": "frames", "num_segments": "frames", "batch": "batch_size",
           "wd": "weight_decay", "num_workers": "workers", "backbone_net": "model", "arch": "model",
           "datadir": "data_root", "data_dir": "data_root", "num_clips": "test_clips", "num_crops": "test_crops"}


def unknown_names_message(what: str, unknown: list[str], known) -> str:
    """"unknown parameter(s) learning_rate (did you mean lr?); accepted: ..." in one line."""
    hints = []
    for name in unknown:
        close = [ALIASES[name]] if ALIASES.get(name) in known else difflib.get_close_matches(name, list(known), n=1,
                                                                                              cutoff=0.6)
        hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return f"unknown {what} {', '.join(hints)}; accepted: {', '.join(sorted(known))}"


def _one_of(name: str, value, accepted) -> None:
    if value not in accepted:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, accepted))}, got {value!r}")


_BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def _coerce(name: str, value: Any) -> Any:
    """Values from the command line arrive as strings; turn them into the field's type, or say what is wrong."""
    if value is None or not isinstance(value, str):
        return value
    kind = str(Experiment.__dataclass_fields__[name].type)
    try:
        if value.lower() in ("none", "null") and "None" in kind:
            return None
        if kind.startswith("bool"):
            return _BOOL_WORDS[value.lower()]
        if kind.startswith("int"):
            return int(value)
        if kind.startswith("float"):
            return float(value)
        if kind.startswith("list"):
            parsed = yaml.safe_load(value) if value.strip().startswith("[") else value.replace(",", " ").split()
            return [int(v) for v in parsed]
    except (KeyError, ValueError):
        raise ConfigError(f"{name} must be of type {kind}, got {value!r}") from None
    return value


def changed_fields(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The computing fields (not RUN_NEUTRAL) on which two experiments' dicts differ. A field missing from one (a
    run recorded before the field existed) counts as its default, which is what that run did."""
    defaults = Experiment().to_dict()
    return sorted(k for k in set(saved) | set(current)
                  if k not in RUN_NEUTRAL and saved.get(k, defaults.get(k)) != current.get(k, defaults.get(k)))


# ---- params files and overrides ------------------------------------------------------------------------------------

def read_params(path: str | Path) -> dict[str, Any]:
    """The mapping of a params file (YAML), or a one-line error saying what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"params file {str(path)!r} does not exist")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"params file {str(path)!r} is not valid YAML{where}: "
                          f"{getattr(err, 'problem', None) or err}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"params file {str(path)!r} must hold a mapping of parameter: value")
    return values


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """`key=value` strings (`--set`); values are read as YAML (8 -> int, 0.1 -> float, true, null, [10, 20])."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set takes key=value, got {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            raise ConfigError(f"--set {key.strip()}: {value!r} is not a YAML value (quote strings with spaces, "
                              "write lists as [10, 20])") from None
    return out
