"""Annotation formats: each parser turns one annotation file into a list of `Sample`s.

* Something-Something-V2: a labels JSON (template -> id) and split JSONs (`id`, `template`, ...); `<id>.webm`.
* Kinetics-400: CSV `label,youtube_id,time_start,time_end,split`; `<split>/<label>/<id>_<start>_<end>.mp4` with
  6-digit zero-padded times, as in the official release. Labels are the sorted training class names.
* IBM list: `folder start_frame end_frame label` (space or `;`); 3 fields in test lists; JPEG frame folders.
* MMAction2 video list: `path label`, paths relative to the video folder.

A missing or malformed annotation file is a `ConfigError` that names the file (and line) and what was expected.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from actionbook.errors import ConfigError


@dataclass(frozen=True)
class Sample:
    """One video of a split. `label` is -1 where the annotation has none (test lists)."""

    path: str  # video file or frame folder
    label: int
    num_frames: int | None = None  # known from frame lists; video files report their own length
    start_frame: int = 1  # number of the first JPEG of a frame folder


def _require(path: Path, what: str) -> Path:
    if not path.is_file():
        raise ConfigError(f"missing annotation file {path} (expected {what})")
    return path


def _load_json(path: Path, what: str):
    try:
        return json.loads(_require(path, what).read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc}); expected {what}") from None


def ssv2_template_name(template: str) -> str:
    """SSv2 class name of a template: the template without its placeholder brackets."""
    return template.replace("[", "").replace("]", "")


def read_ssv2_labels(labels_json: Path) -> list[str]:
    """Class names ordered by id, from the SSv2 labels JSON `{"Holding something": "0", ...}`."""
    mapping = _load_json(labels_json, 'SSv2 labels JSON {"class name": "id", ...}')
    names = sorted(mapping, key=lambda name: int(mapping[name]))
    if [int(mapping[name]) for name in names] != list(range(len(names))):
        raise ConfigError(f"{labels_json}: class ids must be 0..{len(names) - 1}, each once")
    return names


def read_ssv2(split_json: Path, class_names: list[str], video_dir: Path) -> list[Sample]:
    """SSv2 split JSON `[{"id": "1", "template": "Holding [something]", ...}, ...]` -> `<video_dir>/<id>.webm`."""
    entries = _load_json(split_json, 'SSv2 split JSON [{"id": ..., "template": ...}, ...]')
    ids = {name: index for index, name in enumerate(class_names)}
    samples = []
    for number, entry in enumerate(entries, start=1):
        try:
            label = ids[ssv2_template_name(entry["template"])] if "template" in entry else -1
            samples.append(Sample(str(video_dir / f"{entry['id']}.webm"), label))
        except (KeyError, TypeError):
            raise ConfigError(f"{split_json}: entry {number} needs an 'id' and a known 'template', "
                              f"got {entry!r:.120}") from None
    return samples


def kinetics_file_name(youtube_id: str, time_start: int, time_end: int) -> str:
    """`<id>_<start>_<end>.mp4` with 6-digit zero-padded times (official Kinetics layout)."""
    return f"{youtube_id}_{int(time_start):06d}_{int(time_end):06d}.mp4"


def _read_kinetics_rows(csv_path: Path) -> list[dict]:
    with open(_require(csv_path, "Kinetics CSV label,youtube_id,time_start,time_end,split"), newline="") as file:
        rows = list(csv.DictReader(file))
    needed = {"youtube_id", "time_start", "time_end", "split"}
    if rows and not needed <= set(rows[0]):
        raise ConfigError(f"{csv_path}: columns {sorted(rows[0])}, expected label,youtube_id,time_start,time_end,split")
    return rows


def read_kinetics_classes(train_csv: Path) -> list[str]:
    """Kinetics class names: the sorted labels of the training CSV (a label's id is its index)."""
    return sorted({row["label"] for row in _read_kinetics_rows(train_csv)})


def read_kinetics(csv_path: Path, class_names: list[str], video_root: Path) -> list[Sample]:
    """Kinetics CSV -> `<video_root>/<split>/<label>/<id>_<start>_<end>.mp4`; test CSVs (no label) give -1.

    Some copies of the dataset write label folders with underscores for spaces; that spelling is used for a
    label whose folder exists only in that form.
    """
    ids = {name: index for index, name in enumerate(class_names)}
    folders: dict[tuple[str, str], Path] = {}
    samples = []
    for number, row in enumerate(_read_kinetics_rows(csv_path), start=2):  # line 1 is the header
        label = row.get("label") or ""
        if label and label not in ids:
            raise ConfigError(f"{csv_path}:{number}: label {label!r} is not a class of the training CSV")
        key = (row["split"], label)
        if key not in folders:
            folder = video_root / row["split"] / label
            underscored = video_root / row["split"] / label.replace(" ", "_")
            folders[key] = underscored if not folder.is_dir() and underscored.is_dir() else folder
        try:
            name = kinetics_file_name(row["youtube_id"], row["time_start"], row["time_end"])
        except ValueError:
            raise ConfigError(f"{csv_path}:{number}: time_start/time_end must be whole seconds") from None
        samples.append(Sample(str(folders[key] / name), ids[label] if label else -1))
    return samples


def _list_lines(list_path: Path, what: str):
    for number, line in enumerate(_require(list_path, what).read_text().splitlines(), start=1):
        if line.strip():
            yield number, line


def read_ibm_list(list_path: Path, frame_root: Path, min_frames: int = 0) -> list[Sample]:
    """IBM list `folder start end [label]`, separated by spaces or `;`; folders shorter than `min_frames` dropped."""
    line_format = "'folder start_frame end_frame label' (space or ';' separated)"
    samples = []
    for number, line in _list_lines(list_path, f"an IBM list of lines {line_format}"):
        fields = line.split(";") if ";" in line else line.split()
        try:
            folder, start, end = fields[0], int(fields[1]), int(fields[2])
            label = int(fields[3]) if len(fields) > 3 else -1
        except (IndexError, ValueError):
            raise ConfigError(f"{list_path}:{number}: {line!r:.120} is not a line {line_format}") from None
        if end - start + 1 >= min_frames:
            samples.append(Sample(str(frame_root / folder), label, end - start + 1, start))
    return samples


def read_mmaction_list(list_path: Path, video_root: Path) -> list[Sample]:
    """MMAction2 video list `path label`, paths relative to `video_root`."""
    line_format = "'relative/path.mp4 label'"
    samples = []
    for number, line in _list_lines(list_path, f"an MMAction2 video list of lines {line_format}"):
        path, _, label = line.strip().rpartition(" ")
        if not path or not label.lstrip("-").isdigit():
            raise ConfigError(f"{list_path}:{number}: {line!r:.120} is not a line {line_format}")
        samples.append(Sample(str(video_root / path), int(label)))
    return samples


def class_histogram(samples: list[Sample], num_classes: int) -> list[int]:
    """Number of samples per class id (unlabelled samples not counted)."""
    counts = [0] * num_classes
    for sample in samples:
        if 0 <= sample.label < num_classes:
            counts[sample.label] += 1
    return counts

