"""`actionbook zoo`: params and FLOPs of the IBM rows (any well-formed row name) or of MMAction2's settings,
counted from the models, against the published numbers, as a plain table or JSON."""

from __future__ import annotations

import json

from actionbook.report.markdown import fmt_int
from actionbook.studies.zoo.counts import ibm_zoo, mmaction_zoo


def add_parser(subparsers) -> None:
    zoo = subparsers.add_parser("zoo", help="params and FLOPs of table rows against the published numbers")
    zoo.add_argument("rows", nargs="*", help="IBM row names (default: every row of the published table)")
    zoo.add_argument("--table", choices=("ibm", "mmaction"), default="ibm")
    zoo.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    zoo.set_defaults(func=zoo_command)


def zoo_command(args) -> int:
    if args.table == "mmaction":
        rows = mmaction_zoo()
        if args.json:
            print(json.dumps(rows, indent=1))
            return 0
        print(f"{'setting':50} {'params':>12} {'mmaction FLOPs':>16} {'documented':>10} {'ok':>3} "
              f"{'conv MACs@224':>16}")
        for r in rows:
            ok = r["params_match"] is not False and r["flops_match"] is not False
            print(f"{r['setting']:50} {fmt_int(r['params']):>12} {r['mmaction_flops'] / 1e9:>15.2f}G "
                  f"{_giga(r['documented_flops']):>10} {_mark(ok):>3} {fmt_int(r['train_clip_conv_macs_224']):>16}")
        return 0
    rows = ibm_zoo(args.rows)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'row':66} {'params':>11} {'conv MACs':>16} {'fvcore':>16} {'reported':>16} {'ok':>3}")
    for r in rows:
        ok = None if r["reported_params"] is None else bool(r["params_match"] and r["flops_match"])
        print(f"{r['row']:66} {fmt_int(r['params']):>11} {fmt_int(r['conv_macs']):>16} "
              f"{fmt_int(r['fvcore_flops']):>16} {fmt_int(r['reported_flops']):>16} {_mark(ok):>3}")
    return 0


def _giga(n) -> str:
    return "-" if n is None else f"{n / 1e9:.2f}G"


def _mark(ok) -> str:
    return {True: "yes", False: "NO", None: "-"}[ok]
