"""Dataset fingerprint for run records: what exactly was read, and with which decoder.

Numbers of videos and frames, class histogram, decoder and versions, and SHA-256 hashes of the annotation files.
Frames are summed from the annotations where they say (frame lists) and otherwise counted by opening every
video, which is only done for up to `count_limit` videos (real datasets would take hours); above that `frames`
is None.
When `actionbook data check` saved its fingerprint beside the annotations (CHECK_FILE, see `check.py`) for these
same annotation files, the fingerprint carries its summary and its diffs against reference lists: the run's
"dataset delta".
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .formats import Sample, class_histogram
from .readers import FrameFolder, UnreadableVideo, VideoFile, decoder_versions, is_frame_folder, open_video

CHECK_FILE = "actionbook-data-check.json"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def count_frames(samples: list[Sample], count_limit: int) -> tuple[int | None, int]:
    """(total frames or None, unreadable videos met while counting)."""
    if all(sample.num_frames is not None for sample in samples):
        return sum(sample.num_frames for sample in samples), 0
    if len(samples) > count_limit:
        return None, 0
    total, unreadable = 0, 0
    for sample in samples:
        try:
            total += open_video(sample.path, sample.num_frames, sample.start_frame).num_frames
        except UnreadableVideo:
            unreadable += 1
    return total, unreadable


def fingerprint(name: str, split: str, samples: list[Sample], class_names: list[str],
                annotation_files: list[Path], count_limit: int = 5000) -> dict:
    frames, unreadable = count_frames(samples, count_limit)
    annotations = {Path(path).name: file_sha256(Path(path)) for path in annotation_files}
    combined = hashlib.sha256("".join(f"{k}:{v};" for k, v in sorted(annotations.items())).encode()).hexdigest()
    check = saved_check(annotation_files, annotations)
    return {
        "dataset": name,
        "split": split,
        "videos": len(samples),
        "frames": frames,
        "unreadable_when_counted": unreadable,
        "num_classes": len(class_names),
        "class_histogram": class_histogram(samples, len(class_names)),
        "decoder": FrameFolder.decoder if is_frame_folder(samples[0].path) else VideoFile.decoder,
        "decoder_versions": decoder_versions(),
        "annotation_sha256": annotations,
        "annotations_sha256": combined,
        **({"check": check} if check else {}),
    }


def saved_check(annotation_files: list[Path], annotations: dict[str, str]) -> dict | None:
    """The summary and diffs of the data check saved beside these annotation files (or one folder up), if it was made
    on the same annotations (their hashes)."""
    if not annotation_files:
        return None
    folder = Path(annotation_files[0]).parent
    for path in (folder / CHECK_FILE, folder.parent / CHECK_FILE):
        if path.is_file():
            try:
                saved = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                return None
            if not annotations.items() <= saved.get("annotation_sha256", {}).items():
                return None
            return {"file": str(path), "checked": saved.get("checked"), "min_frames": saved.get("min_frames"),
                    "summary": saved.get("summary"), "diffs": saved.get("diffs", {})}
    return None
