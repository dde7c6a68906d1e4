"""The proxy study: the IBM study's question asked again at CPU scale, on the two synthetic datasets.

The study (Chen et al., CVPR 2021) finds that temporal modelling matters a great deal on Something-Something
(TSN about 30% top-1, TAM and the 3D models 52-65%) and little on Kinetics (every family near 63-68%). The proxy
trains the same four families (TSN, TAM, I3D, S3D) from scratch on `synth-something` (classes defined by what
happens over time, in time-reversed twins) and `synth-kinetics` (classes defined by appearance), with and without
temporal pooling, at 8 and 16 frames, several seeds each, and asks whether the same pattern appears.

This module holds everything but the chapter's prose:

* the experiment grid and its two **profiles** (`PROFILES`): `default` (run by `make book`, 13-14 minutes on two
  cores) and `full` (more seeds, frames, pooling and epochs: a longer run, or a GPU);
* the tuned synthetic datasets (`PROXY_DATA`): generated into `data/proxy/<dataset>/` by `ensure_data`, and used
  through each experiment's `data_root`;
* the params files `params/proxy/<profile>/<name>.yaml` (`write_params`; a test checks they are up to date);
* `run_profile`: ensure the data, run a profile's params files through the runner (`actionbook run`), drop the
  checkpoints of finished runs, and record the time it took (`book/runs/proxy-<profile>-time.json`);
* the aggregation: one row per run (`proxy_frame`), means and 95% confidence intervals over seeds (`summarize`),
  differences between groups (`difference`), the paper's numbers for the same families (`paper_reference`), the
  findings (`findings`), and the chapter's tables and figures.

Command line: ``python -m actionbook.report.proxy {params,data,run,plan} ...`` (see `main`).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import resource
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from actionbook.data import SynthConfig

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
# the section of the IBM table each synthetic set stands in for
SECTION = {"synth-something": "Something-Something-V2", "synth-kinetics": "Kinetics400"}


def data_root(dataset: str) -> str:
    """The `data_root` the proxy experiments use for `dataset` (relative to the project root)."""
    return (DATA_DIR / dataset).as_posix()


def ensure_data(root: str | Path | None = None, workers: int = 1) -> dict[str, Path]:
    """Generate the proxy datasets (once) under `root` (default: the project root); returns their folders.

    A folder that holds a synthetic set with other settings is an error (ensure_synthetic says so), never silently
    reused: the runs would otherwise train on data other than the one the chapter describes.
    """
    from actionbook.data import ensure_synthetic

    base = Path(root) if root is not None else _project_root()
    return {name: ensure_synthetic(name, base / data_root(name), config, workers=workers)
            for name, config in PROXY_DATA.items()}


def chance(dataset: str) -> float:
    return 100.0 / PROXY_DATA[dataset].num_classes


def order_blind_ceiling(dataset: str) -> float | None:
    """The best top-1 a model that ignores frame order can reach: it cannot tell time-reversed twins apart."""
    return 50.0 if dataset == "synth-something" else None


# ---- the grid and its profiles --------------------------------------------------------------------------------

FAMILIES = ("TSN", "TAM", "I3D", "S3D")
MODELS = {
    "resnet-18": {"TSN": "tsn_r18", "TAM": "tam_r18", "I3D": "i3d_r18", "S3D": "s3d_r18"},
    "inception-v1": {"TSN": "tsn_inception_v1", "TAM": "tam_inception_v1", "I3D": "i3d", "S3D": "s3d"},
}
MODEL_INFO = {model: (family, backbone) for backbone, by_family in MODELS.items()
              for family, model in by_family.items()}

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
    seed share that check; `validate=False` skips it (comparing files with what would be written).
    """
    from actionbook.experiment import Experiment

    spec = _profile(profile)
    out = []
    for g in spec.grid():
        name = experiment_name(profile, g["dataset"], g["model"], g["pooling"], g["frames"], g["seed"])
        values = {**RECIPE, "name": name, "dataset": g["dataset"], "data_root": data_root(g["dataset"]),
                  "model": g["model"], "frames": g["frames"],
                  "temporal_pooling": None if g["pooling"] == "none" else g["pooling"],
                  "flip": FLIP[g["dataset"]], "epochs": spec.epochs, "seed": g["seed"],
                  "notes": [f"proxy profile: {profile}",
                            "CPU-scale proxy on synthetic data (python -m actionbook.report.proxy params writes "
                            "this file); not a reproduction of a published number"]}
        if validate:
            _validated(json.dumps({k: v for k, v in values.items() if k not in ("name", "seed", "notes")},
                                  sort_keys=True))
        out.append(Experiment(**values).to_dict())
    return out


@functools.cache
def _validated(values_json: str) -> None:
    from actionbook.experiment import Experiment

    Experiment.from_dict(json.loads(values_json))


# ---- params files ---------------------------------------------------------------------------------------------

HEADER = ("# Generated by `python -m actionbook.report.proxy params` (lib/actionbook/report/proxy.py): do not edit "
          "by hand.\n# A proxy-study experiment: flat papermill parameters of notebooks/train.ipynb (every "
          "Experiment field).\n")


def params_dir(root: str | Path | None = None) -> Path:
    return (Path(root) if root is not None else _project_root() / "params") / "proxy"


def profile_files(profile: str, root: str | Path | None = None) -> list[Path]:
    """The params files of a profile, in run order (what `make book` passes to the runner for `default`)."""
    folder = params_dir(root) / profile
    return [folder / f"{e['name']}.yaml" for e in profile_experiments(profile, validate=False)]


def render(values: dict[str, Any]) -> str:
    return HEADER + yaml.safe_dump(values, sort_keys=False, width=110, allow_unicode=True)


def expected_files(validate: bool = False) -> dict[str, str]:
    """Relative path under params/proxy/ -> text, for every profile."""
    return {f"{profile}/{e['name']}.yaml": render(e) for profile in PROFILES
            for e in profile_experiments(profile, validate)}


def stale_params(root: str | Path | None = None) -> list[str]:
    """Profile files that are missing, differ, or are no longer generated (relative to params/proxy/)."""
    folder = params_dir(root)
    files = expected_files()
    stale = [rel for rel, text in files.items() if not (folder / rel).is_file() or (folder / rel).read_text() != text]
    for profile in PROFILES:
        stale += [f"{profile}/{p.name}" for p in sorted((folder / profile).glob("*.yaml"))
                  if f"{profile}/{p.name}" not in files]
    return stale


def write_params(root: str | Path | None = None) -> list[str]:
    """(Re)write the profiles' params files and remove orphans; returns what changed."""
    from actionbook.params import sync_files

    return sync_files(params_dir(root), expected_files(validate=True), stale_params(root))


# ---- running a profile ----------------------------------------------------------------------------------------

def time_file(profile: str, runs_dir: str | Path | None = None) -> Path:
    return _runs_dir(runs_dir) / f"proxy-{profile}-time.json"


def run_profile(profile: str, runs_dir: str | Path | None = None, keep_checkpoints: bool = False,
                force: bool = False, ignore_code: bool = False, log=None) -> dict:
    """Run a profile through the runner (one params file at a time) and record how long it took.

    The data are generated first (they are part of the profile's cost). Checkpoints of finished runs are removed
    unless `keep_checkpoints` (a ResNet-18 run leaves about 180 MB; the record and executed notebook stay).
    The time record holds wall-clock seconds, the CPU seconds of this process and its children (the notebook
    kernels, the data-loading workers) and the load average before and after: timings on a shared machine are
    only comparable with the load they were taken under.
    """
    from actionbook.runner import run_batch

    log = log or (lambda message: print(message, flush=True))
    runs = _runs_dir(runs_dir)
    load_before = os.getloadavg()
    cpu0, wall0 = _cpu_seconds(), time.perf_counter()
    ensure_data()
    data_s = time.perf_counter() - wall0
    results = []
    for path in profile_files(profile):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `python -m actionbook.report.proxy params`")
        results += run_batch([path], runs, force=force, ignore_code=ignore_code, log=log)
        checkpoints = runs / path.stem / "checkpoints"
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
        "cpu_count": os.cpu_count(), "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if summary["completed"]:  # a pass that only skipped measured nothing: keep the earlier record
        time_file(profile, runs).write_text(json.dumps(summary, indent=1))
    log(f"proxy profile {profile}: {summary['runs']} runs ({summary['completed']} completed, {summary['skipped']} "
        f"skipped, {len(summary['failed'])} failed) in {summary['wall_s']:.0f} s wall, {summary['cpu_s']:.0f} "
        f"CPU-s; load average {summary['load_before'][0]:.1f} -> {summary['load_after'][0]:.1f}")
    return summary


def read_time(profile: str, runs_dir: str | Path | None = None) -> dict | None:
    path = time_file(profile, runs_dir)
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# ---- records -> one row per run -------------------------------------------------------------------------------

COLUMNS = ("name", "profile", "dataset", "family", "backbone", "model", "pooling", "frames", "seed", "status",
           "data_ok", "top1", "top5", "epochs", "epochs_done", "conv_macs", "params", "train_s", "mean_iter_s",
           "cpu", "link")


def proxy_frame(runs: Iterable | None = None) -> pd.DataFrame:
    """One row per proxy run (its name starts with `proxy-`), from run records (`actionbook.report.tables.Run`
    or anything with `.name`, `.record` and `.link()`).

    `data_ok` says whether the run trained on the proxy dataset the profile describes (class count and number of
    videos per split, from the record's dataset fingerprint); the summaries use only runs where it holds.
    """
    if runs is None:
        from actionbook.report.tables import load_runs

        runs = load_runs()
    rows = []
    for run in runs:
        exp = run.record.get("experiment") or {}
        name = exp.get("name") or run.name
        if not str(name).startswith("proxy-") or exp.get("model") not in MODEL_INFO:
            continue
        family, backbone = MODEL_INFO[exp["model"]]
        metrics = (run.record.get("metrics") or {}).get("val") or {}
        complexity = run.record.get("complexity") or {}
        timings = run.record.get("timings") or {}
        hardware = ((run.record.get("provenance") or {}).get("hardware") or {})
        rows.append({
            "name": name, "profile": _profile_of(exp, name), "dataset": exp.get("dataset"), "family": family,
            "backbone": backbone, "model": exp["model"], "pooling": exp.get("temporal_pooling") or "none",
            "frames": exp.get("frames"), "seed": exp.get("seed"), "status": run.record.get("status", "unknown"),
            "data_ok": data_matches(run.record), "top1": metrics.get("top1"), "top5": metrics.get("top5"),
            "epochs": exp.get("epochs"), "epochs_done": len(run.record.get("history") or []),
            "conv_macs": complexity.get("conv_macs"), "params": complexity.get("params"),
            "train_s": timings.get("train_s"), "mean_iter_s": timings.get("mean_iter_s"),
            "cpu": hardware.get("gpu") is None, "link": run.link(name) if hasattr(run, "link") else f"`{name}`",
        })
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.sort_values(["profile", "dataset", "family", "pooling", "frames", "seed"], ignore_index=True)


def data_matches(record: dict) -> bool:
    """The record's dataset fingerprint agrees with the proxy dataset (class count and videos per split)."""
    exp = record.get("experiment") or {}
    config = PROXY_DATA.get(exp.get("dataset"))
    fingerprint = record.get("dataset") or {}
    if config is None or not fingerprint:
        return False
    expected = {"train": config.train_per_class, "val": config.val_per_class}
    return all((fingerprint.get(split) or {}).get("num_classes") == config.num_classes
               and (fingerprint.get(split) or {}).get("videos") == per_class * config.num_classes
               for split, per_class in expected.items())


def _profile_of(exp: dict, name: str) -> str:
    for note in exp.get("notes") or []:
        if str(note).startswith("proxy profile: "):
            return str(note).split(": ", 1)[1]
    parts = name.split("-")
    return parts[1] if len(parts) > 1 else ""


# ---- statistics over seeds ------------------------------------------------------------------------------------

# two-sided 95% quantiles of Student's t distribution by degrees of freedom (no scipy here)
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
        20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


def t95(df: float) -> float:
    """The two-sided 95% t quantile for `df` degrees of freedom (interpolated in 1/df between table entries)."""
    if df is None or not df > 0 or math.isnan(df):
        return math.nan
    if df >= 120:
        return 1.960 if df > 1000 else _T95[120] + (1.960 - _T95[120]) * (1 - 120 / df)
    keys = sorted(_T95)
    if df in _T95:
        return _T95[df]
    lo = max(k for k in keys if k < df)
    hi = min(k for k in keys if k > df)
    w = (1 / lo - 1 / df) / (1 / lo - 1 / hi)
    return _T95[lo] + w * (_T95[hi] - _T95[lo])


def mean_ci(values: Sequence[float]) -> tuple[float, float, int]:
    """(mean, half-width of the 95% t interval, n); the half-width is NaN for fewer than two values."""
    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(xs)
    if n == 0:
        return math.nan, math.nan, 0
    mean = sum(xs) / n
    if n < 2:
        return mean, math.nan, n
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    return mean, t95(n - 1) * sd / math.sqrt(n), n


def welch(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Mean of a minus mean of b and the half-width of its 95% Welch interval (NaN with fewer than 2 each)."""
    a = [float(v) for v in a if v is not None and not math.isnan(float(v))]
    b = [float(v) for v in b if v is not None and not math.isnan(float(v))]
    if not a or not b:
        return math.nan, math.nan
    diff = sum(a) / len(a) - sum(b) / len(b)
    if len(a) < 2 or len(b) < 2:
        return diff, math.nan
    va = sum((x - sum(a) / len(a)) ** 2 for x in a) / (len(a) - 1) / len(a)
    vb = sum((x - sum(b) / len(b)) ** 2 for x in b) / (len(b) - 1) / len(b)
    se2 = va + vb
    if se2 == 0:
        return diff, 0.0
    df = se2 ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return diff, t95(df) * math.sqrt(se2)


GROUP = ("profile", "dataset", "backbone", "family", "pooling", "frames")


def usable(frame: pd.DataFrame) -> pd.DataFrame:
    """Completed runs on the right data with a validation accuracy."""
    if frame.empty:
        return frame
    return frame[(frame["status"] == "completed") & frame["data_ok"] & frame["top1"].notna()]


def summarize(frame: pd.DataFrame, by: Sequence[str] = GROUP) -> pd.DataFrame:
    """Per group: n seeds, mean top-1, its 95% CI half-width and bounds, std, min, max, mean conv MACs."""
    cols = [*by, "n", "mean", "ci95", "lo", "hi", "std", "min", "max", "conv_macs", "params"]
    data = usable(frame)
    if data.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for key, group in data.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        mean, half, n = mean_ci(group["top1"].tolist())
        rows.append({**dict(zip(by, key)), "n": n, "mean": mean, "ci95": half, "lo": mean - half,
                     "hi": mean + half, "std": group["top1"].std(ddof=1) if n > 1 else math.nan,
                     "min": group["top1"].min(), "max": group["top1"].max(),
                     "conv_macs": group["conv_macs"].mean(), "params": group["params"].mean()})
    return pd.DataFrame(rows, columns=cols)


def select(frame: pd.DataFrame, **where) -> pd.DataFrame:
    data = usable(frame)
    for key, value in where.items():
        if data.empty:
            break
        data = data[data[key] == value]
    return data


def difference(frame: pd.DataFrame, a: dict, b: dict, pair_by_seed: bool = False) -> dict:
    """Top-1 of the runs matching `a` minus those matching `b` (Welch 95% CI; paired by seed on request)."""
    ra, rb = select(frame, **a), select(frame, **b)
    if pair_by_seed:
        merged = ra.merge(rb, on="seed", suffixes=("_a", "_b"))
        mean, half, n = mean_ci((merged["top1_a"] - merged["top1_b"]).tolist())
        return {"diff": mean, "ci95": half, "n_a": n, "n_b": n}
    diff, half = welch(ra["top1"].tolist(), rb["top1"].tolist())
    return {"diff": diff, "ci95": half, "n_a": len(ra), "n_b": len(rb)}


# ---- the paper's numbers --------------------------------------------------------------------------------------

# The rows of the IBM table (16 frames) that stand for each family: ResNet-50 where the table has it (TSN, TAM,
# I3D), else Inception-v1 (S3D); the other backbone's rows ride along in `paper_reference(all_backbones=True)`.
PAPER_FAMILY_MODELS = {"TSN": ("tsn_r50", "tsn_inception_v1"), "TAM": ("tam_r50", "tam_inception_v1"),
                       "I3D": ("i3d_r50", "i3d"), "S3D": ("s3d_r50", "s3d")}


def paper_table() -> pd.DataFrame:
    """Every row of the IBM table with its family, backbone, frames, pooling and section."""
    from actionbook.experiment import parse_row
    from actionbook.published import ibm_rows

    rows = []
    for r in ibm_rows():
        parsed = parse_row(r.row)
        model = parsed["model"]
        family = {"tsn": "TSN", "tam": "TAM", "i3d": "I3D", "s3d": "S3D"}[model.split("_")[0]]
        rows.append({"row": r.row, "section": r.dataset_section, "model": model, "family": family,
                     "backbone": "ResNet-50" if model.endswith("_r50") else "Inception-v1",
                     "frames": parsed["frames"], "pooling": parsed.get("temporal_pooling") or "none",
                     "top1": r.top1, "top5": r.top5, "flops": r.flops, "params": r.params})
    return pd.DataFrame(rows)


def paper_reference(frames: int = 16) -> pd.DataFrame:
    """Per family and section: the representative row's top-1 (see PAPER_FAMILY_MODELS) at `frames`."""
    table = paper_table()
    table = table[table["frames"] == frames]
    out = []
    for section in SECTION.values():
        for family in FAMILIES:
            for model in PAPER_FAMILY_MODELS[family]:
                hit = table[(table["section"] == section) & (table["model"] == model)]
                if not hit.empty:
                    r = hit.iloc[0]
                    out.append({"section": section, "family": family, "model": model, "backbone": r["backbone"],
                                "pooling": r["pooling"], "top1": r["top1"], "row": r["row"]})
                    break
    return pd.DataFrame(out)


# ---- findings -------------------------------------------------------------------------------------------------

@dataclass
class Finding:
    claim: str
    paper: str
    proxy: str
    verdict: str  # "held", "did not hold", "not measured", "inconclusive"


def _fmt_diff(d: dict) -> str:
    if d["n_a"] == 0 or d["n_b"] == 0 or math.isnan(d["diff"]):
        return "no runs"
    ci = "" if math.isnan(d["ci95"]) else f" ± {d['ci95']:.1f}"
    return f"{d['diff']:+.1f}{ci} points"


def _excludes_zero(d: dict, margin: float = 0.0) -> bool | None:
    if math.isnan(d["diff"]) or math.isnan(d["ci95"]):
        return None
    return d["diff"] - d["ci95"] > margin


def findings(frame: pd.DataFrame, profile: str = "default", backbone: str = "resnet-18", frames: int = 8,
             close: float = 10.0) -> list[Finding]:
    """The study's headline claims, each with the paper's numbers, the proxy's and a verdict.

    Differences are Welch 95% intervals over seeds. "Large" means the interval lies above `close` points;
    "close" means it lies within ±`close` points (both chosen before the runs; the twin-pair ceiling of an
    order-blind model on synth-something is 50%, chance 25%).
    """
    paper = paper_table()
    pr = paper[paper["frames"] == 16]

    def p(section, model):
        hit = pr[(pr["section"] == section) & (pr["model"] == model)]
        return float(hit["top1"].iloc[0]) if not hit.empty else math.nan

    ss, k4 = SECTION["synth-something"], SECTION["synth-kinetics"]
    base = {"profile": profile, "backbone": backbone, "frames": frames, "pooling": "none"}
    out = []
    # 1. temporal models beat TSN by far on the temporal dataset
    gaps = {f: difference(frame, {**base, "dataset": "synth-something", "family": f},
                          {**base, "dataset": "synth-something", "family": "TSN"}) for f in ("TAM", "I3D", "S3D")}
    verdicts = [_excludes_zero(g, close) for g in gaps.values()]
    out.append(Finding(
        "On the temporal dataset, temporal models (TAM, I3D, S3D) beat TSN by a wide margin",
        f"SSv2, 16 frames, ResNet-50: TAM {p(ss, 'tam_r50') - p(ss, 'tsn_r50'):+.1f}, I3D-tp "
        f"{p(ss, 'i3d_r50') - p(ss, 'tsn_r50'):+.1f}; Inception: S3D-tp "
        f"{p(ss, 's3d') - p(ss, 'tsn_inception_v1'):+.1f} points over TSN",
        "; ".join(f"{f} {_fmt_diff(g)}" for f, g in gaps.items()) + " over TSN",
        _verdict_all(verdicts)))
    # 2. on the appearance dataset the families are close
    kgaps = {f: difference(frame, {**base, "dataset": "synth-kinetics", "family": f},
                           {**base, "dataset": "synth-kinetics", "family": "TSN"}) for f in ("TAM", "I3D", "S3D")}
    kverdicts = [None if math.isnan(g["ci95"]) else (abs(g["diff"]) + g["ci95"] <= close) for g in kgaps.values()]
    out.append(Finding(
        "On the appearance dataset, the families are close (temporal modelling matters little)",
        f"K400, 16 frames: TAM {p(k4, 'tam_r50') - p(k4, 'tsn_r50'):+.1f}, I3D-tp "
        f"{p(k4, 'i3d_r50') - p(k4, 'tsn_r50'):+.1f} (ResNet-50), S3D-tp "
        f"{p(k4, 's3d') - p(k4, 'tsn_inception_v1'):+.1f} (Inception) points over TSN",
        "; ".join(f"{f} {_fmt_diff(g)}" for f, g in kgaps.items()) + " over TSN",
        _verdict_all(kverdicts)))
    # 3. TSN sits near its order-blind level on the temporal dataset
    tsn_ss = summarize(select(frame, **base, dataset="synth-something", family="TSN"))
    tsn_k = summarize(select(frame, **base, dataset="synth-kinetics", family="TSN"))
    if tsn_ss.empty or tsn_k.empty:
        proxy, verdict = "no runs", "not measured"
    else:
        a, b = tsn_ss.iloc[0], tsn_k.iloc[0]
        proxy = (f"TSN {a['mean']:.1f} ± {a['ci95']:.1f}% on synth-something (order-blind ceiling 50%) vs "
                 f"{b['mean']:.1f} ± {b['ci95']:.1f}% on synth-kinetics")
        verdict = "held" if a["hi"] < b["lo"] and a["hi"] <= 50 + close / 2 else "did not hold"
    out.append(Finding(
        "TSN (no temporal modelling) does much worse on the temporal dataset than on the appearance one",
        f"TSN ResNet-50 16 frames: {p(ss, 'tsn_r50'):.1f}% on SSv2 vs {p(k4, 'tsn_r50'):.1f}% on K400", proxy,
        verdict))
    # 4. more frames help temporal models on the temporal dataset, not TSN
    more = []
    for f in FAMILIES:
        d = difference(frame, {**base, "dataset": "synth-something", "family": f, "frames": 2 * frames},
                       {**base, "dataset": "synth-something", "family": f})
        more.append((f, d))
    if all(d["n_a"] == 0 for _, d in more):
        proxy, verdict = f"not measured: no {2 * frames}-frame runs in this profile", "not measured"
    else:
        proxy = "; ".join(f"{f} {_fmt_diff(d)}" for f, d in more) + f" ({2 * frames} vs {frames} frames)"
        temporal = [_excludes_zero(d) for f, d in more if f != "TSN"]
        tsn = next(d for f, d in more if f == "TSN")
        tsn_flat = None if math.isnan(tsn["ci95"]) else not _excludes_zero(tsn, 0.0)
        verdict = _verdict_all([*temporal, tsn_flat])
    out.append(Finding(
        "More frames help the temporal models on the temporal dataset, not TSN",
        "SSv2, 64 vs 16 frames: TAM-R50 "
        f"{p2(paper, ss, 'tam_r50')}, I3D-R50-tp {p2(paper, ss, 'i3d_r50')}, S3D-tp {p2(paper, ss, 's3d')}, "
        f"TSN-R50 {p2(paper, ss, 'tsn_r50')} points", proxy, verdict))
    # 5. temporal pooling (no with/without pair in the published table)
    pool = []
    for f in FAMILIES:
        d = difference(frame, {**base, "dataset": "synth-something", "family": f, "pooling": "max"},
                       {**base, "dataset": "synth-something", "family": f})
        pool.append((f, d))
    if all(d["n_a"] == 0 for _, d in pool):
        proxy, verdict = "not measured: no temporal-pooling runs in this profile", "not measured"
    else:
        proxy = "; ".join(f"{f} {_fmt_diff(d)}" for f, d in pool) + " (with vs without temporal pooling)"
        verdict = "no published pair to compare"
    out.append(Finding(
        "Temporal pooling (halving T three times inside the network) and the temporal dataset",
        "the table in this project holds no with/without pair (3D rows use pooling, 2D rows do not)", proxy,
        verdict))
    return out


def p2(paper: pd.DataFrame, section: str, model: str) -> str:
    """The published 64- minus 16-frame top-1 of `model` in `section`, as '+x.x'."""
    rows = paper[(paper["section"] == section) & (paper["model"] == model)].set_index("frames")["top1"]
    if 16 in rows and 64 in rows:
        return f"{rows[64] - rows[16]:+.1f}"
    return "n/a"


def _verdict_all(flags: list[bool | None]) -> str:
    if not flags or any(f is None for f in flags):
        return "inconclusive" if any(f is not None for f in flags) else "not measured"
    if all(flags):
        return "held"
    if not any(flags):
        return "did not hold"
    return "partly held"


# ---- tables for the chapter -----------------------------------------------------------------------------------

def fmt_ci(mean: float, half: float, n: int | None = None) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    text = f"{mean:.1f}" if half is None or math.isnan(half) else f"{mean:.1f} ± {half:.1f}"
    return text + (f" (n={n})" if n is not None else "")


def family_table(frame: pd.DataFrame, profile: str = "default", backbone: str = "resnet-18", frames: int = 8,
                 pooling: str = "none") -> pd.DataFrame:
    """Family x dataset: proxy mean top-1 ± 95% CI over seeds, beside the paper's 16-frame numbers."""
    summary = summarize(frame)
    ref = paper_reference()
    rows = []
    for family in FAMILIES:
        row = {"Family": family}
        for dataset in DATASETS:
            hit = summary[(summary["profile"] == profile) & (summary["dataset"] == dataset)
                          & (summary["backbone"] == backbone) & (summary["family"] == family)
                          & (summary["frames"] == frames) & (summary["pooling"] == pooling)]
            row[f"{dataset} top-1 (%)"] = (fmt_ci(hit.iloc[0]["mean"], hit.iloc[0]["ci95"], int(hit.iloc[0]["n"]))
                                           if not hit.empty else "not yet run")
            paper = ref[(ref["section"] == SECTION[dataset]) & (ref["family"] == family)]
            if paper.empty:
                row[f"paper {_short_section(dataset)} (%)"] = "-"
            else:
                r = paper.iloc[0]
                tag = f"{r['backbone']}{', tp' if r['pooling'] != 'none' else ''}"
                row[f"paper {_short_section(dataset)} (%)"] = f"{r['top1']:.1f} ({tag})"
        rows.append(row)
    return pd.DataFrame(rows)


def _short_section(dataset: str) -> str:
    return {"synth-something": "SSv2", "synth-kinetics": "K400"}[dataset]


def summary_table(frame: pd.DataFrame, profile: str | None = None) -> pd.DataFrame:
    """Every group of the grid: runs, mean ± CI, range, conv MACs at the proxy's input."""
    summary = summarize(frame)
    if profile is not None:
        summary = summary[summary["profile"] == profile]
    rows = []
    for r in summary.to_dict("records"):
        rows.append({"Profile": r["profile"], "Dataset": r["dataset"], "Model": MODELS[r["backbone"]][r["family"]],
                     "Family": r["family"], "Pooling": r["pooling"], "Frames": int(r["frames"]), "Seeds": int(r["n"]),
                     "Top-1 mean ± 95% CI": fmt_ci(r["mean"], r["ci95"]),
                     "Range": f"{r['min']:.1f}-{r['max']:.1f}",
                     "Conv GMACs (1 clip)": f"{r['conv_macs'] / 1e9:.2f}" if r["conv_macs"] else "-"})
    return pd.DataFrame(rows)


def findings_table(items: list[Finding]) -> pd.DataFrame:
    return pd.DataFrame([{"Finding of the study": f.claim, "Paper (IBM table)": f.paper, "Proxy": f.proxy,
                          "Verdict": f.verdict} for f in items])


def plan_table(frame: pd.DataFrame, profile: str) -> pd.DataFrame:
    """Each experiment of a profile and the state of its run (not yet run, completed, failed, wrong data)."""
    by_name = {r["name"]: r for r in frame.to_dict("records")} if not frame.empty else {}
    rows = []
    for exp in profile_experiments(profile, validate=False):
        run = by_name.get(exp["name"])
        state = "not yet run" if run is None else run["status"] + ("" if run["data_ok"] else " (other data!)")
        rows.append({"Run": run["link"] if run else f"`{exp['name']}`", "Dataset": exp["dataset"],
                     "Model": exp["model"], "Pooling": exp["temporal_pooling"] or "none", "Frames": exp["frames"],
                     "Seed": exp["seed"], "Epochs": exp["epochs"], "Status": state,
                     "Top-1": f"{run['top1']:.1f}" if run and run["top1"] is not None
                     and not math.isnan(run["top1"]) else "-"})
    return pd.DataFrame(rows)


def profile_status(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for name, spec in PROFILES.items():
        names = {e["name"] for e in profile_experiments(name, validate=False)}
        sub = frame[frame["name"].isin(names)] if not frame.empty else frame
        done = int((usable(sub)["name"].isin(names)).sum()) if not sub.empty else 0
        rows.append({"Profile": name, "Runs": len(names), "Completed": done, "What": spec.description,
                     "Params files": f"`params/proxy/{name}/*.yaml`"})
    return pd.DataFrame(rows)


def time_summary(profile: str = "default", runs_dir: str | Path | None = None) -> str:
    t = read_time(profile, runs_dir)
    if not t:
        return f"*No timing recorded for the {profile} profile yet (`python -m actionbook.report.proxy run " \
               f"{profile}` writes one).*"
    return (f"The last pass of the **{profile}** profile ran {t['completed']} of {t['runs']} runs "
            f"({t['skipped']} were complete and skipped) in **{t['wall_s'] / 60:.1f} min** of wall-clock time and "
            f"**{t['cpu_s'] / 60:.1f} CPU-minutes** on {t['cpu_count']} cores, finished {t['finished']}; the load "
            f"average (1 min) was {t['load_before'][0]:.1f} before and {t['load_after'][0]:.1f} after.")


# ---- figures --------------------------------------------------------------------------------------------------

FAMILY_COLOURS = {"TSN": "#7f7f7f", "TAM": "#1f77b4", "I3D": "#d62728", "S3D": "#2ca02c"}
FAMILY_MARKERS = {"TSN": "o", "TAM": "s", "I3D": "^", "S3D": "D"}


def plot_families(frame: pd.DataFrame, profile: str = "default", backbone: str = "resnet-18", frames: int = 8,
                  pooling: str = "none"):
    """Left: proxy top-1 per family and dataset (mean, 95% CI, each seed as a dot). Right: the paper's numbers."""
    import matplotlib.pyplot as plt

    summary = summarize(frame)
    runs = usable(frame)
    ref = paper_reference()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1, 1]})
    width = 0.38
    for i, dataset in enumerate(DATASETS):
        for j, family in enumerate(FAMILIES):
            x = j + (i - 0.5) * width
            hit = summary[(summary["profile"] == profile) & (summary["dataset"] == dataset)
                          & (summary["backbone"] == backbone) & (summary["family"] == family)
                          & (summary["frames"] == frames) & (summary["pooling"] == pooling)]
            if not hit.empty:
                r = hit.iloc[0]
                err = 0 if math.isnan(r["ci95"]) else r["ci95"]
                ax.bar(x, r["mean"], width, color=FAMILY_COLOURS[family], alpha=0.9 if i == 0 else 0.45,
                       yerr=err, capsize=3, edgecolor="black", linewidth=0.5)
                seeds = runs[(runs["profile"] == profile) & (runs["dataset"] == dataset)
                             & (runs["backbone"] == backbone) & (runs["family"] == family)
                             & (runs["frames"] == frames) & (runs["pooling"] == pooling)]
                ax.scatter([x] * len(seeds), seeds["top1"], s=10, color="black", zorder=3)
            paper = ref[(ref["section"] == SECTION[dataset]) & (ref["family"] == family)]
            if not paper.empty:
                bx.bar(x, paper.iloc[0]["top1"], width, color=FAMILY_COLOURS[family],
                       alpha=0.9 if i == 0 else 0.45, edgecolor="black", linewidth=0.5)
    for dataset in DATASETS:
        ax.axhline(chance(dataset), color="0.5", linestyle=":", linewidth=1)
    ax.axhline(50, color="#7f7f7f", linestyle="--", linewidth=1)
    ax.text(3.6, 51, "order-blind ceiling\n(synth-something)", fontsize=7, ha="right", va="bottom", color="0.3")
    ax.text(3.6, chance("synth-something") + 1, "chance", fontsize=7, ha="right", va="bottom", color="0.3")
    for a, title in ((ax, f"Proxy ({backbone}, {frames} frames, {profile} profile)"),
                     (bx, "Paper (IBM table, 16 frames)")):
        a.set_xticks(range(len(FAMILIES)), FAMILIES)
        a.set_ylim(0, 105)
        a.set_ylabel("top-1 accuracy (%)")
        a.set_title(title, fontsize=10)
        a.grid(True, axis="y", alpha=0.3)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(facecolor="0.3", alpha=0.9, label="synth-something"),
                       Patch(facecolor="0.3", alpha=0.45, label="synth-kinetics")], fontsize=8, loc="upper left")
    bx.legend(handles=[Patch(facecolor="0.3", alpha=0.9, label="Something-Something-V2"),
                       Patch(facecolor="0.3", alpha=0.45, label="Kinetics-400")], fontsize=8, loc="upper left")
    fig.suptitle("Top-1 per family: synthetic temporal vs appearance data (left), the real pair (right)",
                 fontsize=11)
    fig.tight_layout()
    return fig


def plot_vs_flops(frame: pd.DataFrame, profile: str | None = None):
    """Mean top-1 (95% CI) against conv MACs per clip at the proxy's input, one panel per dataset; the paper's
    16- and 64-frame rows in a third and fourth panel at 224 px (their own FLOPs)."""
    import matplotlib.pyplot as plt

    summary = summarize(frame)
    if profile is not None:
        summary = summary[summary["profile"] == profile]
    paper = paper_table()
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2))
    for ax, dataset in zip(axes[:2], DATASETS):
        sub = summary[summary["dataset"] == dataset]
        for r in sub.to_dict("records"):
            err = 0 if math.isnan(r["ci95"]) else r["ci95"]
            ax.errorbar(r["conv_macs"] / 1e9, r["mean"], yerr=err, marker=FAMILY_MARKERS[r["family"]],
                        color=FAMILY_COLOURS[r["family"]], markersize=4 + r["frames"] / 2,
                        markerfacecolor="none" if r["pooling"] != "none" else FAMILY_COLOURS[r["family"]],
                        capsize=2, linestyle="")
        _flops_axis(ax, f"Proxy: {dataset}", "conv GMACs per clip (32 px)")
        ax.axhline(chance(dataset), color="0.5", linestyle=":", linewidth=1)
    for ax, section in zip(axes[2:], SECTION.values()):
        sub = paper[paper["section"] == section]
        for r in sub.to_dict("records"):
            ax.plot(r["flops"] / 1e9, r["top1"], marker=FAMILY_MARKERS[r["family"]], linestyle="",
                    color=FAMILY_COLOURS[r["family"]], markersize=4 + r["frames"] / 8,
                    markerfacecolor="none" if r["pooling"] != "none" else FAMILY_COLOURS[r["family"]])
        _flops_axis(ax, f"Paper: {section}", "GFLOPs (conv MACs, 224 px)")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker=FAMILY_MARKERS[f], color=FAMILY_COLOURS[f], linestyle="", label=f)
               for f in FAMILIES]
    handles.append(Line2D([], [], marker="o", color="0.3", markerfacecolor="none", linestyle="",
                          label="with temporal pooling"))
    handles.append(Line2D([], [], marker="o", color="0.3", linestyle="", markersize=9, label="larger = more frames"))
    axes[-1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    fig.suptitle("Top-1 against compute: proxy (mean ± 95% CI over seeds) and paper", fontsize=11)
    fig.tight_layout()
    return fig


def _flops_axis(ax, title: str, xlabel: str) -> None:
    ax.set_xscale("log")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("top-1 (%)")
    ax.grid(True, alpha=0.3)


def plot_vs_frames(frame: pd.DataFrame, profile: str | None = None, backbone: str = "resnet-18"):
    """Mean top-1 (95% CI) against frames per family, solid without and dashed with temporal pooling; the
    paper's 16- and 64-frame rows beside."""
    import matplotlib.pyplot as plt

    summary = summarize(frame)
    if profile is not None:
        summary = summary[summary["profile"] == profile]
    summary = summary[summary["backbone"] == backbone]
    paper = paper_table()
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2))
    for ax, dataset in zip(axes[:2], DATASETS):
        for (family, pooling), g in summary[summary["dataset"] == dataset].groupby(["family", "pooling"]):
            g = g.sort_values("frames")
            err = g["ci95"].fillna(0)
            ax.errorbar(g["frames"], g["mean"], yerr=err, marker=FAMILY_MARKERS[family],
                        color=FAMILY_COLOURS[family], linestyle="-" if pooling == "none" else "--", capsize=2,
                        markerfacecolor="none" if pooling != "none" else FAMILY_COLOURS[family])
        ax.axhline(chance(dataset), color="0.5", linestyle=":", linewidth=1)
        _frames_axis(ax, f"Proxy: {dataset}", [8, 16])
    for ax, section in zip(axes[2:], SECTION.values()):
        sub = paper[paper["section"] == section]
        for (_model, pooling), g in sub.groupby(["model", "pooling"]):
            g = g.sort_values("frames")
            family = g["family"].iloc[0]
            ax.plot(g["frames"], g["top1"], marker=FAMILY_MARKERS[family], color=FAMILY_COLOURS[family],
                    linestyle="-" if g["backbone"].iloc[0] == "ResNet-50" else ":",
                    markerfacecolor="none" if pooling != "none" else FAMILY_COLOURS[family])
        _frames_axis(ax, f"Paper: {section}", [16, 64])
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker=FAMILY_MARKERS[f], color=FAMILY_COLOURS[f], label=f) for f in FAMILIES]
    handles += [Line2D([], [], color="0.3", linestyle="--", marker="o", markerfacecolor="none",
                       label="proxy, with temporal pooling"),
                Line2D([], [], color="0.3", linestyle=":", label="paper, Inception-v1 (solid: ResNet-50)")]
    axes[-1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    fig.suptitle("Top-1 against frames per clip: proxy (mean ± 95% CI) and paper", fontsize=11)
    fig.tight_layout()
    return fig


def _frames_axis(ax, title: str, ticks: list[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlim(ticks[0] / 1.4, ticks[-1] * 1.4)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("frames per clip")
    ax.set_ylabel("top-1 (%)")
    ax.grid(True, alpha=0.3)


def plot_curves(frame: pd.DataFrame, runs: Iterable, profile: str = "default"):
    """Validation top-1 per epoch of every run of a profile, one panel per dataset, coloured by family."""
    import matplotlib.pyplot as plt

    names = set(frame[frame["profile"] == profile]["name"]) if not frame.empty else set()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for run in runs:
        exp = run.record.get("experiment") or {}
        if exp.get("name") not in names or exp.get("model") not in MODEL_INFO:
            continue
        hist = run.record.get("history") or []
        if not hist:
            continue
        family = MODEL_INFO[exp["model"]][0]
        ax = axes[DATASETS.index(exp["dataset"])]
        ax.plot([h["epoch"] for h in hist], [h["val_top1"] for h in hist], color=FAMILY_COLOURS[family],
                alpha=0.6, linestyle="-" if not exp.get("temporal_pooling") else "--")
    for ax, dataset in zip(axes, DATASETS):
        ax.axhline(chance(dataset), color="0.5", linestyle=":", linewidth=1)
        ax.set_title(dataset, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("validation top-1 (%)")
    from matplotlib.lines import Line2D

    axes[1].legend(handles=[Line2D([], [], color=FAMILY_COLOURS[f], label=f) for f in FAMILIES], fontsize=8)
    fig.suptitle(f"Validation top-1 per epoch, {profile} profile (one line per run)", fontsize=11)
    fig.tight_layout()
    return fig


# ---- helpers and command line ---------------------------------------------------------------------------------

def _profile(name: str) -> Profile:
    if name not in PROFILES:
        from actionbook.errors import ConfigError

        raise ConfigError(f"proxy profile {name!r} unknown; expected one of {', '.join(PROFILES)}")
    return PROFILES[name]


def _project_root() -> Path:
    from actionbook.params import project_root

    return project_root()


def _runs_dir(runs_dir: str | Path | None) -> Path:
    if runs_dir is not None:
        return Path(runs_dir)
    from actionbook.report.tables import runs_dir as default

    return default()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m actionbook.report.proxy",
                                     description="The proxy study: params files, data, runs, plan.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("params", help="(re)write params/proxy/<profile>/*.yaml")
    p.add_argument("--check", action="store_true", help="only list missing or stale files (exit 1 if any)")
    sub.add_parser("data", help="generate the proxy datasets under data/proxy/")
    r = sub.add_parser("run", help="run a profile through the runner and record its time")
    r.add_argument("profile", choices=list(PROFILES))
    r.add_argument("--runs-dir", default=None)
    r.add_argument("--keep-checkpoints", action="store_true")
    r.add_argument("--force", action="store_true")
    r.add_argument("--ignore-code", action="store_true", help="skip complete runs even if the code changed")
    f = sub.add_parser("files", help="print a profile's params files, one a line (for the runner)")
    f.add_argument("profile", choices=list(PROFILES))
    args = parser.parse_args(argv)
    if args.command == "params":
        if args.check:
            stale = stale_params()
            print("\n".join(stale) if stale else "params/proxy is up to date")
            return 1 if stale else 0
        changed = write_params()
        print(f"{len(changed)} file(s) written or removed under params/proxy/")
        return 0
    if args.command == "data":
        for name, folder in ensure_data(workers=min(2, os.cpu_count() or 1)).items():
            print(f"{name}: {folder}")
        return 0
    if args.command == "files":
        print("\n".join(str(p.relative_to(_project_root())) for p in profile_files(args.profile)))
        return 0
    summary = run_profile(args.profile, args.runs_dir, args.keep_checkpoints, args.force, args.ignore_code)
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
