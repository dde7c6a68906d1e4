"""The book's plot style, the same in every chapter: marker = family, colour = frames, size = parameters; published
numbers filled, reproduced ones hollow with a black edge."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

# One marker per family of the IBM study, in the order of the book's marker legend.
MARKERS = {"TSN": "o", "TAM": "s", "I3D": "^", "S3D": "D"}
FRAME_COLOURS = {4: "#8c564b", 8: "#2ca02c", 16: "#1f77b4", 32: "#9467bd", 64: "#ff7f0e"}
# Categorical colours (matplotlib's tab10) for lines and bars that are neither a family nor a frame count.
LABEL_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"]
SHORT_BACKBONE = {"Inception-v1": "Inc", "ResNet-50": "R50"}


def frame_colour(frames) -> str:
    if frames in FRAME_COLOURS:
        return FRAME_COLOURS[frames]
    return LABEL_COLOURS[int(frames or 0) % len(LABEL_COLOURS)]


def marker_size(params) -> float:
    """Marker area by parameter count (millions), so that 5M and 47M stay distinguishable."""
    return 25 + 4.5 * (params or 0) / 1e6


def legends(ax, frames: list[int], params_examples=(5e6, 25e6, 47e6), reproduced: bool = False) -> None:
    """One legend beside `ax` for the whole encoding: the families' markers, the colours of `frames`, three marker
    sizes, and (with `reproduced`) hollow = reproduced, filled = published."""
    fam = [Line2D([], [], marker=m, color="0.4", linestyle="", markersize=7, label=f) for f, m in MARKERS.items()]
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


def short_label(family_name: str, backbone_name: str) -> str:
    """"TAM-R50": a point's annotation, short enough to sit beside it."""
    return f"{family_name}-{SHORT_BACKBONE.get(backbone_name, backbone_name)}"


def giga_log_axis(ax, values) -> None:
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
