"""The Experiment: the one validated configuration every entry point builds (notebook, CLI, runner, tests).

It is flat on purpose: its fields are exactly the papermill parameters of `notebooks/train.ipynb` and the keys of a
`params/*.yaml` file. It can come from a params file, from a row name of the IBM study's naming scheme, or from
keyword overrides; invalid input stops here with a one-line `ConfigError` naming the field and what is accepted.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from actionbook.errors import ConfigError

SAMPLINGS = ("uniform", "dense", "mmaction")
AUGMENTS = ("v1", "v2", "mmaction-tsn", "mmaction-i3d", "mmaction-rrc", "none")  # actionbook.data.transforms
SCHEDULERS = ("cosine", "multisteps", "step", "constant")
OPTIMIZERS = ("sgd", "adamw")
AMP_MODES = ("none", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")
MODEL_OPTIONS = ("temporal_pooling", "dropout", "blending_frames", "blending_method", "dw_conv", "dw_t_conv",
                 "legacy_pool5", "lateral_kernel")


@dataclass
class Experiment:
    """A training/evaluation configuration. Defaults: the IBM code's defaults, at CPU scale on synthetic data."""

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
    channels_last: bool = False
    compile: bool = False
    device: str = "auto"
    nproc: int = 1
    workers: int = 2
    seed: int = 0
    iters_per_epoch: int | None = None  # cap (smoke tests, CPU-scale runs); None = the whole split
    checkpoint_every: int = 0  # also checkpoint every N iterations (0: only at epoch ends)
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
            raise ConfigError(f"unknown parameter(s) {', '.join(unknown)}; accepted: {', '.join(sorted(names))}")
        exp = cls(**{k: _coerce(k, v) for k, v in values.items()})
        exp.validate()
        return exp

    @classmethod
    def from_params(cls, path: str | Path, **overrides) -> Experiment:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"params file {str(path)!r} does not exist")
        values = yaml.safe_load(path.read_text()) or {}
        if not isinstance(values, dict):
            raise ConfigError(f"params file {str(path)!r} must hold a mapping of parameter: value")
        return cls.from_dict({**values, **overrides})

    @classmethod
    def from_row(cls, row: str, **overrides) -> Experiment:
        """An experiment from a row name of the IBM study's naming scheme (see `parse_row`)."""
        return cls.from_dict({**parse_row(row), **overrides})

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
        from actionbook.data import dataset_info

        return dataset_info(self.dataset).num_classes

    # ---- validation ---------------------------------------------------------------------------------------
    def validate(self) -> None:
        _one_of("sampling", self.sampling, SAMPLINGS)
        _one_of("augment", self.augment, AUGMENTS)
        _one_of("optimizer", self.optimizer, OPTIMIZERS)
        _one_of("lr_scheduler", self.lr_scheduler, SCHEDULERS)
        _one_of("amp", self.amp, AMP_MODES)
        _one_of("device", self.device, DEVICES)
        for name in ("frames", "frame_interval", "input_size", "epochs", "batch_size", "nproc", "test_clips"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        _one_of("test_crops", self.test_crops, (1, 3, 5, 10))
        if self.batch_size % self.nproc:
            raise ConfigError(f"batch_size {self.batch_size} (global) must divide evenly over nproc={self.nproc}")
        if not 0 <= self.bad_file_threshold <= 1:
            raise ConfigError(f"bad_file_threshold is a share between 0 and 1, got {self.bad_file_threshold}")
        from actionbook.data import dataset_info
        from actionbook.models import model_entry

        dataset_info(self.dataset)  # raises ConfigError listing the known datasets
        model_entry(self.model)  # raises ConfigError listing the valid models
        self._check_model_builds()

    def _check_model_builds(self) -> None:
        """Frame counts and options the model cannot take fail here, before any data is touched."""
        import torch

        from actionbook.data import dataset_info
        from actionbook.models import build_model

        with torch.device("meta"):
            build_model(self.model, num_classes=dataset_info(self.dataset).num_classes, frames=self.frames,
                        **self.model_options())


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
            return [int(v) for v in value.replace(",", " ").split()]
    except (KeyError, ValueError):
        raise ConfigError(f"{name} must be of type {kind}, got {value!r}") from None
    return value


# ---- row names -------------------------------------------------------------------------------------------------

ROW_DATASETS = ("st2stv2", "mini_st2stv2", "kinetics400", "mini_kinetics400", "moments", "mini_moments")
_DEPTHS = ("18", "34", "50", "101", "152")


def parse_row(row: str) -> dict[str, Any]:
    """Turn a row name of the IBM study into Experiment fields.

    Scheme (spec 7.3): ``{dataset}[-rgb]-[TAM-b{B}-{sum|max}[-allc]-]{backbone}[-dw-t-conv][-tp|-ts[-max|-avg]]
    -f{T}[-{cosine|multisteps|step}][-syncbn][-bs{N}][-e{N}]``, backbone one of resnet-{d}, inception-v1, i3d,
    s3d, i3d-resnet-{d}, s3d-resnet-{d}. A bare -tp/-ts means max pooling, the code's default.
    """
    tokens = row.split("-")
    pos = 0

    def take(expected=None):
        nonlocal pos
        if pos >= len(tokens):
            raise ConfigError(f"row {row!r} ends early: expected {expected or 'more'}")
        tok = tokens[pos]
        pos += 1
        return tok

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    out: dict[str, Any] = {"name": row}
    dataset = take("a dataset")
    if dataset not in ROW_DATASETS:
        raise ConfigError(f"row {row!r}: unknown dataset {dataset!r}; accepted: {', '.join(ROW_DATASETS)}")
    out["dataset"] = dataset
    if peek() == "rgb":
        take()
    tam = False
    if peek() == "TAM":
        take()
        tam = True
        blend = take("b{B}")
        if not re.fullmatch(r"b\d+", blend):
            raise ConfigError(f"row {row!r}: unknown TAM blending piece {blend!r}; expected b{{B}} such as b3")
        out["blending_frames"] = int(blend[1:])
        method = take("sum or max")
        if method not in ("sum", "max"):
            raise ConfigError(f"row {row!r}: unknown TAM blending method {method!r}; accepted: sum, max")
        out["blending_method"] = method
        if peek() == "allc":
            take()
            out["dw_conv"] = False
    out["model"] = _parse_backbone(row, take, peek, tam)
    if peek() == "dw" and tokens[pos:pos + 3] == ["dw", "t", "conv"]:
        if out["model"] not in ("s3d",) and not out["model"].startswith("s3d_r"):
            raise ConfigError(f"row {row!r}: -dw-t-conv applies to s3d models only")
        pos += 3
        out["dw_t_conv"] = True
    if peek() in ("tp", "ts"):
        take()
        out["temporal_pooling"] = "max"
        if peek() in ("max", "avg"):
            out["temporal_pooling"] = take()
    frames = take("f{T}")
    if not re.fullmatch(r"f\d+", frames):
        raise ConfigError(f"row {row!r}: unknown piece {frames!r}; expected -tp/-ts tags or the frame count f{{T}}")
    out["frames"] = int(frames[1:])
    while peek() is not None:
        tok = take()
        if tok in ("cosine", "multisteps", "step"):
            out["lr_scheduler"] = tok
        elif tok == "syncbn":
            out["sync_bn"] = True
        elif re.fullmatch(r"bs\d+", tok):
            out["batch_size"] = int(tok[2:])
        elif re.fullmatch(r"e\d+", tok):
            out["epochs"] = int(tok[1:])
        else:
            raise ConfigError(f"row {row!r}: unknown piece {tok!r}; accepted after f{{T}}: cosine, multisteps, "
                              "step, syncbn, bs{N}, e{N}")
    out["pretrained"] = "imagenet"
    if out["frames"] > 8:
        out["notes"] = ["the published model was fine-tuned from a fewer-frame model; this run starts from "
                        "ImageNet unless pretrained points at that checkpoint"]
    return out


def _parse_backbone(row, take, peek, tam: bool) -> str:
    head = take("a backbone")
    if head == "resnet":
        depth = take("a depth")
        if depth not in _DEPTHS:
            raise ConfigError(f"row {row!r}: unknown ResNet depth {depth!r}; accepted: {', '.join(_DEPTHS)}")
        return f"{'tam' if tam else 'tsn'}_r{depth}"
    if head == "inception":
        version = take("v1")
        if version != "v1":
            raise ConfigError(f"row {row!r}: unknown Inception version {version!r}; accepted: v1")
        return "tam_inception_v1" if tam else "tsn_inception_v1"
    if head in ("i3d", "i3d_v2", "s3d"):
        if tam:
            raise ConfigError(f"row {row!r}: TAM applies to the 2D backbones resnet-N and inception-v1 only")
        family = head[:3]
        if peek() == "resnet":
            take()
            depth = take("a depth")
            if depth not in _DEPTHS:
                raise ConfigError(f"row {row!r}: unknown ResNet depth {depth!r}; accepted: {', '.join(_DEPTHS)}")
            return f"{family}_r{depth}"
        return family
    raise ConfigError(f"row {row!r}: unknown backbone {head!r}; accepted: resnet-N, inception-v1, i3d, s3d, "
                      "i3d-resnet-N, s3d-resnet-N (optionally after TAM-b{B}-{sum|max})")
