"""The pre-flight data check (`actionbook data check`) and the comparison of a copy with a reference list
(`actionbook data diff`): a damaged or different copy of a dataset is found before any GPU is used, not during
training (where a broken file is only replaced and counted) or never (a copy that lacks or relabels videos).

`check_dataset` opens every video of the train and validation annotations in parallel processes, decodes its
first, middle and last frames (all of them with `full=True`) and lists the unreadable ones, the short ones (fewer
frames than the recipe needs) and the mislabelled ones (annotations whose labels are not classes of the dataset, a
video listed twice with two labels, or in both splits). The fingerprint it returns (written as JSON) holds each
video's size, frames, label and SHA-256, and the annotation files' hashes.

`diff_fingerprint` compares a fingerprint's split with a reference annotation file in a format the data layer reads
(MMAction2 or IBM lists, a Kinetics CSV, an SSv2 split JSON with its labels JSON). Videos are matched by file (or
frame-folder) name, which every layout keeps: missing (in the reference, absent or unreadable in the copy), extra
(in the copy only) and relabelled. A fingerprint file saved beside the annotations carries its diffs, and every run
record's dataset fingerprint then shows them as the run's dataset delta (`fingerprint.saved_check`).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from actionbook.errors import ConfigError

from .datasets import dataset_info, ensure_dataset, load_split
from .fingerprint import CHECK_FILE, file_sha256
from .formats import (
    Sample,
    read_ibm_list,
    read_kinetics,
    read_kinetics_classes,
    read_mmaction_list,
    read_ssv2,
    read_ssv2_labels,
)
from .readers import UnreadableVideo, open_video

PROBLEMS = ("unreadable", "short", "mislabelled")
REFERENCE_FORMATS = ("auto", "mmaction-list", "ibm-list", "kinetics", "ssv2")


def _content_sha256(path: str) -> str | None:
    """A file's hash; a frame folder's is that of its frames' names and hashes."""
    if os.path.isfile(path):
        return file_sha256(Path(path))
    if os.path.isdir(path):
        digest = hashlib.sha256()
        for name in sorted(os.listdir(path)):
            digest.update(f"{name}:{file_sha256(Path(path) / name)};".encode())
        return digest.hexdigest()
    return None


def _size(path: str) -> int | None:
    if os.path.isfile(path):
        return os.path.getsize(path)
    if os.path.isdir(path):
        return sum(entry.stat().st_size for entry in os.scandir(path) if entry.is_file())
    return None


def probe_video(sample: Sample, min_frames: int, full: bool = False) -> dict:
    """One video's entry: bytes, frames, SHA-256 and the problem found (None when it is fine)."""
    entry = {"path": sample.path, "label": sample.label, "bytes": _size(sample.path), "frames": None,
             "sha256": None, "problem": None}
    try:
        video = open_video(sample.path, sample.num_frames, sample.start_frame)
        entry["frames"] = video.num_frames
        if video.num_frames < 1:
            raise UnreadableVideo(sample.path, "no frames")
        last = video.num_frames - 1
        video.read(range(video.num_frames) if full else sorted({0, last // 2, last}))
    except UnreadableVideo as exc:
        entry["problem"] = f"unreadable: {exc.reason}"
    if entry["problem"] is None and entry["frames"] < min_frames:
        entry["problem"] = f"short: {entry['frames']} frames, the recipe needs {min_frames}"
    entry["sha256"] = _content_sha256(sample.path)
    return entry


def _probe_job(job: tuple[Sample, int, bool]) -> dict:
    return probe_video(*job)


def _label_conflicts(entries: list[dict]) -> None:
    """Mark videos listed twice with two labels, or in both splits (the same file name)."""
    seen: dict[str, list[dict]] = {}
    for entry in entries:
        seen.setdefault(Path(entry["path"]).name, []).append(entry)
    for name, listed in seen.items():
        if len({e["label"] for e in listed}) > 1:
            labels = ", ".join(f"{e['split']} {e['label']}" for e in listed)
            problem = f"mislabelled: {name} is listed with labels {labels}"
        elif len({e["split"] for e in listed}) > 1:
            problem = f"mislabelled: {name} is listed in both splits"
        else:
            continue
        for entry in listed:
            entry["problem"] = entry["problem"] or problem


def check_dataset(name: str, root: str | os.PathLike | None, min_frames: int = 1, workers: int | None = None,
                  full: bool = False, splits: tuple[str, ...] = ("train", "val")) -> dict:
    """The fingerprint of a copy of dataset `name`, with every problem found (see the module's docstring)."""
    info = dataset_info(name)
    root = ensure_dataset(name, root)
    entries, annotations, errors, classes = [], {}, [], {}
    jobs = []
    for split in splits:
        try:
            split_annotations = load_split(info, root, split)
        except ConfigError as err:  # labels that are not classes, or a list that does not parse
            errors.append({"split": split, "problem": f"mislabelled: {err}"})
            continue
        classes[split] = split_annotations.class_names
        for path in split_annotations.annotation_files:
            annotations[path.name] = file_sha256(path)
        jobs += [(split, sample) for sample in split_annotations.samples]
    workers = workers or os.cpu_count() or 1
    args = [(sample, min_frames, full) for _, sample in jobs]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(workers) as pool:
            probed = list(pool.map(_probe_job, args, chunksize=max(1, len(args) // (8 * workers))))
    else:
        probed = [_probe_job(job) for job in args]
    for (split, _), entry in zip(jobs, probed):
        names = classes[split]
        entry.update(split=split, path=os.path.relpath(entry["path"], root),
                     class_name=names[entry["label"]] if 0 <= entry["label"] < len(names) else None)
        entries.append(entry)
    _label_conflicts(entries)
    counts = Counter(e["problem"].split(":", 1)[0] for e in [*entries, *errors] if e["problem"])
    return {"schema": 1, "dataset": name, "root": str(root),
            "checked": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "min_frames": min_frames, "decoded": "every frame" if full else "first, middle and last frames",
            "annotation_sha256": annotations, "annotation_errors": errors, "videos": entries,
            "summary": {"videos": len(entries), **{kind: counts.get(kind, 0) for kind in PROBLEMS}},
            "diffs": {}}


def check_lines(fingerprint: dict) -> list[str]:
    """One line per problem, then the one-line summary."""
    lines = [f"{e['split']}: {e['problem']}" for e in fingerprint["annotation_errors"]]
    lines += [f"{e['problem'].split(':', 1)[0]:11s} {e['path']}: {e['problem'].split(': ', 1)[1]}"
              for e in fingerprint["videos"] if e["problem"]]
    s = fingerprint["summary"]
    splits = sorted({e["split"] for e in fingerprint["videos"]})
    lines.append(f"data check {fingerprint['dataset']}: {s['videos']} videos ({', '.join(splits) or 'none'}), "
                 f"{s['unreadable']} unreadable, {s['short']} short, {s['mislabelled']} mislabelled"
                 + (f" (+{len(fingerprint['annotation_errors'])} annotation file(s) refused)"
                    if fingerprint["annotation_errors"] else ""))
    return lines


def has_problems(fingerprint: dict) -> bool:
    return bool(fingerprint["annotation_errors"]) or any(e["problem"] for e in fingerprint["videos"])


# ---- the comparison with a reference list ------------------------------------------------------------------------

def _reference_format(path: Path, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    if path.suffix == ".csv":
        return "kinetics"
    if path.suffix == ".json":
        return "ssv2"
    first = next((line for line in path.read_text(errors="replace").splitlines() if line.strip()), "")
    fields = first.split(";") if ";" in first else first.split()
    return "ibm-list" if len(fields) >= 3 else "mmaction-list"


def read_reference(path: str | os.PathLike, fmt: str = "auto", labels: str | os.PathLike | None = None) -> dict:
    """{video file name: label} of a reference annotation file: class ids (lists) or class names (CSV, JSON)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"reference list {path} does not exist")
    fmt = _reference_format(path, fmt)
    if fmt not in REFERENCE_FORMATS[1:]:
        raise ConfigError(f"reference format must be one of {', '.join(REFERENCE_FORMATS)}, got {fmt!r}")
    names = None
    if fmt == "mmaction-list":
        samples = read_mmaction_list(path, Path())
    elif fmt == "ibm-list":
        samples = read_ibm_list(path, Path())
    elif fmt == "kinetics":
        names = read_kinetics_classes(path)
        samples = read_kinetics(path, names, Path())
    else:
        if labels is None:
            raise ConfigError(f"{path}: an SSv2 split JSON needs --labels, the labels JSON it refers to")
        names = read_ssv2_labels(Path(labels))
        samples = read_ssv2(path, names, Path())
    return {Path(s.path).name: (names[s.label] if names is not None and s.label >= 0 else s.label) for s in samples}


def diff_fingerprint(fingerprint: dict, reference: dict, split: str) -> dict:
    """Missing, extra and relabelled videos of the fingerprint's `split` against {file name: label}."""
    copy = {Path(e["path"]).name: e for e in fingerprint["videos"] if e["split"] == split}
    by_name = any(isinstance(label, str) for label in reference.values())
    missing = sorted(name for name in reference if name not in copy
                     or (copy[name]["problem"] or "").startswith("unreadable: missing"))
    extra = sorted(set(copy) - set(reference))
    relabelled = []
    for name in sorted(set(copy) & set(reference)):
        label = copy[name]["class_name"] if by_name else copy[name]["label"]
        if name not in missing and label != reference[name]:
            relabelled.append({"video": name, "reference": reference[name], "copy": label})
    return {"split": split, "reference_videos": len(reference), "copy_videos": len(copy), "missing": missing,
            "extra": extra, "relabelled": relabelled}


def diff_lines(delta: dict, reference_name: str) -> list[str]:
    lines = [f"missing    {name}" for name in delta["missing"]]
    lines += [f"extra      {name}" for name in delta["extra"]]
    lines += [f"relabelled {r['video']}: reference {r['reference']}, copy {r['copy']}" for r in delta["relabelled"]]
    lines.append(f"data diff {delta['split']} against {reference_name}: {len(delta['missing'])} missing, "
                 f"{len(delta['extra'])} extra, {len(delta['relabelled'])} relabelled "
                 f"({delta['reference_videos']} videos in the reference, {delta['copy_videos']} in the copy)")
    return lines


def default_fingerprint_path(root: str | os.PathLike) -> Path:
    """Where the check saves its fingerprint: beside the dataset (read by run records, see fingerprint.py)."""
    return Path(root) / CHECK_FILE
