"""The IBM study's results table (Chen et al., CVPR 2021), verbatim in published.md: 28 rows of SSv2 and
Kinetics-400 with top-1, top-5, FLOPs (convolution multiply-accumulates), parameters and epochs."""

from __future__ import annotations

from dataclasses import dataclass

from actionbook.studies.tables import published_text, table_rows


@dataclass(frozen=True)
class IbmRow:
    row: str
    dataset_section: str
    top1: float
    top5: float
    flops: int
    params: int
    epochs: int



def ibm_rows(text: str | None = None) -> list[IbmRow]:
    """The 28 rows of the IBM results table (SSv2 and Kinetics-400)."""
    rows = []
    for section, cells in table_rows(text if text is not None else published_text(__package__)):
        if cells[0] == "Model Name":
            continue
        name, top1, top5, flops, params, epochs = cells[:6]
        rows.append(IbmRow(name, section.replace("Dataset:", "").strip(), float(top1), float(top5),
                           int(flops.replace(",", "")), int(params.replace(",", "")), int(epochs)))
    return rows
