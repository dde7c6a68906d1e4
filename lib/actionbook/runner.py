"""The batch runner: `actionbook run PARAMS...` executes each params file through a notebook with papermill.

Each params file becomes the run folder `book/runs/<name>/` (name = the file's stem) holding the executed notebook
and the run record side by side (plus the trainer's metrics, evaluations and checkpoints). Beside the record,
`runner.json` keeps what the run was made from: a hash of its parameters (the file's values and any --set
overrides) and a hash of the code (every source file of the `actionbook` package and the notebook).

The skip rule: a run is skipped when its record says `completed` and both hashes are unchanged. When a hash
changed, the old folder is cleared and the run starts afresh; when they match but the record is not complete
(failed, interrupted), the notebook runs again on the same folder and the trainer resumes from its checkpoint.
A run folder has one writer: a folder another process is writing is neither cleared nor run (a one-line failure).
Parameters the notebook does not declare in its parameters cell are refused with a "did you mean" (papermill
would only warn, and the notebook would silently run its default instead). A failure never stops the batch (a
params file that is not valid YAML included): the executed notebook (with the error in it) is kept, the record is marked
`failed` with a one-line reason, and the next run starts. The exit status is non-zero if any run failed.
"""

from __future__ import annotations

import ast
import contextlib
import fnmatch
import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import papermill
from jupyter_client.kernelspec import KernelSpecManager

import actionbook
from actionbook import paths, runs
from actionbook.errors import ConfigError
from actionbook.experiment import Experiment, read_params, unknown_names_message
from actionbook.openmp import openmp_defaults
from actionbook.train import train

NOTEBOOKS = ("train", "benchmark", "evaluate", "model_zoo")
IN_PROCESS_MODES = (None, "notebook", "record")  # see run_one
UNATTENDED_ENV = "ACTIONBOOK_UNATTENDED"  # "1" in the kernels this runner starts (live.py draws only the end)


@dataclass
class RunResult:
    name: str
    status: str  # "completed", "skipped" or "failed"
    run_dir: str
    reason: str | None = None
    seconds: float = 0.0
    summary: str = ""


def notebook_path(notebook: str | Path) -> Path:
    """A notebook by name (train, benchmark, ...) from the project's notebooks/, or a path."""
    path = Path(notebook)
    if path.suffix != ".ipynb":
        if str(notebook) not in NOTEBOOKS:
            raise ConfigError(f"notebook {str(notebook)!r} unknown; expected one of {', '.join(NOTEBOOKS)} or a "
                              f".ipynb path")
        path = paths.notebooks_dir() / f"{notebook}.ipynb"
    if not path.is_file():
        raise ConfigError(f"notebook {str(path)!r} does not exist")
    return path


def notebook_parameters(notebook: str | Path) -> dict[str, Any]:
    """The names and default values of a notebook's papermill parameters (its cell tagged `parameters`)."""
    source = json.loads(Path(notebook).read_text())
    cells = [c for c in source["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    values = {}
    for node in ast.parse("".join(cells[0]["source"]) if cells else "").body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


# ---- hashes ---------------------------------------------------------------------------------------------------

def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def params_hash(parameters: dict[str, Any]) -> str:
    return _sha(json.dumps(parameters, sort_keys=True, default=str).encode())[:16]


# Modules that only present records (the shared report pieces, each study's chapter tables and figures) or write
# params files (whose values are hashed on their own): editing them changes no run's result, so it must not send
# `make book` back to re-train every run. Paths relative to the package, shell-style patterns.
PRESENTATION = ("report/*", "studies/*/chapter.py", "studies/*/figures.py", "studies/*/findings.py",
                "studies/*/params.py", "studies/*/stats.py")


def is_presentation(relative: str) -> bool:
    return any(fnmatch.fnmatch(relative, pattern) for pattern in PRESENTATION)


def code_hash(notebook: Path) -> str:
    """The code a run executes: every source file of the actionbook package (code and the published tables it
    reads) but the PRESENTATION modules, and the notebook."""
    package = Path(actionbook.__file__).resolve().parent
    digest = hashlib.sha256()
    files = sorted(p for p in package.rglob("*") if p.is_file() and p.suffix in (".py", ".md", ".json", ".yaml")
                   and "__pycache__" not in p.parts and not is_presentation(p.relative_to(package).as_posix()))
    for path in files:
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(b"notebook\0" + Path(notebook).read_bytes())
    return digest.hexdigest()[:16]


# ---- one run --------------------------------------------------------------------------------------------------

def plan(params_file: Path, runs_dir: Path, notebook: Path, overrides: dict | None = None,
         force: bool = False, ignore_code: bool = False) -> tuple[str, Path, dict, dict, str]:
    """(name, run folder, parameters, hashes, action) where action is "skip", "resume" or "fresh"."""
    name = Path(params_file).stem
    run_dir = runs_dir / name
    parameters = {**read_params(params_file), **(overrides or {})}
    hashes = {"params": params_hash(parameters), "code": code_hash(notebook), "notebook": notebook.name}
    state = runs.runner_state(run_dir)
    record = runs.read_record(run_dir)
    keys = ("params", "notebook") if ignore_code else ("params", "code", "notebook")
    same = state is not None and all(state.get("hashes", {}).get(k) == hashes[k] for k in keys)
    if force or not same:
        action = "fresh"
    elif record is not None and record.get("status") == "completed":
        action = "skip"
    else:
        action = "resume"
    return name, run_dir, parameters, hashes, action


def run_one(params_file: str | Path, runs_dir: str | Path | None = None, notebook: str | Path = "train",
            overrides: dict | None = None, force: bool = False, ignore_code: bool = False,
            kernel_name: str | None = None, in_process: str | None = None) -> RunResult:
    """Execute one params file through the notebook into `runs_dir/<name>/` (see the module's rules).

    `in_process` (train notebook, one process): "notebook" trains in this process, then executes the notebook,
    which finds the run finished and only shows it; "record" trains in this process and leaves the notebook out
    (the run folder holds everything the book's chapters read; a later run with "notebook" adds it)."""
    notebook = notebook_path(notebook)
    if in_process not in IN_PROCESS_MODES:
        raise ConfigError(f"in_process must be one of {', '.join(map(str, IN_PROCESS_MODES))}, got {in_process!r}")
    run_dir = Path(runs_dir or paths.runs_dir()) / Path(params_file).stem
    try:
        name, run_dir, parameters, hashes, action = plan(Path(params_file), run_dir.parent, notebook, overrides,
                                                         force, ignore_code)
        if action == "skip":
            return RunResult(name, "skipped", str(run_dir), summary=_summary(runs.read_record(run_dir)))
        unknown = sorted(set(parameters) - set(notebook_parameters(notebook)))
        if unknown:
            raise ConfigError(unknown_names_message(f"parameter(s) for {notebook.name}", unknown,
                                                    notebook_parameters(notebook)))
        runs.check_free(run_dir)
    except runs.RunFolderBusy as err:  # another process's run: leave its folder alone
        return RunResult(run_dir.name, "failed", str(run_dir), str(err))
    except ConfigError as err:  # this run cannot start; the batch goes on
        _write_failed_record(run_dir, runs.read_record(run_dir), {}, str(err))
        return RunResult(run_dir.name, "failed", str(run_dir), str(err))
    if action == "fresh" and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    state = {"params_file": str(params_file), "parameters": parameters, "hashes": hashes, "action": action,
             "started": started, "notebook": notebook.name, "executed_notebook": notebook.name}
    runs.write_runner_state(run_dir, state)
    t0 = time.perf_counter()
    reason = _train_in_process(notebook, parameters, run_dir) if in_process else None
    state["in_process"] = in_process
    if reason is None and in_process != "record":  # after a failed training the notebook would train again
        try:
            with _kernel_environment():
                papermill.execute_notebook(
                    str(notebook), str(run_dir / notebook.name), parameters={**parameters, "run_dir": str(run_dir)},
                    kernel_name=kernel_name or pick_kernel(notebook), cwd=str(paths.project_root()),
                    progress_bar=False)
        except Exception as err:  # papermill's execution error, a dead kernel, a missing kernel: all end the run
            reason = _one_line(err)
    seconds = time.perf_counter() - t0
    record = runs.read_record(run_dir)
    if reason is None and (record is None or record.get("status") != "completed"):
        reason = (f"the notebook finished but the record says {record.get('status')!r}" if record
                  else "the notebook finished without writing a record")
    if reason is not None:
        _write_failed_record(run_dir, record, parameters, reason)
    runs.write_runner_state(run_dir, {**state, "status": "failed" if reason else "completed",
                                              "reason": reason, "seconds": round(seconds, 1),
                                              "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    status = "failed" if reason else "completed"
    return RunResult(name, status, str(run_dir), reason, round(seconds, 1), _summary(runs.read_record(run_dir)))


def _train_in_process(notebook: Path, parameters: dict, run_dir: Path) -> str | None:
    """Train the run here, as the train notebook would (its parameters cell's values under the params file's);
    returns the failure's one-line reason, or None. Runs of several processes go through the notebook."""
    if notebook.name != "train.ipynb":
        raise ConfigError(f"in-process runs train: they take the train notebook, not {notebook.name}")
    values = {**notebook_parameters(notebook), **parameters}
    values.pop("run_dir", None)
    try:
        exp = Experiment.from_dict(values)
        if exp.nproc * exp.nnodes > 1:
            raise ConfigError(f"{run_dir.name} runs {exp.nproc * exp.nnodes} processes: run it without in_process")
        train(exp, run_dir, progress=False)
    except Exception as err:  # the trainer has written its failed record; a bad parameter has not
        return str(err) if isinstance(err, ConfigError) else f"{type(err).__name__}: {err}"
    return None


@contextlib.contextmanager
def _kernel_environment():
    """What the kernels started meanwhile inherit: UNATTENDED_ENV=1 (nobody watches them: no live plotting) and the
    OpenMP settings torch must find when it loads (`actionbook.openmp`), unless the caller set them."""
    saved = dict(os.environ)
    os.environ.update({**openmp_defaults(os.environ), UNATTENDED_ENV: "1"})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _write_failed_record(run_dir: Path, record: dict | None, parameters: dict, reason: str) -> None:
    record = dict(record or {"schema": 1, "experiment": parameters, "run_dir": str(run_dir)})
    if record.get("status") != "failed" or not record.get("reason"):
        record["reason"] = reason
    record["status"] = "failed"
    record["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    runs.write_record(run_dir, record)


def _one_line(err: Exception) -> str:
    """The cell's own error for papermill failures (its one-line rendering when it has one, as the notebook's input
    errors do, else `ename: evalue`), else the exception's first line."""
    ename, evalue = getattr(err, "ename", None), getattr(err, "evalue", None)
    shown = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in getattr(err, "traceback", None) or []]
    shown = [line for line in shown if line]
    if len(shown) == 1:
        return shown[0]
    text = f"{ename}: {evalue}" if ename else f"{type(err).__name__}: {err}"
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


def _summary(record: dict | None) -> str:
    if not record:
        return ""
    val = record.get("metrics", {}).get("val")
    if val and "top1" in val:
        return f"val top-1 {val['top1']:.2f}%"
    speed = record.get("metrics", {}).get("speed")
    if speed and "mean_iter_s" in speed:
        return f"{speed['mean_iter_s']:.3f} s/iter"
    return ""


def pick_kernel(notebook: Path) -> str:
    """The notebook's kernel if it is installed (`make setup` installs "actionbook"), else this Python's."""
    wanted = json.loads(Path(notebook).read_text()).get("metadata", {}).get("kernelspec", {}).get("name")
    available = KernelSpecManager().find_kernel_specs()
    return wanted if wanted in available else "python3"


# ---- the batch ------------------------------------------------------------------------------------------------

def run_batch(params_files: list[str | Path], runs_dir: str | Path | None = None, notebook: str | Path = "train",
              overrides: dict | None = None, force: bool = False, ignore_code: bool = False,
              kernel_name: str | None = None, dry_run: bool = False, log=None,
              in_process: str | None = None) -> list[RunResult]:
    """Run every params file in order; a failure is recorded and the batch goes on. `in_process` ("notebook",
    "record"): train each run in this one process instead of a kernel per run (see `run_one`)."""
    log = log or (lambda message: print(message, flush=True))
    files = [Path(p) for p in params_files]
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise ConfigError(f"params file(s) not found: {', '.join(missing)}")
    names = [p.stem for p in files]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"two params files would share a run folder: {', '.join(duplicates)}")
    files = chain_order(files)
    nb = notebook_path(notebook)
    folder = Path(runs_dir or paths.runs_dir())
    results = []
    for i, path in enumerate(files, 1):
        prefix = f"[{i}/{len(files)}] {path.stem}"
        if dry_run:
            action = plan(path, folder, nb, overrides, force, ignore_code)[4]
            log(f"{prefix}: would {'skip (complete, unchanged)' if action == 'skip' else action + ' run'}")
            continue
        log(f"{prefix}: running {nb.name} -> {folder / path.stem}")
        result = run_one(path, folder, nb, overrides, force, ignore_code, kernel_name, in_process)
        detail = {"skipped": "skipped (complete, unchanged)", "completed": f"completed in {result.seconds:.0f} s",
                  "failed": f"FAILED after {result.seconds:.0f} s: {result.reason}"}[result.status]
        log(f"{prefix}: {detail}" + (f" ({result.summary})" if result.summary else ""))
        results.append(result)
    return results


def _starts_from(path: Path) -> str | None:
    """The run folder name whose checkpoint a params file fine-tunes from (`pretrained`:
    `.../<run>/checkpoints/<x>.pt`), or None (imagenet, none, another file, or a file that does not read: its run
    fails on its own later)."""
    try:
        pretrained = read_params(path).get("pretrained")
    except ConfigError:
        return None
    parts = Path(str(pretrained or "")).parts
    return parts[-3] if len(parts) >= 3 and parts[-2] == runs.CHECKPOINT_DIR else None


def chain_order(files: list[Path]) -> list[Path]:
    """The batch in its given order, except that a run that fine-tunes from another run of the batch comes after
    it (the IBM study's 8 -> 16 -> 32 -> 64-frame chains), so one `actionbook run` trains a chain end to end."""
    by_name = {p.stem: p for p in files}
    ordered: list[Path] = []
    visiting: set[str] = set()

    def place(path: Path) -> None:
        if path in ordered or path.stem in visiting:  # placed, or a cycle: leave the given order
            return
        visiting.add(path.stem)
        before = _starts_from(path)
        if before in by_name:
            place(by_name[before])
        ordered.append(path)

    for path in files:
        place(path)
    return ordered


def summary_line(results: list[RunResult]) -> str:
    counts = {s: sum(r.status == s for r in results) for s in ("completed", "skipped", "failed")}
    line = (f"actionbook run: {len(results)} run(s): {counts['completed']} completed, {counts['skipped']} skipped, "
            f"{counts['failed']} failed")
    failed = [r.name for r in results if r.status == "failed"]
    return line + (f" ({', '.join(failed)})" if failed else "")


def results_json(results: list[RunResult]) -> str:
    return json.dumps([asdict(r) for r in results], indent=1)
