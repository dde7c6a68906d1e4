"""Reading the published tables: every study keeps its paper's table verbatim as `published.md` beside its code
(a test checks the copies equal the shared seeds); this yields their rows."""

from __future__ import annotations

from importlib import resources


def published_text(study_package: str) -> str:
    """The verbatim table of a study (`actionbook.studies.ibm` -> its published.md)."""
    return resources.files(study_package).joinpath("published.md").read_text()


def table_rows(text: str):
    """Yield (section heading, cells) for every data row of every markdown table in `text`."""
    section = ""
    for line in text.splitlines():
        if line.startswith("###"):
            section = line.lstrip("#").strip()
        if not line.startswith("|") or set(line.replace("|", "").strip()) <= set("-: "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        yield section, cells
