"""The provenance chapter: where each run and this build of the book come from (commit, versions, hardware)."""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import platform
import subprocess
from collections.abc import Iterable
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import pandas as pd

from actionbook import runs as run_files
from actionbook.measure.environment import cpu_model, git_state
from actionbook.paths import project_root
from actionbook.report.catalog import Run
from actionbook.report.markdown import badge_run, fmt_duration, markdown_table
from actionbook.runner import code_hash, notebook_path


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


@cache
def _current_code(notebook: str) -> str | None:
    try:
        return code_hash(notebook_path(notebook))
    except Exception:  # a notebook this checkout no longer has: no comparison
        return None


def code_age(run: Run) -> str:
    """Whether a run executed the code of this build: the runner's code hash (the package minus its presentation
    modules, and the notebook) against today's."""
    state = run_files.runner_state(run.folder) or {}
    recorded = (state.get("hashes") or {}).get("code")
    current = _current_code(Path(state.get("notebook") or "train.ipynb").stem)
    if not recorded or not current:
        return "unknown (no runner hash)"
    return "this build's code" if recorded == current else "older code: re-run to refresh"


def commit_label(git: dict) -> str:
    """`0123456789` or `0123456789 + uncommitted changes`: what a record says of its checkout."""
    return f"`{(git.get('commit') or '?')[:10]}`" + (" + uncommitted changes" if git.get("dirty") else "")


def age_days(created: str | None, now: datetime | None = None) -> str:
    """How old a record is at this build, in days."""
    if not created:
        return "-"
    try:
        then = datetime.fromisoformat(created)
    except ValueError:
        return "-"
    then = then if then.tzinfo else then.replace(tzinfo=timezone.utc)
    days = ((now or datetime.now(timezone.utc)) - then).days
    return f"{days} day{'s' if days != 1 else ''}"


def provenance_markdown(runs: Iterable[Run]) -> str:
    lines = []
    for r in runs:
        prov = r.record.get("provenance") or {}
        git = prov.get("git") or {}
        ex = notebook_execution(r.notebook)
        versions = prov.get("versions") or {}
        lines.append({
            "Run": r.link(r.name),
            "Status": badge_run(r.status),
            "Notebook executed": fmt_duration(ex.get("duration_s")) + (f", {ex['start'][:19]}" if ex.get("start")
                                                                        else ""),
            "Training": fmt_duration((r.record.get("timings") or {}).get("train_s")),
            "Hardware": r.hardware,
            "Host": prov.get("host") or "-",
            "Git commit": commit_label(git),
            "Code vs this build": code_age(r),
            "Age": age_days(r.record.get("started")),
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


def diff_hash(root: Path) -> str | None:
    """A short hash of the checkout's uncommitted changes to tracked files (`git diff HEAD`), None when clean."""
    try:
        diff = subprocess.run(["git", "diff", "HEAD"], cwd=root, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return hashlib.sha256(diff).hexdigest()[:10] if diff else None


def build_provenance_markdown() -> str:
    root = project_root()
    git = git_state(root)
    env = build_environment()
    changes = diff_hash(root) if git.get("dirty") else None
    head = (f"Built on **{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC** from commit "
            f"`{(git.get('commit') or 'unknown')[:10]}`"
            + (f" with uncommitted changes (diff hash `{changes}`)" if git.get("dirty") else " (clean)")
            + f", on {cpu_model()}.\n\n")
    return head + markdown_table(env.rename(columns={"package": "Package", "version": "Version"}))
