"""The IBM chapter's figures: accuracy against FLOPs and against frames, in the book's style (report.style)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D

from actionbook.report.style import (
    LABEL_COLOURS,
    MARKERS,
    frame_colour,
    giga_log_axis,
    legends,
    marker_size,
    short_label,
)
from actionbook.studies.ibm.rows import SECTIONS


def accuracy_vs_flops(published: pd.DataFrame, reproduced: pd.DataFrame | None = None,
                      metric: str = "top1") -> plt.Figure:
    """Top-1 against conv MACs per clip, one panel per dataset: marker family, size params, colour frames.

    `published` is `rows.published_ibm()`; `reproduced` the rows of `chapter.ibm_status()` that carry a number
    from a run on the real dataset (drawn hollow, joined to their published point).
    """
    fig, axes = plt.subplots(1, len(SECTIONS), figsize=(12, 4.6), sharey=False)
    has_reproduced = reproduced is not None and not reproduced.empty
    for ax, section in zip(axes, SECTIONS):
        pub = published[published["section"] == section]
        for r in pub.to_dict("records"):
            ax.scatter(r["flops"] / 1e9, r[metric], marker=MARKERS[r["family"]], s=marker_size(r["params"]),
                       color=frame_colour(r["frames"]), edgecolor="white", linewidth=0.6, alpha=0.9, zorder=3)
            ax.annotate(short_label(r["family"], r["backbone"]), (r["flops"] / 1e9, r[metric]), fontsize=6.5,
                        xytext=(6, -3), textcoords="offset points", color="0.3")
        if has_reproduced:
            for r in reproduced[reproduced["section"] == section].to_dict("records"):
                y = r[f"reproduced_{metric}"]
                ax.scatter(r["flops"] / 1e9, y, marker=MARKERS[r["family"]], s=marker_size(r["params"]),
                           facecolor="none", edgecolor="black", linewidth=1.2, zorder=4)
                ax.plot([r["flops"] / 1e9] * 2, [r[metric], y], color="0.5", linewidth=0.8, linestyle=":")
        giga_log_axis(ax, list(pub["flops"] / 1e9))
        ax.set_xlabel("conv MACs per clip at 224x224, G (the IBM table's FLOPs)")
        ax.set_ylabel(f"{'top-1' if metric == 'top1' else 'top-5'} accuracy (%)")
        ax.set_title(f"{section}")
        ax.grid(True, which="both", alpha=0.3)
    legends(axes[-1], sorted(published["frames"].unique()), reproduced=has_reproduced)
    fig.suptitle("Accuracy against FLOPs: published" + (" and reproduced" if has_reproduced else
                                                         " (no full-scale run recorded yet)"))
    fig.tight_layout()
    return fig


def accuracy_vs_frames(published: pd.DataFrame, reproduced: pd.DataFrame | None = None,
                       metric: str = "top1") -> plt.Figure:
    """Top-1 against the number of frames, one line per model (family + backbone), one panel per dataset."""
    fig, axes = plt.subplots(1, len(SECTIONS), figsize=(12, 4.6))
    labels = sorted(published["label"].unique())
    colours = {label: LABEL_COLOURS[i % len(LABEL_COLOURS)] for i, label in enumerate(labels)}
    has_reproduced = reproduced is not None and not reproduced.empty
    for ax, section in zip(axes, SECTIONS):
        pub = published[published["section"] == section]
        for label, group in pub.groupby("label"):
            group = group.sort_values("frames")
            fam = group["family"].iloc[0]
            ax.plot(group["frames"], group[metric], marker=MARKERS[fam], color=colours[label], label=label)
            if has_reproduced:
                rep = reproduced[(reproduced["section"] == section) & (reproduced["label"] == label)]
                if not rep.empty:
                    rep = rep.sort_values("frames")
                    ax.plot(rep["frames"], rep[f"reproduced_{metric}"], marker=MARKERS[fam], color=colours[label],
                            linestyle="--", markerfacecolor="none")
        ax.set_xscale("log", base=2)
        frames = sorted(pub["frames"].unique())
        ax.set_xticks(frames, [str(f) for f in frames])
        ax.set_xlim(min(frames) / 1.5, max(frames) * 1.5)
        ax.set_xlabel("frames per clip")
        ax.set_ylabel(f"{'top-1' if metric == 'top1' else 'top-5'} accuracy (%)")
        ax.set_title(section)
        ax.grid(True, alpha=0.3)
    handles = [Line2D([], [], color=colours[lb], marker=MARKERS[lb.split()[0]], label=lb) for lb in labels]
    if has_reproduced:
        handles.append(Line2D([], [], color="0.3", linestyle="--", marker="o", markerfacecolor="none",
                              label="reproduced (this project)"))
    axes[-1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    fig.suptitle("Accuracy against frames, per model: published" + (" (solid) and reproduced (dashed)"
                                                                     if has_reproduced else ""))
    fig.tight_layout()
    return fig
