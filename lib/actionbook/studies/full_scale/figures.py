"""The full-scale chapter's figure: estimated days per row, by dataset."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from actionbook.report.style import LABEL_COLOURS
from actionbook.studies.ibm.rows import SECTION_SHORT, SECTIONS


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
