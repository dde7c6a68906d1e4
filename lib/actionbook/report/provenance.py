"""The provenance chapter: where each run and this build of the book come from (commit, versions, hardware)."""

from __future__ import annotations

import importlib.metadata as md
import json
import platform
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from actionbook.measure.environment import cpu_model, git_state
from actionbook.paths import project_root
from actionbook.report.catalog import Run
from actionbook.report.markdown import badge_run, fmt_duration, markdown_table


def notebook_execution(path: Path | None) -> dict:
    """Execution time and kernel of an executed notebook (papermill's metadata, else the cells' timings)."""
    if path is None or not path.is_file():
        return {}
    try:
        nb = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    meta = nb.get("metadata") or {}
    pm = meta.get("papermill") or {}
    out = {"kernel": (meta.get("kernelspec") or {}).get("name"), "duration_s": pm.get("duration"),
           "start": pm.get("start_time"), "end": pm.get("end_time"), "papermill": pm.get("version")}
    if out["duration_s"] is None:
        total = 0.0
        for cell in nb.get("cells", []):
            cpm = (cell.get("metadata") or {}).get("papermill") or {}
            if cpm.get("duration") is not None:
                total += cpm["duration"]
        out["duration_s"] = total or None
    return out


VERSION_KEYS = ("python", "torch", "cuda", "cudnn", "torchvision", "decord", "numpy")


def provenance_markdown(runs: Iterable[Run]) -> str:
    lines = []
    for r in runs:
        prov = r.record.get("provenance") or {}
        git = prov.get("git") or {}
        ex = notebook_execution(r.notebook)
        versions = prov.get("versions") or {}
        commit = (git.get("commit") or "?")[:10] + (" (dirty)" if git.get("dirty") else "")
        lines.append({
            "Run": r.link(r.name),
            "Status": badge_run(r.status),
            "Notebook executed": fmt_duration(ex.get("duration_s")) + (f", {ex['start'][:19]}" if ex.get("start")
                                                                        else ""),
            "Training": fmt_duration((r.record.get("timings") or {}).get("train_s")),
            "Hardware": r.hardware,
            "Host": prov.get("host") or "-",
            "Git commit": f"`{commit}`",
            "Versions": ", ".join(f"{k} {versions[k]}" for k in VERSION_KEYS if versions.get(k)),
            "Seed": prov.get("seed") if prov.get("seed") is not None else "-",
        })
    if not lines:
        return "*No run recorded yet.*"
    return markdown_table(pd.DataFrame(lines))


def build_environment() -> pd.DataFrame:
    """The libraries this build of the book ran with (the chapters' code, not the runs)."""
    names = ("actionbook", "torch", "torchvision", "numpy", "pandas", "matplotlib", "seaborn", "fvcore", "decord2",
             "papermill", "jupyter-book", "myst-nb", "sphinx")
    rows = [{"package": "python", "version": platform.python_version()}]
    for name in names:
        try:
            rows.append({"package": name, "version": md.version(name)})
        except md.PackageNotFoundError:
            rows.append({"package": name, "version": "not installed"})
    return pd.DataFrame(rows)


def build_provenance_markdown() -> str:
    git = git_state(project_root())
    env = build_environment()
    head = (f"Built from commit `{(git.get('commit') or 'unknown')[:10]}`"
            + (" with uncommitted changes" if git.get("dirty") else "")
            + f" on {cpu_model()}.\n\n")
    return head + markdown_table(env.rename(columns={"package": "Package", "version": "Version"}))
