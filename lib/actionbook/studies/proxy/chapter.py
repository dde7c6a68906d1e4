"""The proxy chapter's tables (book/proxy.md): the profiles, the families beside the paper, the findings, the plan
of a profile with the state of each run, and the profile's measured time."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from actionbook.studies.ibm.rows import SECTION_SHORT
from actionbook.studies.proxy.findings import SECTION, Finding, paper_reference, seeds_needed
from actionbook.studies.proxy.grid import (
    DATASETS,
    FAMILIES,
    PRETRAIN_DATA,
    PROFILES,
    base_frames,
    pretrain_name,
    pretrained_weights,
    profile_experiments,
)
from actionbook.studies.proxy.run import read_time
from actionbook.studies.proxy.stats import summarize, usable


def fmt_ci(mean: float, half: float, n: int | None = None) -> str:
    """'mean ± half (n=n)', without the interval when it is undefined (one seed)."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    text = f"{mean:.1f}" if half is None or math.isnan(half) else f"{mean:.1f} ± {half:.1f}"
    return text + (f" (n={n})" if n is not None else "")


def family_table(frame: pd.DataFrame, profile: str = "default", backbone: str = "resnet-18",
                 frames: int | None = None, pooling: str = "none") -> pd.DataFrame:
    """Family x dataset: proxy mean top-1 ± 95% CI over seeds (the profile's base frames unless `frames`), beside
    the paper's 16-frame numbers."""
    frames = frames or base_frames(profile)
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
            column = f"paper {SECTION_SHORT[SECTION[dataset]]} (%)"
            if paper.empty:
                row[column] = "-"
            else:
                r = paper.iloc[0]
                row[column] = f"{r['top1']:.1f} ({r['backbone']}{', tp' if r['pooling'] != 'none' else ''})"
        rows.append(row)
    return pd.DataFrame(rows)


def findings_table(items: list[Finding]) -> pd.DataFrame:
    """One row per finding: the paper's claim and numbers, the proxy's difference and interval, the claimed region
    and the verdict (with the seeds an inconclusive one would need)."""
    rows = []
    for f in items:
        region = f"≥ {f.at_least:+g}" if f.at_least is not None else f"within ±{f.within:g}"
        verdict = f"**{f.verdict}**" if f.headline else f.verdict
        needed = seeds_needed(f)
        if needed:
            verdict += f" (about {needed} seeds would resolve it)"
        rows.append({"Finding": ("**headline:** " if f.headline else "") + f.finding, "Paper (published)": f.paper,
                     "Proxy": f.proxy, "Claimed (points)": region, "Verdict": verdict})
    return pd.DataFrame(rows)


def plan_table(frame: pd.DataFrame, profile: str) -> pd.DataFrame:
    """Each experiment of a profile and the state of its run (not yet run, completed, failed, wrong data)."""
    by_name = {r["name"]: r for r in frame.to_dict("records")} if not frame.empty else {}
    rows = []
    for exp in profile_experiments(profile, validate=False)[1:]:  # the grid, after its pretraining
        run = by_name.get(exp["name"])
        state = "not yet run" if run is None else run["status"] + ("" if run["data_ok"] else " (other data!)")
        rows.append({"Run": run["link"] if run else f"`{exp['name']}`", "Dataset": exp["dataset"],
                     "Model": exp["model"], "Pooling": exp["temporal_pooling"] or "none", "Frames": exp["frames"],
                     "Seed": exp["seed"], "Epochs": exp["epochs"], "Status": state,
                     "Top-1": f"{run['top1']:.1f}" if run and run["top1"] is not None
                     and not math.isnan(run["top1"]) else "-"})
    return pd.DataFrame(rows)


def pretraining_table(runs, profile: str = "default") -> pd.DataFrame:
    """The profile's pretraining run (the ImageNet stand-in): its status, accuracy on synth-images' validation
    images against chance, its training time and the hash of the weights it exported, linked to its notebook."""
    name = pretrain_name(profile)
    run = next((r for r in runs if r.name == name), None)
    classes = PRETRAIN_DATA.num_classes
    if run is None:
        return pd.DataFrame([{"Run": f"`{name}`", "Status": "not yet run"}])
    val = (run.record.get("metrics") or {}).get("val") or {}
    timings = run.record.get("timings") or {}
    exp = run.record.get("experiment") or {}
    return pd.DataFrame([{
        "Run": run.link(name), "Status": run.record.get("status", "unknown"),
        "Images (train / val)": f"{classes * PRETRAIN_DATA.train_per_class:,} / "
                                f"{classes * PRETRAIN_DATA.val_per_class:,}",
        "Classes": classes, "Epochs": exp.get("epochs"),
        "Val top-1 (%)": "-" if val.get("top1") is None else f"{val['top1']:.1f} (chance {100 / classes:.1f})",
        "Training time": "-" if timings.get("train_s") is None else f"{timings['train_s'] / 60:.1f} min",
        "Weights file": f"`{Path(pretrained_weights(profile)).name}`",
    }])


def profile_status(frame: pd.DataFrame) -> pd.DataFrame:
    """Each profile: its runs, how many completed on the right data, what it is, where its params files are."""
    rows = []
    for name, spec in PROFILES.items():
        names = {e["name"] for e in profile_experiments(name, validate=False)[1:]}  # the grid
        sub = frame[frame["name"].isin(names)] if not frame.empty else frame
        done = int((usable(sub)["name"].isin(names)).sum()) if not sub.empty else 0
        rows.append({"Profile": name, "Runs": len(names), "Completed": done, "What": spec.description,
                     "Params files": f"`params/proxy/{name}/*.yaml`"})
    return pd.DataFrame(rows)


def time_summary(profile: str = "default", runs_dir: str | Path | None = None) -> str:
    """A sentence on the profile's last timed pass (wall and CPU time, cores, load)."""
    t = read_time(profile, runs_dir)
    if not t:
        return f"*No timing recorded for the {profile} profile yet (`actionbook proxy run {profile}` writes one).*"
    return (f"The last pass of the **{profile}** profile ran {t['completed']} of {t['runs']} runs "
            f"({t['skipped']} were complete and skipped) in **{t['wall_s'] / 60:.1f} min** of wall-clock time and "
            f"**{t['cpu_s'] / 60:.1f} CPU-minutes** on {t['cpu_count']} cores, finished {t['finished']}; the load "
            f"average (1 min) was {t['load_before'][0]:.1f} before and {t['load_after'][0]:.1f} after.")
