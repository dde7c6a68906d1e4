"""Command line: `actionbook data {list,synth,info,check,diff}` and `actionbook bench-data`.

`add_parser` adds both commands to the main parser; each sets `func(args) -> int`.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

from actionbook.errors import ConfigError

from . import check as data_check
from .bench import run_loader_benchmark
from .dataset import build_dataset
from .datasets import DATASETS, default_data_dir
from .synthetic import SYNTHETIC, ensure_synthetic, with_overrides


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("data", help="datasets: list them, generate the synthetic ones, fingerprint")
    commands = parser.add_subparsers(dest="data_command", required=True)

    listing = commands.add_parser("list", help="the dataset registry: names, class counts, kinds")
    listing.set_defaults(func=_list)

    synth = commands.add_parser("synth", help="generate a synthetic dataset (idempotent)")
    synth.add_argument("name", choices=sorted(SYNTHETIC))
    synth.add_argument("--root", help="dataset folder (default: $ACTIONBOOK_DATA/<name>, "
                                      "else ~/.cache/actionbook/data/<name>)")
    synth.add_argument("--seed", type=int)
    synth.add_argument("--classes", type=int, dest="num_classes")
    synth.add_argument("--train-per-class", type=int)
    synth.add_argument("--val-per-class", type=int)
    synth.add_argument("--frames", type=int)
    synth.add_argument("--width", type=int)
    synth.add_argument("--height", type=int)
    synth.add_argument("--workers", type=int, default=1, help="encoding processes")
    synth.add_argument("--force", action="store_true", help="regenerate even if the folder holds a dataset")
    synth.set_defaults(func=_synth)

    info = commands.add_parser("info", help="fingerprint of one split, as JSON")
    info.add_argument("name", choices=sorted(DATASETS))
    info.add_argument("--root", help="dataset folder (required for real datasets)")
    info.add_argument("--split", default="train", choices=("train", "val"))
    info.set_defaults(func=_info)

    check = commands.add_parser("check", help="decode every video before training: unreadable, short and mislabelled "
                                              "files, and a fingerprint (exit 1 when there are problems)")
    check.add_argument("name", choices=sorted(DATASETS))
    check.add_argument("--data-root", help="dataset folder (required for real datasets)")
    check.add_argument("--min-frames", type=int, default=1,
                       help="frames the recipe needs: uniform sampling, `frames`; dense, frames x frame_interval")
    check.add_argument("--workers", type=int, default=None, help="decoding processes (default: every core)")
    check.add_argument("--full", action="store_true", help="decode every frame (default: first, middle, last)")
    check.add_argument("--output", help="fingerprint file (default: <data-root>/" + data_check.CHECK_FILE +
                                        ", where run records find it)")
    check.set_defaults(func=_check)

    diff = commands.add_parser("diff", help="a fingerprint against a reference list: missing, extra and relabelled "
                                             "videos (exit 1 when there are any)")
    diff.add_argument("fingerprint", help="a fingerprint written by `actionbook data check`")
    diff.add_argument("--reference", required=True, help="official split list or annotation file: MMAction2 or IBM "
                                                         "list, Kinetics CSV, SSv2 split JSON")
    diff.add_argument("--split", default="train", choices=("train", "val"), help="the copy's split it lists")
    diff.add_argument("--format", default="auto", choices=data_check.REFERENCE_FORMATS)
    diff.add_argument("--labels", help="SSv2: the labels JSON the split JSON refers to")
    diff.add_argument("--no-save", action="store_true",
                      help="do not add the diff to the fingerprint file (run records show the saved diffs)")
    diff.set_defaults(func=_diff)

    parser = subparsers.add_parser("bench-data", help="loader clips/s: decord videos vs JPEG frame folders")
    parser.add_argument("--dataset", default="synth-kinetics", choices=sorted(DATASETS))
    parser.add_argument("--root", help="dataset folder (required for real datasets)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--videos", type=int, default=64, help="videos read (also written as JPEG folders)")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--sampling", default="uniform", choices=("uniform", "dense", "mmaction"))
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2, help="passes over the videos per measurement")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(func=_bench)


def _list(args) -> int:
    for info in DATASETS.values():
        print(f"{info.name:22s} {info.num_classes:4d} classes  {info.kind:14s} {info.description}")
    print(f"default folder of the synthetic sets: {default_data_dir()}/<name>")
    return 0


def _synth(args) -> int:
    config = with_overrides(args.name, seed=args.seed, num_classes=args.num_classes,
                            train_per_class=args.train_per_class, val_per_class=args.val_per_class,
                            frames=args.frames, width=args.width, height=args.height)
    folder = ensure_synthetic(args.name, args.root or default_data_dir() / args.name, config, force=args.force,
                              workers=args.workers)
    print(f"{args.name}: {folder}")
    return 0


def _info(args) -> int:
    print(json.dumps(build_dataset(args.name, args.root, split=args.split).fingerprint(), indent=1))
    return 0


def _check(args) -> int:
    fingerprint = data_check.check_dataset(args.name, args.data_root, min_frames=args.min_frames,
                                           workers=args.workers, full=args.full)
    output = Path(args.output) if args.output else data_check.default_fingerprint_path(fingerprint["root"])
    try:
        output.write_text(json.dumps(fingerprint, indent=1))
    except OSError as err:
        raise ConfigError(f"cannot write the fingerprint to {output} ({err.strerror}): pass --output FILE") from None
    lines = data_check.check_lines(fingerprint)
    print("\n".join(lines[:-1] + [f"{lines[-1]}; fingerprint: {output}"]))
    return 1 if data_check.has_problems(fingerprint) else 0


def _diff(args) -> int:
    path = Path(args.fingerprint)
    try:
        fingerprint = json.loads(path.read_text())
        fingerprint["videos"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(f"{path} is not a fingerprint written by `actionbook data check`") from None
    delta = data_check.diff_fingerprint(fingerprint, data_check.read_reference(args.reference, args.format,
                                                                                args.labels), args.split)
    if not args.no_save:
        fingerprint.setdefault("diffs", {})[Path(args.reference).name] = delta
        path.write_text(json.dumps(fingerprint, indent=1))
    print("\n".join(data_check.diff_lines(delta, Path(args.reference).name)))
    return 1 if delta["missing"] or delta["extra"] or delta["relabelled"] else 0


def _bench(args) -> int:
    print(f"loader benchmark on {platform.node()} ({platform.processor() or platform.machine()}), "
          f"{args.videos} videos of {args.dataset}, {args.frames} frames {args.sampling}, "
          f"{args.input_size}px, batch {args.batch_size}")
    results = run_loader_benchmark(args.dataset, args.root, args.workers, args.videos, args.frames, args.sampling,
                                   args.input_size, args.batch_size, args.repeats)
    if args.json:
        print(json.dumps(results, indent=1))
    return 0
