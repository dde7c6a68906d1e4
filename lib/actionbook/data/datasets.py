"""Dataset registry: names, class counts, kinds and on-disk layouts; `ensure_dataset` and `load_split`.

`root` is always the dataset's own folder. Real datasets need it; the synthetic ones default to
`$ACTIONBOOK_DATA/<name>` (else `~/.cache/actionbook/data/<name>`) and are generated there on first use.

Layouts (relative to root):

| kind          | annotations                                        | videos                                        |
|---------------|----------------------------------------------------|-----------------------------------------------|
| ssv2          | labels/labels.json, labels/train.json,             | 20bn-something-something-v2/<id>.webm         |
|               | labels/validation.json (or something-something-v2-*.json) |                                       |
| kinetics      | train.csv, validate.csv                            | <split>/<label>/<id>_<start>_<end>.mp4        |
| ibm-list      | train.txt, val.txt (mini_train.txt, ... for mini)  | frame folders <folder>/00001.jpg, ...         |
| mmaction-list | kinetics400_{train,val}_list_videos.txt            | videos_train/<path>, videos_val/<path>        |

`split="test"` reads the validation annotations (the official test sets carry no labels) under the multi-view test
protocol, as the IBM and MMAction2 test scripts do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from actionbook.errors import ConfigError

from .formats import (
    Sample,
    read_ibm_list,
    read_kinetics,
    read_kinetics_classes,
    read_mmaction_list,
    read_ssv2,
    read_ssv2_labels,
)
from .synthetic import SYNTHETIC, ensure_synthetic, read_manifest

KINDS = ("synthetic", "ssv2", "kinetics", "ibm-list", "mmaction-list")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DatasetInfo:
    """What the registry knows about a dataset without reading it."""

    name: str
    num_classes: int  # synthetic sets: the default size
    kind: str  # one of KINDS
    layout: str  # annotation format on disk: "ssv2", "kinetics", "ibm-list" or "mmaction-list"
    description: str
    lists: tuple[str, str] = ()  # train / validation list files (ibm-list, mmaction-list)
    video_dirs: tuple[str, str] = ()  # train / validation video folders (mmaction-list)
    min_frames: int = 0  # ibm-list: shorter videos are dropped from train and val (IBM `filter_video`)


def _ibm(name, classes, lists, min_frames, what):
    return DatasetInfo(name, classes, "ibm-list", "ibm-list", f"{what}: IBM frame folders and lists", lists,
                       min_frames=min_frames)


DATASETS: dict[str, DatasetInfo] = {info.name: info for info in [
    _ibm("st2stv2", 174, ("train.txt", "val.txt"), 3, "Something-Something-V2"),
    _ibm("mini_st2stv2", 87, ("mini_train.txt", "mini_val.txt"), 3, "mini Something-Something-V2"),
    _ibm("kinetics400", 400, ("train.txt", "val.txt"), 30, "Kinetics-400"),
    _ibm("mini_kinetics400", 200, ("mini_train.txt", "mini_val.txt"), 30, "mini Kinetics-400"),
    _ibm("moments", 339, ("train.txt", "val.txt"), 0, "Moments in Time"),
    _ibm("mini_moments", 200, ("mini_train.txt", "mini_val.txt"), 0, "mini Moments in Time"),
    DatasetInfo("ssv2-videos", 174, "ssv2", "ssv2", "Something-Something-V2 as released: webm videos, JSON labels"),
    DatasetInfo("kinetics400-videos", 400, "kinetics", "kinetics", "Kinetics-400 as released: mp4 clips, CSV"),
    DatasetInfo("kinetics400-mmaction", 400, "mmaction-list", "mmaction-list",
                "Kinetics-400 in MMAction2's layout: video lists 'path label'",
                ("kinetics400_train_list_videos.txt", "kinetics400_val_list_videos.txt"),
                ("videos_train", "videos_val")),
    DatasetInfo("synth-something", SYNTHETIC["synth-something"].defaults.num_classes, "synthetic", "ssv2",
                "synthetic Something-Something stand-in (time-reversed twin classes), generated on first use"),
    DatasetInfo("synth-kinetics", SYNTHETIC["synth-kinetics"].defaults.num_classes, "synthetic", "kinetics",
                "synthetic Kinetics stand-in (appearance classes), generated on first use"),
    DatasetInfo("synth-images", SYNTHETIC["synth-images"].defaults.num_classes, "synthetic", "ibm-list",
                "synthetic ImageNet stand-in (stills of object kinds, one-frame folders), generated on first use",
                ("train.txt", "val.txt")),
]}


def dataset_info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise ConfigError(f"dataset {name!r} unknown; expected one of {', '.join(DATASETS)}")
    return DATASETS[name]


def default_data_dir() -> Path:
    """Where synthetic datasets live by default: $ACTIONBOOK_DATA, else ~/.cache/actionbook/data."""
    return Path(os.environ.get("ACTIONBOOK_DATA") or "~/.cache/actionbook/data").expanduser()


def ensure_dataset(name: str, root: str | os.PathLike | None = None) -> Path:
    """The dataset's folder; a synthetic set is generated with its default settings if nothing is there yet."""
    info = dataset_info(name)
    if info.kind == "synthetic":
        return ensure_synthetic(name, Path(root) if root is not None else default_data_dir() / name)
    if root is None:
        raise ConfigError(f"dataset {name!r} is not synthetic: pass root=<its folder> ({info.description})")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ConfigError(f"dataset folder {root} not found (expected {name}: {info.description})")
    return root


@dataclass
class SplitAnnotations:
    samples: list[Sample]
    class_names: list[str]
    annotation_files: list[Path]


def _first_existing(*candidates: Path) -> Path:
    return next((path for path in candidates if path.is_file()), candidates[0])


def _num_classes(info: DatasetInfo, root: Path) -> int:
    """The dataset's class count: the registry's, or for a synthetic set the one it was generated with."""
    if info.kind == "synthetic":
        manifest = read_manifest(root) or {}
        return manifest.get("config", {}).get("num_classes", info.num_classes)
    return info.num_classes


def load_split(info: DatasetInfo, root: Path, split: str) -> SplitAnnotations:
    """Samples and class names of one split ("test" reads the validation annotations)."""
    if split not in SPLITS:
        raise ConfigError(f"split {split!r} unknown; expected one of {', '.join(SPLITS)}")
    validation = split != "train"
    num_classes = _num_classes(info, root)
    if info.layout == "ssv2":
        labels = root / "labels"
        labels_json = _first_existing(labels / "labels.json", labels / "something-something-v2-labels.json")
        stem = "validation" if validation else "train"
        split_json = _first_existing(labels / f"{stem}.json", labels / f"something-something-v2-{stem}.json")
        names = read_ssv2_labels(labels_json)
        samples = read_ssv2(split_json, names, root / "20bn-something-something-v2")
        files = [labels_json, split_json]
    elif info.layout == "kinetics":
        train_csv = root / "train.csv"
        split_csv = _first_existing(root / "validate.csv", root / "val.csv") if validation else train_csv
        names = read_kinetics_classes(train_csv, num_classes)
        samples = read_kinetics(split_csv, names, root)
        files = sorted({train_csv, split_csv})
    else:  # frame or video lists with integer labels and no class names
        list_path = root / info.lists[validation]
        if info.layout == "ibm-list":
            samples = read_ibm_list(list_path, root, min_frames=0 if split == "test" else info.min_frames,
                                    num_classes=num_classes)
        else:
            samples = read_mmaction_list(list_path, root / info.video_dirs[validation], num_classes)
        names = [str(label) for label in range(num_classes)]
        files = [list_path]
    if info.kind == "synthetic":
        files.append(root / "synth.json")
    if not samples:
        raise ConfigError(f"{root}: the {split} annotations of {info.name} list no videos")
    return SplitAnnotations(samples, names, files)

