"""What every chapter prints: MyST/GFM tables, number formats, status badges."""

from __future__ import annotations

import math

import pandas as pd

RUN_BADGE = {"completed": "success", "running": "info", "failed": "danger", "interrupted": "warning"}


def missing(value) -> bool:
    """None, or the NaN pandas puts in its place."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_int(n) -> str:
    if missing(n):
        return "-"
    return f"{int(n):,}"


def fmt_g(n, digits: int = 3) -> str:
    if missing(n):
        return "-"
    return f"{n / 1e9:,.{digits}f} G"


def fmt_time(t, std=None) -> str:
    if missing(t):
        return "-"
    if missing(std):
        return f"{t:.4f}"
    return f"{t:.4f} ({std:.4f})"


def fmt_duration(seconds) -> str:
    if missing(seconds):
        return "-"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def check(ok) -> str:
    return {True: "✓", False: "✗"}.get(ok if ok is None or isinstance(ok, bool) else bool(ok), "-")


def badge(text: str, colour: str = "secondary") -> str:
    """A sphinx-design badge: `colour` is one of its names (success, warning, info, muted, danger, ...)."""
    return "{bdg-" + colour + "}" + f"`{text}`"


def badge_run(status: str) -> str:
    """A run's status (record.json) as a badge."""
    return badge(status, RUN_BADGE.get(status, "secondary"))


def escape_role(text: str) -> str:
    return text.replace("<", "\\<").replace("`", "'")


def escape_cell(value) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(df: pd.DataFrame) -> str:
    """A MyST/GFM pipe table (cells may hold roles and links; pipes are escaped)."""
    if df.empty:
        return "*(empty)*"
    header = "| " + " | ".join(escape_cell(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(escape_cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *body])
