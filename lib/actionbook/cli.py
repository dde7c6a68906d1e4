"""`actionbook ...`: a thin command line over the library's functions."""

from __future__ import annotations

import argparse
import json
import sys

from actionbook.errors import ConfigError


def _fmt(n) -> str:
    return "-" if n is None else f"{n:,}"


def _gflops(n) -> str:
    return "-" if n is None else f"{n / 1e9:.2f}G"


def _mark(ok) -> str:
    return {True: "yes", False: "NO", None: "-"}[ok]


def cmd_zoo(args) -> int:
    from actionbook.report.zoo import ibm_zoo, mmaction_zoo

    if args.table == "mmaction":
        rows = mmaction_zoo()
        if args.json:
            print(json.dumps(rows, indent=1))
            return 0
        print(f"{'setting':50} {'params':>12} {'mmaction FLOPs':>16} {'documented':>10} {'ok':>3} "
              f"{'conv MACs@224':>16}")
        for r in rows:
            ok = r["params_match"] is not False and r["flops_match"] is not False
            print(f"{r['setting']:50} {_fmt(r['params']):>12} {r['mmaction_flops'] / 1e9:>15.2f}G "
                  f"{_gflops(r['documented_flops']):>10} {_mark(ok):>3} {_fmt(r['train_clip_conv_macs_224']):>16}")
        return 0
    rows = ibm_zoo(args.rows)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'row':66} {'params':>11} {'conv MACs':>16} {'fvcore':>16} {'reported':>16} {'ok':>3}")
    for r in rows:
        ok = None if r["reported_params"] is None else bool(r["params_match"] and r["flops_match"])
        print(f"{r['row']:66} {_fmt(r['params']):>11} {_fmt(r['conv_macs']):>16} {_fmt(r['fvcore_flops']):>16} "
              f"{_fmt(r['reported_flops']):>16} {_mark(ok):>3}")
    return 0


def _experiment(args):
    from actionbook.experiment import Experiment

    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set takes key=value, got {item!r}")
        overrides[key.strip()] = value.strip()
    return Experiment.from_params(args.params, **overrides)


def _under_torchrun() -> bool:
    import os

    return "TORCHELASTIC_RUN_ID" in os.environ or "LOCAL_RANK" in os.environ


def cmd_train(args) -> int:
    exp = _experiment(args)
    if exp.nproc > 1 and not _under_torchrun():
        argv = ["train", args.params, "--run-dir", args.run_dir, *(f"--set={kv}" for kv in args.set or [])]
        return launch_torchrun(exp.nproc, argv + (["--quiet"] if args.quiet else []))
    from actionbook.train import train

    record = train(exp, args.run_dir, progress=not args.quiet)
    if record and record.get("status") == "completed":
        val = record.get("metrics", {}).get("val", {})
        print(f"completed: val top-1 {val.get('top1', float('nan')):.2f}% -> {args.run_dir}")
    return 0


def launch_torchrun(nproc: int, argv: list[str]) -> int:
    """Re-run this command under torchrun with `nproc` processes, streaming its output."""
    import subprocess

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "actionbook.cli", *argv]
    return subprocess.call(cmd)


def cmd_run(args) -> int:
    from actionbook.runner import parse_overrides, results_json, run_batch, summary_line

    results = run_batch(args.params, runs_dir=args.runs_dir, notebook=args.notebook,
                        overrides=parse_overrides(args.set), force=args.force, ignore_code=args.ignore_code,
                        kernel_name=args.kernel, dry_run=args.dry_run)
    if args.dry_run:
        return 0
    if args.json:
        print(results_json(results))
    print(summary_line(results))
    return 1 if any(r.status == "failed" for r in results) else 0


def cmd_evaluate(args) -> int:
    from actionbook.views import brief, evaluate_run, parse_views

    results = evaluate_run(args.run_dir, parse_views(args.views), checkpoint=args.checkpoint, data_root=args.data_root,
                           batch_size=args.batch_size, limit=args.limit, workers=args.workers, device=args.device,
                           progress=not args.quiet)
    if args.json:
        print(json.dumps([brief(r) for r in results], indent=1))
        return 0
    print(f"{'clips':>5} {'crops':>5} {'views':>5} {'top-1':>7} {'top-5':>7} {'videos':>7} {'seconds':>8}")
    for r in map(brief, results):
        print(f"{r['clips']:>5} {r['crops']:>5} {r['views']:>5} {r['top1']:>7.2f} {r['top5']:>7.2f} {r['videos']:>7} "
              f"{r['seconds']:>8.1f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="actionbook", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    zoo = sub.add_parser("zoo", help="params and FLOPs of table rows against the published numbers")
    zoo.add_argument("rows", nargs="*", help="IBM row names (default: every row of the published table)")
    zoo.add_argument("--table", choices=("ibm", "mmaction"), default="ibm")
    zoo.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    zoo.set_defaults(func=cmd_zoo)

    train = sub.add_parser("train", help="train (or resume) one experiment; runnable under torchrun")
    train.add_argument("params", help="a params/*.yaml file")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter (repeatable)")
    train.add_argument("--run-dir", required=True, help="run folder; running again on it resumes")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=cmd_train)

    run = sub.add_parser("run", help="execute params files through a notebook (papermill) into book/runs/<name>/")
    run.add_argument("params", nargs="+", help="params/*.yaml files, one run each")
    run.add_argument("--notebook", default="train", help="train, benchmark, evaluate, model_zoo or a .ipynb path")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter in every run")
    run.add_argument("--runs-dir", default=None, help="where run folders go (default: book/runs)")
    run.add_argument("--force", action="store_true", help="re-run even runs that are complete and unchanged")
    run.add_argument("--ignore-code", action="store_true", help="skip complete runs even if the code changed")
    run.add_argument("--kernel", default=None, help="Jupyter kernel (default: the notebook's, else python3)")
    run.add_argument("--dry-run", action="store_true", help="only say what would run and what would be skipped")
    run.add_argument("--json", action="store_true", help="also print the results as JSON")
    run.set_defaults(func=cmd_run)

    ev = sub.add_parser("evaluate", help="multi-view evaluation of a run's checkpoint (K clips x 1/3/5/10 crops)")
    ev.add_argument("run_dir", help="a run folder (with checkpoints/best.pt)")
    ev.add_argument("--views", nargs="+", default=["1x1"], metavar="KxC", help="clips x crops, e.g. 1x1 2x3 10x3")
    ev.add_argument("--checkpoint", default="best", help="best, last or a checkpoint file")
    ev.add_argument("--data-root", default=None, help="the dataset's folder, if not the one the run used")
    ev.add_argument("--batch-size", type=int, default=None, help="videos per batch (default: the run's per process)")
    ev.add_argument("--limit", type=int, default=None, help="evaluate the first N videos only")
    ev.add_argument("--workers", type=int, default=None, help="loader workers (default: the run's)")
    ev.add_argument("--device", default=None, choices=("auto", "cpu", "cuda"))
    ev.add_argument("--quiet", action="store_true", help="no progress bars")
    ev.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    ev.set_defaults(func=cmd_evaluate)

    from actionbook.data import cli as data_cli

    data_cli.add_parser(sub)
    data_cli.bench_add_parser(sub)
    from actionbook.measure import bench_cli

    bench_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except ConfigError as err:
        print(f"actionbook: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
