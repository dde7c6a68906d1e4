"""The two published tables this book reproduces, kept verbatim beside their parsers.

`ibm_study.md` is the IBM study's results table and `mmaction_benchmark.md` MMAction2's early speed table, exactly
as the shared seeds hold them (a test checks the copies are identical).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class IbmRow:
    row: str
    dataset_section: str
    top1: float
    top5: float
    flops: int
    params: int
    epochs: int


@dataclass(frozen=True)
class MmactionRow:
    model: str
    dataset: str
    setting: str
    framework: str
    iter_time: float | None
    iter_time_std: float | None
    memory_mib: int | None


def _text(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text()


def _table_rows(text: str):
    """Yield (section heading, cells) for every data row of every markdown table in `text`."""
    section = ""
    for line in text.splitlines():
        if line.startswith("###"):
            section = line.lstrip("#").strip()
        if not line.startswith("|") or set(line.replace("|", "").strip()) <= set("-: "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        yield section, cells


def ibm_rows(text: str | None = None) -> list[IbmRow]:
    """The 28 rows of the IBM results table (SSv2 and Kinetics-400)."""
    rows = []
    for section, cells in _table_rows(text if text is not None else _text("ibm_study.md")):
        if cells[0] == "Model Name":
            continue
        name, top1, top5, flops, params, epochs = cells[:6]
        rows.append(IbmRow(name, section.replace("Dataset:", "").strip(), float(top1), float(top5),
                           int(flops.replace(",", "")), int(params.replace(",", "")), int(epochs)))
    return rows


_TIME = re.compile(r"^([\d.]+)\s*(?:\(([\d.]+)\))?$")


def mmaction_rows(text: str | None = None) -> list[MmactionRow]:
    """The rows of MMAction2's speed table; blank model cells repeat the model above, as the table means."""
    rows, model = [], ""
    for _, cells in _table_rows(text if text is not None else _text("mmaction_benchmark.md")):
        if cells[0] == "Model":
            continue
        model = cells[0] or model
        match = _TIME.match(cells[4])
        rows.append(MmactionRow(model, cells[1], cells[2], cells[3],
                                float(match.group(1)) if match else None,
                                float(match.group(2)) if match and match.group(2) else None,
                                int(cells[5]) if cells[5] else None))
    return rows
