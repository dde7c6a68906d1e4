"""Provenance: where and with what a number was produced (git state, library versions, hardware)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import torch


def _git(*args: str, cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_state(path: Path | None = None) -> dict:
    """Commit of the project checkout and whether its tracked files differ from it."""
    cwd = path or Path(__file__).resolve().parent
    commit = _git("rev-parse", "HEAD", cwd=cwd)
    dirty = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    return {"commit": commit, "dirty": bool(dirty) if dirty is not None else None}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict:
    info = {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "gpu": None, "gpu_count": 0}
    if torch.cuda.is_available():
        info["gpu_count"] = torch.cuda.device_count()
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def describe_device(device: torch.device) -> str:
    """A short label for tables: the GPU's name, or the CPU model and thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_model()} ({torch.get_num_threads()} threads)"


def provenance(world_size: int = 1, seed: int | None = None) -> dict:
    versions = {"python": sys.version.split()[0], "torch": torch.__version__,
                "cuda": torch.version.cuda if torch.cuda.is_available() else None,
                "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None}
    for name in ("torchvision", "decord", "numpy"):
        try:
            versions[name] = __import__(name).__version__
        except Exception:  # a missing optional library is recorded as absent, not fatal
            versions[name] = None
    return {"git": git_state(), "versions": versions, "hardware": hardware(), "host": platform.node(),
            "world_size": world_size, "seed": seed}
