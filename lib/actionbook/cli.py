"""`actionbook ...`: a thin command line over the library's functions."""

from __future__ import annotations

import argparse
import json
import sys

from actionbook.errors import ConfigError


def _fmt(n) -> str:
    return "-" if n is None else f"{n:,}"


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
                  f"{r['documented_flops'] or '-':>10} {_mark(ok):>3} {_fmt(r['train_clip_conv_macs_224']):>16}")
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
