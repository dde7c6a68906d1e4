"""The IBM chapter's figures: accuracy against FLOPs and against frames, in the book's grammar (report.style):
shape and colour = family, size = frames, hollow = published, filled = reproduced, a dot = temporal pooling, line
style = backbone."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from actionbook.report.style import (
    FAMILY_COLOURS,
    SMALL_FONT,
    apply_book_rc,
    backbone_linestyle,
    giga_log_axis,
    grammar_legend,
    point,
    short_label,
)
from actionbook.studies.ibm.rows import SECTION_SHORT, SECTIONS


def _metric_label(metric: str) -> str:
    return f"{'top-1' if metric == 'top1' else 'top-5'} accuracy (%)"


def _spread(ys: list[float], gap: float) -> list[float]:
    """Label heights at least `gap` apart, each as close to its point as that allows (labels never collide)."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    out = list(ys)
    for prev, i in zip(order, order[1:]):
        out[i] = max(out[i], out[prev] + gap)
    return out


def _model_lines(ax, pub: pd.DataFrame, x: str, metric: str) -> None:
    """Published points of one panel (hollow), joined per model (line style = backbone)."""
    for _, group in pub.groupby("label"):
        group = group.sort_values("frames")
        fam, backbone = group["family"].iloc[0], group["backbone"].iloc[0]
        ax.plot(group[x], group[metric], color=FAMILY_COLOURS[fam], linestyle=backbone_linestyle(backbone),
                linewidth=1, zorder=2)
        for r in group.to_dict("records"):
            point(ax, r[x], r[metric], fam, r["frames"], "published", pooling=isinstance(r["temporal_pooling"], str))


def _reproduced(ax, rep: pd.DataFrame | None, section: str, x: str, metric: str) -> None:
    """Reproduced points (filled) joined by a thin dotted line to their published point."""
    if rep is None or rep.empty:
        return
    for r in rep[rep["section"] == section].to_dict("records"):
        y = r[f"reproduced_{metric}"]
        ax.plot([r[x]] * 2, [r[metric], y], color="0.5", linewidth=0.8, linestyle=":", zorder=2)
        point(ax, r[x], y, r["family"], r["frames"], "this project", pooling=isinstance(r["temporal_pooling"], str),
              zorder=4)


def accuracy_vs_flops(published: pd.DataFrame, reproduced: pd.DataFrame | None = None,
                      metric: str = "top1") -> plt.Figure:
    """Accuracy against conv MACs per clip, one panel per dataset; each model's 16 and 64-frame rows joined and
    labelled once, at its right end.

    `published` is `rows.published_ibm()`; `reproduced` the rows of `chapter.ibm_status()` that carry a number
    from a run on the real dataset.
    """
    apply_book_rc()
    published = published.assign(gflops=published["flops"] / 1e9)
    rep = None if reproduced is None else reproduced.assign(gflops=reproduced["flops"] / 1e9)
    fig, axes = plt.subplots(1, len(SECTIONS), figsize=(10, 5.4), layout="constrained")
    for ax, section in zip(axes, SECTIONS):
        pub = published[published["section"] == section]
        _model_lines(ax, pub, "gflops", metric)
        _reproduced(ax, rep, section, "gflops", metric)
        ends = pub.sort_values("frames").groupby("label").tail(1)
        ys = _spread(list(ends[metric]), gap=0.045 * (pub[metric].max() - pub[metric].min() + 1))
        for r, y in zip(ends.to_dict("records"), ys):
            tp = "+tp" if isinstance(r["temporal_pooling"], str) else ""
            ax.annotate(short_label(r["family"], r["backbone"]) + tp, (r["gflops"], r[metric]),
                        xytext=(r["gflops"] * 1.4, y),
                        fontsize=SMALL_FONT, va="center", color=FAMILY_COLOURS[r["family"]])
        giga_log_axis(ax, list(pub["gflops"]) + [pub["gflops"].max() * 3.2])
        _finish_panel(ax, section, "conv MACs per clip at 224x224 (G)", metric)
    _legend(fig, published, rep)
    return fig


def _finish_panel(ax, section: str, xlabel: str, metric: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(_metric_label(metric))
    ax.set_title(SECTION_SHORT[section])
    ax.grid(True, alpha=0.3)


def _legend(fig, published: pd.DataFrame, reproduced: pd.DataFrame | None) -> None:
    """The grammar's legend; "this project" only when a reproduced number is drawn."""
    sources = ["published"] + (["this project"] if reproduced is not None and not reproduced.empty else [])
    grammar_legend(fig, frames=sorted(published["frames"].unique()), sources=sources, pooling=True,
                   backbones=("ResNet-50", "Inception-v1"))


def accuracy_vs_frames(published: pd.DataFrame, reproduced: pd.DataFrame | None = None,
                       metric: str = "top1") -> plt.Figure:
    """Accuracy against the number of frames, one line per model (family + backbone), one panel per dataset."""
    apply_book_rc()
    fig, axes = plt.subplots(1, len(SECTIONS), figsize=(10, 5.4), layout="constrained")
    for ax, section in zip(axes, SECTIONS):
        pub = published[published["section"] == section]
        _model_lines(ax, pub, "frames", metric)
        _reproduced(ax, reproduced, section, "frames", metric)
        ax.set_xscale("log", base=2)
        frames = sorted(pub["frames"].unique())
        ax.set_xticks(frames, [str(f) for f in frames])
        ax.minorticks_off()
        ax.set_xlim(min(frames) / 1.5, max(frames) * 1.5)
        _finish_panel(ax, section, "frames per clip", metric)
    _legend(fig, published, reproduced)
    return fig
