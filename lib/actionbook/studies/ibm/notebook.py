"""What the train notebook shows of the IBM study: the row a run reproduces or stands in for, and how its recipe
differs from the paper's."""

from __future__ import annotations

import pandas as pd

from actionbook.experiment import Experiment
from actionbook.studies.ibm.params import ASSUMED, ibm_params
from actionbook.studies.ibm.published import IbmRow, ibm_rows
from actionbook.studies.ibm.rows import SYNTHETIC_TWIN, published_ibm

_RECIPE_FIELDS = ("dataset", "model", "frames", "input_size", "sampling", "augment", "flip", "pretrained", "epochs",
                  "iters_per_epoch", "batch_size", "lr", "lr_scheduler", "lr_steps", "weight_decay", "sync_bn",
                  "nproc", "test_clips", "test_crops", "temporal_pooling", "blending_frames", "blending_method")


def reference_row(exp: Experiment) -> IbmRow | None:
    """The published IBM row this experiment reproduces or stands in for (same model, nearest frame count, the
    published dataset a synthetic set stands in for), or None."""
    rows = {r.row: r for r in ibm_rows()}
    if exp.name in rows:
        return rows[exp.name]
    published = published_ibm().to_dict("records")
    # a synthetic twin stands in for the dataset of its section's rows (synth-something -> st2stv2, ...)
    analogs = {SYNTHETIC_TWIN[r["section"]]: r["dataset"] for r in published}
    dataset = analogs.get(exp.dataset, exp.dataset)
    candidates = [(abs(r["frames"] - exp.frames), r["frames"], r["row"]) for r in published
                  if r["model"] == exp.model and r["dataset"] == dataset
                  and (exp.temporal_pooling is None or r["temporal_pooling"] == exp.temporal_pooling)]
    return rows[min(candidates, key=lambda c: c[:2])[2]] if candidates else None


def is_proxy(exp: Experiment) -> bool:
    """A run on synthetic data: a different experiment from any published row, whatever its model."""
    return exp.dataset.startswith("synth-")


def this_run_label(exp: Experiment, classes: int | None = None) -> str:
    """The column heading of this run's numbers: "reproduced" only for a run on a real dataset."""
    if is_proxy(exp):
        return f"this run (synthetic, {classes or '?'} classes, {exp.input_size} px)"
    return "reproduced (this run)"


def published_label(exp: Experiment) -> str:
    return "published row: a different experiment" if is_proxy(exp) else "published"


def recipe_comparison(exp: Experiment) -> tuple[IbmRow | None, pd.DataFrame]:
    """(the reference row or None, a DataFrame: parameter, this run, the paper's recipe, and whether they are the
    same, differ, or the paper's value is *assumed* (a field the source does not state: `params.ASSUMED`))."""
    row = reference_row(exp)
    if row is None:
        return None, pd.DataFrame(columns=["this run", "paper's recipe", "compared"])
    paper = ibm_params(row)
    mine = exp.to_dict()
    table = pd.DataFrame(
        [{"parameter": k, "this run": _show(mine[k]), "paper's recipe": _show(paper[k]),
          "compared": _compared(k, mine[k], paper[k])} for k in _RECIPE_FIELDS]).set_index("parameter")
    return row, table


def _compared(field: str, mine, paper) -> str:
    if field in ASSUMED:
        return "assumed (not stated by the source)"
    return "same" if mine == paper else "differs"


def _show(value) -> str:
    return "-" if value is None else str(value)
