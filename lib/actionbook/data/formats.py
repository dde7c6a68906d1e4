"""Annotation formats: each parser turns one annotation file into a list of `Sample`s.

* Something-Something-V2: a labels JSON (template -> id) and split JSONs (`id`, `template`, ...); `<id>.webm`.
* Kinetics-400: CSV `label,youtube_id,time_start,time_end,split`; `<split>/<label>/<id>_<start>_<end>.mp4` with
  6-digit zero-padded times, as in the official release. Labels are the sorted training class names.
* IBM list: `folder start_frame end_frame label` (space or `;`); 3 fields in test lists; JPEG frame folders.
* MMAction2 video list: `path label`, paths relative to the video folder.

A missing or malformed annotation file is a `ConfigError` that names the file (and line) and what was expected;
so is a file that is not UTF-8 text (a byte-order mark is accepted), and a label that is not a class of the dataset:
no label ever becomes a class of its own (see `unknown_labels`).
"""

from __future__ import annotations

import csv
import io
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


def _read_text(path: Path, what: str) -> str:
    """The text of an annotation file, which must be UTF-8 (with or without a byte-order mark)."""
    raw = _require(path, what).read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8 "
                          f"(expected {what})") from None


def unknown_labels(places: list[tuple[str, object]], classes: str) -> ConfigError:
    """One line for annotation entries whose label is not a class of the dataset, `places` = [(where, label)].

    It names the first entry (file and line, to open the file there) and, when there are more, their count and
    distinct labels: one label on one line is a typo, many lines or labels one past the last class are a class
    list that does not fit the dataset (ids counted from 1, another dataset's list). Raising rather than dropping
    the entries or adding classes keeps the class ids those of the dataset's definition.
    """
    where, label = places[0]
    message = f"{where}: label {label!r} is not {classes}"
    if len(places) > 1:
        distinct = list(dict.fromkeys(repr(label) for _, label in places))
        shown = ", ".join(distinct[:5]) + (", ..." if len(distinct) > 5 else "")
        message += f" ({len(places)} entries in all have such labels: {shown})"
    return ConfigError(message)


def _load_json(path: Path, what: str):
    try:
        return json.loads(_read_text(path, what))
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
    samples, unknown = [], []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or "id" not in entry or not isinstance(entry.get("template", ""), str):
            raise ConfigError(f"{split_json}: entry {number} needs an 'id' and a 'template', got {entry!r:.120}")
        name = ssv2_template_name(entry["template"]) if "template" in entry else None
        if name is not None and name not in ids:
            unknown.append((f"{split_json}: entry {number}", name))
        samples.append(Sample(str(video_dir / f"{entry['id']}.webm"), ids.get(name, -1)))
    if unknown:
        raise unknown_labels(unknown, f"one of the {len(class_names)} classes of the labels JSON")
    return samples


def kinetics_file_name(youtube_id: str, time_start: int, time_end: int) -> str:
    """`<id>_<start>_<end>.mp4` with 6-digit zero-padded times (official Kinetics layout)."""
    return f"{youtube_id}_{int(time_start):06d}_{int(time_end):06d}.mp4"


def _read_kinetics_rows(csv_path: Path) -> list[dict]:
    text = _read_text(csv_path, "Kinetics CSV label,youtube_id,time_start,time_end,split")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    needed = {"youtube_id", "time_start", "time_end", "split"}
    if rows and not needed <= set(rows[0]):
        raise ConfigError(f"{csv_path}: columns {sorted(rows[0])}, expected label,youtube_id,time_start,time_end,split")
    return rows


def read_kinetics_classes(train_csv: Path, num_classes: int | None = None) -> list[str]:
    """Kinetics class names: the sorted labels of the training CSV (a label's id is its index).

    The CSV defines the classes, so a misspelt label would become a class of its own: more labels than the
    dataset's `num_classes` is an error naming the labels on the fewest lines, where a typo shows. Fewer is a
    subset of the classes, and allowed.
    """
    lines: dict[str, list[int]] = {}
    for number, row in enumerate(_read_kinetics_rows(train_csv), start=2):  # line 1 is the header
        if not row.get("label"):
            raise ConfigError(f"{train_csv}:{number}: no label (the training CSV names the class of every video)")
        lines.setdefault(row["label"], []).append(number)
    if num_classes is not None and len(lines) > num_classes:
        rarest = sorted(lines, key=lambda label: (len(lines[label]), lines[label][0]))[:3]
        named = ", ".join(f"{label!r} ({len(lines[label])} line{'s' * (len(lines[label]) > 1)} from line "
                          f"{lines[label][0]})" for label in rarest)
        raise ConfigError(f"{train_csv}: {len(lines)} labels, more than the dataset's {num_classes} classes; "
                          f"the rarest: {named}")
    return sorted(lines)


def read_kinetics(csv_path: Path, class_names: list[str], video_root: Path) -> list[Sample]:
    """Kinetics CSV -> `<video_root>/<split>/<label>/<id>_<start>_<end>.mp4`; test CSVs (no label) give -1.

    Some copies of the dataset write label folders with underscores for spaces; that spelling is used for a
    label whose folder exists only in that form.
    """
    ids = {name: index for index, name in enumerate(class_names)}
    folders: dict[tuple[str, str], Path] = {}
    samples, unknown = [], []
    for number, row in enumerate(_read_kinetics_rows(csv_path), start=2):  # line 1 is the header
        label = row.get("label") or ""
        if label and label not in ids:
            unknown.append((f"{csv_path}:{number}", label))
        key = (row["split"], label)
        if key not in folders:
            folder = video_root / row["split"] / label
            underscored = video_root / row["split"] / label.replace(" ", "_")
            folders[key] = underscored if not folder.is_dir() and underscored.is_dir() else folder
        try:
            name = kinetics_file_name(row["youtube_id"], row["time_start"], row["time_end"])
        except ValueError:
            raise ConfigError(f"{csv_path}:{number}: time_start/time_end must be whole seconds") from None
        samples.append(Sample(str(folders[key] / name), ids.get(label, -1)))
    if unknown:
        raise unknown_labels(unknown, "a class of the training CSV")
    return samples


def _list_lines(list_path: Path, what: str):
    for number, line in enumerate(_read_text(list_path, what).splitlines(), start=1):
        if line.strip():
            yield number, line


def _check_ids(list_path: Path, labels: list[tuple[int, int]], num_classes: int | None) -> None:
    """Integer labels (line, label) must be class ids 0..num_classes-1, or -1 for an unlabelled video."""
    if num_classes is None:
        return
    unknown = [(f"{list_path}:{number}", label) for number, label in labels if not -1 <= label < num_classes]
    if unknown:
        raise unknown_labels(unknown, f"one of the {num_classes} classes (0..{num_classes - 1})")


def read_ibm_list(list_path: Path, frame_root: Path, min_frames: int = 0,
                  num_classes: int | None = None) -> list[Sample]:
    """IBM list `folder start end [label]`, separated by spaces or `;`; folders shorter than `min_frames` dropped.

    With `num_classes`, every line's label (dropped lines too) must be a class id.
    """
    line_format = "'folder start_frame end_frame label' (space or ';' separated)"
    samples, labels = [], []
    for number, line in _list_lines(list_path, f"an IBM list of lines {line_format}"):
        fields = line.split(";") if ";" in line else line.split()
        try:
            folder, start, end = fields[0], int(fields[1]), int(fields[2])
            label = int(fields[3]) if len(fields) > 3 else -1
        except (IndexError, ValueError):
            raise ConfigError(f"{list_path}:{number}: {line!r:.120} is not a line {line_format}") from None
        labels.append((number, label))
        if end - start + 1 >= min_frames:
            samples.append(Sample(str(frame_root / folder), label, end - start + 1, start))
    _check_ids(list_path, labels, num_classes)
    return samples


def read_mmaction_list(list_path: Path, video_root: Path, num_classes: int | None = None) -> list[Sample]:
    """MMAction2 video list `path label`, paths relative to `video_root`; with `num_classes`, labels are ids."""
    line_format = "'relative/path.mp4 label'"
    samples, labels = [], []
    for number, line in _list_lines(list_path, f"an MMAction2 video list of lines {line_format}"):
        path, _, label = line.strip().rpartition(" ")
        if not path or not label.lstrip("-").isdigit():
            raise ConfigError(f"{list_path}:{number}: {line!r:.120} is not a line {line_format}")
        labels.append((number, int(label)))
        samples.append(Sample(str(video_root / path), int(label)))
    _check_ids(list_path, labels, num_classes)
    return samples


def class_histogram(samples: list[Sample], num_classes: int) -> list[int]:
    """Number of samples per class id (unlabelled samples not counted)."""
    counts = [0] * num_classes
    for sample in samples:
        if 0 <= sample.label < num_classes:
            counts[sample.label] += 1
    return counts

