"""The full-scale chapter's figure: each row's cost as a range, from the row alone to the row with its fine-tuning
chain, in days on 8 GPUs, one panel per dataset (report.style: colour = family)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.patches import Patch

from actionbook.report.style import FAMILIES, FAMILY_COLOURS, SMALL_FONT, apply_book_rc, short_label
from actionbook.studies.ibm.rows import SECTION_SHORT, SECTIONS, published_ibm


def cost_ranges(chains: pd.DataFrame, gpus: int = 8) -> plt.Figure:
    """Days on `gpus` GPUs per row: a bar from the row alone (dark) to the row with its chain (light)."""
    apply_book_rc()
    info = published_ibm().set_index("row")
    fig, axes = plt.subplots(1, len(SECTIONS), figsize=(10, 6.4), sharex=True)
    for ax, section in zip(axes, SECTIONS):
        sub = chains[chains["section"] == section].sort_values("hours_chain")
        labels, y = [], range(len(sub))
        for i, r in zip(y, sub.to_dict("records")):
            row = info.loc[r["row"]]
            colour = FAMILY_COLOURS[row["family"]]
            ax.barh(i, r["hours_chain"] / 24 / gpus, color=colour, alpha=0.35, height=0.7)
            ax.barh(i, r["hours_alone"] / 24 / gpus, color=colour, height=0.7)
            tp = "+tp" if isinstance(row["temporal_pooling"], str) else ""
            labels.append(f"{short_label(row['family'], row['backbone'])}{tp} f{row['frames']}")
        ax.set_yticks(list(y), labels, fontsize=SMALL_FONT)
        ax.set_xlabel(f"days on {gpus} V100 GPUs")
        ax.set_title(SECTION_SHORT[section])
        ax.grid(True, axis="x", alpha=0.3)
    handles = [Patch(color=FAMILY_COLOURS[f], label=f) for f in FAMILIES]
    handles += [Patch(color="0.3", label="the row alone"), Patch(color="0.3", alpha=0.35, label="with its chain")]
    axes[-1].legend(handles=handles, loc="lower right", fontsize=SMALL_FONT)
    fig.tight_layout()
    return fig
