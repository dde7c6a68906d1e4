"""The proxy chapter's figures, in the book's plot grammar (`actionbook.report.style`): top-1 per family beside the
paper, against compute, against frames, and the training curves. Filled = this project's proxy runs, hollow = the
paper's published rows; intervals are 95% over seeds, clipped to 0-100, with each seed as a black dot."""

from __future__ import annotations

import math
from collections.abc import Iterable

import matplotlib.pyplot as plt
import pandas as pd

from actionbook.models import model_entry
from actionbook.report.style import (
    FAMILY_COLOURS,
    apply_book_rc,
    backbone_linestyle,
    bar_kwargs,
    clipped_yerr,
    giga_log_axis,
    grammar_legend,
    integer_ticks,
    point,
    seed_dots,
)
from actionbook.studies.proxy.findings import SECTION, paper_reference, paper_table
from actionbook.studies.proxy.grid import DATASETS, FAMILIES, PROXY_DATA, base_frames, chance
from actionbook.studies.proxy.stats import summarize, usable


def _cell(table: pd.DataFrame, profile: str, dataset: str, backbone: str, family: str, frames: int,
          pooling: str) -> pd.DataFrame:
    return table[(table["profile"] == profile) & (table["dataset"] == dataset) & (table["backbone"] == backbone)
                 & (table["family"] == family) & (table["frames"] == frames) & (table["pooling"] == pooling)]


def plot_families(frame: pd.DataFrame, profile: str = "default", backbone: str = "resnet-18",
                  frames: int | None = None, pooling: str = "none"):
    """One panel per dataset: proxy top-1 per family (filled bar, 95% interval, seeds as dots; the profile's base
    frames unless `frames`) beside the paper's 16-frame number on the dataset the set stands for (hollow bar)."""
    frames = frames or base_frames(profile)
    apply_book_rc()
    summary, runs, ref = summarize(frame), usable(frame), paper_reference()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True, layout="constrained")
    width = 0.38
    for ax, dataset in zip(axes, DATASETS):
        for j, family in enumerate(FAMILIES):
            hit = _cell(summary, profile, dataset, backbone, family, frames, pooling)
            if not hit.empty:
                r = hit.iloc[0]
                ax.bar(j - width / 2, r["mean"], width, yerr=clipped_yerr([r["mean"]], [r["ci95"]]), capsize=3,
                       **bar_kwargs(family))
                seed_dots(ax, j - width / 2, _cell(runs, profile, dataset, backbone, family, frames, pooling)["top1"])
            paper = ref[(ref["section"] == SECTION[dataset]) & (ref["family"] == family)]
            if not paper.empty:
                ax.bar(j + width / 2, paper.iloc[0]["top1"], width, **bar_kwargs(family, "published"))
        ax.axhline(chance(dataset), color="0.5", linestyle=":", linewidth=1)
        ax.axhline(50, color="0.3", linestyle="--", linewidth=0.8)
        ax.text(3.55, 51, "order-blind ceiling" if dataset == "synth-something" else "the scene alone",
                fontsize=8, ha="right", va="bottom", color="0.3")
        ax.set_xticks(range(len(FAMILIES)), FAMILIES)
        ax.set_ylim(0, 102)
        ax.set_title(f"{dataset} (proxy) | {SECTION[dataset]} (published)")
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylabel("top-1 accuracy (%)")
    grammar_legend(fig, FAMILIES, sources=("this project", "published"))
    return fig


def plot_vs_flops(frame: pd.DataFrame, profile: str | None = None):
    """Mean top-1 (95% interval) against conv MACs per clip at the proxy's input, one panel per dataset; the paper's
    rows of the twin dataset in the panel below, at 224 px (their own FLOPs)."""
    apply_book_rc()
    summary = summarize(frame)
    if profile is not None:
        summary = summary[summary["profile"] == profile]
    paper = paper_table()
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), layout="constrained")
    for column, dataset in enumerate(DATASETS):
        ax = axes[0, column]
        sub = summary[summary["dataset"] == dataset]
        for r in sub.to_dict("records"):
            point(ax, r["conv_macs"] / 1e9, r["mean"], r["family"], r["frames"], pooling=r["pooling"] != "none",
                  yerr=clipped_yerr([r["mean"]], [r["ci95"]]))
        if not sub.empty:
            giga_log_axis(ax, sub["conv_macs"] / 1e9)
        ax.axhline(chance(dataset), color="0.5", linestyle=":", linewidth=1)
        _labels(ax, f"proxy: {dataset}", "conv GMACs per clip (32 px)")
        bx = axes[1, column]
        rows = paper[paper["section"] == SECTION[dataset]]
        for r in rows.to_dict("records"):
            point(bx, r["flops"] / 1e9, r["top1"], r["family"], r["frames"], "published",
                  pooling=r["pooling"] != "none")
        giga_log_axis(bx, rows["flops"] / 1e9)
        _labels(bx, f"published: {SECTION[dataset]}", "GFLOPs (conv MACs, 224 px)")
    frames = sorted(set(summary["frames"]) | set(paper["frames"]))
    grammar_legend(fig, FAMILIES, frames=frames, sources=("this project", "published"), pooling=True)
    return fig


def _labels(ax, title: str, xlabel: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("top-1 (%)")
    ax.grid(True, alpha=0.3)


def plot_vs_frames(frame: pd.DataFrame, profile: str | None = None, backbone: str = "resnet-18"):
    """Mean top-1 (95% interval, seeds as dots) against frames per family, one line per family and pooling; the
    paper's rows of the twin dataset in the panel below (solid ResNet-50, dotted Inception-v1)."""
    apply_book_rc()
    summary = summarize(frame)
    if profile is not None:
        summary = summary[summary["profile"] == profile]
    summary = summary[summary["backbone"] == backbone]
    runs = usable(frame)
    paper = paper_table()
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), layout="constrained")
    for column, dataset in enumerate(DATASETS):
        ax = axes[0, column]
        for (family, pooling), g in summary[summary["dataset"] == dataset].groupby(["family", "pooling"]):
            g = g.sort_values("frames")
            ax.plot(g["frames"], g["mean"], color=FAMILY_COLOURS[family], linewidth=1,
                    linestyle=backbone_linestyle(backbone))
            for r in g.to_dict("records"):
                point(ax, r["frames"], r["mean"], family, r["frames"], pooling=pooling != "none",
                      yerr=clipped_yerr([r["mean"]], [r["ci95"]]))
                seed_dots(ax, r["frames"], _cell(runs, r["profile"], dataset, backbone, family, r["frames"],
                                                 pooling)["top1"])
        ax.axhline(chance(dataset), color="0.5", linestyle=":", linewidth=1)
        _frames_axis(ax, f"proxy: {dataset}", [4, 8, 16, 32])
        bx = axes[1, column]
        for (_model, pooling), g in paper[paper["section"] == SECTION[dataset]].groupby(["model", "pooling"]):
            g = g.sort_values("frames")
            family = g["family"].iloc[0]
            bx.plot(g["frames"], g["top1"], color=FAMILY_COLOURS[family], linewidth=1,
                    linestyle=backbone_linestyle(g["backbone"].iloc[0]))
            for r in g.to_dict("records"):
                point(bx, r["frames"], r["top1"], family, r["frames"], "published", pooling=pooling != "none")
        _frames_axis(bx, f"published: {SECTION[dataset]}", [8, 16, 32, 64])
    grammar_legend(fig, FAMILIES, sources=("this project", "published"), pooling=True,
                   backbones=("ResNet", "Inception-v1"))
    return fig


def _frames_axis(ax, title: str, ticks: list[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlim(ticks[0] / 1.4, ticks[-1] * 1.4)
    _labels(ax, title, "frames per clip")


def plot_curves(frame: pd.DataFrame, runs: Iterable, profile: str = "default"):
    """Training loss per epoch of every run of a profile (validated once, at the end), one panel per dataset,
    coloured by family; a run at more frames is drawn dashed."""
    apply_book_rc()
    names = set(frame[frame["profile"] == profile]["name"]) if not frame.empty else set()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True, layout="constrained")
    for run in runs:
        exp = run.record.get("experiment") or {}
        hist = run.record.get("history") or []
        if exp.get("name") not in names or not hist:
            continue
        ax = axes[DATASETS.index(exp["dataset"])]
        ax.plot([h["epoch"] for h in hist], [h["train_loss"] for h in hist], alpha=0.6, marker=".",
                color=FAMILY_COLOURS[model_entry(exp["model"]).family],
                linestyle="-" if exp.get("frames") == min(frame["frames"]) else "--")
    for ax, dataset in zip(axes, DATASETS):
        ax.axhline(math.log(PROXY_DATA[dataset].num_classes), color="0.5", linestyle=":", linewidth=1)
        ax.set_ylim(bottom=0)
        integer_ticks(ax.xaxis)
        ax.set_title(dataset)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("training loss (cross-entropy)")
    grammar_legend(fig, FAMILIES)
    return fig
