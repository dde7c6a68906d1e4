"""MMAction2's early training-speed table (docs/benchmark.md, 2020-07-01), verbatim in published.md: seconds per
iteration (std) and peak GPU memory of each setting across frameworks, on 8x V100."""

from __future__ import annotations

import re
from dataclasses import dataclass

from actionbook.studies.tables import published_text, table_rows


@dataclass(frozen=True)
class MmactionRow:
    model: str
    dataset: str
    setting: str
    framework: str
    iter_time: float | None
    iter_time_std: float | None
    memory_mib: int | None



_TIME = re.compile(r"^([\d.]+)\s*(?:\(([\d.]+)\))?$")


def mmaction_rows(text: str | None = None) -> list[MmactionRow]:
    """The rows of MMAction2's speed table; blank model cells repeat the model above, as the table means."""
    rows, model = [], ""
    for _, cells in table_rows(text if text is not None else published_text(__package__)):
        if cells[0] == "Model":
            continue
        model = cells[0] or model
        match = _TIME.match(cells[4])
        rows.append(MmactionRow(model, cells[1], cells[2], cells[3],
                                float(match.group(1)) if match else None,
                                float(match.group(2)) if match and match.group(2) else None,
                                int(cells[5]) if cells[5] else None))
    return rows
