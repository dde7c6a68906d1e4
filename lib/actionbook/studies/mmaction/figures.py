"""The speed chapter's figure: seconds per clip (s/iter divided by the batch per device) per case, one panel per
hardware, so that panels whose batch sizes differ still compare (report.style's colours and font sizes)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from actionbook.report.sources import framework_name
from actionbook.report.style import LABEL_COLOURS, SMALL_FONT, apply_book_rc


def speed_panels(published: pd.DataFrame, measured: pd.DataFrame) -> plt.Figure:
    """Seconds per training clip per case: the published MMAction2 numbers (8x V100, 2020, per GPU: MMAction2 and
    the other frameworks; `chapter.published_seed_cases`) and this project's trusted measurements (`speed_frame`
    of the records that pass the sanity checks), each hardware in its own panel."""
    apply_book_rc()
    cases = list(dict.fromkeys(list(published["case"]) + list(measured["case"] if not measured.empty else [])))
    hardware = sorted(measured["hardware"].unique()) if not measured.empty else []
    panels = 1 + len(hardware)
    fig, axes = plt.subplots(1, panels, figsize=(min(5.5 * panels + 1, 10), 0.42 * len(cases) + 1.8),
                             squeeze=False, layout="constrained")
    axes = axes[0]
    frameworks = list(dict.fromkeys(published["framework"]))
    colours = {f: LABEL_COLOURS[i % len(LABEL_COLOURS)] for i, f in enumerate(frameworks)}
    ypos = {c: i for i, c in enumerate(cases)}
    ax = axes[0]
    for case, group in published.groupby("case", sort=False):
        width = 0.8 / len(group)
        for j, r in enumerate(group.to_dict("records")):
            ax.barh(ypos[case] - 0.4 + width * (j + 0.5), r["s_iter"] / r["batch"], height=width,
                    color=colours[r["framework"]])
    ax.set_title("published: 1 of 8x V100 32GB (2020)")
    fig.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=colours[f]) for f in frameworks],
               labels=[framework_name(f) for f in frameworks], fontsize=SMALL_FONT, loc="outside lower center",
               ncol=len(frameworks), frameon=False)
    for ax, hw in zip(axes[1:], hardware):
        sub = measured[measured["hardware"] == hw]
        ax.barh([ypos[c] for c in sub["case"]], sub["mean"] / sub["batch"], xerr=sub["std"] / sub["batch"],
                height=0.6, color="#444444", capsize=2)
        sizes = ", ".join(sorted({f"{s} px" for s in sub["input_size"]}))
        ax.set_title(f"ActionBook, measured: {hw} ({sizes})")
    for ax in axes:
        ax.set_yticks(range(len(cases)), cases, fontsize=SMALL_FONT)
        ax.set_ylim(len(cases) - 0.5, -0.5)
        ax.set_xlabel("seconds per training clip (s/iter ÷ batch per device)")
        ax.grid(True, axis="x", alpha=0.3)
    return fig
