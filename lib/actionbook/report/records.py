"""Run records: `record.json`, the unit of results. The book reads records, never notebook internals."""

from __future__ import annotations

import json
import os
from pathlib import Path

RECORD_FILE = "record.json"
STATUSES = ("running", "completed", "failed", "interrupted")


def write_json_atomic(path: Path, data) -> None:
    """Write then rename, so a reader (or a killed run) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
    os.replace(tmp, path)


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
