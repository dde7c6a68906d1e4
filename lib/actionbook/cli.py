"""`actionbook ...`: every entry point of the project as a subcommand, a thin layer over the library's functions.

One registration pattern: each command module exposes `add_parser(subparsers)`, which adds its subcommand(s) with
`set_defaults(func=handler)`, `handler(args) -> int`. The core's commands (train, run, evaluate, params) are
defined here; the others live with what they command and are listed in COMMANDS. Bad input anywhere raises
ConfigError, printed here as one line (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from actionbook import compare, gpu_check, paths
from actionbook.convert import cli as convert_cli
from actionbook.data import TooManyBadFiles
from actionbook.data import cli as data_cli
from actionbook.errors import ConfigError
from actionbook.experiment import Experiment, parse_overrides
from actionbook.runner import results_json, run_batch, summary_line
from actionbook.studies import paramfiles
from actionbook.studies.ibm import params as ibm_params
from actionbook.studies.mmaction import cli as mmaction_cli
from actionbook.studies.mmaction import params as mmaction_params
from actionbook.studies.proxy import cli as proxy_cli
from actionbook.studies.proxy import params as proxy_params
from actionbook.studies.zoo import cli as zoo_cli
from actionbook.train import TrainingFailed, train
from actionbook.train import evaluate as evaluation
from actionbook.train import launch as launch_cli
from actionbook.train.launch import (
    TORCHRUN_ENV,
    Launch,
    add_launch_arguments,
    launch_from_args,
    needs_torchrun,
    set_items,
    torchrun_command,
)

# the studies whose params files `actionbook params` writes (each: FOLDER and params_files())
PARAMS_GENERATORS = (ibm_params, mmaction_params, proxy_params)


# ---- train: one experiment, one process or torchrun -----------------------------------------------------------

def _under_torchrun() -> bool:
    return "TORCHELASTIC_RUN_ID" in os.environ or "LOCAL_RANK" in os.environ


def launch_torchrun(exp: Experiment, launch: Launch, argv: list[str]) -> int:
    """Re-run this command under torchrun (this node's share of the world), streaming its output. SIGTERM (a
    scheduler, a notebook's interrupt) is passed on to torchrun, which passes it to the trainers: they checkpoint."""
    proc = subprocess.Popen(torchrun_command(exp, launch, argv), env={**os.environ, **TORCHRUN_ENV})
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signum))
    try:
        return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_train(args) -> int:
    items = set_items(args)
    exp = Experiment.from_params(args.params, **parse_overrides(items))
    launch = launch_from_args(args)
    if needs_torchrun(exp, launch) and not _under_torchrun():
        argv = ["train", args.params, "--run-dir", args.run_dir, *(f"--set={kv}" for kv in items)]
        return launch_torchrun(exp, launch, argv + (["--quiet"] if args.quiet else []))
    record = train(exp, args.run_dir, progress=not args.quiet)
    if record and record.get("status") == "completed":
        val = record.get("metrics", {}).get("val", {})
        print(f"completed: val top-1 {val.get('top1', float('nan')):.2f}% -> {args.run_dir}")
    return 0


def add_train_parser(sub) -> None:
    parser = sub.add_parser("train", help="train (or resume) one experiment; runnable under torchrun")
    parser.add_argument("params", help="a params/*.yaml file")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override a parameter (repeatable; values are YAML: 8, 0.1, true, [10, 20])")
    parser.add_argument("--run-dir", required=True, help="run folder; running again on it resumes")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_launch_arguments(parser)
    parser.set_defaults(func=cmd_train)


# ---- run: params files through a notebook ---------------------------------------------------------------------

def cmd_run(args) -> int:
    os.environ.update(launch_from_args(args).environment())  # the notebook's `actionbook train` reads them
    results = run_batch(args.params, runs_dir=args.runs_dir, notebook=args.notebook,
                        overrides=parse_overrides(set_items(args)), force=args.force, ignore_code=args.ignore_code,
                        kernel_name=args.kernel, dry_run=args.dry_run, in_process=args.in_process)
    if args.dry_run:
        return 0
    if args.json:
        print(results_json(results))
    print(summary_line(results))
    return 1 if any(r.status == "failed" for r in results) else 0


def add_run_parser(sub) -> None:
    parser = sub.add_parser("run", help="execute params files through a notebook (papermill) into book/runs/<name>/")
    parser.add_argument("params", nargs="+", help="params/*.yaml files, one run each")
    parser.add_argument("--notebook", default="train", help="train, benchmark, evaluate, model_zoo or a .ipynb path")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override a parameter in every run (values are YAML)")
    parser.add_argument("--runs-dir", default=None, help="where run folders go (default: book/runs)")
    parser.add_argument("--force", action="store_true", help="re-run even runs that are complete and unchanged")
    parser.add_argument("--ignore-code", action="store_true", help="skip complete runs even if the code changed")
    parser.add_argument("--kernel", default=None, help="Jupyter kernel (default: the notebook's, else python3)")
    parser.add_argument("--dry-run", action="store_true", help="only say what would run and what would be skipped")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument("--in-process", choices=("notebook", "record"), default=None,
                        help="train every run in this one process (no kernel per run), then execute its notebook, "
                             "which only shows the finished run ('notebook'), or leave the notebook out ('record')")
    add_launch_arguments(parser)
    parser.set_defaults(func=cmd_run)


# ---- evaluate: a run's checkpoint under several views -----------------------------------------------------------

def cmd_evaluate(args) -> int:
    if Path(args.run_dir).is_file():  # a converted released checkpoint (actionbook convert)
        if not args.dataset:
            raise ConfigError("evaluating a checkpoint file needs --dataset (and --data-root for a real dataset)")
        results = evaluation.evaluate_released(
            args.run_dir, args.dataset, args.out, evaluation.parse_views(args.views) if args.views else None,
            data_root=args.data_root, frame_interval=args.frame_interval, sampling=args.sampling,
            input_size=args.input_size, scale_size=args.scale_size, batch_size=args.batch_size or 8,
            limit=args.limit, workers=2 if args.workers is None else args.workers, device=args.device or "auto",
            progress=not args.quiet)
        for note in results[0].get("notes", []) if results else []:
            print(f"note: {note}")
    else:
        results = evaluation.evaluate_run(
            args.run_dir, evaluation.parse_views(args.views or ["1x1"]), checkpoint=args.checkpoint,
            data_root=args.data_root, batch_size=args.batch_size, limit=args.limit, workers=args.workers,
            device=args.device, progress=not args.quiet)
    if args.json:
        print(json.dumps([evaluation.brief(r) for r in results], indent=1))
        return 0
    print(f"{'clips':>5} {'crops':>5} {'views':>5} {'top-1':>7} {'top-5':>7} {'videos':>7} {'unreadable':>10} "
          f"{'seconds':>8}")
    for r in map(evaluation.brief, results):
        print(f"{r['clips']:>5} {r['crops']:>5} {r['views']:>5} {r['top1']:>7.2f} {r['top5']:>7.2f} {r['videos']:>7} "
              f"{r['unreadable']:>10} {r['seconds']:>8.1f}")
    return 0


def add_evaluate_parser(sub) -> None:
    parser = sub.add_parser("evaluate", help="multi-view evaluation of a run's checkpoint (K clips x 1/3/5/10 crops), "
                                             "or of a converted released checkpoint under its source's protocol")
    parser.add_argument("run_dir", help="a run folder (with checkpoints/best.pt), or a file from actionbook convert")
    parser.add_argument("--views", nargs="+", default=None, metavar="KxC",
                        help="clips x crops, e.g. 1x1 2x3 10x3 (default: 1x1 for a run, the source's for a file)")
    parser.add_argument("--dataset", default=None, help="(checkpoint file) the dataset to evaluate on")
    parser.add_argument("--out", default=None, help="(checkpoint file) the folder for its results and predictions "
                                                    "(default: <file>-eval beside it)")
    parser.add_argument("--frame-interval", type=int, default=None, help="(checkpoint file) override the protocol's")
    parser.add_argument("--sampling", default=None, help="(checkpoint file) override the protocol's sampling")
    parser.add_argument("--input-size", type=int, default=None, help="(checkpoint file) override the crop size")
    parser.add_argument("--scale-size", type=int, default=None, help="(checkpoint file) override the shorter side")
    parser.add_argument("--checkpoint", default="best", help="best, last or a checkpoint file")
    parser.add_argument("--data-root", default=None, help="the dataset's folder, if not the one the run used")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="videos per batch (default: the run's per process)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate the first N videos only")
    parser.add_argument("--workers", type=int, default=None, help="loader workers (default: the run's)")
    parser.add_argument("--device", default=None, choices=("auto", "cpu", "cuda"))
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    parser.set_defaults(func=cmd_evaluate)


# ---- params: every study's generated params files ---------------------------------------------------------------

def cmd_params(args) -> int:
    root = args.root or paths.params_dir()
    stale_total, files_total = [], 0
    for generator in PARAMS_GENERATORS:
        files = generator.params_files()
        files_total += len(files)
        stale = paramfiles.stale_files(root, files, (generator.FOLDER,))
        if not args.check:
            paramfiles.sync_files(root, files, stale)
        stale_total += stale
    if args.check:
        for rel in stale_total:
            print(f"out of date: {rel}")
        print(f"{files_total - len(stale_total)} params files up to date, {len(stale_total)} to regenerate")
        return 1 if stale_total else 0
    print(f"wrote or removed {len(stale_total)} params file(s) under {root}")
    return 0


def add_params_parser(sub) -> None:
    parser = sub.add_parser("params", help="(re)write every study's params files under params/ from its tables")
    parser.add_argument("--check", action="store_true", help="only list missing or out-of-date files (exit 1 if any)")
    parser.add_argument("--root", type=Path, default=None, help="params folder (default: the project's params/)")
    parser.set_defaults(func=cmd_params)


# ---- the command line -------------------------------------------------------------------------------------------

COMMANDS = (zoo_cli.add_parser, add_train_parser, add_run_parser, add_evaluate_parser, add_params_parser,
            data_cli.add_parser, mmaction_cli.add_parser, proxy_cli.add_parser, launch_cli.add_parser,
            convert_cli.add_parser, compare.add_parser, gpu_check.add_parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="actionbook", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except ConfigError as err:
        print(f"actionbook: error: {err}", file=sys.stderr)
        return 2
    except (TrainingFailed, TooManyBadFiles) as err:  # the run's record says the same
        print(f"actionbook: {type(err).__name__}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
