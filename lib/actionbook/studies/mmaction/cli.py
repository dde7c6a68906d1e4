"""`actionbook bench`: MMAction2's training-speed protocol on this machine, one record per (setting, device, variant).

`add_parser(subparsers)` adds the subcommand to the main parser; it sets `func(args) -> int`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from actionbook.errors import ConfigError
from actionbook.measure import steps
from actionbook.measure.speed import OPTIONS, load_records, torch_threads
from actionbook.paths import speed_records_dir
from actionbook.runs import write_json_atomic
from actionbook.studies.mmaction.bench import BenchPlan, run_bench
from actionbook.studies.mmaction.cases import cases_summary, resolve_settings
from actionbook.studies.mmaction.chapter import (
    fastest_table,
    format_fastest_table,
    format_ratio_table,
    format_speed_table,
    ratio_table,
    speed_table,
)

EPILOG = """\
settings: case keys (tsn, i3d, i3d_fast, i3d_heavy, tsm, slowfast_4x16, slowfast_8x8, slowonly_4x16,
slowonly_8x8, r2plus1d_32x2, r2plus1d_8x8), MMAction2 config names, 'seed' (the seed table's rows) or 'all'.

defaults: on a GPU the published batch per GPU at 224x224, 50 warm-up iterations skipped, 50 measured, 4 loader
workers; on the CPU batch 1 at 64x64, 3 skipped, 30 measured, 1 worker (a CPU-scale run: records say so).
Denormals are flushed to zero. OpenMP threads spin, then sleep: 4,000 spins when nothing else runs as the command
starts, 1,000 when something does (GOMP_SPINCOUNT, unless the environment sets it or OMP_WAIT_POLICY; records keep
the setting).

--steps: the proxy-size training step (batch 8 x 8 frames of 32x32, AdamW) of tsn_r18, tam_r18, i3d_r18 and
s3d_r18, the path before issue 19 against the fast path, each in a process of its own started with its OpenMP
settings, one step at a time, rounds interleaved (30 measured by default), plus the acceptance check (tam_r18
with data against a bare torchvision ResNet-18 step); records under --steps-out.

--compare measures the same network from torchvision, pytorchvideo and MMAction2 where installed. MMAction2
1.2.0 does not install into the project environment (it needs mmcv and mmengine); a side install works:
  pip install --no-deps --target .venv/extras/mmaction2 mmaction2==1.2.0 mmcv-lite==2.1.0 mmengine==0.10.7 \\
      addict yapf rich einops scipy opencv-python-headless markdown-it-py mdurl pygments platformdirs tomli
  PYTHONPATH=.venv/extras/mmaction2 actionbook bench seed --compare
(the wheel misses one localizer subpackage, open-mmlab/mmaction2#2714; it is stubbed at import, unused here).

examples:
  actionbook bench seed --compare                   # every seed row on the CPU, with other implementations
  actionbook bench tsn slowonly_4x16 --options      # bf16, channels-last, torch.compile (cuDNN benchmark: GPU)
  actionbook bench all --device cuda --compare --options
  actionbook bench --table                          # print the tables of the records under --out
  actionbook bench --steps                          # today's step against the fast path, about 2 min on 2 cores
"""


def add_parser(subparsers) -> None:
    records = speed_records_dir()
    parser = subparsers.add_parser(
        "bench", help="training s/iter and memory of the MMAction2 benchmark settings (MMAction2's protocol)",
        description=__doc__.splitlines()[0], epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("settings", nargs="*", help="what to measure (see below)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--batch", type=int, help="clips per iteration (default: published on a GPU, 1 on the CPU)")
    parser.add_argument("--input-size", type=int, help="crop size (default 224 on a GPU, 64 on the CPU)")
    parser.add_argument("--iters", type=int, help="measured iterations (default 50 on a GPU, 5 on the CPU)")
    parser.add_argument("--warmup", type=int, help="iterations timed then skipped (default 50 on a GPU, 2 on the CPU)")
    parser.add_argument("--compare", action="store_true", help="also other implementations of the same network")
    parser.add_argument("--options", nargs="?", const="all", default="",
                        help=f"speed options to measure on and off: comma-separated from {', '.join(OPTIONS)} "
                             "(no value: all)")
    parser.add_argument("--no-best", action="store_true", help="with --options, skip the all-helpful-options run")
    parser.add_argument("--loader", choices=("video", "synthetic"), default="video",
                        help="train variant's batches: decoded video (default) or random host tensors")
    parser.add_argument("--dataset", default="synth-kinetics", help="dataset for the loader (default synth-kinetics)")
    parser.add_argument("--data-root", help="dataset folder (required for real datasets)")
    parser.add_argument("--workers", type=int, help="loader workers (default 4 on a GPU, 1 on the CPU)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--out", default=str(records), help=f"records folder (default {records})")
    parser.add_argument("--no-write", action="store_true", help="measure and print, write no records")
    parser.add_argument("--table", action="store_true", help="print the tables of the records in --out and stop")
    parser.add_argument("--list", action="store_true", help="list the settings and stop")
    parser.add_argument("--steps", action="store_true", help="the proxy-size steps, today's path against the fast "
                                                             "path (see below)")
    parser.add_argument("--steps-out", default=str(steps_records_dir()),
                        help=f"records folder of --steps (default {steps_records_dir()})")
    parser.add_argument("--json", action="store_true", help="print the records (or tables) as JSON")
    parser.set_defaults(func=cmd_bench)


def _option_list(value: str) -> list[str]:
    if not value:
        return []
    if value == "all":
        return list(OPTIONS)
    return [v.strip() for v in value.split(",") if v.strip()]


def _print_tables(records: list[dict], as_json: bool) -> None:
    table, ratios, fastest = speed_table(records), ratio_table(records), fastest_table(records)
    if as_json:
        print(json.dumps({"speed": table, "ratios": ratios, "fastest": fastest}, indent=1))
        return
    if table:
        print("\nspeed (train variant: loader included; compute-only beside it)")
        print(format_speed_table(table))
    if ratios:
        print("\nside by side (compute-only, interleaved; ratio = variant / ours eager fp32)")
        print(format_ratio_table(ratios))
    if fastest:
        print("\nours at its fastest against the fastest other implementation (same interleaved run)")
        print(format_fastest_table(fastest))


def steps_records_dir() -> Path:
    """`<book>/records/speed-steps`: the --steps records, beside the MMAction2 settings' ones."""
    return speed_records_dir().parent / "speed-steps"


def cmd_steps(args) -> int:
    """`actionbook bench --steps`: the four proxy steps, then the data-included check; one JSON record each."""
    say = None if args.json else lambda msg: print(msg, flush=True)
    iters = args.iters or steps.DEFAULT_ITERS
    warmup = steps.DEFAULT_WARMUP if args.warmup is None else args.warmup
    records = steps.run_steps(iters=iters, warmup=warmup, progress=say)
    records.append(steps.data_included(iters, warmup, args.dataset, args.data_root, progress=say))
    if not args.no_write:
        for record in records:
            write_json_atomic(Path(args.steps_out) / steps.record_file_name(record), record)
    if args.json:
        print(json.dumps(records, indent=1))
        return 0
    for r in records[:-1]:
        today, fast = r["paths"]["today"]["time"]["median"], r["paths"]["fast"]["time"]["median"]
        print(f"{r['model']:8} today {today:.3f} s  fast {fast:.3f} s  speed-up {r['speedup']:.2f}x "
              f"(wait and allocator {r['speedup_from_runtime']:.2f}x, "
              f"kernels and optimizer {r['speedup_from_kernels']:.2f}x; "
              f"fast path at {r['paths']['fast']['mfu']['mfu']:.0%} of the fp32 matmul peak, "
              f"{r['paths']['fast']['executed']['vs_fp32_peak']:.0%} on the FLOPs it executes)")
    check = records[-1]
    print(f"tam_r18 with data {check['tam_r18_with_data']['time']['median']:.3f} s vs torchvision resnet18 on random "
          f"tensors {check['torchvision_resnet18_random']['time']['median']:.3f} s: ratio {check['ratio']:.2f}")
    print(f"load average before {records[0]['load']['loadavg_before']}, after {check['load']['loadavg_after']}; "
          f"threads {check['threads']}")
    return 0


def cmd_bench(args) -> int:
    if args.steps:
        return cmd_steps(args)
    if args.list:
        for c in cases_summary():
            print(f"{c['key']:15} {c['setting']:50} {'seed' if c['seed_row'] else '    '}  {c['note']}")
        return 0
    if args.table:
        _print_tables(load_records(args.out), args.json)
        return 0
    if not args.settings:
        raise ConfigError("name at least one setting (or 'seed' / 'all'); --list shows them")
    plan = BenchPlan(
        keys=resolve_settings(args.settings), device=args.device, batch=args.batch, input_size=args.input_size,
        warmup=args.warmup, iters=args.iters, compare=args.compare, options=_option_list(args.options),
        best=not args.no_best, loader=args.loader, dataset=args.dataset, data_root=args.data_root,
        workers=args.workers, out=None if args.no_write else args.out)
    with torch_threads(args.threads):
        records = run_bench(plan, progress=None if args.json else lambda msg: print(msg, flush=True))
    if args.json:
        print(json.dumps(records, indent=1, default=str))
        return 0
    _print_tables(records, False)
    if plan.out:
        print(f"\n{len(records)} records -> {plan.out}")
    return 0
