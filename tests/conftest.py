"""Shared test set-up: the shared seeds folder beside the project, and a small data root per session."""

import os
from pathlib import Path

import pytest

# OpenMP threads sleep instead of spinning while they wait (measure/fastpath.py PROCESS_ENV), set before any test
# loads torch: spinning threads on a busy machine made steps 4-7x slower (issue 19).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

PROJECT = Path(__file__).resolve().parents[1]
SHARED_SEEDS = PROJECT.parent / "shared" / "seeds"


@pytest.fixture(scope="session")
def shared_seeds() -> Path:
    if not SHARED_SEEDS.is_dir():
        pytest.skip(f"the shared seeds are not beside the project ({SHARED_SEEDS})")
    return SHARED_SEEDS


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
