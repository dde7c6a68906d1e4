"""The speed chapter: the published speed table beside this project's speed records."""
# RAW MOVE (lead): imports and names to be fixed by the owner of this module.

PUBLISHED_SPEED_HARDWARE = "8x V100 32GB, PyTorch 1.4, fp32 (2020)"
# (seed table's Model cell, Setting cell) -> benchmark case of actionbook.measure.speed, for the cells that are not
# an MMAction2 config name
_SEED_CASES = {("Slowfast", "4x16x1(video)"): "slowfast_4x16", ("Slowfast", "8x8x1(video)"): "slowfast_8x8",
               ("Slowonly", "4x16x1(video)"): "slowonly_4x16", ("Slowonly", "8x8x1(video)"): "slowonly_8x8",
               ("R(2+1)D", "32x2x1(frame)"): "r2plus1d_32x2", ("R(2+1)D", "8x8x1(frame)"): "r2plus1d_8x8"}


def seed_case(model: str, setting: str) -> str | None:
    """The benchmark case (tsn, i3d_fast, slowfast_4x16, ...) a row of the seed speed table stands for."""
    from actionbook.errors import ConfigError
    from actionbook.measure.speed import resolve_settings

    if (model, setting) in _SEED_CASES:
        return _SEED_CASES[(model, setting)]
    for name in (setting, setting.replace("_100e_", "_50e_")):  # the seed writes TSM's config as _100e_
        try:
            return resolve_settings([name])[0]
        except ConfigError:
            continue
    return None


def load_speed(folder: str | Path | None = None) -> list[dict]:
    """The speed records (one JSON per setting/device/variant) under book/records/speed."""
    from actionbook.measure.speed import load_records

    folder = Path(folder) if folder is not None else speed_dir()
    return load_records(folder) if folder.is_dir() else []


def speed_hardware(record: dict) -> str:
    """The device a speed record ran on, named: the GPU, or the CPU model with its threads."""
    prov = record.get("provenance") or {}
    if record.get("device") == "cuda":
        return f"1x {record.get('device_name') or (prov.get('hardware') or {}).get('gpu') or 'GPU'}"
    threads = prov.get("threads") or (prov.get("hardware") or {}).get("torch_threads")
    name = record.get("device_name") or (prov.get("hardware") or {}).get("cpu") or "CPU"
    return name if "thread" in name else f"CPU: {name} ({threads} threads)"


def speed_frame(records: list[dict]) -> pd.DataFrame:
    """One line per measured case and device (the `train` variant: the table's protocol, loader included)."""
    from actionbook.measure.speed import speed_table

    train = {(r["case"], r["device"]): r for r in records if r.get("variant") == "train"}
    rows = []
    for row in speed_table(records):
        rec = train[(row["case"], row["device"])]
        rows.append({**row, "hardware": speed_hardware(rec), "note": rec.get("note", ""),
                     "published_batch": rec["input"].get("published_batch"),
                     "file": f"{rec['setting']}.{rec['device']}.{rec['variant']}.json"})
    columns = ["case", "setting", "device", "hardware", "batch", "published_batch", "input_size", "mean", "std",
               "median", "n", "data_share", "memory_mib", "memory_kind", "mfu", "compute_mean", "published_s_iter",
               "published_memory_mib", "note", "file"]
    return pd.DataFrame(rows, columns=columns)


def published_speed_cases() -> pd.DataFrame:
    """The published s/iter and memory of every benchmark case (seed table, blanks filled the same day)."""
    from actionbook.measure.speed import CASE_KEYS, PUBLISHED

    rows = [{"case": case, "framework": p.framework, "s_iter": p.s_iter, "s_iter_std": p.s_iter_std,
             "memory_mib": p.memory_mib, "source": p.source}
            for case in CASE_KEYS for p in PUBLISHED.get(case, ())]
    return pd.DataFrame(rows)


def speed_markdown(measured: pd.DataFrame) -> str:
    """The seed speed table row by row (blank cells filled from the same day's table, marked), each setting
    followed by this project's measurements of it with their hardware, batch and input size."""
    from actionbook.measure.speed import PUBLISHED, bench_case

    lines, shown = [], set()
    for p in mmaction_rows():
        case = seed_case(p.model, p.setting)
        iter_time, std, memory, note = p.iter_time, p.iter_time_std, p.memory_mib, ""
        later = next((x for x in PUBLISHED.get(case, ()) if x.framework.lower() == p.framework.lower()), None)
        if iter_time is None and later is not None:
            iter_time, std, memory, note = later.s_iter, later.s_iter_std, later.memory_mib, " †"
        elif later is not None and later.s_iter is not None and iter_time is not None and later.s_iter != iter_time:
            note = f" ‡ (corrected to {fmt_time(later.s_iter, later.s_iter_std)})"
        batch = bench_case(case).published_batch if case else None
        lines.append({
            "Model": p.model, "Setting": f"`{p.setting}`", "Source": p.framework + " (published)",
            "Hardware": "8x V100", "s/iter (std)": fmt_time(iter_time, std) + note,
            "Memory (MiB)": fmt_int(memory) + (" †" if note == " †" else ""),
            "Batch per GPU / input": f"{batch or '?'} / 224",
        })
        if case in shown or case is None:
            continue
        shown.add(case)
        for m in measured[measured["case"] == case].to_dict("records"):
            lines.append(_measured_line(p.model, m))
    for m in measured[~measured["case"].isin(shown)].to_dict("records"):
        lines.append(_measured_line(m["case"], m))
    return markdown_table(pd.DataFrame(lines))


def _measured_line(model: str, m: dict) -> dict:
    return {"Model": model, "Setting": f"`{m['setting']}`", "Source": "**ActionBook, measured**",
            "Hardware": f"**{m['hardware']}**", "s/iter (std)": fmt_time(m["mean"], m["std"]),
            "Memory (MiB)": f"{fmt_int(round(m['memory_mib']))} ({m['memory_kind']})",
            "Batch per GPU / input": f"{m['batch']} (published {m['published_batch']}) / {m['input_size']}"}


def speed_ratio_markdown(records: list[dict]) -> str:
    """Compute-only comparisons: speed options and other implementations against this project's eager fp32."""
    from actionbook.measure.speed import ratio_table

    hardware = {(r["case"], r["device"]): speed_hardware(r) for r in records}
    lines = []
    for r in ratio_table(records):
        lines.append({"Case": r["case"], "Hardware": hardware.get((r["case"], r["device"]), r["device"]),
                      "Variant": r["variant"], "s/iter (std)": fmt_time(r["mean"], r["std"]),
                      "Ours, eager fp32": fmt_time(r["ours_mean"]), "Variant / ours": f"{r['ratio']:.2f}",
                      "Memory MiB (ours)": f"{fmt_int(round(r['memory_mib']))} "
                                           f"({fmt_int(round(r['ours_memory_mib']))})"})
    if not lines:
        return "*No compute-only comparison recorded yet.*"
    return markdown_table(pd.DataFrame(lines))



def speed_provenance_markdown(records: list[dict]) -> str:
    lines = []
    for r in records:
        prov = r.get("provenance") or {}
        versions = prov.get("versions") or {}
        git = prov.get("git") or {}
        lines.append({
            "Record": f"`{r['setting']}.{r['device']}.{r['variant']}.json`",
            "Created": (r.get("created") or "-")[:19],
            "Hardware": speed_hardware(r),
            "Host": prov.get("host") or "-",
            "Git commit": f"`{(git.get('commit') or '?')[:10]}`" + (" (dirty)" if git.get("dirty") else ""),
            "Versions": ", ".join(f"{k} {versions[k]}" for k in VERSION_KEYS if versions.get(k)),
        })
    if not lines:
        return "*No speed record yet.*"
    return markdown_table(pd.DataFrame(lines))


