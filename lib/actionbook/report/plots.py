"""The book's figures (matplotlib): accuracy against FLOPs and frames, the proxy study, training speed.

Each function takes the frames built by `actionbook.report.tables` and returns a matplotlib Figure; the chapters
display it (`%matplotlib inline`). Encodings are fixed across the book: marker = family, colour = frames,
size = parameters; published numbers are filled, reproduced ones hollow with a black edge.
"""

from __future__ import annotations

import matplotlib

matplotlib.rcParams.setdefault("figure.dpi", 100)

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter  # noqa: E402

from actionbook.report.tables import FAMILIES, SECTION_SHORT, SECTIONS  # noqa: E402

MARKERS = {"TSN": "o", "TAM": "s", "I3D": "^", "S3D": "D"}
FRAME_COLOURS = {4: "#8c564b", 8: "#2ca02c", 16: "#1f77b4", 32: "#9467bd", 64: "#ff7f0e"}
LABEL_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"]


def frame_colour(frames) -> str:
    if frames in FRAME_COLOURS:
        return FRAME_COLOURS[frames]
    return LABEL_COLOURS[int(frames or 0) % len(LABEL_COLOURS)]


def marker_size(params) -> float:
    """Marker area by parameter count (millions), so that 5M and 47M stay distinguishable."""
    return 25 + 4.5 * (params or 0) / 1e6


def _legends(ax, frames: list[int], params_examples=(5e6, 25e6, 47e6), reproduced: bool = False) -> None:
    fam = [Line2D([], [], marker=MARKERS[f], color="0.4", linestyle="", markersize=7, label=f) for f in FAMILIES]
    col = [Line2D([], [], marker="o", color=frame_colour(f), linestyle="", markersize=7, label=f"{f} frames")
           for f in sorted(frames)]
    size = [plt.scatter([], [], s=marker_size(p), color="0.75", edgecolor="0.4", label=f"{p / 1e6:.0f}M params")
            for p in params_examples]
    extra = []
    if reproduced:
        extra = [Line2D([], [], marker="o", markerfacecolor="none", markeredgecolor="black", linestyle="",
                        markersize=7, label="reproduced (this project)"),
                 Line2D([], [], marker="o", color="0.4", linestyle="", markersize=7, label="published")]
    ax.legend(handles=fam + col + size + extra, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8,
              frameon=False)


SHORT_BACKBONE = {"Inception-v1": "Inc", "ResNet-50": "R50"}


def short_label(family_name: str, backbone_name: str) -> str:
    return f"{family_name}-{SHORT_BACKBONE.get(backbone_name, backbone_name)}"


def _giga_log_axis(ax, values) -> None:
    """A log x axis in G with plain tick labels at 1-2-5 steps covering `values` (in G)."""
    lo, hi = min(values), max(values)
    ticks = [m * 10 ** e for e in range(-3, 5) for m in (1, 2, 5) if lo / 1.6 <= m * 10 ** e <= hi * 1.6]
    if len(ticks) < 3:
        ticks = [m * 10 ** e for e in range(-3, 5) for m in (1, 1.5, 2, 3, 5, 7) if lo / 1.6 <= m * 10 ** e <= hi * 1.6]
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    fmt = ScalarFormatter()
    fmt.set_scientific(False)
    ax.xaxis.set_major_formatter(fmt)
    ax.set_xlim(lo / 1.35, hi * 1.35)


def accuracy_vs_flops(published: pd.DataFrame, reproduced: pd.DataFrame | None = None,
                      metric: str = "top1") -> plt.Figure:
    """Top-1 against conv MACs per clip, one panel per dataset: marker family, size params, colour frames.

    `published` is `tables.published_ibm()`; `reproduced` the rows of `tables.ibm_status()` that carry a number
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
        _giga_log_axis(ax, list(pub["flops"] / 1e9))
        ax.set_xlabel("conv MACs per clip at 224x224, G (the IBM table's FLOPs)")
        ax.set_ylabel(f"{'top-1' if metric == 'top1' else 'top-5'} accuracy (%)")
        ax.set_title(f"{section}")
        ax.grid(True, which="both", alpha=0.3)
    _legends(axes[-1], sorted(published["frames"].unique()), reproduced=has_reproduced)
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








def speed_panels(published: pd.DataFrame, measured: pd.DataFrame) -> plt.Figure:
    """Seconds per iteration per case, one panel per hardware: the published MMAction2 numbers (8x V100, 2020;
    MMAction2 and the other frameworks) and this project's measurements, each device in its own panel."""
    cases = list(dict.fromkeys(list(published["case"]) + list(measured["case"] if not measured.empty else [])))
    hardware = sorted(measured["hardware"].unique()) if not measured.empty else []
    panels = 1 + len(hardware)
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels + 1, 0.42 * len(cases) + 1.8), squeeze=False)
    axes = axes[0]
    frameworks = list(dict.fromkeys(published["framework"]))
    colours = {f: LABEL_COLOURS[i % len(LABEL_COLOURS)] for i, f in enumerate(frameworks)}
    ypos = {c: i for i, c in enumerate(cases)}
    ax = axes[0]
    pub = published[published["s_iter"].notna()]
    for case, group in pub.groupby("case", sort=False):
        width = 0.8 / len(group)
        for j, r in enumerate(group.to_dict("records")):
            ax.barh(ypos[case] - 0.4 + width * (j + 0.5), r["s_iter"], height=width, color=colours[r["framework"]])
    ax.set_title("published: 8x V100 32GB (2020)", fontsize=10)
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=colours[f]) for f in frameworks], labels=frameworks,
              fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(frameworks), frameon=False)
    for ax, hw in zip(axes[1:], hardware):
        sub = measured[measured["hardware"] == hw]
        ax.barh([ypos[c] for c in sub["case"]], sub["mean"], xerr=sub["std"], height=0.6, color="#444444",
                capsize=2)
        batch = ", ".join(sorted({f"batch {b} @ {s} px" for b, s in zip(sub["batch"], sub["input_size"])}))
        ax.set_title(f"ActionBook, measured: {hw}\n({batch})", fontsize=9)
    for ax in axes:
        ax.set_yticks(range(len(cases)), cases, fontsize=8)
        ax.set_ylim(len(cases) - 0.5, -0.5)
        ax.set_xlabel("s / iteration")
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle("Training speed per case; each panel is one hardware (do not compare heights across panels)")
    fig.tight_layout()
    return fig


def compute_bars(estimates: pd.DataFrame, gpus: int = 8) -> plt.Figure:
    """Estimated days per row on `gpus` V100-equivalent GPUs, by dataset."""
    fig, axes = plt.subplots(1, len(SECTIONS), figsize=(12, 5.2))
    for ax, section in zip(axes, SECTIONS):
        sub = estimates[estimates["section"] == section].sort_values("days_on_gpus")
        names = [r.replace("kinetics400-", "").replace("st2stv2-", "") for r in sub["row"]]
        ax.barh(names, sub["days_on_gpus"], color=[LABEL_COLOURS[0] if t == "2D" else LABEL_COLOURS[1]
                                                    for t in sub["throughput"]])
        ax.tick_params(axis="y", labelsize=6)
        ax.set_xlabel(f"days on {gpus} GPUs (V100-equivalent)")
        ax.set_title(SECTION_SHORT[section])
        ax.grid(True, axis="x", alpha=0.3)
    axes[-1].legend(handles=[plt.Rectangle((0, 0), 1, 1, color=LABEL_COLOURS[0]),
                             plt.Rectangle((0, 0), 1, 1, color=LABEL_COLOURS[1])],
                    labels=["2D throughput (from TSN)", "3D throughput (from I3D)"], fontsize=7, loc="lower right")
    fig.suptitle("Estimated training time per row, from FLOPs, epochs and dataset size")
    fig.tight_layout()
    return fig
