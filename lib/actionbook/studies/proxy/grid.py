"""The proxy study's datasets and its grid of experiments: what a run of the study trains on and with which recipe.

The two tuned synthetic sets (`PROXY_DATA`) are generated into `data/proxy/<dataset>/` by `ensure_data` and used
through each experiment's `data_root`. A **profile** (`PROFILES`) is one grid: backbones x families x pooling x
frames x datasets x seeds; `profile_experiments` turns it into complete params (every Experiment field), which
`params.py` writes as `params/proxy/<profile>/<name>.yaml`.
"""

from __future__ import annotations

import functools
import hashlib
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
# synth-kinetics classes (two scenes x two objects: the scene alone gives 50%). Small frames (64x48) keep decoding
# cheap; 50 training videos a class make an epoch 25 steps of 8 clips.
PROXY_DATA: dict[str, SynthConfig] = {
    "synth-something": SynthConfig(num_classes=4, train_per_class=50, val_per_class=30, frames=24, width=64,
                                   height=48, seed=0),
    "synth-kinetics": SynthConfig(num_classes=4, train_per_class=50, val_per_class=30, frames=24, width=64,
                                  height=48, seed=0),
}
# The ImageNet stand-in: 40 object kinds (8 shapes x 5 textures) in still 64x48 images, 200 a class.
PRETRAIN_DATA = SynthConfig(num_classes=40, train_per_class=200, val_per_class=10, frames=1, width=64, height=48,
                            seed=0)
PRETRAIN_DATASET = "synth-images"
DATASETS = tuple(PROXY_DATA)
SHORT = {"synth-something": "something", "synth-kinetics": "kinetics"}
DATA_DIR = Path("data") / "proxy"  # relative to the project root (the runner's working directory); git-ignored


def data_root(dataset: str) -> str:
    """The `data_root` the proxy experiments use for `dataset` (relative to the project root)."""
    return (DATA_DIR / dataset).as_posix()


def ensure_data(root: str | Path | None = None, workers: int = 1) -> dict[str, Path]:
    """Generate the proxy datasets and the pretraining images (once) under `root` (default: the project root).

    A folder that holds a synthetic set with other settings is an error (ensure_synthetic says so), never silently
    reused: the runs would otherwise train on data other than the one the chapter describes.
    """
    base = Path(root) if root is not None else project_root()
    sets = {**PROXY_DATA, PRETRAIN_DATASET: PRETRAIN_DATA}
    return {name: ensure_synthetic(name, base / data_root(name), config, workers=workers)
            for name, config in sets.items()}


def chance(dataset: str) -> float:
    return 100.0 / PROXY_DATA[dataset].num_classes


# ---- the pretraining stand-in -----------------------------------------------------------------------------------

# The 2D backbone every family starts from, as the paper's start from ImageNet: ResNet-18 trained to classify
# synth-images. An image classifier is a TSN of one segment, so the pretraining is an ordinary run of the trainer
# (its own run folder, record and executed notebook, skipped when unchanged); its weights are exported in
# torchvision's layout and loaded by the same code as torchvision's ImageNet file (TSN and TAM load them, I3D and
# S3D inflate them).
PRETRAIN_RECIPE: dict[str, Any] = {
    "model": "tsn_r18", "frames": 1, "input_size": 32, "scale_size": None, "augment": "none", "flip": True,
    "sampling": "uniform", "batch_size": 32, "optimizer": "adamw", "lr": 1e-3, "lr_scheduler": "cosine",
    "warmup_epochs": 0.0, "weight_decay": 5e-4, "dropout": 0.0, "pretrained": "none", "test_clips": 1,
    "test_crops": 1, "device": "auto", "workers": 0, "log_every": 25, "seed": 0,
}
PRETRAINED_DIR = DATA_DIR / "pretrained"  # the exported weights (git-ignored, like the data)


def pretrain_name(profile: str) -> str:
    return f"proxy-{profile}-pretrain-{PRETRAIN_RECIPE['model']}-{PRETRAIN_DATASET}"


def pretrain_experiment(profile: str) -> dict[str, Any]:
    """The profile's pretraining run as complete params."""
    spec = _profile(profile)
    values = {**PRETRAIN_RECIPE, "name": pretrain_name(profile), "dataset": PRETRAIN_DATASET,
              "data_root": data_root(PRETRAIN_DATASET), "epochs": spec.pretrain_epochs,
              "eval_every": spec.pretrain_epochs,
              "notes": [f"proxy profile: {profile}", "the proxy's ImageNet stand-in: ResNet-18 trained on "
                        "synth-images, whose weights start every family of the profile", NOTE]}
    return Experiment(**values).to_dict()


def pretrained_weights(profile: str) -> str:
    """Where the profile's pretrained backbone is exported (relative to the project root). The name carries a hash
    of the pretraining's params, so a changed pretraining changes every dependent params file (and they re-run)."""
    digest = hashlib.sha256(json.dumps(pretrain_experiment(profile), sort_keys=True).encode()).hexdigest()[:10]
    return (PRETRAINED_DIR / f"{pretrain_name(profile)}-{digest}.pt").as_posix()


# ---- the grid and its profiles --------------------------------------------------------------------------------

FAMILIES = ("TSN", "TAM", "I3D", "S3D")
# the grid's model for each backbone and family (the registry says which family a model is)
MODELS = {
    "resnet-18": {"TSN": "tsn_r18", "TAM": "tam_r18", "I3D": "i3d_r18", "S3D": "s3d_r18"},
    "inception-v1": {"TSN": "tsn_inception_v1", "TAM": "tam_inception_v1", "I3D": "i3d", "S3D": "s3d"},
}
GRID_MODELS = frozenset(model for by_family in MODELS.values() for model in by_family.values())

# What every proxy run shares: the pretrained start of the paper (TSN and TAM load the stand-in backbone, I3D and S3D
# inflate it) and one CPU-scale recipe for every family: AdamW at a constant 5e-4, weight decay 5e-4, no dropout,
# 32x32 centre crops, batch 8, validated once at the end (1 clip x 1 centre crop, as in the study's tables), and
# the temporal-only convs (TAM's modules, S3D's temporal halves) started as the identity, so that every family
# computes the pretrained network's features at step 0 (the paper leaves them random; from random they scrambled
# the stand-in's features, and S3D sat at the scene-only 50% on synth-kinetics for every seed). The IBM recipe
# (SGD, cosine, dropout 0.5, multi-scale crops) left TAM and I3D near chance on synth-something within the budget,
# at its learning rate and at the rate scaled to batch 8 (see "How the recipe was chosen" in book/proxy.md): this
# is the one deviation, the same for every family.
RECIPE: dict[str, Any] = {
    "input_size": 32, "scale_size": None, "augment": "none", "sampling": "uniform",
    "batch_size": 8, "optimizer": "adamw", "lr": 5e-4, "lr_scheduler": "constant",
    "warmup_epochs": 0.0, "weight_decay": 5e-4, "dropout": 0.0, "clip_gradient": None, "pretrained": "imagenet",
    "temporal_start": "identity", "test_clips": 1, "test_crops": 1, "device": "auto", "workers": 0, "log_every": 10,
}
# a mirrored "left to right" is "right to left": no flips on synth-something; appearance classes do not care
FLIP = {"synth-something": False, "synth-kinetics": True}
# Every params file carries this note (changing it rewrites every params file, and the runner then re-runs them).
NOTE = ("CPU-scale proxy on synthetic data (`actionbook params` writes this file); not a reproduction of a published "
        "number")


@dataclass(frozen=True)
class Profile:
    """A set of proxy experiments: the grid (backbones x families x pooling x frames x datasets x seeds), plus the
    frames axis (more frame counts for some families on synth-something, where the paper's frames finding is)."""

    name: str
    backbones: tuple[str, ...]
    families: tuple[str, ...]
    pooling: tuple[str, ...]  # "none" and/or "max"
    frames: tuple[int, ...]
    seeds: tuple[int, ...]
    epochs: int
    pretrain_epochs: int
    more_frames: tuple[int, ...] = ()
    more_frames_families: tuple[str, ...] = ()
    more_frames_seeds: tuple[int, ...] | None = None  # None: every seed
    datasets: tuple[str, ...] = DATASETS
    description: str = ""

    def grid(self) -> list[dict[str, Any]]:
        cells = [(d, b, f, p, t) for d in self.datasets for b in self.backbones for f in self.families
                 for p in self.pooling for t in self.frames]
        extra = [("synth-something", b, f, p, t) for b in self.backbones for f in self.more_frames_families
                 for p in self.pooling for t in self.more_frames if t not in self.frames]
        seeds = self.seeds if self.more_frames_seeds is None else self.more_frames_seeds
        return [{"dataset": d, "backbone": b, "family": f, "model": MODELS[b][f], "pooling": p, "frames": t,
                 "seed": s} for cell_seeds, group in ((self.seeds, cells), (seeds, extra))
                for d, b, f, p, t in group for s in cell_seeds]

    def __len__(self) -> int:
        return len(self.grid())


PROFILES: dict[str, Profile] = {
    "default": Profile(
        "default", backbones=("resnet-18",), families=FAMILIES, pooling=("none",), frames=(4,),
        seeds=(0, 1, 2, 3, 4), epochs=6, pretrain_epochs=10, more_frames=(8,), more_frames_families=("TSN", "TAM"),
        more_frames_seeds=(0, 1, 2),
        description="the four families on ResNet-18 from the synth-images backbone, 4 frames, 5 seeds, 6 epochs "
                    "(150 steps), on both synthetic sets, and TSN and TAM at 8 frames on synth-something with 3 "
                    "seeds (46 runs and the pretraining): what `make book` runs"),
    "full": Profile(
        "full", backbones=("resnet-18",), families=FAMILIES, pooling=("none", "max"), frames=(8, 16),
        seeds=tuple(range(10)), epochs=8, pretrain_epochs=12,
        description="the four families on ResNet-18 with and without temporal pooling, 8 and 16 frames, 10 seeds, "
                    "8 epochs, on both synthetic sets (320 runs): a longer run, or a GPU"),
}


def base_frames(profile: str) -> int:
    """The frame count every family and dataset of a profile runs at (the frames axis adds others)."""
    return _profile(profile).frames[0]


def experiment_name(profile: str, dataset: str, model: str, pooling: str, frames: int, seed: int) -> str:
    """`proxy-<profile>-<something|kinetics>-<model>[-tp]-f<frames>-s<seed>`: also the run folder's name."""
    return f"proxy-{profile}-{SHORT[dataset]}-{model}{'-tp' if pooling != 'none' else ''}-f{frames}-s{seed}"


def profile_experiments(profile: str, validate: bool = True) -> list[dict[str, Any]]:
    """Every experiment of a profile as complete params (every Experiment field), the grid after its pretraining.

    Each distinct configuration (dataset, model, frames, pooling) is validated once (`Experiment.from_dict`
    builds the model on the meta device, about a second each); the experiments that differ from it only in the
    seed share that check; `validate=False` skips it (listing names, comparing files with what would be written).
    """
    spec = _profile(profile)
    weights = pretrained_weights(profile)
    out = [pretrain_experiment(profile)]
    for g in spec.grid():
        name = experiment_name(profile, g["dataset"], g["model"], g["pooling"], g["frames"], g["seed"])
        values = {**RECIPE, "name": name, "dataset": g["dataset"], "data_root": data_root(g["dataset"]),
                  "model": g["model"], "frames": g["frames"], "imagenet_checkpoint": weights,
                  "temporal_pooling": None if g["pooling"] == "none" else g["pooling"],
                  "flip": FLIP[g["dataset"]], "epochs": spec.epochs, "eval_every": spec.epochs, "seed": g["seed"],
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
