"""The params files of the IBM table: `params/ibm/<row>.yaml` for its 28 rows, and `params/ibm/chain/<stage>.yaml`
for the fine-tuning stages the table does not list.

The study trained every model as a chain (its README: "all trained from 8-frame model (finetune from
ImageNet-pretrained), while more frame models are finetuned from fewer-frame model"): 8 frames from ImageNet, then
16 from 8, 32 from 16, 64 from 32. So a 16-frame row starts from its 8-frame stage's checkpoint and a 64-frame row
from its 32-frame stage, which starts from the 16-frame row: each file's `pretrained` is the predecessor run's
`book/runs/<predecessor>/checkpoints/best.pt`, and `actionbook run` orders a batch so that a run comes after the run
it starts from. The stages' recipes (8 frames: cosine, batch 72, the 16-frame row's epochs; 32 frames: multisteps,
SyncBN, batch 36, the 64-frame row's epochs) are the IBM mini tables' and are *assumed* for the full datasets.
The recipe comes from the row name (`rows.parse_row`) and the IBM code's defaults; what the study does not record
(the learning rate, milestones and GPU count actually used) is filled with the code's defaults and said so in
`notes`; `ASSUMED` lists those fields for the run pages.
"""

from __future__ import annotations

import re
from typing import Any

from actionbook.studies.ibm.published import IbmRow, ibm_rows
from actionbook.studies.ibm.rows import parse_row
from actionbook.studies.paramfiles import complete, render

FOLDER = "ibm"
CHAIN_FOLDER = f"{FOLDER}/chain"
# where `actionbook run` puts a run (relative to the project root, the notebook's working directory)
RUNS = "book/runs"
# the frame counts of the chain, in training order
CHAIN = (8, 16, 32, 64)
# Recipe fields the IBM sources do not state; the run pages mark them *assumed*.
ASSUMED = ("lr", "lr_steps", "nproc", "test_clips", "test_crops", "workers")

IBM_NOTES = (
    "recipe: the IBM training code's defaults (its opts.py): SGD momentum 0.9, weight decay 5e-4 on all "
    "parameters, lr 0.01, multistep milestones 15/30/45, dropout 0.5, uniform sampling, multi-scale-crop "
    "augmentation (v1), 224x224",
    "not recorded by the study (assumed): the learning rate and milestones actually used, and the number of GPUs; "
    "batch_size is global, split over nproc processes",
    "accuracy: the IBM code's convention, the best epoch's validation (1 clip, centre crop, the val list); the "
    "book shows the final epoch beside it",
)


def _values(parsed: dict[str, Any], notes: list[str], pretrained: str, row: IbmRow | None) -> dict[str, Any]:
    values = {
        **parsed,
        "data_root": None,
        "sampling": "uniform",
        "frame_interval": 1,
        "input_size": 224,
        "scale_size": None,
        "augment": "v1",
        "flip": True,
        "test_clips": 1,
        "test_crops": 1,
        "pretrained": pretrained,
        "lr": 0.01,
        "lr_steps": [15, 30, 45],
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "nproc": 1,
        "workers": 8,
        "iters_per_epoch": None,
        "log_every": 10,
        "notes": notes,
    }
    if row is not None:
        values.update(reported_top1=row.top1, reported_top5=row.top5, reported_flops=row.flops,
                      reported_params=row.params)
    return complete(values)


def _stage_name(head: str, frames: int, epochs: int) -> str:
    """The IBM code's name of a model (`head`: the row name before its frames) at a stage the table does not
    list, with the mini tables' recipe and the epochs of the published row it leads to."""
    if frames == 8:
        return f"{head}-f8-cosine-bs72-e{epochs}"
    return f"{head}-f{frames}-multisteps-syncbn-bs36-e{epochs}"


def _rows_by_model() -> dict[str, dict[int, IbmRow]]:
    """Published rows grouped by model (the name without its frames and recipe): frames -> row."""
    out: dict[str, dict[int, IbmRow]] = {}
    for r in ibm_rows():
        out.setdefault(re.split(r"-f\d+-", r.row)[0], {})[parse_row(r.row)["frames"]] = r
    return out


def chain_of(row: str) -> list[str]:
    """The runs that train `row`, in order: its 8-frame stage first, `row` last (published rows where the table
    has that frame count, chain stages otherwise; a stage takes the epochs of the next published row)."""
    frames, head = parse_row(row)["frames"], re.split(r"-f\d+-", row)[0]
    if frames not in CHAIN:
        return [row]
    published = {**_rows_by_model().get(head, {}), frames: None}
    chain = []
    for f in (f for f in CHAIN if f < frames):
        if published.get(f) is not None:
            chain.append(published[f].row)
        else:
            later = min(g for g in published if g > f)
            epochs = published[later].epochs if published[later] is not None else parse_row(row)["epochs"]
            chain.append(_stage_name(head, f, epochs))
    return [*chain, row]


def checkpoint_of(run: str) -> str:
    """The checkpoint a fine-tuning stage starts from: the predecessor run's best epoch (the IBM code keeps it)."""
    return f"{RUNS}/{run}/checkpoints/best.pt"


def _pretrained(chain: list[str]) -> str:
    return "imagenet" if len(chain) == 1 else checkpoint_of(chain[-2])


def ibm_params(row: IbmRow) -> dict[str, Any]:
    """The full recipe of one IBM row, starting from its chain predecessor's checkpoint, with its published
    numbers."""
    parsed = parse_row(row.row)
    parsed.pop("notes", None)
    chain = chain_of(row.row)
    notes = [*IBM_NOTES]
    if len(chain) > 1:
        notes.insert(0, f"fine-tuned from {chain[-2]} (the study's chain {' -> '.join(f'f{f}' for f in CHAIN)}); "
                        "run that first: `actionbook run` orders a batch so")
    if row.epochs != parsed.get("epochs"):
        notes.append(f"the table's Epochs column says {row.epochs}, the name e{parsed.get('epochs')}")
    return _values(parsed, notes, _pretrained(chain), row)


def stage_params(stage: str, chain: list[str]) -> dict[str, Any]:
    """A chain stage the table does not list: its recipe assumed from the IBM mini tables."""
    parsed = parse_row(stage)
    parsed.pop("notes", None)
    upto = chain[:chain.index(stage) + 1]
    notes = [f"a fine-tuning stage of {chain[-1]}, not a row of the table: recipe assumed from the IBM mini "
             "tables (benchmark_mini.md)", *IBM_NOTES]
    return _values(parsed, notes, _pretrained(upto), None)


def _file_name(row: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.+-]+", row):
        raise ValueError(f"row {row!r} does not make a safe file name")
    return f"{row}.yaml"


def params_files() -> dict[str, str]:
    """Path under params/ -> text: `ibm/<row>.yaml` for every published row, `ibm/chain/<stage>.yaml` for every
    stage of their chains that the table does not list."""
    rows = ibm_rows()
    files = {f"{FOLDER}/{_file_name(r.row)}": render(ibm_params(r), __name__) for r in rows}
    published = {r.row for r in rows}
    for r in rows:
        chain = chain_of(r.row)
        for stage in chain[:-1]:
            if stage not in published:
                files[f"{CHAIN_FOLDER}/{_file_name(stage)}"] = render(stage_params(stage, chain), __name__)
    return files
