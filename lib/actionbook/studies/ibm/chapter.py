"""The IBM chapter: the published table beside the runs, row by row, with the status of each row's reproduction.

A row is *reproduced* by a complete run of its recipe on its real dataset, a *partial run* when a run on the real
dataset departs from the recipe (fewer epochs, capped iterations, other frames, unfinished), *proxy only* when the
only runs are CPU-scale ones of the same kind of model on the dataset's synthetic twin, and *not yet run* otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from actionbook.models import find_model, model_entry
from actionbook.report.accuracy import epoch_accuracy
from actionbook.report.catalog import Run, load_runs
from actionbook.report.markdown import badge, markdown_table, missing
from actionbook.studies.ibm.rows import REAL_DATASETS, SECTION_SHORT, SECTIONS, SYNTHETIC_TWIN, published_ibm
from actionbook.studies.proxy.grid import MODELS as PROXY_MODELS
from actionbook.studies.proxy.stats import proxy_frame, summarize

# A row's statuses, in the order the summary lists them, with the colour of each one's badge.
STATUS_BADGE = {"reproduced": "success", "partial run": "warning", "proxy only": "info", "not yet run": "muted"}


def _same_model(exp: dict, row: dict) -> bool:
    return exp.get("model") == row["model"] and exp.get("temporal_pooling") == row.get("temporal_pooling")


def same_kind(model: str, row_model: str) -> bool:
    """A proxy model stands in for a row's model when both are IBM-study models of the same family and backbone
    kind (ResNet of any depth for ResNet-50: the proxy study trains smaller backbones at CPU scale)."""
    mine, theirs = find_model(model), model_entry(row_model)
    if mine is None:  # no model, or one this registry no longer knows
        return False
    return (mine.source == theirs.source and mine.family == theirs.family
            and mine.backbone.split("-")[0] == theirs.backbone.split("-")[0])


def runs_for_row(row: dict, runs: Iterable[Run]) -> tuple[list[Run], list[Run]]:
    """(runs on the row's real dataset, proxy runs of the row's kind of model on its synthetic twin)."""
    real, proxy = [], []
    for run in runs:
        exp = run.experiment
        if run.dataset in REAL_DATASETS[row["section"]]:
            if run.name == row["row"] or (_same_model(exp, row) and exp.get("frames") == row["frames"]):
                real.append(run)
        elif run.dataset == SYNTHETIC_TWIN[row["section"]] and same_kind(run.model, row["model"]):
            proxy.append(run)
    proxy.sort(key=lambda r: (r.model != row["model"], r.frames != row["frames"], r.name))
    return real, proxy


def proxy_family_result(row: dict, summary: pd.DataFrame) -> str | None:
    """The proxy study's result for the row's family on the row's synthetic twin (the default profile, no temporal
    pooling, the frame count nearest the row's): mean top-1 with its 95% interval over seeds, linked to the
    chapter. One seed's run is not a result; the family's spread over seeds is."""
    family = model_entry(row["model"]).family
    sub = summary[(summary["dataset"] == SYNTHETIC_TWIN[row["section"]]) & (summary["family"] == family)
                  & (summary["profile"] == "default") & (summary["pooling"] == "none")]
    if sub.empty:
        return None
    r = sub.loc[(sub["frames"] - row["frames"]).abs().idxmin()]
    interval = "" if pd.isna(r["ci95"]) else f" ± {r['ci95']:.1f}"
    backbone = model_entry(PROXY_MODELS[r["backbone"]][family]).backbone_label
    return (f"a different experiment (proxy, synthetic): {family}-{backbone} on {r['dataset']}, "
            f"{int(r['frames'])} frames, {r['mean']:.1f}{interval}% over {int(r['n'])} seeds "
            "({doc}`the proxy study </book/proxy>`)")


def full_recipe(run: Run, row: dict) -> list[str]:
    """How a run on the real dataset departs from the row's recipe (empty: it followed it to the end)."""
    exp, gaps = run.experiment, []
    if run.status != "completed":
        gaps.append(run.status + (f" ({run.record.get('reason')})" if run.record.get("reason") else ""))
    if exp.get("epochs") != row["epochs"]:
        gaps.append(f"{exp.get('epochs')} of {row['epochs']} epochs")
    elif run.epochs_done < row["epochs"]:
        gaps.append(f"{run.epochs_done} of {row['epochs']} epochs done")
    if exp.get("iters_per_epoch"):
        gaps.append(f"capped at {exp['iters_per_epoch']} iterations per epoch")
    if exp.get("frames") != row["frames"]:
        gaps.append(f"{exp.get('frames')} frames instead of {row['frames']}")
    return gaps


def _top1(run: Run) -> float:
    acc = epoch_accuracy(run.record)
    return acc.best_top1 if acc is not None else -1.0


def _best(runs: list[Run], row: dict) -> Run:
    return sorted(runs, key=lambda r: (bool(full_recipe(r, row)), -_top1(r)))[0]


def ibm_status(runs: Iterable[Run] | None = None) -> pd.DataFrame:
    """One line per published row: published numbers, the reproduced ones (if any), the status and its run."""
    runs = list(load_runs() if runs is None else runs)
    summary = summarize(proxy_frame(runs))
    out = []
    for row in published_ibm().to_dict("records"):
        real, proxy = runs_for_row(row, runs)
        line = {**row, "status": "not yet run", "run": None, "proxy_run": proxy[0] if proxy else None,
                "proxy_result": proxy_family_result(row, summary) if proxy else None,
                "reproduced_top1": None, "reproduced_top5": None, "final_top1": None, "protocol": "",
                "hardware": "", "gaps": ""}
        if real:
            best = _best(real, row)
            gaps = full_recipe(best, row)
            acc = epoch_accuracy(best.record)
            line.update(status="partial run" if gaps else "reproduced", run=best, hardware=best.hardware,
                        protocol=best.protocol("val"), gaps="; ".join(gaps))
            if acc is not None:  # the IBM code's convention: the best epoch, the final one beside it
                line.update(reproduced_top1=acc.best_top1, reproduced_top5=acc.best_top5, final_top1=acc.final_top1)
        elif proxy:
            line["status"] = "proxy only"
        out.append(line)
    return pd.DataFrame(out)


def status_counts(status: pd.DataFrame) -> pd.DataFrame:
    """Rows per status and dataset (the introduction's summary)."""
    counts = (status.groupby(["section", "status"]).size().unstack(fill_value=0)
              .reindex(columns=list(STATUS_BADGE), fill_value=0).reindex(list(SECTIONS)))
    counts.index = [SECTION_SHORT[s] for s in counts.index]
    counts.loc["total"] = counts.sum()
    return counts


def ibm_section_markdown(status: pd.DataFrame, section: str) -> str:
    """The published table of one dataset beside what was reproduced, as a MyST table with links to the runs."""
    lines = []
    for r in status[status["section"] == section].to_dict("records"):
        run, proxy = r["run"], r["proxy_run"]
        run = None if missing(run) else run
        proxy = None if missing(proxy) else proxy
        if run is not None:
            source = run.link("notebook") + f" ({r['hardware']})"
            if r["gaps"]:
                source += f"; {r['gaps']}"
        elif not missing(r["proxy_result"]):
            source = r["proxy_result"]
        elif proxy is not None:  # a single run outside the proxy study's grid
            source = ("a different experiment (proxy, synthetic): " + proxy.link(f"{proxy.name}")
                      + f" ({proxy.dataset}, {proxy.frames} frames)")
        else:
            source = "-"
        lines.append({
            "Row (published name)": f"`{r['row']}`",
            "Frames": r["frames"],
            "Published top-1 / top-5": f"{r['top1']:.2f} / {r['top5']:.2f}",
            "Reproduced top-1 / top-5 (best epoch; final)": _reproduced_cell(r),
            "Δ top-1": (f"{r['reproduced_top1'] - r['top1']:+.2f}" if not missing(r["reproduced_top1"]) else "-"),
            "Status": badge(r["status"], STATUS_BADGE[r["status"]]),
            "Run": source,
        })
    return markdown_table(pd.DataFrame(lines))


def _reproduced_cell(r: dict) -> str:
    """The reproduced numbers under the book's convention (report.accuracy): a run on the real dataset only."""
    if missing(r["reproduced_top1"]):
        return "-"
    top5 = "-" if missing(r["reproduced_top5"]) else f"{r['reproduced_top5']:.2f}"
    final = "" if missing(r["final_top1"]) else f" (final {r['final_top1']:.2f})"
    return f"{r['reproduced_top1']:.2f} / {top5}{final}"


def reproduced_points(status: pd.DataFrame) -> pd.DataFrame:
    """The rows with a number from a run on the real dataset (for the plots), with their status."""
    sub = status[status["reproduced_top1"].notna()].copy()
    return sub.drop(columns=["run", "proxy_run", "proxy_result"])
