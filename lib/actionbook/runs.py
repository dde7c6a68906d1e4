"""The run folder: what a run leaves on disk, read and written atomically. Nothing else spells out its layout.

    <run>/record.json      the run record: the unit of results (status, metrics with their protocol, params and
                           FLOPs, timings, dataset fingerprint, provenance); the book reads records only
    <run>/metrics.jsonl    one JSON line per logged iteration and per epoch (the live curves)
    <run>/eval/<name>.json full evaluations: val (each epoch's), test (the multi-view test), views-KxC
    <run>/eval/<name>.logits.pt  every prediction of that evaluation: per-video, per-view logits, labels, video ids
    <run>/checkpoints/     last.pt (resume) and best.pt (the best validation epoch)
    <run>/runner.json      what the batch runner made the run from (parameter and code hashes)
    <run>/params.yaml      the experiment, when the train notebook hands it to `actionbook train` under torchrun
    <run>/.lock            held by the one process that writes the run (see `exclusive`)
    <run>/.rank<N>-error   why DDP rank N failed, so that rank 0 records the cause and not a lost connection
    <run>/<notebook>.ipynb the executed notebook, when the run came through `actionbook run`
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
from pathlib import Path

import torch

from actionbook.errors import ConfigError

RECORD_FILE = "record.json"
METRICS_FILE = "metrics.jsonl"
RUNNER_FILE = "runner.json"
LOCK_FILE = ".lock"
PARAMS_FILE = "params.yaml"  # the experiment a torchrun subprocess trains (written by the train notebook)
EVAL_DIR = "eval"
CHECKPOINT_DIR = "checkpoints"
CHECKPOINTS = ("last", "best")
STATUSES = ("running", "completed", "failed", "interrupted")


def write_json_atomic(path: str | Path, data) -> None:
    """Write then rename, so a reader (or a killed run) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
    os.replace(tmp, path)


def read_json(path: str | Path) -> dict | None:
    """A JSON file's content, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def write_record(run_dir: str | Path, record: dict) -> Path:
    if record.get("status") not in STATUSES:
        raise ValueError(f"record status must be one of {STATUSES}, got {record.get('status')!r}")
    path = Path(run_dir) / RECORD_FILE
    write_json_atomic(path, record)
    return path


def read_record(run_dir: str | Path) -> dict | None:
    path = Path(run_dir) / RECORD_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def metrics_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / METRICS_FILE


def read_metrics(run_dir: str | Path) -> tuple[list[dict], list[dict]]:
    """(iteration lines, epoch lines) of a run's metrics.jsonl; a line being written is skipped."""
    path = metrics_path(run_dir)
    iters, epochs = [], []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            (epochs if entry.get("kind") == "epoch" else iters).append(entry)
    return iters, epochs


def eval_path(run_dir: str | Path, name: str) -> Path:
    """`<run>/eval/<name>.json`: val, test or views-<K>x<C>."""
    return Path(run_dir) / EVAL_DIR / f"{name}.json"


PREDICTIONS = "predictions"  # the key of an evaluation result that holds its tensors; written beside its JSON


def predictions_path(run_dir: str | Path, name: str) -> Path:
    """`<run>/eval/<name>.logits.pt`: what evaluation `name` predicted for every video and view (re-scorable
    offline: `torch.load(path, weights_only=True)`)."""
    return Path(run_dir) / EVAL_DIR / f"{name}.logits.pt"


def write_eval(run_dir: str | Path, name: str, result: dict) -> Path:
    """The result as JSON; its predictions (if any) beside it, as tensors."""
    result = dict(result)
    predictions = result.pop(PREDICTIONS, None)
    if predictions is not None:
        target = predictions_path(run_dir, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        torch.save(predictions, tmp)
        os.replace(tmp, target)
    path = eval_path(run_dir, name)
    write_json_atomic(path, result)
    return path


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR


def checkpoint_file(run_dir: str | Path, which: str) -> Path:
    """`<run>/checkpoints/last.pt` or `best.pt`."""
    return checkpoint_dir(run_dir) / f"{which}.pt"


def runner_state(run_dir: str | Path) -> dict | None:
    return read_json(Path(run_dir) / RUNNER_FILE)


def write_runner_state(run_dir: str | Path, state: dict) -> None:
    write_json_atomic(Path(run_dir) / RUNNER_FILE, state)


class RunFolderBusy(ConfigError):
    """Another process is writing the run folder (its lock is held)."""


@contextlib.contextmanager
def exclusive(run_dir: str | Path):
    """One writer per run folder: an exclusive lock on `<run>/.lock` for as long as the block runs.

    The operating system drops the lock with the process that holds it, so a killed run leaves no stale lock; a
    second writer gets a one-line RunFolderBusy (a ConfigError) naming the holder at once, instead of corrupting the
    checkpoints.
    """
    path = Path(run_dir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RunFolderBusy(f"run folder {run_dir} is in use by {holder}: wait for it to finish, or use another "
                              "run folder") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {platform.node()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_free(run_dir: str | Path) -> None:
    """Raise the one-line RunFolderBusy of `exclusive` if a process is writing the run folder now."""
    if Path(run_dir).is_dir():
        with exclusive(run_dir):
            pass


def clear_rank_errors(run_dir: str | Path) -> None:
    for path in Path(run_dir).glob(".rank*-error"):
        path.unlink(missing_ok=True)


def write_rank_error(run_dir: str | Path, rank: int, reason: str) -> None:
    write_json_atomic(Path(run_dir) / f".rank{rank}-error", {"rank": rank, "reason": reason})


# what a rank whose peer died reports: not a cause
_ECHOES = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "NCCL communicator was aborted",
           "Socket Timeout", "Connection refused")


def first_rank_error(run_dir: str | Path) -> str | None:
    """The reason of the lowest rank whose error is its own (not a lost connection to a peer), with its rank."""
    errors = sorted((read_json(p) or {} for p in Path(run_dir).glob(".rank*-error")), key=lambda e: e.get("rank", 0))
    for error in errors:
        if error.get("reason") and not any(echo in error["reason"] for echo in _ECHOES):
            return f"rank {error['rank']}: {error['reason']}"
    return None
