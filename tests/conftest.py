"""Shared test set-up: the shared seeds folder beside the project, and a small data root per session."""

from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
SHARED_SEEDS = PROJECT.parent / "shared" / "seeds"


@pytest.fixture(scope="session")
def shared_seeds() -> Path:
    if not SHARED_SEEDS.is_dir():
        pytest.skip(f"the shared seeds are not beside the project ({SHARED_SEEDS})")
    return SHARED_SEEDS
