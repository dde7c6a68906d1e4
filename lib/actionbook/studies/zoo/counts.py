"""Both tables' parameters and FLOPs recomputed against the published numbers, row by row."""

from __future__ import annotations

from actionbook.data import dataset_info
from actionbook.experiment import MODEL_OPTIONS, Experiment
from actionbook.measure import model_complexity
from actionbook.studies.ibm.published import ibm_rows
from actionbook.studies.ibm.rows import parse_row
from actionbook.studies.mmaction.settings import MMACTION_SETTINGS


def ibm_zoo(rows: list[str] | None = None) -> list[dict]:
    """Params and FLOPs of IBM-study rows (default: all 28 published rows), at 224x224, batch 1.

    Any well-formed row name works; the published numbers are attached where the row is in the table. The row's
    fields are parsed, not validated into an Experiment: validation builds the model once more (a bad option still
    fails, in the build that counts).
    """
    published = {r.row: r for r in ibm_rows()}
    out = []
    for row in rows if rows else list(published):
        values = parse_row(row)
        frames = values.get("frames", Experiment.frames)
        options = {k: values[k] for k in MODEL_OPTIONS if values.get(k) is not None}
        num_classes = dataset_info(values.get("dataset", Experiment.dataset)).num_classes
        counts = model_complexity(values["model"], num_classes, frames, 224, **options)
        pub = published.get(row)
        out.append({
            "row": row,
            **{k: counts[k] for k in ("model", "num_classes", "frames", "params", "conv_macs", "fvcore_flops",
                                      "mmaction_flops")},
            "options": options,
            "reported_params": pub.params if pub else None,
            "reported_flops": pub.flops if pub else None,
            "reported_top1": pub.top1 if pub else None,
            "reported_top5": pub.top5 if pub else None,
            "params_match": (counts["params"] == pub.params) if pub else None,
            "flops_match": (counts["conv_macs"] == pub.flops) if pub else None,
        })
    return out


def mmaction_zoo() -> list[dict]:
    """Every MMAction2 benchmark setting: params, FLOPs at the documented input (MMAction2's convention) and at
    the 224x224 training crop (conv MACs), against the documented numbers."""
    out = []
    for s in MMACTION_SETTINGS:
        options = dict(s.options)
        at_doc = model_complexity(s.model, 400, s.flops_frames, s.flops_input_size, **options)
        at_224 = model_complexity(s.model, 400, s.frames, 224, **options)
        out.append({
            "setting": s.setting,
            "model": s.model,
            "sampler": s.sampler,
            "batch_per_gpu": s.batch_per_gpu,
            "params": at_doc["params"],
            "flops_input": f"{s.flops_frames}x{s.flops_input_size}x{s.flops_input_size}",
            "mmaction_flops": at_doc["mmaction_flops"],
            "conv_macs": at_doc["conv_macs"],
            "fvcore_flops": at_doc["fvcore_flops"],
            "train_clip_conv_macs_224": at_224["conv_macs"],
            "documented_params": s.documented_params,
            "documented_flops": s.documented_flops,
            "params_match": at_doc["params"] == s.documented_params if s.documented_params else None,
            "flops_match": at_doc["mmaction_flops"] == s.documented_flops if s.documented_flops else None,
            "note": s.note,
        })
    return out
