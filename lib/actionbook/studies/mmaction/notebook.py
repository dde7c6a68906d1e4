"""What notebooks/benchmark.ipynb calls: one setting through the speed benchmark, its run record, a table and a
figure. Bad input raises ConfigError (the notebook shows it as one line through actionbook.notebook)."""

from __future__ import annotations

import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch

from actionbook.errors import ConfigError
from actionbook.report.markdown import missing
from actionbook.runs import write_record
from actionbook.studies.mmaction.bench import BenchPlan, run_bench
from actionbook.studies.mmaction.cases import BenchCase, bench_case, resolve_settings


def benchmark_setting(name: str, device: str = "cpu") -> BenchCase:
    """The speed case of an MMAction2 setting (config name, either spelling of the fast I3D, or a case key)."""
    keys = resolve_settings([name])
    if len(keys) != 1:
        raise ConfigError(f"{name!r} names {len(keys)} settings; give one: {', '.join(keys)}")
    return bench_case(keys[0], device)


def run_benchmark(setting: str, run_dir: str | Path, device: str = "auto", batch: int | None = None,
                  input_size: int | None = None, warmup: int | None = None, iters: int | None = None,
                  workers: int | None = None, compare: bool = False, options: list[str] | None = None,
                  dataset: str = "synth-kinetics", data_root: str | None = None) -> dict:
    """Measure one setting with the speed benchmark (run_bench); the speed records go to `run_dir/speed/`, and
    `run_dir/record.json` sums them up (the run record the batch runner checks)."""
    run_dir = Path(run_dir)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if data_root is None and not dataset.startswith("synth-"):
        print(f"no data_root for {dataset}: loading clips from the synthetic Kinetics stand-in instead")
        dataset = "synth-kinetics"
    started = time.perf_counter()
    plan = BenchPlan(keys=resolve_settings([setting]), device=device, batch=batch, input_size=input_size,
                     warmup=warmup, iters=iters, compare=compare, options=list(options or []),
                     dataset=dataset, data_root=data_root, workers=workers, out=str(run_dir / "speed"))
    records = run_bench(plan, progress=lambda message: print(message, flush=True))
    train = next(r for r in records if r["variant"] == "train")
    published = next((p for p in train["published"] if p["framework"] == "mmaction-lite"), {})
    record = {
        "schema": 1, "kind": "benchmark", "status": "completed", "reason": None, "run_dir": str(run_dir),
        "setting": train["setting"], "case": train["case"], "device": train["device"],
        "device_name": train["device_name"],
        "metrics": {"speed": {"mean_iter_s": train["time"]["mean"], "std_iter_s": train["time"]["std"],
                              "iterations": train["time"]["n"], "warmup_skipped": train["time"]["skipped"],
                              "memory_mib": train["memory"]["mib"], "memory_kind": train["memory"]["kind"],
                              "batch": train["input"]["batch"], "input_size": train["input"]["input_size"]}},
        "published": {"s_iter": published.get("s_iter"), "s_iter_std": published.get("s_iter_std"),
                      "memory_mib": published.get("memory_mib"), "source": published.get("source")},
        "speed_records": sorted(str(p.relative_to(run_dir)) for p in (run_dir / "speed").glob("*.json")),
        "timings": {"benchmark_s": time.perf_counter() - started},
        "note": train.get("note", ""),
        "provenance": train.get("provenance"),
        "records": records,
    }
    write_record(run_dir, {k: v for k, v in record.items() if k != "records"})
    return record


def benchmark_table(record: dict) -> pd.DataFrame:
    """Measured against published, one row per measured variant, plus the published rows of other frameworks."""
    rows = []
    for r in record["records"]:
        rows.append({"what": f"measured: {r['variant']} ({r['implementation']}, {r['options']['label']})",
                     "device": r["device_name"], "batch": r["input"]["batch"],
                     "input": f"{r['frames']}x{r['input']['input_size']}²", "s/iter": r["time"]["mean"],
                     "std": r["time"]["std"], "memory (MiB)": r["memory"]["mib"],
                     "MFU": (r.get("mfu") or {}).get("mfu")})
    for p in record["records"][0]["published"]:
        rows.append({"what": f"published: {p['framework']}", "device": p.get("hardware"),
                     "batch": p.get("batch_per_gpu"), "input": "224²", "s/iter": p.get("s_iter"),
                     "std": p.get("s_iter_std"), "memory (MiB)": p.get("memory_mib"), "MFU": None})
    table = pd.DataFrame(rows).set_index("what")
    for column in ("s/iter", "std", "MFU"):
        table[column] = table[column].map(lambda v: "-" if missing(v) else f"{v:.4f}")
    table["memory (MiB)"] = table["memory (MiB)"].map(lambda v: "-" if missing(v) else f"{v:,.0f}")
    return table


def benchmark_figure(record: dict) -> plt.Figure:
    """Per-iteration times of every measured variant (warm-up shaded), pyplot: shown inline."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for r in record["records"]:
        warm, kept = r["time"]["warmup_times"], r["time"]["times"]
        ax.plot(range(1, len(warm) + len(kept) + 1), warm + kept, "o-", ms=3,
                label=f"{r['variant']} (mean {r['time']['mean']:.3f} s)")
        if warm:
            ax.axvspan(0.5, len(warm) + 0.5, color="0.9")
    ax.set(xlabel="iteration", ylabel="seconds", title=f"{record['setting']} on {record['device_name']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
