"""Shared test set-up: the shared seeds folder beside the project, and a small data root per session."""

from pathlib import Path

import pytest

import actionbook  # noqa: F401  (how OpenMP's threads wait, `actionbook.openmp`, set before any test loads torch)

PROJECT = Path(__file__).resolve().parents[1]
SHARED_SEEDS = PROJECT.parent / "shared" / "seeds"


@pytest.fixture(scope="session")
def shared_seeds() -> Path:
    if not SHARED_SEEDS.is_dir():
        pytest.skip(f"the shared seeds are not beside the project ({SHARED_SEEDS})")
    return SHARED_SEEDS


def tiny_kinetics_set(root: Path, *, num_classes: int = 4, train_per_class: int, val_per_class: int,
                      seed: int) -> Path:
    """A tiny synth-kinetics set at `root` (8 frames of 64x48 per video): the trainer, runner and converter tests'
    data, each module with its own size and seed."""
    from actionbook.data import SynthConfig, generate

    generate("synth-kinetics", root, SynthConfig(num_classes=num_classes, train_per_class=train_per_class,
                                                 val_per_class=val_per_class, frames=8, width=64, height=48,
                                                 seed=seed))
    return root


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> Path:
    """Small synthetic datasets (same classes, fewer and shorter videos) shared by the notebook and runner tests."""
    from actionbook.data import SynthConfig, ensure_synthetic
    from actionbook.data.synthetic import SYNTHETIC

    root = tmp_path_factory.getbasetemp() / "small-data"
    for name, spec in SYNTHETIC.items():
        config = SynthConfig(num_classes=spec.defaults.num_classes, train_per_class=4, val_per_class=2,
                             frames=spec.defaults.frames if spec.layout == "ibm-list" else 16, width=64, height=48)
        ensure_synthetic(name, root / name, config)
    return root
