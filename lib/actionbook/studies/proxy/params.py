"""The params files of the proxy profiles: `params/proxy/<profile>/<name>.yaml`, one per experiment of the grid.

`actionbook params` writes them (and `--check` lists the stale ones) through `params_files`; the runner takes a
profile's files in run order from `profile_files`.
"""

from __future__ import annotations

from pathlib import Path

from actionbook.paths import params_dir
from actionbook.studies.paramfiles import render
from actionbook.studies.proxy.grid import PROFILES, profile_experiments

FOLDER = "proxy"


def params_files() -> dict[str, str]:
    """Path under params/ -> text, for every experiment of every profile (each configuration validated)."""
    return {f"{FOLDER}/{profile}/{e['name']}.yaml": render(e, __name__) for profile in PROFILES
            for e in profile_experiments(profile)}


def profile_files(profile: str) -> list[Path]:
    """The params files of a profile, in run order (what `actionbook proxy run` passes to the runner)."""
    folder = params_dir() / FOLDER / profile
    return [folder / f"{e['name']}.yaml" for e in profile_experiments(profile, validate=False)]
