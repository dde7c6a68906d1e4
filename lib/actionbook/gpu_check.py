"""`actionbook gpu-check` (`make gpu-check`): the CUDA paths end to end on synthetic data, in minutes, on the GPUs
of this machine, before a lab spends days of them on a table row.

Each step is its own `actionbook ...` process (a clean CUDA context; one failing step does not hide the others),
with a time limit, its run record under --out (book/records/gpu-check; checkpoints are dropped): fp32 with the
loader's workers and pinned memory, AMP bf16 with channels_last, AMP fp16 (the gradient scaler), torch.compile,
SyncBN, gradient accumulation, a SIGTERM then a resume, DDP with nccl over two GPUs when there are two, and the
speed benchmark's seed rows at the published batch (`actionbook bench seed --device cuda`, records in
book/records/speed). `gpu-check.json` under --out holds each step's command, status, seconds and the machine's
provenance. `--dry-run` validates and prints the plan without a GPU (the tests run it).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from actionbook.experiment import Experiment
from actionbook.measure.environment import provenance
from actionbook.paths import book_dir, speed_records_dir
from actionbook.runs import read_record

# tiny but real: a 2D and a 3D family, 8 frames at 112 px, published-style SGD; a few iterations each
BASE = dict(dataset="synth-kinetics", model="tsn_r50", frames=8, input_size=112, scale_size=128, batch_size=16,
            epochs=2, iters_per_epoch=6, lr=0.01, workers=4, device="cuda", log_every=1, seed=0, test_clips=1)


@dataclass
class Step:
    """One check: `actionbook train` of BASE with `overrides`, or another `actionbook` command (`argv`)."""

    name: str
    what: str
    overrides: dict = field(default_factory=dict)
    argv: list[str] | None = None
    interrupt: bool = False  # SIGTERM after the first logged iteration, then run again to resume
    timeout_s: int = 150


def plan_steps(gpus: int) -> list[Step]:
    steps = [
        Step("fp32-loader", "fp32, 4 loader workers with pinned memory", {}),
        Step("bf16-channels-last", "AMP bf16 autocast, channels_last (3D) weights and input",
             {"amp": "bf16", "channels_last": True, "model": "i3d_r50"}),
        Step("fp16-scaler", "AMP fp16 with the gradient scaler", {"amp": "fp16"}),
        Step("compile", "torch.compile of the model", {"compile": True}),
        Step("sync-bn", "SyncBatchNorm (a process group only with several GPUs)", {"sync_bn": True}),
        Step("accumulate", "gradient accumulation: 2 micro-batches of 8", {"accumulate_steps": 2}),
        Step("resume", "SIGTERM after the first iteration, then the resume", {"checkpoint_every": 1},
             interrupt=True),
    ]
    if gpus >= 2:
        steps.append(Step("ddp-nccl", "DDP over 2 GPUs with nccl and SyncBN", {"nproc": 2, "sync_bn": True}))
    steps.append(Step("bench-seed", "the speed benchmark's seed rows at the published batch", argv=[
        "bench", "seed", "--device", "cuda"], timeout_s=300))
    return steps


def _experiment(step: Step, data_root: Path) -> Experiment:
    return Experiment.from_dict({**BASE, "data_root": str(data_root), "name": f"gpu-check-{step.name}",
                                 **step.overrides})


def _command(step: Step, out: Path) -> list[str]:
    cli = [sys.executable, "-m", "actionbook.cli"]
    if step.argv is not None:
        return [*cli, *step.argv]  # records where the speed chapter reads them
    return [*cli, "train", str(out / step.name / "params.yaml"), "--run-dir", str(out / step.name), "--quiet"]


def _run(step: Step, cmd: list[str], out: Path) -> dict:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if step.interrupt:
        metrics = out / step.name / "metrics.jsonl"
        while proc.poll() is None and not (metrics.is_file() and metrics.read_text().strip()):
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
    try:
        log, _ = proc.communicate(timeout=step.timeout_s)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        log, code = proc.communicate()[0], "timeout"
    if step.interrupt and code == 0:  # the interrupted run, resumed
        first = (read_record(out / step.name) or {}).get("status")
        rest = subprocess.run(cmd, capture_output=True, text=True, timeout=step.timeout_s)
        log, code = f"{log}\n[interrupted: status {first}; resumed]\n{rest.stdout}{rest.stderr}", rest.returncode
        if first != "interrupted":
            code = f"the SIGTERM left status {first!r}, not 'interrupted'"
    result = {"step": step.name, "what": step.what, "command": cmd, "seconds": round(time.perf_counter() - started, 1),
              "ok": code == 0, "exit": code, "log_tail": log.strip().splitlines()[-5:]}
    record = read_record(out / step.name) if step.argv is None else None
    if step.argv is None:
        shutil.rmtree(out / step.name / "checkpoints", ignore_errors=True)  # the record and metrics are what is kept
    if record:
        result["record"] = {k: record.get(k) for k in ("status", "reason", "timings", "batch")}
        result["ok"] = result["ok"] and record.get("status") == "completed"
    return result


def run_check(out: Path, dry_run: bool = False) -> list[dict]:
    gpus = torch.cuda.device_count()
    steps = plan_steps(gpus)
    data_root = out / "data" / "synth-kinetics"
    for step in steps:  # every experiment validates before any step runs
        if step.argv is None:
            _experiment(step, data_root)
    if dry_run:
        print(f"gpu-check plan ({gpus} CUDA device(s) here; records under {out}, speed records under "
              f"{speed_records_dir()}):")
        for step in steps:
            print(f"  {step.name:19s} {step.what}  [limit {step.timeout_s} s]\n    $ {' '.join(_command(step, out))}")
        return []
    if gpus == 0:
        raise SystemExit("gpu-check: no CUDA device is visible (torch.cuda.device_count() == 0); "
                         "`--dry-run` shows the plan")
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "actionbook.cli", "data", "synth", "synth-kinetics", "--root",
                    str(data_root), "--workers", str(min(8, os.cpu_count() or 1))], check=True)
    results = []
    for step in steps:
        if step.argv is None:
            (out / step.name).mkdir(parents=True, exist_ok=True)
            (out / step.name / "params.yaml").write_text(yaml.safe_dump(_experiment(step, data_root).to_dict()))
        results.append(_run(step, _command(step, out), out))
        r = results[-1]
        print(f"{'ok  ' if r['ok'] else 'FAIL'} {r['step']:19s} {r['seconds']:7.1f} s  {r['what']}", flush=True)
    summary = {"provenance": provenance(), "steps": results}
    (out / "gpu-check.json").write_text(json.dumps(summary, indent=1, default=str))
    return results


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("gpu-check", help="the CUDA paths end to end on synthetic data (minutes)")
    parser.add_argument("--out", type=Path, default=book_dir() / "records" / "gpu-check",
                        help="run folders (records and metrics) and gpu-check.json (default: "
                             "book/records/gpu-check; the seed rows' speed records go to book/records/speed)")
    parser.add_argument("--dry-run", action="store_true", help="validate and print the plan; needs no GPU")
    parser.set_defaults(func=_gpu_check)


def _gpu_check(args) -> int:
    results = run_check(args.out, args.dry_run)
    failed = [r["step"] for r in results if not r["ok"]]
    if not args.dry_run:
        print(f"gpu-check: {len(results) - len(failed)} of {len(results)} steps passed"
              + (f"; failed: {', '.join(failed)}" if failed else "") + f" ({args.out / 'gpu-check.json'})")
    return 1 if failed else 0
