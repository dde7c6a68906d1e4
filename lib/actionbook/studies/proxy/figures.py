"""The proxy chapter's figures: top-1 per family beside the paper, against compute, against frames, and the
training curves. Marker and colour both say the family (the markers are the book's `MARKERS`)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from actionbook.models import model_entry
from actionbook.report.style import MARKERS
from actionbook.studies.proxy.findings import SECTION, paper_reference, paper_table
from actionbook.studies.proxy.grid import DATASETS, FAMILIES, chance
from actionbook.studies.proxy.stats import summarize, usable

FAMILY_COLOURS = {"TSN": "#7f7f7f", "TAM": "#1f77b4", "I3D": "#d62728", "S3D": "#2ca02c"}


def plot_families(frame: pd.DataFrame, profile: str = "default", backbone: str = "resnet-18", frames: int = 8,
                  pooling: str = "none"):
    """Left: proxy top-1 per family and dataset (mean, 95% CI, each seed as a dot). Right: the paper's numbers."""
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
    summary = summarize(frame)
    if profile is not None:
        summary = summary[summary["profile"] == profile]
    paper = paper_table()
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2))
    for ax, dataset in zip(axes[:2], DATASETS):
        sub = summary[summary["dataset"] == dataset]
        for r in sub.to_dict("records"):
            err = 0 if math.isnan(r["ci95"]) else r["ci95"]
            ax.errorbar(r["conv_macs"] / 1e9, r["mean"], yerr=err, marker=MARKERS[r["family"]],
                        color=FAMILY_COLOURS[r["family"]], markersize=4 + r["frames"] / 2,
                        markerfacecolor="none" if r["pooling"] != "none" else FAMILY_COLOURS[r["family"]],
                        capsize=2, linestyle="")
        _flops_axis(ax, f"Proxy: {dataset}", "conv GMACs per clip (32 px)")
        ax.axhline(chance(dataset), color="0.5", linestyle=":", linewidth=1)
    for ax, section in zip(axes[2:], SECTION.values()):
        sub = paper[paper["section"] == section]
        for r in sub.to_dict("records"):
            ax.plot(r["flops"] / 1e9, r["top1"], marker=MARKERS[r["family"]], linestyle="",
                    color=FAMILY_COLOURS[r["family"]], markersize=4 + r["frames"] / 8,
                    markerfacecolor="none" if r["pooling"] != "none" else FAMILY_COLOURS[r["family"]])
        _flops_axis(ax, f"Paper: {section}", "GFLOPs (conv MACs, 224 px)")
    handles = [Line2D([], [], marker=MARKERS[f], color=FAMILY_COLOURS[f], linestyle="", label=f)
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
            ax.errorbar(g["frames"], g["mean"], yerr=err, marker=MARKERS[family],
                        color=FAMILY_COLOURS[family], linestyle="-" if pooling == "none" else "--", capsize=2,
                        markerfacecolor="none" if pooling != "none" else FAMILY_COLOURS[family])
        ax.axhline(chance(dataset), color="0.5", linestyle=":", linewidth=1)
        _frames_axis(ax, f"Proxy: {dataset}", [8, 16])
    for ax, section in zip(axes[2:], SECTION.values()):
        sub = paper[paper["section"] == section]
        for (_model, pooling), g in sub.groupby(["model", "pooling"]):
            g = g.sort_values("frames")
            family = g["family"].iloc[0]
            ax.plot(g["frames"], g["top1"], marker=MARKERS[family], color=FAMILY_COLOURS[family],
                    linestyle="-" if g["backbone"].iloc[0] == "ResNet-50" else ":",
                    markerfacecolor="none" if pooling != "none" else FAMILY_COLOURS[family])
        _frames_axis(ax, f"Paper: {section}", [16, 64])
    handles = [Line2D([], [], marker=MARKERS[f], color=FAMILY_COLOURS[f], label=f) for f in FAMILIES]
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
    names = set(frame[frame["profile"] == profile]["name"]) if not frame.empty else set()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for run in runs:
        exp = run.record.get("experiment") or {}
        if exp.get("name") not in names:
            continue
        hist = run.record.get("history") or []
        if not hist:
            continue
        ax = axes[DATASETS.index(exp["dataset"])]
        ax.plot([h["epoch"] for h in hist], [h["val_top1"] for h in hist],
                color=FAMILY_COLOURS[model_entry(exp["model"]).family], alpha=0.6,
                linestyle="-" if not exp.get("temporal_pooling") else "--")
    for ax, dataset in zip(axes, DATASETS):
        ax.axhline(chance(dataset), color="0.5", linestyle=":", linewidth=1)
        ax.set_title(dataset, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("validation top-1 (%)")
    axes[1].legend(handles=[Line2D([], [], color=FAMILY_COLOURS[f], label=f) for f in FAMILIES], fontsize=8)
    fig.suptitle(f"Validation top-1 per epoch, {profile} profile (one line per run)", fontsize=11)
    fig.tight_layout()
    return fig
