"""Sphinx extension for ActionBook: chapters are re-read, and so re-executed, when the files they read change;
the runs' executed notebooks get a title that names their run.

Sphinx re-reads a page only when its own source changed. The chapters are MyST notebooks whose code cells read the
run records (book/runs, book/records), the params files and the library, so a new record would otherwise never
reach an unchanged chapter. This extension fingerprints those files (content hashes) and marks the chapters listed
in `actionbook_watchers` outdated when the fingerprint moved; with `execute_notebooks: force` they then run again.
With nothing changed nothing is read, and nothing is executed.

A build that warned drops the saved environment, so the next build reads (and warns) again instead of hiding the
problem behind an up-to-date page.

Every run's notebook is executed from the same template, so all would be titled alike in the navigation. When
Sphinx reads an executed notebook under book/runs/ or book/records/, a first markdown cell is put in front of it
(in the text Sphinx parses, not in the file): the run's name as the page title, its status and hardware from the
record beside it; the notebook's own headings move one level down. Cells and outputs are shown as they are.
"""

from __future__ import annotations

import glob
import hashlib
import json
import re
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

DEFAULT_WATCH = [
    "book/runs/*/record.json",
    "book/runs/*/*/record.json",
    "book/runs/*/*.ipynb",
    "book/runs/*/*/*.ipynb",
    "book/records/**/*.json",
    "book/records/**/*.ipynb",
    "params/**/*.yaml",
    "lib/actionbook/**/*.py",
    "lib/actionbook/**/*.md",
]


RUN_PAGES = re.compile(r"^book/(runs|records)/")


def fingerprint(root: str | Path, patterns: list[str]) -> str:
    """A hash over the paths and contents of every file matching `patterns` under `root`."""
    root = Path(root)
    files = sorted({p for pat in patterns for p in glob.glob(str(root / pat), recursive=True) if Path(p).is_file()})
    digest = hashlib.sha256()
    for path in files:
        digest.update(Path(path).relative_to(root).as_posix().encode())
        digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return digest.hexdigest()


def _outdated(app, env, added, changed, removed):
    current = fingerprint(app.srcdir, app.config.actionbook_watch)
    previous = getattr(env, "actionbook_fingerprint", None)
    env.actionbook_fingerprint = current
    if previous is None or previous == current:
        return []
    watchers = set(app.config.actionbook_watchers)
    stale = sorted(d for d in env.found_docs if (d in watchers or RUN_PAGES.match(d))
                   and d not in added and d not in changed)
    if stale:
        logger.info("[actionbook] records, params or library changed: re-reading %s", ", ".join(stale))
    return stale


def _hardware(provenance: dict) -> str:
    hw = provenance.get("hardware") or {}
    if hw.get("gpu"):
        return f"{min(provenance.get('world_size') or 1, hw.get('gpu_count') or 1)}x {hw['gpu']}"
    if hw:
        return f"CPU: {hw.get('cpu', '?')} ({hw.get('torch_threads', '?')} threads)"
    return "unknown hardware"


def titled_notebook(text: str, folder: Path, name: str) -> str | None:
    """The notebook JSON `text` with a title cell for its run in front and its own headings one level down."""
    try:
        nb = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return None
    try:
        record = json.loads((folder / "record.json").read_text())
    except (OSError, json.JSONDecodeError):
        record = {}
    exp = record.get("experiment") or {}
    title = exp.get("name") or name
    lines = [f"# {title}", ""]
    if record:
        lines.append(f"Executed notebook of the run `{title}`: status **{record.get('status', '?')}**, on "
                     f"{_hardware(record.get('provenance') or {})}; dataset `{exp.get('dataset', '?')}`, model "
                     f"`{exp.get('model', '?')}`, {exp.get('frames', '?')} frames. Its record, "
                     f"`{folder.name}/record.json`, is what the chapters read.")
    else:
        lines.append(f"Executed notebook `{name}` (no run record beside it).")
    for cell in nb["cells"]:
        if cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            cell["source"] = re.sub(r"^(#{1,5}) ", r"#\1 ", source, flags=re.M)
    header = {"cell_type": "markdown", "metadata": {}, "source": "\n".join(lines)}
    if nb.get("nbformat", 4) >= 4 and nb.get("nbformat_minor", 0) >= 5:
        header["id"] = "actionbook-run-title"
    nb["cells"].insert(0, header)
    return json.dumps(nb)


def _source_read(app, docname, source):
    if not RUN_PAGES.match(docname):
        return
    path = Path(app.env.doc2path(docname))
    if path.suffix != ".ipynb":
        return
    text = titled_notebook(source[0], path.parent, path.parent.name)
    if text is not None:
        source[0] = text


def _finished(app, exception):
    if exception is None and not getattr(app, "_warncount", 0):
        return
    pickle = Path(app.doctreedir) / "environment.pickle"
    if pickle.is_file():
        pickle.unlink()
        logger.info("[actionbook] the build warned or failed: the next build reads every page again")


def setup(app):
    app.add_config_value("actionbook_watch", DEFAULT_WATCH, "env")
    app.add_config_value("actionbook_watchers", [], "env")
    app.connect("env-get-outdated", _outdated)
    app.connect("source-read", _source_read)
    app.connect("build-finished", _finished)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
