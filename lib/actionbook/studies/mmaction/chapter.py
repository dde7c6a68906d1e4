"""The speed chapter and the tables of `actionbook bench`: the published speed table beside this project's speed
records (book/records/speed, one JSON per setting/device/variant)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from actionbook.errors import ConfigError
from actionbook.measure.speed import load_records, record_name
from actionbook.paths import speed_records_dir
from actionbook.report.markdown import fmt_int, fmt_time, markdown_table, missing
from actionbook.report.provenance import VERSION_KEYS, age_days, commit_label
from actionbook.report.sources import framework_name
from actionbook.studies.mmaction.cases import CASE_KEYS, PUBLISHED, bench_case, resolve_settings
from actionbook.studies.mmaction.published import mmaction_rows

# (seed table's Model cell, Setting cell) -> benchmark case, for the cells that are not an MMAction2 config name
_SEED_CASES = {("Slowfast", "4x16x1(video)"): "slowfast_4x16", ("Slowfast", "8x8x1(video)"): "slowfast_8x8",
               ("Slowonly", "4x16x1(video)"): "slowonly_4x16", ("Slowonly", "8x8x1(video)"): "slowonly_8x8",
               ("R(2+1)D", "32x2x1(frame)"): "r2plus1d_32x2", ("R(2+1)D", "8x8x1(frame)"): "r2plus1d_8x8"}
_CASE_ORDER = {k: i for i, k in enumerate(CASE_KEYS)}


def seed_case(model: str, setting: str) -> str | None:
    """The benchmark case (tsn, i3d_fast, slowfast_4x16, ...) a row of the seed speed table stands for."""
    if (model, setting) in _SEED_CASES:
        return _SEED_CASES[(model, setting)]
    for name in (setting, setting.replace("_100e_", "_50e_")):  # the seed writes TSM's config as _100e_
        try:
            return resolve_settings([name])[0]
        except ConfigError:
            continue
    return None


def load_speed(folder: str | Path | None = None) -> list[dict]:
    """The speed records under `folder` (default: the book's records/speed)."""
    folder = Path(folder) if folder is not None else speed_records_dir()
    return load_records(folder) if folder.is_dir() else []


def speed_hardware(record: dict) -> str:
    """The device a speed record ran on, named: the GPU, or the CPU model with its threads."""
    prov = record.get("provenance") or {}
    if record.get("device") == "cuda":
        return f"1x {record.get('device_name') or (prov.get('hardware') or {}).get('gpu') or 'GPU'}"
    threads = prov.get("threads") or (prov.get("hardware") or {}).get("torch_threads")
    name = record.get("device_name") or (prov.get("hardware") or {}).get("cpu") or "CPU"
    return name if "thread" in name else f"CPU: {name} ({threads} threads)"


# ---- the tables as rows -------------------------------------------------------------------------------------------

def speed_table(records: list[dict], device: str | None = None) -> list[dict]:
    """The table's rows: the `train` variant (loader included) of every case, beside its compute-only time."""
    compute = {(r["case"], r["device"]): r for r in records if r["variant"] == "compute"}
    rows = []
    for r in records:
        if r["variant"] != "train" or (device and r["device"] != device):
            continue
        c = compute.get((r["case"], r["device"]))
        mmaction = next((p for p in r["published"] if p["framework"] == "mmaction-lite"), None)
        rows.append({
            "case": r["case"], "setting": r["setting"], "device": r["device"], "batch": r["input"]["batch"],
            "input_size": r["input"]["input_size"], "mean": r["time"]["mean"], "std": r["time"]["std"],
            "median": r["time"]["median"], "n": r["time"]["n"], "skipped": r["time"]["skipped"],
            "data_share": (r["data"] or {}).get("data_share"), "memory_mib": r["memory"]["mib"],
            "memory_kind": r["memory"]["kind"].split(" (")[0], "mfu": r["mfu"]["mfu"],
            "compute_mean": c["time"]["mean"] if c else None, "compute_mfu": c["mfu"]["mfu"] if c else None,
            "published_s_iter": mmaction["s_iter"] if mmaction else None,
            "published_memory_mib": mmaction["memory_mib"] if mmaction else None,
        })
    return sorted(rows, key=lambda row: (row["device"], _CASE_ORDER.get(row["case"], 99)))


def ratio_table(records: list[dict], device: str | None = None) -> list[dict]:
    """One row per compared variant (impl-*, opt-*): its s/iter against the eager-fp32 run of this project's model
    measured interleaved with it (kept in the record's `compared_to`).

    `ratio` = variant / ours-eager (options: < 1 means the option helps); `ours_over_theirs` = ours-eager / theirs
    for other implementations (< 1 means ours is faster). Memory is each runner's own, of the case's kind."""
    rows = []
    for r in records:
        if (device and r["device"] != device) or not r["variant"].startswith(("impl-", "opt-")):
            continue
        base = (r.get("compared_to") or {}).get("baseline")
        if base is None:
            continue
        ratio = r["time"]["mean"] / base["mean"]
        rows.append({
            "case": r["case"], "device": r["device"], "variant": r["variant"], "implementation": r["implementation"],
            "options": r["options"]["label"], "mean": r["time"]["mean"], "std": r["time"]["std"],
            "ours_mean": base["mean"], "ours_std": base["std"], "ratio": ratio,
            "ratio_paired": r["compared_to"].get("ratio_paired_median"),
            "ours_over_theirs": 1 / ratio if r["variant"].startswith("impl-") else None,
            "memory_mib": r["memory"]["mib"], "ours_memory_mib": base["memory_mib"],
            "params": r["params"], "ours_params": base["params"], "mfu": r["mfu"]["mfu"], "ours_mfu": base["mfu"],
        })
    return sorted(rows, key=lambda row: (row["device"], _CASE_ORDER.get(row["case"], 99), row["variant"]))


def fastest_table(records: list[dict], device: str | None = None) -> list[dict]:
    """Per case: this project's model at its fastest (eager fp32 or the best option measured) against the fastest
    other implementation of the same network in eager fp32, from one interleaved run.

    `ours_best_over_fastest_other` < 1 means ours (with its best option) is the fastest measured."""
    by_case: dict[tuple[str, str], list[dict]] = {}
    for row in ratio_table(records, device):
        by_case.setdefault((row["case"], row["device"]), []).append(row)
    out = []
    for (case, dev), rows in by_case.items():
        ours = [{"variant": "compute", "options": "eager fp32", "mean": rows[0]["ours_mean"]}]
        ours += [r for r in rows if r["variant"].startswith("opt-")]
        others = [r for r in rows if r["variant"].startswith("impl-")]
        best = min(ours, key=lambda r: r["mean"])
        other = min(others, key=lambda r: r["mean"]) if others else None
        out.append({
            "case": case, "device": dev, "ours_eager": rows[0]["ours_mean"], "ours_best_variant": best["variant"],
            "ours_best_options": best["options"], "ours_best": best["mean"],
            "fastest_other": other["implementation"] if other else None,
            "fastest_other_mean": other["mean"] if other else None,
            "ours_eager_over_fastest_other": rows[0]["ours_mean"] / other["mean"] if other else None,
            "ours_best_over_fastest_other": best["mean"] / other["mean"] if other else None,
        })
    return out


# ---- the command's tables (every column of the rows above) ---------------------------------------------------------

def _fmt(value, spec: str) -> str:
    return "-" if missing(value) else format(value, spec)


def format_speed_table(rows: list[dict]) -> str:
    return markdown_table(pd.DataFrame([{
        "case": r["case"], "device": r["device"], "batch": r["batch"], "input": r["input_size"],
        "s/iter mean ± std": f"{r['mean']:.3f} ± {r['std']:.3f}", "median": f"{r['median']:.3f}",
        "data share": _fmt(r["data_share"], ".0%"), "compute-only s/iter": _fmt(r["compute_mean"], ".3f"),
        "memory (MiB)": f"{r['memory_mib']:.0f} ({r['memory_kind']})", "MFU": _fmt(r["mfu"], ".1%"),
        "published s/iter (batch/GPU, V100)": _fmt(r["published_s_iter"], ".4g"),
    } for r in rows]))


def format_ratio_table(rows: list[dict]) -> str:
    return markdown_table(pd.DataFrame([{
        "case": r["case"], "device": r["device"], "variant": r["variant"],
        "s/iter mean ± std": f"{r['mean']:.3f} ± {r['std']:.3f}", "ours eager fp32": f"{r['ours_mean']:.3f}",
        "variant / ours": f"{r['ratio']:.2f}", "paired (median of rounds)": _fmt(r.get("ratio_paired"), ".2f"),
        "ours / theirs": _fmt(r["ours_over_theirs"], ".2f"),
        "memory MiB (ours)": f"{r['memory_mib']:.0f} ({r['ours_memory_mib']:.0f})",
        "params (ours)": f"{_fmt(r['params'], ',')} ({_fmt(r['ours_params'], ',')})",
    } for r in rows]))


def format_fastest_table(rows: list[dict]) -> str:
    return markdown_table(pd.DataFrame([{
        "case": r["case"], "device": r["device"], "ours eager fp32": f"{r['ours_eager']:.3f}",
        "ours best (options)": f"{r['ours_best']:.3f} ({r['ours_best_options']})",
        "fastest other (eager fp32)": (f"{r['fastest_other_mean']:.3f} ({r['fastest_other']})"
                                       if r["fastest_other"] else "none installed"),
        "ours eager / other": _fmt(r["ours_eager_over_fastest_other"], ".2f"),
        "ours best / other": _fmt(r["ours_best_over_fastest_other"], ".2f"),
    } for r in rows]))


# ---- the chapter ------------------------------------------------------------------------------------------------

def speed_frame(records: list[dict]) -> pd.DataFrame:
    """One line per measured case and device (the `train` variant: the table's protocol, loader included)."""
    train = {(r["case"], r["device"]): r for r in records if r.get("variant") == "train"}
    rows = []
    for row in speed_table(records):
        rec = train[(row["case"], row["device"])]
        rows.append({**row, "hardware": speed_hardware(rec), "note": rec.get("note", ""),
                     "published_batch": rec["input"].get("published_batch"), "file": record_name(rec)})
    columns = ["case", "setting", "device", "hardware", "batch", "published_batch", "input_size", "mean", "std",
               "median", "n", "data_share", "memory_mib", "memory_kind", "mfu", "compute_mean", "published_s_iter",
               "published_memory_mib", "note", "file"]
    return pd.DataFrame(rows, columns=columns)


def speed_markdown(measured: pd.DataFrame) -> str:
    """The seed speed table row by row (blank cells filled from the same day's table, marked), each setting
    followed by this project's measurements of it with their hardware, batch and input size."""
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
            "Model": p.model, "Setting": f"`{p.setting}`", "Source": framework_name(p.framework) + " (published)",
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
    """Where each speed record comes from: when, on what hardware and host, at which commit, with which versions."""
    lines = []
    for r in records:
        prov = r.get("provenance") or {}
        versions = prov.get("versions") or {}
        git = prov.get("git") or {}
        lines.append({
            "Record": f"`{record_name(r)}`",
            "Created": (r.get("created") or "-")[:19],
            "Hardware": speed_hardware(r),
            "Host": prov.get("host") or "-",
            "Git commit": commit_label(git),
            "Age at this build": age_days(r.get("created")),
            "Versions": ", ".join(f"{k} {versions[k]}" for k in VERSION_KEYS if versions.get(k)),
        })
    if not lines:
        return "*No speed record yet.*"
    return markdown_table(pd.DataFrame(lines))


# ---- which records the chapter trusts --------------------------------------------------------------------------

MIN_ITERATIONS = 30


def record_problems(record: dict, records: list[dict]) -> list[str]:
    """Why a speed record cannot be trusted (empty: it passes): fewer than MIN_ITERATIONS measured iterations; no
    load recorded during the run, or a 1-minute load above the machine's core count (other work shared the
    cores); a compute-only time slower than the whole iteration of the same case and device (impossible on a
    quiet machine, so one of the pair is wrong)."""
    problems = []
    n = (record.get("time") or {}).get("n") or 0
    if n < MIN_ITERATIONS:
        problems.append(f"{n} measured iterations (at least {MIN_ITERATIONS} needed)")
    load = record.get("load") or {}
    cores = ((record.get("provenance") or {}).get("hardware") or {}).get("cpu_count")
    seen = [v[0] for v in (load.get("loadavg_before"), load.get("loadavg_after")) if v]
    if len(seen) < 2 or not cores:
        problems.append("the load during the run was not recorded")
    elif max(seen) > cores:
        problems.append(f"load {max(seen):.1f} on {cores} cores during the run (at most {cores})")
    if record.get("variant") in ("train", "compute"):
        pair = {r.get("variant"): r for r in records
                if (r.get("case"), r.get("device")) == (record.get("case"), record.get("device"))}
        train, compute = pair.get("train"), pair.get("compute")
        if train and compute and compute["time"]["mean"] > train["time"]["mean"]:
            problems.append(f"compute-only {compute['time']['mean']:.3f} s slower than the whole iteration "
                            f"{train['time']['mean']:.3f} s")
    return problems


def trusted_records(records: list[dict]) -> tuple[list[dict], pd.DataFrame]:
    """(the records that pass `record_problems`, a table of the others with their reasons)."""
    kept, rejected = [], []
    for r in records:
        problems = record_problems(r, records)
        if problems:
            rejected.append({"Record": f"`{record_name(r)}`", "Hardware": speed_hardware(r),
                             "Created": (r.get("created") or "-")[:10], "Rejected because": "; ".join(problems)})
        else:
            kept.append(r)
    return kept, pd.DataFrame(rejected, columns=["Record", "Hardware", "Created", "Rejected because"])


def published_seed_cases() -> pd.DataFrame:
    """The published s/iter per case of the rows the chapter's table shows (the seed table's), with the batch per
    GPU, for the plot; blank seed cells filled from the same day's table, as the table does."""
    rows = []
    for p in mmaction_rows():
        case = seed_case(p.model, p.setting)
        later = next((x for x in PUBLISHED.get(case, ()) if x.framework.lower() == p.framework.lower()), None)
        # a blank cell filled, or a cell corrected, by the same day's table: its number (the table marks it)
        s_iter = later.s_iter if later is not None and later.s_iter is not None else p.iter_time
        if case is None or s_iter is None:
            continue
        rows.append({"case": case, "framework": p.framework, "s_iter": s_iter,
                     "batch": bench_case(case).published_batch})
    return pd.DataFrame(rows, columns=["case", "framework", "s_iter", "batch"])


def steps_markdown(folder: str | Path | None = None) -> str:
    """The proxy-size training steps of the four IBM families, the path before the fast path against it and the
    split of the speed-up (one interleaved run, `actionbook bench --steps`), and the tam_r18-with-data check, from
    `<book>/records/speed-steps`."""
    folder = Path(folder) if folder is not None else speed_records_dir().parent / "speed-steps"
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    steps = [r for r in records if r.get("kind") == "step"]
    if not steps:
        return "*No step records yet: `actionbook bench --steps` writes them.*"
    rows = []
    for r in steps:
        times = {name: path["time"]["median"] for name, path in r["paths"].items()}
        load = r.get("load") or {}
        split = {"From wait and allocator": f"{r['speedup_from_runtime']:.2f}x",
                 "From kernels and optimizer": f"{r['speedup_from_kernels']:.2f}x",
                 "Fast path vs fp32 matmul peak (declared / executed FLOPs)":
                     f"{r['paths']['fast']['mfu']['mfu']:.0%} / {r['paths']['fast']['executed']['vs_fp32_peak']:.0%}"}
        rows.append({"Model": f"`{r['model']}`", "Before (s/step)": f"{times['today']:.3f}",
                     "Fast path (s/step)": f"{times['fast']:.3f}", "Speed-up": f"{r['speedup']:.2f}x", **split,
                     "Iterations": r["protocol"]["iters"], "Threads": r["threads"]["intra_op_threads"],
                     "Load before / after": f"{(load.get('loadavg_before') or ['-'])[0]} / "
                                            f"{(load.get('loadavg_after') or ['-'])[0]}",
                     "Measured": r["measured"][:16].replace("T", " ")})
    text = markdown_table(pd.DataFrame(rows))
    for r in records:
        if r.get("kind") == "data_included":
            text += (f"\n\nWith its data (a DataLoader over decoded synth-kinetics video), a `tam_r18` step on the "
                     f"fast path took **{r['ratio']:.2f}x** the time of a bare torchvision ResNet-18 step on random "
                     f"tensors holding the same {r['protocol']['batch'][0] * r['protocol']['batch'][2]} frames (AdamW "
                     f"defaults), measured alternately in one run.")
    return text
