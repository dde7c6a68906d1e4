"""The proxy runs as a table, and statistics over seeds: means with 95% Student-t intervals, Welch differences.

`proxy_frame` reads one row per run from the run records; `summarize` gives each group of the grid its mean and
interval; `difference` compares two groups. No scipy here: the t quantiles are a table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import pandas as pd

from actionbook.models import model_entry
from actionbook.report.catalog import load_runs
from actionbook.studies.proxy.grid import GRID_MODELS, PROXY_DATA

# ---- records -> one row per run -------------------------------------------------------------------------------

COLUMNS = ("name", "profile", "dataset", "family", "backbone", "model", "pooling", "frames", "seed", "status",
           "data_ok", "top1", "top5", "epochs", "epochs_done", "conv_macs", "params", "train_s", "mean_iter_s",
           "cpu", "link")


def proxy_frame(runs: Iterable | None = None) -> pd.DataFrame:
    """One row per proxy run (its name starts with `proxy-` and its model is one of the grid's), from run records
    (`actionbook.report.catalog.Run`, or anything with `.name`, `.record` and `.link()`; default: `load_runs()`).

    `data_ok` says whether the run trained on the proxy dataset the profile describes (class count and number of
    videos per split, from the record's dataset fingerprint); the summaries use only runs where it holds.
    """
    if runs is None:
        runs = load_runs()
    rows = []
    for run in runs:
        exp = run.record.get("experiment") or {}
        name = exp.get("name") or run.name
        if not str(name).startswith("proxy-") or exp.get("model") not in GRID_MODELS \
                or exp.get("dataset") not in PROXY_DATA:  # (the pretraining's images are not a video set)
            continue
        entry = model_entry(exp["model"])
        metrics = (run.record.get("metrics") or {}).get("val") or {}
        complexity = run.record.get("complexity") or {}
        timings = run.record.get("timings") or {}
        hardware = ((run.record.get("provenance") or {}).get("hardware") or {})
        rows.append({
            "name": name, "profile": _profile_of(exp, name), "dataset": exp.get("dataset"), "family": entry.family,
            "backbone": entry.backbone, "model": exp["model"], "pooling": exp.get("temporal_pooling") or "none",
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

# two-sided 95% quantiles of Student's t distribution by degrees of freedom
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


def contrast(groups: Sequence[tuple[float, Sequence[float]]]) -> dict:
    """A linear combination sum(c * mean(values)) of independent groups' means, with its 95% interval.

    The standard error is sqrt(sum(c^2 s^2 / n)) and the degrees of freedom Welch-Satterthwaite's, so a
    difference of two groups is Welch's interval, and "the mean of three families minus TSN" or "the gap on one
    dataset minus the gap on the other" are intervals of the same kind. `n` is the smallest group's size.
    """
    estimate, se2, df_den, sizes = 0.0, 0.0, 0.0, []
    for weight, values in groups:
        xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
        sizes.append(len(xs))
        if not xs:
            return {"estimate": math.nan, "low": math.nan, "high": math.nan, "n": 0}
        mean = sum(xs) / len(xs)
        estimate += weight * mean
        if len(xs) > 1:
            term = weight ** 2 * sum((x - mean) ** 2 for x in xs) / (len(xs) - 1) / len(xs)
            se2 += term
            df_den += term ** 2 / (len(xs) - 1)
    n = min(sizes)
    if n < 2:
        return {"estimate": estimate, "low": math.nan, "high": math.nan, "n": n}
    half = 0.0 if se2 == 0 else t95(se2 ** 2 / df_den) * math.sqrt(se2)
    return {"estimate": estimate, "low": estimate - half, "high": estimate + half, "n": n}


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
    """The usable runs whose columns equal `where`."""
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
