"""The run index every chapter reads: one `Run` per run folder under the book's runs (its record and the executed
notebook beside it), a MyST link to that notebook, and the runs chapter's table."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from actionbook.models import find_model, model_label
from actionbook.paths import book_dir, runs_dir
from actionbook.report.accuracy import EpochAccuracy, epoch_accuracy
from actionbook.report.markdown import badge_run, escape_role, fmt_g, fmt_int, markdown_table
from actionbook.runs import RECORD_FILE


@dataclass
class Run:
    """One run folder: its record and the executed notebook beside it."""

    folder: Path
    record: dict
    notebook: Path | None = None
    book: Path = field(default_factory=book_dir)

    @property
    def experiment(self) -> dict:
        return self.record.get("experiment") or {}

    @property
    def name(self) -> str:
        return self.experiment.get("name") or self.folder.name

    @property
    def status(self) -> str:
        return self.record.get("status", "unknown")

    @property
    def dataset(self) -> str:
        return self.experiment.get("dataset", "")

    @property
    def model(self) -> str:
        return self.experiment.get("model", "")

    @property
    def frames(self) -> int | None:
        return self.experiment.get("frames")

    @property
    def kind(self) -> str:
        """proxy (synthetic data), mmaction (a speed-table network) or ibm (a full-scale dataset)."""
        if self.dataset.startswith("synth-"):
            return "proxy"
        entry = find_model(self.model)
        return "mmaction" if entry is not None and entry.source == "mmaction" else "ibm"

    @property
    def docname(self) -> str | None:
        """The executed notebook's page in the book (absolute docname, for {doc} links), if it is in the book."""
        if self.notebook is None:
            return None
        try:
            rel = self.notebook.relative_to(self.book.parent)
        except ValueError:
            return None
        return "/" + rel.with_suffix("").as_posix()

    def metric(self, split: str, key: str):
        return ((self.record.get("metrics") or {}).get(split) or {}).get(key)

    def protocol(self, split: str = "val") -> str:
        proto = ((self.record.get("metrics") or {}).get(split) or {}).get("protocol") or {}
        if not proto:
            return ""
        return (f"{proto.get('clips', 1)} clip x {proto.get('crops', 1)} crop, {proto.get('frames')} frames, "
                f"{proto.get('input_size')} px")

    @property
    def epochs_done(self) -> int:
        return len(self.record.get("history") or [])

    @property
    def hardware(self) -> str:
        return hardware_label(self.record.get("provenance") or {})

    @property
    def complexity(self) -> dict:
        return self.record.get("complexity") or {}

    def link(self, text: str | None = None) -> str:
        """A MyST link to the run's executed notebook (checked by Sphinx); without one, to its record (a download
        the book carries: a run trained without its notebook stays reachable), or the plain name outside the book."""
        text = text or self.name
        if self.docname is not None:
            return "{doc}" + f"`{escape_role(text)} <{self.docname}>`"
        try:
            record = (self.folder / RECORD_FILE).resolve().relative_to(self.book.parent.resolve())
        except ValueError:
            return f"`{text}` (record only)"
        return "{download}" + f"`{escape_role(text)} (record) </{record.as_posix()}>`"


def hardware_label(provenance: dict) -> str:
    """'1x NVIDIA H100 80GB HBM3' or 'CPU: Intel Xeon ... (2 threads)', with the process count when above one."""
    hw = provenance.get("hardware") or {}
    world = provenance.get("world_size") or 1
    if hw.get("gpu"):
        count = hw.get("gpu_count") or 1
        used = min(world, count) if world else count
        label = f"{used}x {hw['gpu']}"
    elif hw:
        label = f"CPU: {hw.get('cpu', '?')} ({hw.get('torch_threads', '?')} threads)"
        if world > 1:
            label += f", {world} processes"
    else:
        label = "unknown hardware"
    return label


def find_notebook(folder: Path) -> Path | None:
    """The executed notebook of a run folder: train.ipynb if there, else the only/first *.ipynb."""
    preferred = folder / "train.ipynb"
    if preferred.is_file():
        return preferred
    found = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    return found[0] if found else None


def load_runs(root: str | Path | None = None, book: str | Path | None = None) -> list[Run]:
    """Every run folder under `root` (default book/runs) that holds a readable record.json, sorted by name."""
    root = Path(root) if root is not None else runs_dir()
    book = Path(book) if book is not None else (root.parent if root.name == "runs" else book_dir())
    runs = []
    for path in sorted(root.glob(f"**/{RECORD_FILE}")):
        if any(part.startswith(".") or part in ("checkpoints", "ckpt") for part in path.relative_to(root).parts):
            continue
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(record, dict):
            continue
        runs.append(Run(path.parent, record, find_notebook(path.parent), book))
    return sorted(runs, key=lambda r: (r.name, str(r.folder)))


def _accuracy_cell(acc: EpochAccuracy | None, dataset: dict) -> str:
    """The book's accuracy convention (report.accuracy); top-5 left out with 5 classes or fewer (100% by
    construction)."""
    if acc is None:
        return "-"
    classes = (dataset.get("val") or dataset.get("train") or {}).get("num_classes")
    top5 = "" if (classes and classes <= 5) or acc.best_top5 is None else f" / {acc.best_top5:.2f}"
    return acc.text() + top5


def runs_markdown(runs: Iterable[Run], empty: str = "No run recorded yet.") -> str:
    """A table of runs: link to the notebook, model, data, status, accuracy under its protocol, cost, hardware."""
    lines = []
    for r in runs:
        c = r.complexity
        acc = epoch_accuracy(r.record)
        test = r.metric("test", "top1")
        lines.append({
            "Run": r.link(r.name),
            "Model / data": (f"{model_label(r.model)} (`{r.model}`); {r.dataset}, {r.frames} frames at "
                             f"{r.experiment.get('input_size')} px"),
            "Status": badge_run(r.status) + (f" {r.epochs_done}/{r.experiment.get('epochs')} epochs"
                                             if r.experiment.get("epochs") else ""),
            "Val top-1, best epoch (final) / top-5": _accuracy_cell(acc, r.record.get("dataset") or {}),
            "Test top-1": f"{test:.2f} ({r.protocol('test')})" if test is not None else "-",
            "Params / conv MACs (at its input)": f"{fmt_int(c.get('params'))} / {fmt_g(c.get('conv_macs'))}",
            "Hardware": r.hardware,
        })
    if not lines:
        return f"*{empty}*"
    return markdown_table(pd.DataFrame(lines))
