"""The IBM study's rows: the row-name grammar of its code base, the datasets of its table, and the table as a frame.

A row name such as `st2stv2-TAM-b3-sum-resnet-50-f16-cosine-bs48-e75` encodes the model, its options, the frame
count and the recipe; `parse_row` turns it into Experiment fields, `experiment_from_row` into an Experiment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from actionbook.errors import ConfigError
from actionbook.experiment import Experiment
from actionbook.models import model_entry
from actionbook.studies.ibm.published import ibm_rows

ROW_DATASETS = ("st2stv2", "mini_st2stv2", "kinetics400", "mini_kinetics400", "moments", "mini_moments")
_DEPTHS = ("18", "34", "50", "101", "152")


def parse_row(row: str) -> dict[str, Any]:
    """Turn a row name of the IBM study into Experiment fields.

    Scheme (spec 7.3): ``{dataset}[-rgb]-[TAM-b{B}-{sum|max}[-allc]-]{backbone}[-dw-t-conv][-tp|-ts[-max|-avg]]
    -f{T}[-{cosine|multisteps|step}][-syncbn][-bs{N}][-e{N}]``, backbone one of resnet-{d}, inception-v1, i3d,
    s3d, i3d-resnet-{d}, s3d-resnet-{d}. A bare -tp/-ts means max pooling, the code's default.
    """
    tokens = row.split("-")
    pos = 0

    def take(expected=None):
        nonlocal pos
        if pos >= len(tokens):
            raise ConfigError(f"row {row!r} ends early: expected {expected or 'more'}")
        tok = tokens[pos]
        pos += 1
        return tok

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    out: dict[str, Any] = {"name": row}
    dataset = take("a dataset")
    if dataset not in ROW_DATASETS:
        raise ConfigError(f"row {row!r}: unknown dataset {dataset!r}; accepted: {', '.join(ROW_DATASETS)}")
    out["dataset"] = dataset
    if peek() == "rgb":
        take()
    tam = False
    if peek() == "TAM":
        take()
        tam = True
        blend = take("b{B}")
        if not re.fullmatch(r"b\d+", blend):
            raise ConfigError(f"row {row!r}: unknown TAM blending piece {blend!r}; expected b{{B}} such as b3")
        out["blending_frames"] = int(blend[1:])
        method = take("sum or max")
        if method not in ("sum", "max"):
            raise ConfigError(f"row {row!r}: unknown TAM blending method {method!r}; accepted: sum, max")
        out["blending_method"] = method
        if peek() == "allc":
            take()
            out["dw_conv"] = False
    out["model"] = _parse_backbone(row, take, peek, tam)
    if peek() == "dw" and tokens[pos:pos + 3] == ["dw", "t", "conv"]:
        if out["model"] not in ("s3d",) and not out["model"].startswith("s3d_r"):
            raise ConfigError(f"row {row!r}: -dw-t-conv applies to s3d models only")
        pos += 3
        out["dw_t_conv"] = True
    if peek() in ("tp", "ts"):
        take()
        out["temporal_pooling"] = "max"
        if peek() in ("max", "avg"):
            out["temporal_pooling"] = take()
    frames = take("f{T}")
    if not re.fullmatch(r"f\d+", frames):
        raise ConfigError(f"row {row!r}: unknown piece {frames!r}; expected -tp/-ts tags or the frame count f{{T}}")
    out["frames"] = int(frames[1:])
    while peek() is not None:
        tok = take()
        if tok in ("cosine", "multisteps", "step"):
            out["lr_scheduler"] = tok
        elif tok == "syncbn":
            out["sync_bn"] = True
        elif re.fullmatch(r"bs\d+", tok):
            out["batch_size"] = int(tok[2:])
        elif re.fullmatch(r"e\d+", tok):
            out["epochs"] = int(tok[1:])
        else:
            raise ConfigError(f"row {row!r}: unknown piece {tok!r}; accepted after f{{T}}: cosine, multisteps, "
                              "step, syncbn, bs{N}, e{N}")
    out["pretrained"] = "imagenet"
    if out["frames"] > 8:
        out["notes"] = ["the published model was fine-tuned from a fewer-frame model; this run starts from "
                        "ImageNet unless pretrained points at that checkpoint"]
    return out


def _parse_backbone(row, take, peek, tam: bool) -> str:
    head = take("a backbone")
    if head == "resnet":
        depth = take("a depth")
        if depth not in _DEPTHS:
            raise ConfigError(f"row {row!r}: unknown ResNet depth {depth!r}; accepted: {', '.join(_DEPTHS)}")
        return f"{'tam' if tam else 'tsn'}_r{depth}"
    if head == "inception":
        version = take("v1")
        if version != "v1":
            raise ConfigError(f"row {row!r}: unknown Inception version {version!r}; accepted: v1")
        return "tam_inception_v1" if tam else "tsn_inception_v1"
    if head in ("i3d", "i3d_v2", "s3d"):
        if tam:
            raise ConfigError(f"row {row!r}: TAM applies to the 2D backbones resnet-N and inception-v1 only")
        family = head[:3]
        if peek() == "resnet":
            take()
            depth = take("a depth")
            if depth not in _DEPTHS:
                raise ConfigError(f"row {row!r}: unknown ResNet depth {depth!r}; accepted: {', '.join(_DEPTHS)}")
            return f"{family}_r{depth}"
        return family
    raise ConfigError(f"row {row!r}: unknown backbone {head!r}; accepted: resnet-N, inception-v1, i3d, s3d, "
                      "i3d-resnet-N, s3d-resnet-N (optionally after TAM-b{B}-{sum|max})")


def experiment_from_row(row: str, **overrides) -> Experiment:
    """An experiment from a row name of the IBM study's naming scheme (see `parse_row`)."""
    return Experiment.from_dict({**parse_row(row), **overrides})


# ---- the datasets of the table ---------------------------------------------------------------------------------

SSV2, K400 = "Something-Something-V2", "Kinetics400"
SECTIONS = (SSV2, K400)
SECTION_SHORT = {SSV2: "SSv2", K400: "K400"}
# datasets of this project that hold the real data of a section (IBM frame folders, or the released videos)
REAL_DATASETS = {SSV2: ("st2stv2", "ssv2-videos"), K400: ("kinetics400", "kinetics400-videos", "kinetics400-mmaction")}
# the synthetic stand-in of each section (the proxy study)
SYNTHETIC_TWIN = {SSV2: "synth-something", K400: "synth-kinetics"}


@dataclass(frozen=True)
class DatasetSize:
    """Clip counts used by the compute estimates (approximate where the dataset itself varies)."""

    train: int
    val: int
    note: str


DATASET_SIZES = {
    SSV2: DatasetSize(168_913, 24_777, "the official v2 release: 168,913 train / 24,777 validation videos"),
    K400: DatasetSize(240_000, 20_000, "about 240k train / 20k validation clips: the share of the 2017 release's "
                                       "YouTube clips (about 246k / 20k) still downloadable varies"),
}


def published_ibm() -> pd.DataFrame:
    """The 28 published rows with the model, family, backbone and frames their names encode."""
    rows = []
    for r in ibm_rows():
        parsed = parse_row(r.row)
        entry = model_entry(parsed["model"])
        rows.append({
            "row": r.row, "section": r.dataset_section, "dataset": parsed["dataset"], "model": parsed["model"],
            "family": entry.family, "backbone": entry.backbone_label,
            "label": entry.label, "frames": parsed["frames"],
            "temporal_pooling": parsed.get("temporal_pooling"), "top1": r.top1, "top5": r.top5,
            "flops": r.flops, "params": r.params, "epochs": r.epochs,
        })
    return pd.DataFrame(rows)
