"""`actionbook convert SRC --from SOURCE --model NAME --out FILE`: a released checkpoint to this project's format."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from actionbook.convert.convert import convert_checkpoint, save_converted
from actionbook.convert.sources import SOURCES
from actionbook.errors import ConfigError


def parse_options(items: list[str] | None) -> dict:
    """KEY=VALUE model options (YAML values: max, 3, false)."""
    options = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"a model option is KEY=VALUE such as temporal_pooling=max, got {item!r}")
        options[key] = yaml.safe_load(value)
    return options


def cmd_convert(args) -> int:
    names = None
    if args.class_names:
        try:
            names = [line.strip() for line in Path(args.class_names).read_text().splitlines() if line.strip()]
        except OSError as err:
            raise ConfigError(f"cannot read the class names {args.class_names!r}: {err.strerror}") from None
    converted = convert_checkpoint(args.src, args.source, args.model, frames=args.frames,
                                   num_classes=args.num_classes, replace_classifier=args.replace_classifier,
                                   class_names=names, **parse_options(args.option))
    out = save_converted(converted, args.out)
    if args.json:
        print(json.dumps(converted.report.to_dict(), indent=1))
    else:
        print(converted.report.summary())
        print(f"wrote {out}: evaluate it with `actionbook evaluate {out} --dataset ...`, fine-tune from it with "
              f"`--set pretrained={out}`")
    return 0


def add_parser(sub) -> None:
    parser = sub.add_parser("convert", help="convert a released checkpoint (IBM, MMAction2, PySlowFast, pytorchvideo) "
                                            "to this project's format, accounting for every tensor")
    parser.add_argument("src", help="the released checkpoint file (read as data only: torch.load(weights_only=True))")
    parser.add_argument("--from", dest="source", required=True, choices=sorted(SOURCES),
                        help="the codebase that wrote it")
    parser.add_argument("--model", required=True, help="the registered model it is a checkpoint of")
    parser.add_argument("--out", required=True, help="the converted file to write")
    parser.add_argument("--frames", type=int, default=None,
                        help="clip length it was trained with (default: from an IBM checkpoint's run name)")
    parser.add_argument("--num-classes", type=int, default=None, help="classifier size (default: the checkpoint's)")
    parser.add_argument("--replace-classifier", action="store_true",
                        help="allow --num-classes to differ from the checkpoint's: a new, untrained classifier")
    parser.add_argument("--class-names", default=None, metavar="FILE",
                        help="the classifier's class names, one a line in its order (the source's label map): an "
                             "evaluation then matches them to the dataset's classes by name")
    parser.add_argument("--option", action="append", metavar="KEY=VALUE",
                        help="a model option the checkpoint was trained with, e.g. temporal_pooling=max (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the load report as JSON")
    parser.set_defaults(func=cmd_convert)
