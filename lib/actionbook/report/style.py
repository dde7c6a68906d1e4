"""The book's plot grammar, one for every chapter, so that a reader learns it once (book/intro.md states it):

- shape AND colour = family (TSN circle grey, TAM square blue, I3D triangle red, S3D diamond green);
- marker size = frames per clip;
- fill = where the number comes from: FILLED = this project's number (a proxy run, or a run reproducing the row);
  HOLLOW = published (the paper's number), always, on every panel;
- a black dot inside the marker = temporal pooling ("+tp");
- line style = backbone: solid ResNet (any depth), dotted Inception-v1;
- intervals are 95% intervals clipped to 0-100, with each seed as a small black dot.
"""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator, ScalarFormatter

FAMILIES = ("TSN", "TAM", "I3D", "S3D")
MARKERS = {"TSN": "o", "TAM": "s", "I3D": "^", "S3D": "D"}
FAMILY_COLOURS = {"TSN": "#7f7f7f", "TAM": "#1f77b4", "I3D": "#d62728", "S3D": "#2ca02c"}
# Categorical colours (matplotlib's tab10) for lines and bars that are neither a family nor a frame count.
LABEL_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"]
SHORT_BACKBONE = {"Inception-v1": "Inc", "ResNet-50": "R50"}
SOURCES = ("this project", "published")
# The smallest font on any figure (points): ticks and labels stay legible at the page width (about 800 px) for
# figures up to 10 inches wide.
SMALL_FONT = 9


def marker_points(frames) -> float:
    """Marker diameter (points) by frames per clip: 4 frames small, 64 frames large, log-spaced."""
    return 5 + 2.2 * np.log2(max(int(frames or 1), 1))


def backbone_linestyle(backbone: str) -> str:
    return ":" if "inception" in str(backbone).lower() else "-"


def point(ax, x, y, family: str, frames, source: str = "this project", pooling: bool = False, yerr=None,
          zorder: int = 3):
    """Draw one point in the book's grammar (see the module docstring); `yerr` (a half-width or a (lo, hi) pair)
    draws its interval, clipped to 0-100 by the caller with `clipped_yerr`."""
    if source not in SOURCES:
        raise ValueError(f"source {source!r}: expected one of {SOURCES}")
    colour = FAMILY_COLOURS.get(family, "0.3")
    face = colour if source == "this project" else "white"
    ax.errorbar([x], [y], yerr=yerr, marker=MARKERS.get(family, "o"), markersize=marker_points(frames),
                color=colour, markerfacecolor=face, markeredgecolor=colour, markeredgewidth=1.4,
                linestyle="", capsize=2 if yerr is not None else 0, zorder=zorder)
    if pooling:
        ax.plot([x], [y], marker="o", markersize=2.5, color="black", linestyle="", zorder=zorder + 1)


def bar_kwargs(family: str, source: str = "this project") -> dict:
    """`ax.bar(...)` keywords in the grammar: family colour, filled for this project, hollow for published."""
    if source not in SOURCES:
        raise ValueError(f"source {source!r}: expected one of {SOURCES}")
    colour = FAMILY_COLOURS.get(family, "0.3")
    return {"color": colour if source == "this project" else "white", "edgecolor": colour, "linewidth": 1.4}


def seed_dots(ax, x, values: Iterable[float]) -> None:
    """Each seed's value as a small black dot over its bar or interval."""
    values = list(values)
    ax.scatter([x] * len(values), values, s=10, color="black", zorder=5)


def clipped_yerr(means: Iterable[float], halfwidths: Iterable[float], lo: float = 0.0, hi: float = 100.0):
    """Asymmetric error bars for `errorbar(yerr=...)` whose ends stay inside [lo, hi] (accuracies: 0-100); a NaN
    half-width (one seed) draws no bar."""
    means = np.asarray(list(means), dtype=float)
    half = np.nan_to_num(np.asarray(list(halfwidths), dtype=float), nan=0.0)
    return np.vstack([means - np.maximum(means - half, lo), np.minimum(means + half, hi) - means])


def grammar_legend(target, families: Iterable[str] = FAMILIES, frames: Iterable[int] = (),
                   sources: Iterable[str] = (), pooling: bool = False, backbones: Iterable[str] = ()) -> None:
    """One legend for the grammar's channels a figure uses: families, frame sizes, sources, "+tp", backbones.
    On a Figure (made with layout="constrained") it goes below the panels, in rows, so that the panels keep the
    page's width; on an Axes, beside it."""
    handles = [Line2D([], [], marker=MARKERS[f], color=FAMILY_COLOURS[f], linestyle="", markersize=7, label=f)
               for f in families]
    handles += [Line2D([], [], marker="o", color="0.45", linestyle="", markersize=marker_points(f),
                       label=f"{f} frames") for f in sorted(set(frames))]
    names = {"this project": "this project (filled)", "published": "published (hollow)"}
    handles += [Line2D([], [], marker="o", color="0.3", markerfacecolor="0.3" if s == "this project" else "white",
                       markeredgewidth=1.4, linestyle="", markersize=7, label=names[s]) for s in sources]
    if pooling:
        handles.append(Line2D([], [], marker="o", color="black", linestyle="", markersize=2.5,
                              label="+tp: temporal pooling"))
    handles += [Line2D([], [], color="0.3", linestyle=backbone_linestyle(b), label=b) for b in backbones]
    if isinstance(target, plt.Figure):
        target.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 6), fontsize=SMALL_FONT,
                      frameon=False)
    else:
        target.legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=SMALL_FONT,
                      frameon=False)


def short_label(family_name: str, backbone_name: str) -> str:
    """"TAM-R50": a point's annotation, short enough to sit beside it."""
    return f"{family_name}-{SHORT_BACKBONE.get(backbone_name, backbone_name)}"


def integer_ticks(axis) -> None:
    """Ticks on whole numbers only (class indices, frame counts, epochs): never at half steps."""
    axis.set_major_locator(MaxNLocator(integer=True))


def giga_log_axis(ax, values) -> None:
    """A log x axis in G with plain tick labels at 1-2-5 steps covering `values` (in G), at most 8 of them so
    that they never overlap at the page width."""
    lo, hi = min(values), max(values)
    ticks = [m * 10 ** e for e in range(-3, 5) for m in (1, 2, 5) if lo / 1.6 <= m * 10 ** e <= hi * 1.6]
    if len(ticks) < 3:
        ticks = [m * 10 ** e for e in range(-3, 5) for m in (1, 1.5, 2, 3, 5, 7) if lo / 1.6 <= m * 10 ** e <= hi * 1.6]
    ticks = ticks[:: max(1, -(-len(ticks) // 8))]
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    fmt = ScalarFormatter()
    fmt.set_scientific(False)
    ax.xaxis.set_major_formatter(fmt)
    ax.set_xlim(lo / 1.35, hi * 1.35)


def apply_book_rc() -> None:
    """Font sizes legible at the page width; each figure function calls it before drawing."""
    plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": SMALL_FONT,
                         "ytick.labelsize": SMALL_FONT, "legend.fontsize": SMALL_FONT})
