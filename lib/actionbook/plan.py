"""The training plan: what a run will do, worked out once from its Experiment.

`build_plan(exp)` checks that this machine can run the recipe (the device, the pretrained weights, the dataset:
a synthetic set is generated on first use), builds the datasets, counts the iterations, and the model's params and
FLOPs. The train notebook shows the plan; the trainer executes that same plan, so a run builds its datasets and
its model once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from actionbook import data
from actionbook.errors import ConfigError
from actionbook.experiment import Experiment
from actionbook.measure import count_flops, count_params
from actionbook.models import build_model, model_entry
from actionbook.models.pretrained import imagenet_file


@dataclass
class TrainingPlan:
    """An Experiment with its datasets built and its size known: everything the trainer needs before the model."""

    exp: Experiment
    train_set: data.VideoClipDataset
    val_set: data.VideoClipDataset
    test_set: data.VideoClipDataset | None  # the multi-view test, when test_clips x test_crops > 1
    iters_per_epoch: int
    complexity: dict  # params and FLOPs at the run's input and conv MACs at the table's 224x224

    @property
    def num_classes(self) -> int:
        return self.train_set.num_classes

    @property
    def class_names(self) -> list[str]:
        return list(getattr(self.train_set, "class_names", []) or [])

    @property
    def total_iters(self) -> int:
        return self.iters_per_epoch * self.exp.epochs

    def summary(self) -> dict:
        """What the notebook prints: videos per split, classes, iterations, clips seen."""
        return {"train_videos": len(self.train_set), "val_videos": len(self.val_set), "classes": self.num_classes,
                "iters_per_epoch": self.iters_per_epoch, "total_iters": self.total_iters,
                "clips_seen": self.total_iters * self.exp.batch_size}


def check_device(exp: Experiment) -> None:
    """What a run would only find out later: a device that cannot run the recipe, pretrained weights not there."""
    cuda = torch.cuda.is_available() and exp.device != "cpu"
    if exp.sync_bn and not cuda:
        raise ConfigError("sync_bn=True needs CUDA GPUs (SyncBatchNorm has no CPU kernel); set sync_bn to false "
                          "to run this recipe on the CPU")
    if exp.amp == "fp16" and not cuda:
        raise ConfigError("amp=fp16 needs CUDA; on the CPU use amp=bf16 or none")
    if cuda and exp.nproc > torch.cuda.device_count():
        raise ConfigError(f"nproc={exp.nproc} processes but {torch.cuda.device_count()} CUDA device(s); "
                          f"set nproc to {torch.cuda.device_count()} (batch_size stays global)")
    if exp.pretrained == "imagenet":
        arch = model_entry(exp.model).imagenet
        if arch is None:
            raise ConfigError(f"model {exp.model!r} is trained from scratch: set pretrained to none")
        path = Path(exp.imagenet_checkpoint) if exp.imagenet_checkpoint else imagenet_file(arch)
        if not path.is_file():
            raise ConfigError(f"pretrained=imagenet but no {arch} ImageNet weights at {path} (nothing is downloaded: "
                              "fetch them once with torchvision, set imagenet_checkpoint, or set pretrained to none)")
    elif exp.pretrained != "none" and not Path(exp.pretrained).is_file():
        raise ConfigError(f"pretrained checkpoint {exp.pretrained!r} does not exist (imagenet, none or a file)")


def check_data(exp: Experiment) -> None:
    """The dataset is on disk. A synthetic set is generated now in its default place ($ACTIONBOOK_DATA/<name>) if it
    is not there; a data_root that does not exist is an error, not a place to generate one (a mistyped path would
    otherwise train on a new dataset without a word)."""
    info = data.dataset_info(exp.dataset)
    if exp.data_root is None and info.kind != "synthetic":
        raise ConfigError(f"dataset {exp.dataset!r} is not synthetic and data_root is not set: pass its folder "
                          f"(data_root=/path/to/{exp.dataset}; {info.description})")
    if exp.data_root is not None and info.kind == "synthetic" and not Path(exp.data_root).exists():
        raise ConfigError(f"data_root {exp.data_root!r} does not exist: leave it unset for the default copy of "
                          f"{exp.dataset}, or make one there with `actionbook data synth {exp.dataset} --root "
                          f"{exp.data_root}`")
    data.ensure_dataset(exp.dataset, exp.data_root)


def build_datasets(exp: Experiment) -> tuple[data.VideoClipDataset, data.VideoClipDataset,
                                             data.VideoClipDataset | None]:
    """(train, val, multi-view test or None): the splits as the run samples them."""
    common = dict(root=exp.data_root, frames=exp.frames, sampling=exp.sampling, frame_interval=exp.frame_interval,
                  input_size=exp.input_size, scale_size=exp.scale_size, flip=exp.flip, seed=exp.seed)
    train_set = data.build_dataset(exp.dataset, split="train", augment=exp.augment, **common)
    val_set = data.build_dataset(exp.dataset, split="val", augment="none", **common)
    test_set = None
    if exp.test_clips * exp.test_crops > 1:
        test_set = data.build_dataset(exp.dataset, split="val", augment="none", num_clips=exp.test_clips,
                                      num_crops=exp.test_crops, **common)
    return train_set, val_set, test_set


def model_size(exp: Experiment, num_classes: int) -> dict:
    """Params and FLOPs of the run's model (built once, on the meta device) at its input and at 224x224."""
    with torch.device("meta"):
        model = build_model(exp.model, num_classes=num_classes, frames=exp.frames, **exp.model_options())
    at_input = count_flops(model, (1, 3, exp.frames, exp.input_size, exp.input_size))
    at_224 = at_input if exp.input_size == 224 else count_flops(model, (1, 3, exp.frames, 224, 224))
    return {"params": count_params(model), "conv_macs": at_input["conv_macs"]["total"],
            "fvcore_flops": at_input["fvcore"]["total"], "mmaction_flops": at_input["mmaction"]["total"],
            "input": f"1x3x{exp.frames}x{exp.input_size}x{exp.input_size}",
            "conv_macs_224": at_224["conv_macs"]["total"], "fvcore_flops_224": at_224["fvcore"]["total"],
            "mmaction_flops_224": at_224["mmaction"]["total"]}


def build_plan(exp: Experiment, prepare_data: bool = True) -> TrainingPlan:
    """The plan of `exp`; `prepare_data=False` when another process (DDP rank 0) has already made the data."""
    check_device(exp)
    if prepare_data:
        check_data(exp)
    train_set, val_set, test_set = build_datasets(exp)
    iters = len(train_set) // exp.batch_size
    if exp.iters_per_epoch:
        iters = min(iters, exp.iters_per_epoch)
    if iters == 0:
        raise ConfigError(f"batch_size {exp.batch_size} is larger than the training split ({len(train_set)} clips)")
    return TrainingPlan(exp, train_set, val_set, test_set, iters, model_size(exp, train_set.num_classes))
