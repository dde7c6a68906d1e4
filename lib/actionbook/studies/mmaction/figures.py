"""The speed chapter's figure: seconds per iteration per case, one panel per hardware (report.style's colours)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from actionbook.report.style import LABEL_COLOURS


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
