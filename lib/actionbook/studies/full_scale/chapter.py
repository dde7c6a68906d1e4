"""The full-scale chapter: what training the published rows costs."""
# RAW MOVE (lead): imports and names to be fixed by the owner of this module.

FWD_BWD_FACTOR = 3.0


@dataclass(frozen=True)
class Throughput:
    label: str
    macs_per_s: float  # effective multiply-accumulates per second per device, training (fwd+bwd)
    hardware: str
    source: str


def published_throughputs(mm_zoo: pd.DataFrame | None = None) -> dict[str, Throughput]:
    """Effective V100 training throughput for 2D and 3D networks, from the published MMAction2 timings."""
    from actionbook.published.mmaction_settings import MMACTION_SETTINGS

    macs = {}
    if mm_zoo is not None:
        macs = dict(zip(mm_zoo["setting"], mm_zoo["train_clip_conv_macs_224"]))
    else:
        from actionbook.measure import model_complexity

        for s in MMACTION_SETTINGS:
            if s.setting in ("tsn_r50_1x1x3_100e_kinetics400_rgb", "i3d_r50_32x2x1_100e_kinetics400_rgb"):
                macs[s.setting] = model_complexity(s.model, 400, s.frames, 224, **dict(s.options))["conv_macs"]
    batch = {s.setting: s.batch_per_gpu for s in MMACTION_SETTINGS}
    times = {r.setting: r.iter_time for r in mmaction_rows() if r.framework == "mmaction-lite" and r.iter_time}
    out = {}
    for kind, setting in (("2D", "tsn_r50_1x1x3_100e_kinetics400_rgb"), ("3D", "i3d_r50_32x2x1_100e_kinetics400_rgb")):
        rate = FWD_BWD_FACTOR * macs[setting] * batch[setting] / times[setting]
        out[kind] = Throughput(kind, rate, "1x V100 32GB (fp32)",
                               f"MMAction2's {setting}: {FWD_BWD_FACTOR:g} x {macs[setting] / 1e9:.2f} G conv MACs "
                               f"x {batch[setting]} clips / {times[setting]} s per iteration")
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
    return family(model) in ("I3D", "S3D")


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
    return f"actionbook run params/ibm/{row}.yaml"


def full_scale_markdown(est: pd.DataFrame, gpus: int = 8) -> str:
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


