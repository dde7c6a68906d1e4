"""Where things are: the project, its book, the runs, the speed records, the params and the notebooks.

Every module asks here. One environment variable moves the book: `$ACTIONBOOK_BOOK` points the runs, the speed
records and the chapters at another copy of `book/` (tests, a second checkout of the records); the synthetic
datasets have their own, `$ACTIONBOOK_DATA` (see `actionbook.data.datasets`).
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The checkout this package runs from (editable install), else the current directory."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


def book_dir() -> Path:
    """The book's folder (chapters, runs, records); `$ACTIONBOOK_BOOK` points it at another copy."""
    override = os.environ.get("ACTIONBOOK_BOOK")
    return Path(override) if override else project_root() / "book"


def runs_dir() -> Path:
    """Where `actionbook run` puts run folders and where the chapters read them: `<book>/runs`."""
    return book_dir() / "runs"


def speed_records_dir() -> Path:
    """Where the speed benchmark writes its records and the speed chapter reads them: `<book>/records/speed`."""
    return book_dir() / "records" / "speed"


def scratch_runs_dir() -> Path:
    """Runs outside the book (the train notebook's default run folders): `<project>/runs`, git-ignored."""
    return project_root() / "runs"


def params_dir() -> Path:
    return project_root() / "params"


def notebooks_dir() -> Path:
    return project_root() / "notebooks"
