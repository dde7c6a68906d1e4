"""`actionbook proxy {params,data,run,files,findings}`: the proxy study's params files, datasets, runs and verdicts.

`add_parser(subparsers)` adds the `proxy` command to the main parser; each subcommand sets `func(args) -> int`.
"""

from __future__ import annotations

import json
import os

from actionbook.paths import params_dir, project_root
from actionbook.report.catalog import load_runs
from actionbook.studies.paramfiles import stale_files, sync_files
from actionbook.studies.proxy.findings import findings
from actionbook.studies.proxy.grid import PROFILES, ensure_data
from actionbook.studies.proxy.params import FOLDER, params_files, profile_files
from actionbook.studies.proxy.run import run_profile
from actionbook.studies.proxy.stats import proxy_frame


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("proxy", help="the proxy study: params files, data, runs of a profile")
    commands = parser.add_subparsers(dest="proxy_command", required=True)

    params = commands.add_parser("params", help="(re)write params/proxy/<profile>/*.yaml (as `actionbook params`)")
    params.add_argument("--check", action="store_true", help="only list missing or stale files (exit 1 if any)")
    params.set_defaults(func=_params)

    data = commands.add_parser("data", help="generate the proxy datasets under data/proxy/")
    data.set_defaults(func=_data)

    run = commands.add_parser("run", help="run a profile through the runner and record its time")
    run.add_argument("profile", choices=list(PROFILES))
    run.add_argument("--runs-dir", default=None, help="where the run folders go (default: book/runs)")
    run.add_argument("--keep-checkpoints", action="store_true")
    run.add_argument("--force", action="store_true")
    run.add_argument("--ignore-code", action="store_true", help="skip complete runs even if the code changed")
    run.add_argument("--in-process", choices=["record", "notebook", "kernel"], default="record",
                     help="the grid's runs: record (default): trained in this process, records only; notebook: "
                          "then each run's notebook is executed to show it (about 20 s a run); kernel: trained "
                          "inside each run's notebook kernel. The pretraining always keeps its notebook")
    run.set_defaults(func=_run)

    files = commands.add_parser("files", help="print a profile's params files, one a line (for the runner)")
    files.add_argument("profile", choices=list(PROFILES))
    files.set_defaults(func=_files)

    verdicts = commands.add_parser("findings", help="the study's findings and verdicts from a profile's records")
    verdicts.add_argument("profile", nargs="?", default="default", choices=list(PROFILES))
    verdicts.add_argument("--json", action="store_true", help="a JSON list, one object per finding")
    verdicts.add_argument("--runs-dir", default=None, help="where the run folders are (default: book/runs)")
    verdicts.set_defaults(func=_findings)


def _params(args) -> int:
    root, files = params_dir(), params_files()
    stale = stale_files(root, files, (FOLDER,))
    if args.check:
        print("\n".join(stale) if stale else f"params/{FOLDER} is up to date")
        return 1 if stale else 0
    changed = sync_files(root, files, stale)
    print(f"{len(changed)} file(s) written or removed under params/{FOLDER}/")
    return 0


def _data(args) -> int:
    for name, folder in ensure_data(workers=min(2, os.cpu_count() or 1)).items():
        print(f"{name}: {folder}")
    return 0


def _run(args) -> int:
    summary = run_profile(args.profile, args.runs_dir, args.keep_checkpoints, args.force, args.ignore_code,
                          in_process=None if args.in_process == "kernel" else args.in_process)
    return 1 if summary["failed"] else 0


def _files(args) -> int:
    print("\n".join(str(p.relative_to(project_root())) for p in profile_files(args.profile)))
    return 0


def _findings(args) -> int:
    items = findings(proxy_frame(load_runs(args.runs_dir)), profile=args.profile)
    if args.json:
        print(json.dumps([item.to_json() for item in items], indent=1, ensure_ascii=False))
        return 0
    for item in items:
        low, high = item.interval
        print(f"{'* ' if item.headline else '  '}{item.finding}: {item.verdict} ({item.difference:+.1f} points, "
              f"95% interval [{low:+.1f}, {high:+.1f}], n = {item.n})")
    return 0
