"""The full-scale chapter: what training the published rows would cost, from each row's FLOPs, epochs and dataset
size, at a training throughput taken from MMAction2's published timings or from this project's speed records."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from actionbook.measure import model_complexity
from actionbook.models import model_entry
from actionbook.report.markdown import fmt_g, markdown_table
from actionbook.studies.ibm import params as ibm_params
from actionbook.studies.ibm.rows import DATASET_SIZES, published_ibm
from actionbook.studies.mmaction.chapter import speed_hardware
from actionbook.studies.mmaction.published import mmaction_rows
from actionbook.studies.mmaction.settings import mmaction_setting

# Effective training throughput: conv MACs of one training clip at 224 x 3 (forward + backward) x clips per
# iteration / s per iteration, for a 2D network (TSN) and a 3D one (I3D). The published timings (8x V100, fp32,
# 2020) and this project's `train` records both include data loading, as a real training run does.
FWD_BWD_FACTOR = 3.0


@dataclass(frozen=True)
class Throughput:
    """An effective training rate and where it comes from."""

    label: str
    macs_per_s: float  # effective multiply-accumulates per second per device, training (fwd+bwd)
    hardware: str
    source: str


# The MMAction2 settings whose published timings give the 2D and the 3D throughput.
THROUGHPUT_SETTINGS = (("2D", "tsn_r50_1x1x3_100e_kinetics400_rgb"), ("3D", "i3d_r50_32x2x1_100e_kinetics400_rgb"))


def published_throughputs() -> dict[str, Throughput]:
    """Effective V100 training throughput for 2D and 3D networks, from the published MMAction2 timings."""
    times = {r.setting: r.iter_time for r in mmaction_rows() if r.framework == "mmaction-lite" and r.iter_time}
    out = {}
    for kind, setting in THROUGHPUT_SETTINGS:
        s = mmaction_setting(setting)
        macs = model_complexity(s.model, 400, s.frames, 224, **dict(s.options))["conv_macs"]
        rate = FWD_BWD_FACTOR * macs * s.batch_per_gpu / times[setting]
        out[kind] = Throughput(kind, rate, "1x V100 32GB (fp32)",
                               f"MMAction2's {setting}: {FWD_BWD_FACTOR:g} x {macs / 1e9:.2f} G conv MACs "
                               f"x {s.batch_per_gpu} clips / {times[setting]} s per iteration")
    return out


def measured_throughputs(records: list[dict]) -> dict[str, dict[str, Throughput]]:
    """Effective training throughput (conv MACs per second, fwd + bwd) per device, from this project's speed
    records: the TSN case for 2D networks, the I3D case for 3D ones, `train` variant (loader included, fp32)."""
    out: dict[str, dict[str, Throughput]] = {}
    for r in records:
        if r.get("variant") != "train" or r.get("case") not in ("tsn", "i3d") or r.get("device") != "cuda":
            continue
        macs = (r.get("flops") or {}).get("forward_conv_macs")
        mean = (r.get("time") or {}).get("mean")
        if not macs or not mean:
            continue
        kind = "2D" if r["case"] == "tsn" else "3D"
        hw = speed_hardware(r)
        out.setdefault(hw, {})[kind] = Throughput(
            kind, FWD_BWD_FACTOR * macs / mean, hw,
            f"this project's {r['case']} record on {hw}: {FWD_BWD_FACTOR:g} x {macs / 1e9:.2f} G conv MACs per batch "
            f"of {r['input']['batch']} at {r['input']['input_size']} px / {mean:.4f} s per iteration")
    return {hw: kinds for hw, kinds in out.items() if set(kinds) == {"2D", "3D"}}


def is_3d(model: str) -> bool:
    """Whether a row's model takes the 3D throughput (I3D, S3D) rather than the 2D one (TSN, TAM)."""
    return model_entry(model).family in ("I3D", "S3D")


def compute_estimates(throughput: dict[str, Throughput], published: pd.DataFrame | None = None,
                      gpus: int = 8) -> pd.DataFrame:
    """Training compute per published row: 3 x conv MACs (the table's FLOPs) x train clips x epochs, plus one
    validation pass per epoch, and the device-hours and days on `gpus` devices at the 2D/3D throughput given."""
    published = published if published is not None else published_ibm()
    rows = []
    for r in published.to_dict("records"):
        size = DATASET_SIZES[r["section"]]
        train = FWD_BWD_FACTOR * r["flops"] * size.train * r["epochs"]
        val = r["flops"] * size.val * r["epochs"]
        tp = throughput["3D" if is_3d(r["model"]) else "2D"]
        seconds = (train + val) / tp.macs_per_s
        rows.append({"row": r["row"], "section": r["section"], "model": r["model"], "epochs": r["epochs"],
                     "train_clips": size.train, "conv_macs": r["flops"], "total_macs": train + val,
                     "gpu_hours": seconds / 3600, "days_on_gpus": seconds / 86400 / gpus,
                     "throughput": tp.label, "throughput_macs_per_s": tp.macs_per_s, "hardware": tp.hardware})
    return pd.DataFrame(rows)


def command_for(row: str) -> str:
    """The command that trains a row at full scale (its params file)."""
    return f"actionbook run params/{ibm_params.FOLDER}/{row}.yaml"


def full_scale_markdown(est: pd.DataFrame, gpus: int = 8) -> str:
    """The estimates, one line per row, with the command that would run it."""
    lines = []
    for r in est.to_dict("records"):
        lines.append({
            "Row": f"`{r['row']}`",
            "Command": f"`{command_for(r['row'])}`",
            "Epochs x train clips": f"{r['epochs']} x {r['train_clips']:,}",
            "Conv MACs / clip": fmt_g(r["conv_macs"], 1),
            "Training compute (MACs)": f"{r['total_macs']:.2e}",
            "Throughput used": f"{r['throughput']}, {r['throughput_macs_per_s'] / 1e12:.2f} T MAC/s",
            "GPU-hours": f"{r['gpu_hours']:,.0f}",
            f"Days on {gpus} GPUs": f"{r['days_on_gpus']:.1f}",
        })
    return markdown_table(pd.DataFrame(lines))
