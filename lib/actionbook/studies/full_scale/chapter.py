"""The full-scale chapter: what training the published rows would cost, from each row's FLOPs, epochs and dataset
size, at a training throughput taken from MMAction2's published timings or from this project's speed records."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from actionbook.measure import model_complexity
from actionbook.models import model_entry
from actionbook.report.markdown import markdown_table
from actionbook.studies.ibm import params as ibm_params
from actionbook.studies.ibm.rows import DATASET_SIZES, K400, SSV2, parse_row, published_ibm
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
    frames_per_s: float | None = None  # frames the loader delivered per second per device in that measurement
    mib_per_gmac: float | None = None  # peak memory per G conv MACs of the batch on one device


# The MMAction2 settings whose published timings give the 2D and the 3D throughput.
THROUGHPUT_SETTINGS = (("2D", "tsn_r50_1x1x3_100e_kinetics400_rgb"), ("3D", "i3d_r50_32x2x1_100e_kinetics400_rgb"))


def published_throughputs() -> dict[str, Throughput]:
    """Effective V100 training throughput for 2D and 3D networks, from the published MMAction2 timings."""
    published = [r for r in mmaction_rows() if r.framework == "mmaction-lite" and r.iter_time]
    times = {r.setting: r.iter_time for r in published}
    memory = {r.setting: r.memory_mib for r in published}
    out = {}
    for kind, setting in THROUGHPUT_SETTINGS:
        s = mmaction_setting(setting)
        macs = model_complexity(s.model, 400, s.frames, 224, **dict(s.options))["conv_macs"]
        rate = FWD_BWD_FACTOR * macs * s.batch_per_gpu / times[setting]
        out[kind] = Throughput(kind, rate, "1x V100 32GB (fp32)",
                               f"MMAction2's {setting}: {FWD_BWD_FACTOR:g} x {macs / 1e9:.2f} G conv MACs "
                               f"x {s.batch_per_gpu} clips / {times[setting]} s per iteration",
                               frames_per_s=s.clip_len * s.num_clips * s.batch_per_gpu / times[setting],
                               mib_per_gmac=memory[setting] / (macs * s.batch_per_gpu / 1e9))
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


# ---- the cost of a row as a range, and its chain ----------------------------------------------------------------

V100_GIB = 32


def chain_estimates(throughput: dict[str, Throughput], gpus: int = 8) -> pd.DataFrame:
    """Per published row, the ends of its cost and what bounds them: GPU-hours of the row alone (the compute at
    the effective throughput, the loader keeping up) to the row with every stage of its fine-tuning chain
    (`params.chain_of`: what reproducing it as published takes), the frames per second per GPU its loader must
    deliver at that throughput, and its peak memory per GPU at the row's batch split over `gpus`, scaled from
    the measured memory per G conv MACs of the 2D and 3D references (the two ends of the range)."""
    published = published_ibm()
    alone = compute_estimates(throughput, published, gpus).set_index("row")
    mib = sorted(t.mib_per_gmac for t in throughput.values() if t.mib_per_gmac)
    rows = []
    for r in published.to_dict("records"):
        size, tp = DATASET_SIZES[r["section"]], throughput["3D" if is_3d(r["model"]) else "2D"]
        chain = ibm_params.chain_of(r["row"])
        stage_hours = []
        for stage in chain:
            parsed = parse_row(stage)
            macs = r["flops"] * parsed["frames"] / r["frames"]  # conv MACs grow with the frames
            total = (FWD_BWD_FACTOR * size.train + size.val) * macs * parsed["epochs"]
            stage_hours.append(total / tp.macs_per_s / 3600)
        clips_per_gpu = parse_row(r["row"])["batch_size"] / gpus
        gib = [m * r["flops"] / 1e9 * clips_per_gpu / 1024 for m in mib] or [float("nan")]
        rows.append({
            "row": r["row"], "section": r["section"], "chain": chain, "stage_hours": stage_hours,
            "hours_alone": alone.loc[r["row"], "gpu_hours"], "hours_chain": sum(stage_hours),
            "loader_frames_per_s": tp.macs_per_s / (FWD_BWD_FACTOR * r["flops"]) * r["frames"],
            "reference_frames_per_s": tp.frames_per_s, "clips_per_gpu": clips_per_gpu,
            "memory_gib_low": min(gib), "memory_gib_high": max(gib), "throughput": tp.label,
        })
    return pd.DataFrame(rows)


def every_stage_hours(chains: pd.DataFrame) -> float:
    """GPU-hours to train every row and every stage of their chains once (a stage shared by a model's 16- and
    64-frame rows counted once)."""
    hours = {}
    for r in chains.to_dict("records"):
        hours.update(zip(r["chain"], r["stage_hours"]))
    return sum(hours.values())


def _fits(low: float, high: float) -> str:
    if high <= V100_GIB:
        return "fits"
    return "does not fit" if low > V100_GIB else "borderline"


def cost_range_markdown(chains: pd.DataFrame, gpus: int = 8) -> str:
    """One line per row: GPU-hours from the row alone to its whole chain, loader rate, memory per GPU."""
    lines = []
    for r in chains.to_dict("records"):
        lines.append({
            "Row": f"`{r['row']}`",
            "GPU-hours: row alone – with its chain": f"{r['hours_alone']:,.0f} – {r['hours_chain']:,.0f}",
            f"Days on {gpus} GPUs": f"{r['hours_alone'] / 24 / gpus:.1f} – {r['hours_chain'] / 24 / gpus:.1f}",
            "Chain": " → ".join(f"f{parse_row(s)['frames']}" for s in r["chain"]),
            "Loader: frames/s per GPU needed": f"{r['loader_frames_per_s']:,.0f}" + (
                f" (above the {r['reference_frames_per_s']:,.0f} measured: loader-bound, costs more)"
                if r["reference_frames_per_s"] and r["loader_frames_per_s"] > r["reference_frames_per_s"] else ""),
            "Memory per GPU (32 GB V100)": (f"{r['clips_per_gpu']:g} clips: {r['memory_gib_low']:.1f}–"
                                            f"{r['memory_gib_high']:.1f} GiB, "
                                            f"{_fits(r['memory_gib_low'], r['memory_gib_high'])}"),
        })
    return markdown_table(pd.DataFrame(lines))


# The storage of the IBM frame layout against the released videos. Assumed ranges: frames per video (SSv2 clips
# last 2-6 s at 12 fps; Kinetics clips 10 s at 25-30 fps), JPEG size per frame at shorter side 256 (by quality),
# the Kinetics archive size (it depends on the copy); the SSv2 video count and archive size are the release's.
STORAGE = {
    SSV2: {"videos": 220_847, "frames_per_video": (35, 55), "videos_gb": (19, 20),
           "video_source": "the release's `.webm` archive parts (about 20 GB)"},
    K400: {"videos": 266_000, "frames_per_video": (250, 300), "videos_gb": (300, 450),
           "video_source": "the 2017 clips at their original resolution (several hundred GB)"},
}
JPEG_KIB = (10, 30)


def storage_markdown() -> str:
    """Frames vs videos on disk, per dataset, as ranges (frame counts and JPEG sizes are estimates)."""
    lines = []
    for section, s in STORAGE.items():
        frames = [s["videos"] * f for f in s["frames_per_video"]]
        gb = [frames[0] * JPEG_KIB[0] * 1024 / 1e9, frames[1] * JPEG_KIB[1] * 1024 / 1e9]
        lines.append({"Dataset": section, "Videos (train + val + test)": f"{s['videos']:,}",
                      "As videos": f"{s['videos_gb'][0]}–{s['videos_gb'][1]} GB ({s['video_source']})",
                      "Frames (about)": f"{frames[0] / 1e6:.0f}–{frames[1] / 1e6:.0f} M",
                      "As JPEG frames (IBM layout)": f"{gb[0]:,.0f}–{gb[1]:,.0f} GB"})
    return markdown_table(pd.DataFrame(lines))


# The weights the IBM repository released (README at 67cc96f, release weights-v0.1): 32 frames, no temporal
# pooling, evaluated with several clips and crops at 256 px (the README's own numbers and protocol).
RELEASED = (
    ("K400-TAM-ResNet-50-f32", K400, "tam_r50", 76.18, 10, 3),
    ("K400-I3D-ResNet-50-f32", K400, "i3d_r50", 76.61, 10, 3),
    ("K400-TAM-ResNet-101-f32", K400, "tam_r101", 77.61, 10, 3),
    ("K400-I3D-ResNet-101-f32", K400, "i3d_r101", 77.80, 10, 3),
    ("SSV2-TAM-ResNet-50-f32", SSV2, "tam_r50", 63.83, 2, 3),
    ("SSV2-I3D-ResNet-50-f32", SSV2, "i3d_r50", 62.84, 2, 3),
    ("SSV2-TAM-ResNet-101-f32", SSV2, "tam_r101", 65.32, 2, 3),
    ("SSV2-I3D-ResNet-101-f32", SSV2, "i3d_r101", 64.29, 2, 3),
)
CLASSES = {SSV2: 174, K400: 400}


def released_markdown(throughput: dict[str, Throughput], chains: pd.DataFrame) -> str:
    """Which released checkpoint belongs to which row, and the GPU-hours to evaluate it (its README protocol)."""
    published = published_ibm()
    lines = []
    for name, section, model, top1, clips, crops in RELEASED:
        options = {"blending_frames": 3, "blending_method": "sum"} if model.startswith("tam") else {}
        macs = model_complexity(model, CLASSES[section], 32, 256, **options)["conv_macs"]
        tp = throughput["3D" if is_3d(model) else "2D"]
        # forward only: the effective rate counts a training pass as FWD_BWD_FACTOR forward passes
        hours = macs * clips * crops * DATASET_SIZES[section].val / tp.macs_per_s / 3600
        of_model = published[(published["section"] == section) & (published["model"] == model)]
        same = of_model[of_model["temporal_pooling"].isna() & (of_model["frames"] == 64)]
        if of_model.empty:
            rows = "none: the table has no row of this model"
        elif same.empty:
            rows = "none: the table's rows of this model use temporal pooling, the released one does not"
        else:
            row = same.iloc[0]["row"]
            hours_row = chains.set_index("row").loc[row, "hours_alone"]
            rows = (f"none at 32 frames; *assumed* to be the f32 stage of `{row}` (the source does not say): "
                    f"fine-tuning that row from it costs {hours_row:,.0f} GPU-hours instead of its whole chain")
        lines.append({"Released checkpoint": f"`{name}`", "README top-1 (its protocol)":
                      f"{top1:.2f} ({clips} clips x {crops} crops, 32 frames, 256 px)",
                      "Evaluate it: GPU-hours": f"{hours:.1f}", "Row of the table": rows})
    return markdown_table(pd.DataFrame(lines))
