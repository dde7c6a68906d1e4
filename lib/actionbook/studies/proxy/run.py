"""Running a proxy profile: the data, the pretraining (and its exported weights), then each params file of the grid
through the runner, and a record of the time it took.

The time record (`<book>/runs/proxy-<profile>-time.json`) is what the chapter quotes for the profile's cost.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from actionbook import paths, runs
from actionbook.errors import ConfigError
from actionbook.openmp import openmp_settings
from actionbook.runner import notebook_path, plan, run_batch
from actionbook.studies.proxy.grid import ensure_data, pretrained_weights
from actionbook.studies.proxy.params import profile_files


def time_file(profile: str, runs_dir: str | Path | None = None) -> Path:
    return (Path(runs_dir) if runs_dir is not None else paths.runs_dir()) / f"proxy-{profile}-time.json"


def run_profile(profile: str, runs_dir: str | Path | None = None, keep_checkpoints: bool = False,
                force: bool = False, ignore_code: bool = False, log=None, in_process: str | None = "record") -> dict:
    """Run a profile through the runner (one params file at a time) and record how long it took.

    The data are generated first (they are part of the profile's cost). Checkpoints of finished runs are removed
    unless `keep_checkpoints` (a ResNet-18 run leaves about 180 MB; the record and executed notebook stay).
    The pretraining trains in this process and keeps its executed notebook; the grid's runs go as `in_process` says
    (the runner's modes; default "record": trained here, record only, because a notebook kernel costs about 20 s a
    run; "notebook": the notebook executed after to show it; None: trained in a kernel). The time record holds
    wall-clock seconds, the CPU seconds of this process and its children and the load average before and after:
    timings on a shared machine are only comparable with the load they were taken under.
    """
    log = log or (lambda message: print(message, flush=True))
    folder = Path(runs_dir) if runs_dir is not None else paths.runs_dir()
    load_before = os.getloadavg()
    cpu0, wall0 = _cpu_seconds(), time.perf_counter()
    ensure_data()
    data_s = time.perf_counter() - wall0
    files = profile_files(profile)
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise ConfigError(f"params file(s) missing: {', '.join(missing)}; run `actionbook params`")
    pretraining, grid = files[0], files[1:]
    weights = paths.project_root() / pretrained_weights(profile)
    # the weights are needed only if a grid run will train; a skipped pretraining whose export is gone (a fresh
    # clone) is then re-run, on this machine's data
    needed = any(plan(path, folder, notebook_path("train"), force=force, ignore_code=ignore_code)[4] != "skip"
                 for path in grid)
    redo = needed and not weights.is_file()
    results = run_batch([pretraining], folder, force=force or redo, ignore_code=ignore_code, log=log,
                        in_process="notebook")
    if needed and results[0].status != "failed":
        export_weights(folder / pretraining.stem, weights)
    if results[0].status != "failed" and not keep_checkpoints:
        shutil.rmtree(folder / pretraining.stem / runs.CHECKPOINT_DIR, ignore_errors=True)
    for path in grid:
        results += run_batch([path], folder, force=force, ignore_code=ignore_code, log=log, in_process=in_process)
        checkpoints = folder / path.stem / runs.CHECKPOINT_DIR
        if not keep_checkpoints and results[-1].status in ("completed", "skipped") and checkpoints.is_dir():
            shutil.rmtree(checkpoints)
    summary = {
        "profile": profile, "runs": len(results),
        "completed": sum(r.status == "completed" for r in results),
        "skipped": sum(r.status == "skipped" for r in results),
        "failed": [r.name for r in results if r.status == "failed"],
        "wall_s": round(time.perf_counter() - wall0, 1), "data_s": round(data_s, 1),
        "cpu_s": round(_cpu_seconds() - cpu0, 1),
        "run_s": {r.name: r.seconds for r in results},
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(), "in_process": in_process,
        "openmp": openmp_settings(),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if summary["completed"]:  # a pass that only skipped measured nothing: keep the earlier record
        time_file(profile, folder).write_text(json.dumps(summary, indent=1))
    log(f"proxy profile {profile}: {summary['runs']} runs ({summary['completed']} completed, {summary['skipped']} "
        f"skipped, {len(summary['failed'])} failed) in {summary['wall_s']:.0f} s wall, {summary['cpu_s']:.0f} "
        f"CPU-s; load average {summary['load_before'][0]:.1f} -> {summary['load_after'][0]:.1f}")
    return summary


def export_weights(run_dir: Path, weights: Path) -> Path:
    """The pretraining run's final weights as a torchvision-layout state dict (what `imagenet_checkpoint` reads),
    written atomically; the run's record and the file are tied by the file name's params hash."""
    last = runs.checkpoint_file(run_dir, "last")
    if not last.is_file():
        if weights.is_file():
            return weights
        raise ConfigError(f"the pretraining run {run_dir.name} has no checkpoint to export ({last}); run it again "
                          "with --force")
    state = torch.load(last, map_location="cpu", weights_only=True)["model"]
    weights.parent.mkdir(parents=True, exist_ok=True)
    temporary = weights.with_name(weights.name + ".tmp")
    torch.save({key.removeprefix("module."): value for key, value in state.items()}, temporary)
    os.replace(temporary, weights)
    return weights


def read_time(profile: str, runs_dir: str | Path | None = None) -> dict | None:
    """The profile's last time record, or None if there is none (or it is unreadable)."""
    try:
        return json.loads(time_file(profile, runs_dir).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
