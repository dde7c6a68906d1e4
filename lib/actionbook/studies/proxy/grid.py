"""The proxy study's datasets and its grid of experiments: what a run of the study trains on and with which recipe.

The two tuned synthetic sets (`PROXY_DATA`) are generated into `data/proxy/<dataset>/` by `ensure_data` and used
through each experiment's `data_root`. A **profile** (`PROFILES`) is one grid: backbones x families x pooling x
frames x datasets x seeds; `profile_experiments` turns it into complete params (every Experiment field), which
`params.py` writes as `params/proxy/<profile>/<name>.yaml`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actionbook.data import SynthConfig, ensure_synthetic
from actionbook.errors import ConfigError
from actionbook.experiment import Experiment
from actionbook.paths import project_root

# ---- the datasets ---------------------------------------------------------------------------------------------

# The synthetic sets the proxy trains on (see "How the recipe and the difficulty were chosen" in book/proxy.md).
# Two twin pairs of synth-something (left/right, up/down): a model blind to frame order can at best tell the pairs
# apart, not the twins (ceiling 50%), and TSN, which averages per-frame predictions, sees no motion at all; four
# synth-kinetics classes (two scenes x two objects). Small frames (64x48) keep decoding cheap; 50 training videos a
# class make an epoch 25 steps of 8 clips.
PROXY_DATA: dict[str, SynthConfig] = {
    "synth-something": SynthConfig(num_classes=4, train_per_class=50, val_per_class=30, frames=24, width=64,
                                   height=48, seed=0),
    "synth-kinetics": SynthConfig(num_classes=4, train_per_class=50, val_per_class=30, frames=24, width=64,
                                  height=48, seed=0),
}
DATASETS = tuple(PROXY_DATA)
SHORT = {"synth-something": "something", "synth-kinetics": "kinetics"}
DATA_DIR = Path("data") / "proxy"  # relative to the project root (the runner's working directory); git-ignored


def data_root(dataset: str) -> str:
    """The `data_root` the proxy experiments use for `dataset` (relative to the project root)."""
    return (DATA_DIR / dataset).as_posix()


def ensure_data(root: str | Path | None = None, workers: int = 1) -> dict[str, Path]:
    """Generate the proxy datasets (once) under `root` (default: the project root); returns their folders.

    A folder that holds a synthetic set with other settings is an error (ensure_synthetic says so), never silently
    reused: the runs would otherwise train on data other than the one the chapter describes.
    """
    base = Path(root) if root is not None else project_root()
    return {name: ensure_synthetic(name, base / data_root(name), config, workers=workers)
            for name, config in PROXY_DATA.items()}


def chance(dataset: str) -> float:
    return 100.0 / PROXY_DATA[dataset].num_classes


# ---- the grid and its profiles --------------------------------------------------------------------------------

FAMILIES = ("TSN", "TAM", "I3D", "S3D")
# the grid's model for each backbone and family (the registry says which family a model is)
MODELS = {
    "resnet-18": {"TSN": "tsn_r18", "TAM": "tam_r18", "I3D": "i3d_r18", "S3D": "s3d_r18"},
    "inception-v1": {"TSN": "tsn_inception_v1", "TAM": "tam_inception_v1", "I3D": "i3d", "S3D": "s3d"},
}
GRID_MODELS = frozenset(model for by_family in MODELS.values() for model in by_family.values())

# What every proxy run shares (see "How the recipe and the difficulty were chosen" in book/proxy.md): 32x32 centre
# crops (no multi-scale cropping), batch 8, from scratch (no ImageNet weights can be downloaded here), AdamW at a
# constant 5e-4 without dropout. The IBM recipe (SGD 0.01, cosine, dropout 0.5, multi-scale crops) left every
# model at chance on synth-something within the few hundred steps a CPU can afford; with AdamW, TAM learns the
# motion within about 100 steps. 1 clip x 1 centre crop validation, as in the study's tables.
RECIPE: dict[str, Any] = {
    "input_size": 32, "scale_size": None, "augment": "none", "sampling": "uniform",
    "batch_size": 8, "optimizer": "adamw", "lr": 5e-4, "lr_scheduler": "constant", "warmup_epochs": 0.0,
    "weight_decay": 5e-4, "dropout": 0.0, "clip_gradient": None, "pretrained": "none",
    "test_clips": 1, "test_crops": 1, "device": "auto", "workers": 0, "log_every": 10,
}
# a mirrored "left to right" is "right to left": no flips on synth-something; appearance classes do not care
FLIP = {"synth-something": False, "synth-kinetics": True}
# Every params file carries this note (changing it rewrites every params file, and the runner then re-runs them).
NOTE = ("CPU-scale proxy on synthetic data (`actionbook params` writes this file); not a reproduction of a published "
        "number")


@dataclass(frozen=True)
class Profile:
    """A set of proxy experiments: the grid (backbones x families x pooling x frames x datasets x seeds)."""

    name: str
    backbones: tuple[str, ...]
    families: tuple[str, ...]
    pooling: tuple[str, ...]  # "none" and/or "max"
    frames: tuple[int, ...]
    seeds: tuple[int, ...]
    epochs: int
    datasets: tuple[str, ...] = DATASETS
    description: str = ""

    def grid(self) -> list[dict[str, Any]]:
        return [{"dataset": d, "backbone": b, "family": f, "model": MODELS[b][f], "pooling": p, "frames": t,
                 "seed": s}
                for d in self.datasets for b in self.backbones for f in self.families for p in self.pooling
                for t in self.frames for s in self.seeds]

    def __len__(self) -> int:
        return len(self.grid())


PROFILES: dict[str, Profile] = {
    "default": Profile(
        "default", backbones=("resnet-18",), families=FAMILIES, pooling=("none",), frames=(8,), seeds=(0, 1, 2),
        epochs=4,
        description="the four families on ResNet-18, 8 frames, no temporal pooling, 3 seeds, 4 epochs, on both "
                    "synthetic sets (24 runs): what `make book` runs"),
    "full": Profile(
        "full", backbones=("resnet-18",), families=FAMILIES, pooling=("none", "max"), frames=(8, 16),
        seeds=(0, 1, 2, 3, 4), epochs=12,
        description="the four families on ResNet-18 with and without temporal pooling, 8 and 16 frames, 5 seeds, "
                    "12 epochs, on both synthetic sets (160 runs): a longer run, or a GPU"),
}


def experiment_name(profile: str, dataset: str, model: str, pooling: str, frames: int, seed: int) -> str:
    """`proxy-<profile>-<something|kinetics>-<model>[-tp]-f<frames>-s<seed>`: also the run folder's name."""
    return f"proxy-{profile}-{SHORT[dataset]}-{model}{'-tp' if pooling != 'none' else ''}-f{frames}-s{seed}"


def profile_experiments(profile: str, validate: bool = True) -> list[dict[str, Any]]:
    """Every experiment of a profile as complete params (every Experiment field).

    Each distinct configuration (dataset, model, frames, pooling) is validated once (`Experiment.from_dict`
    builds the model on the meta device, about a second each); the experiments that differ from it only in the
    seed share that check; `validate=False` skips it (listing names, comparing files with what would be written).
    """
    spec = _profile(profile)
    out = []
    for g in spec.grid():
        name = experiment_name(profile, g["dataset"], g["model"], g["pooling"], g["frames"], g["seed"])
        values = {**RECIPE, "name": name, "dataset": g["dataset"], "data_root": data_root(g["dataset"]),
                  "model": g["model"], "frames": g["frames"],
                  "temporal_pooling": None if g["pooling"] == "none" else g["pooling"],
                  "flip": FLIP[g["dataset"]], "epochs": spec.epochs, "seed": g["seed"],
                  "notes": [f"proxy profile: {profile}", NOTE]}
        if validate:
            _validated(json.dumps({k: v for k, v in values.items() if k not in ("name", "seed", "notes")},
                                  sort_keys=True))
        out.append(Experiment(**values).to_dict())
    return out


@functools.cache
def _validated(values_json: str) -> None:
    Experiment.from_dict(json.loads(values_json))


def _profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ConfigError(f"proxy profile {name!r} unknown; expected one of {', '.join(PROFILES)}")
    return PROFILES[name]
