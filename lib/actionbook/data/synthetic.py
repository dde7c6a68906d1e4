"""The synthetic datasets: real video files (and JPEG frames) in the real formats, generated on the spot from a seed.

* `synth-something` (Something-Something-V2 stand-in: VP9 .webm, SSv2 label/split JSON). A class is what happens
  over time, and classes come in time-reversed twins: a "from right to left" video is a "from left to right"
  video played backwards. Both twins are drawn from the same random process (shapes, textures, colours,
  backgrounds, speeds, distractors), so the *set* of frames of a video has the same distribution in both twins:
  a model that ignores frame order cannot tell twins apart, and the best it can do is 1 / 2 within a pair.
* `synth-kinetics` (Kinetics-400 stand-in: H.264 .mp4, Kinetics CSV and `<split>/<label>/<id>_<s>_<e>.mp4`). A
  class is an appearance, an object (shape and texture) in a scene; the motion is random, so one frame suffices.
* `synth-images` (the proxy study's ImageNet stand-in: one-frame JPEG folders listed in the IBM list layout). A class
  is an object kind (shape and texture) in a still image; a 2D backbone pretrained on it starts the proxy's models.

Each video is a pure function of (seed, class, split, number), so generation order and worker count do not matter,
and the encoders run bit-exact: the same seed gives the same files. A `synth.json` manifest records the settings.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from actionbook.errors import ConfigError

from .formats import kinetics_file_name, ssv2_template_name
from .readers import UnreadableVideo, open_video
from .synth_classes import (
    IMAGE_CLASSES,
    KINETICS_SCENES,
    SOMETHING_PAIRS,
    SynthConfig,
    image_classes,
    image_still,
    kinetics_classes,
    kinetics_video,
    something_classes,
    something_video,
)
from .writers import write_frame_folder, write_video

GENERATOR_VERSION = 2  # 2: H.264 files are byte-reproducible (x264 without mbtree, `writers`)
MANIFEST = "synth.json"


@dataclass(frozen=True)
class SyntheticSpec:
    """How one synthetic dataset is written: format, codec (by suffix), frame rate, classes, video drawing."""

    name: str
    layout: str  # annotation format written: "ssv2", "kinetics" or "ibm-list" (one-frame JPEG folders: stills)
    suffix: str
    fps: int
    max_classes: int
    classes: Callable[[int], list[str]]
    video: Callable[[int, SynthConfig, np.random.Generator], np.ndarray]
    defaults: SynthConfig


SYNTHETIC = {
    "synth-something": SyntheticSpec("synth-something", "ssv2", ".webm", 12, 2 * len(SOMETHING_PAIRS),
                                     something_classes, something_video, SynthConfig(num_classes=12)),
    "synth-kinetics": SyntheticSpec("synth-kinetics", "kinetics", ".mp4", 25,
                                    2 * len(KINETICS_SCENES), kinetics_classes, kinetics_video,
                                    SynthConfig(num_classes=10)),
    "synth-images": SyntheticSpec("synth-images", "ibm-list", "", 0, len(IMAGE_CLASSES), image_classes, image_still,
                                  SynthConfig(num_classes=40, train_per_class=60, val_per_class=10, frames=1)),
}


def _check_config(spec: SyntheticSpec, config: SynthConfig) -> None:
    problems = []
    if not 2 <= config.num_classes <= spec.max_classes:
        problems.append(f"num_classes {config.num_classes} must be in 2..{spec.max_classes}")
    if spec.layout == "ssv2" and config.num_classes % 2:
        problems.append(f"num_classes {config.num_classes} must be even (classes come in time-reversed twins)")
    if config.train_per_class < 1 or config.val_per_class < 1:
        problems.append("train_per_class and val_per_class must be at least 1")
    if spec.layout == "ibm-list" and config.frames != 1:
        problems.append(f"frames {config.frames} must be 1 (a still image per item)")
    elif spec.layout != "ibm-list" and config.frames < 2:
        problems.append(f"frames {config.frames} must be at least 2")
    if config.width < 16 or config.height < 16 or config.width % 2 or config.height % 2:
        problems.append(f"size {config.width}x{config.height} must be even and at least 16x16")
    if problems:
        raise ConfigError(f"{spec.name}: " + "; ".join(problems))


def _youtube_id(rng: np.random.Generator) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(alphabet[i] for i in rng.integers(len(alphabet), size=11))


def _plan(spec: SyntheticSpec, config: SynthConfig) -> list[dict]:
    """One entry per video: its class, split, number and file name in the dataset's layout."""
    names = spec.classes(config.num_classes)
    jobs = [{"label": label, "split": split, "number": number}
            for split, count in (("train", config.train_per_class), ("val", config.val_per_class))
            for label in range(config.num_classes) for number in range(count)]
    rng = np.random.default_rng([config.seed, 7])  # file names only: videos use their own generators
    if spec.layout == "ssv2":  # integer ids in random order, as in the real release
        for job, video_id in zip(jobs, rng.permutation(len(jobs)) + 1):
            job["id"] = str(video_id)
            job["file"] = f"20bn-something-something-v2/{video_id}{spec.suffix}"
    elif spec.layout == "ibm-list":
        for job in jobs:
            job["file"] = f"images/{job['label']:02d}/{job['split']}-{job['number']:05d}"
    else:
        for job in jobs:
            start = int(rng.integers(0, 290))
            job.update(youtube_id=_youtube_id(rng), time_start=start, time_end=start + 10)
            job["file"] = f"{job['split']}/{names[job['label']]}/" + kinetics_file_name(
                job["youtube_id"], start, start + 10)
    return jobs


def _make_video(spec_name: str, config: SynthConfig, job: dict, folder: str) -> None:
    spec = SYNTHETIC[spec_name]
    rng = np.random.default_rng([config.seed, job["label"], job["split"] == "val", job["number"]])
    frames = spec.video(job["label"], config, rng)
    if spec.layout == "ibm-list":
        write_frame_folder(Path(folder) / job["file"], frames)
    else:
        write_video(Path(folder) / job["file"], frames, fps=spec.fps)


def _check_readable(name: str, config: SynthConfig, job: dict, folder: Path) -> None:
    """Write one video and read it back: decord fails on some frame sizes (on this project's machine 16x16, 32x32,
    48x36 and 96x72 among others, with decord2 3.3 and 3.4 alike, while 64x48 and 80x60 read)."""
    _make_video(name, config, job, str(folder))
    try:
        open_video(folder / job["file"]).read([0])
    except UnreadableVideo as exc:
        raise ConfigError(f"{name}: decord cannot read {config.width}x{config.height} videos ({exc.reason}); "
                          f"choose another width") from None


def _write_annotations(spec: SyntheticSpec, config: SynthConfig, jobs: list[dict], folder: Path) -> None:
    names = spec.classes(config.num_classes)
    if spec.layout == "ssv2":
        labels = folder / "labels"
        labels.mkdir(parents=True, exist_ok=True)
        (labels / "labels.json").write_text(json.dumps(
            {ssv2_template_name(name): str(label) for label, name in enumerate(names)}, indent=1))
        for split, file_name in (("train", "train.json"), ("val", "validation.json")):
            entries = [{"id": job["id"], "label": ssv2_template_name(names[job["label"]]).lower(),
                        "template": names[job["label"]], "placeholders": ["something"] * names[job["label"]].count("[")}
                       for job in jobs if job["split"] == split]
            entries.sort(key=lambda entry: int(entry["id"]))
            (labels / file_name).write_text(json.dumps(entries, indent=1))
    elif spec.layout == "ibm-list":
        for split, file_name in (("train", "train.txt"), ("val", "val.txt")):
            (folder / file_name).write_text("".join(f"{job['file']} 1 1 {job['label']}\n"
                                                    for job in jobs if job["split"] == split))
    else:
        for split, file_name in (("train", "train.csv"), ("val", "validate.csv")):
            with open(folder / file_name, "w", newline="") as file:
                writer = csv.writer(file)
                writer.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
                for job in jobs:
                    if job["split"] == split:
                        writer.writerow([names[job["label"]], job["youtube_id"], job["time_start"], job["time_end"],
                                         split])


def generate(name: str, folder: str | os.PathLike, config: SynthConfig | None = None, workers: int = 1) -> dict:
    """Write synthetic dataset `name` into `folder` (created; should be empty) and return its manifest."""
    spec = synthetic_spec(name)
    config = config or spec.defaults
    _check_config(spec, config)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    jobs = _plan(spec, config)
    started = time.perf_counter()
    _check_readable(name, config, jobs[0], folder)
    rest = jobs[1:]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_make_video, [name] * len(rest), [config] * len(rest), rest, [str(folder)] * len(rest),
                          chunksize=8))
    else:
        for job in rest:
            _make_video(name, config, job, str(folder))
    _write_annotations(spec, config, jobs, folder)
    manifest = {"name": name, "generator_version": GENERATOR_VERSION, "layout": spec.layout,
                "config": asdict(config), "videos": len(jobs), "classes": spec.classes(config.num_classes)}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))
    manifest["seconds"] = round(time.perf_counter() - started, 2)  # reported, not stored: files stay reproducible
    return manifest


def synthetic_spec(name: str) -> SyntheticSpec:
    if name not in SYNTHETIC:
        raise ConfigError(f"synthetic dataset {name!r} unknown; expected one of {', '.join(SYNTHETIC)}")
    return SYNTHETIC[name]


def read_manifest(folder: str | os.PathLike) -> dict | None:
    path = Path(folder) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


@contextlib.contextmanager
def _exclusive(lock_path: Path):
    """An inter-process lock (two DDP ranks generating the same dataset wait for each other)."""
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_synthetic(name: str, folder: str | os.PathLike, config: SynthConfig | None = None,
                     force: bool = False, workers: int = 1) -> Path:
    """The folder of synthetic dataset `name`, generated there first if needed.

    With `config=None` any complete synthetic set of that name already in `folder` is accepted; otherwise the
    settings must match (or `force` regenerates). Generation goes to a temporary sibling folder renamed into
    place at the end, under a file lock: a concurrent or interrupted run never leaves a half-written dataset.
    """
    spec = synthetic_spec(name)
    folder = Path(folder).expanduser()
    folder.parent.mkdir(parents=True, exist_ok=True)

    def usable() -> bool:
        manifest = read_manifest(folder)
        if manifest is None or force:
            return False
        same_generator = manifest.get("name") == name and manifest.get("generator_version") == GENERATOR_VERSION
        if same_generator and (config is None or manifest.get("config") == asdict(config)):
            return True
        raise ConfigError(f"{folder} already holds {manifest.get('name')} from generator version "
                          f"{manifest.get('generator_version')} with {manifest.get('config')}; remove it, choose "
                          f"another root, or regenerate with force")

    if usable():
        return folder
    with _exclusive(folder.parent / f".{folder.name}.lock"):
        if usable():  # another process finished it while we waited
            return folder
        if folder.exists() and not force and any(folder.iterdir()):
            raise ConfigError(f"{folder} is not empty and holds no {name} manifest ({MANIFEST}); "
                              f"choose an empty or new folder")
        for stale in folder.parent.glob(f".{folder.name}.partial-*"):  # left by an interrupted run
            shutil.rmtree(stale, ignore_errors=True)
        temporary = folder.parent / f".{folder.name}.partial-{os.getpid()}"
        generate(name, temporary, config or spec.defaults, workers=workers)
        if folder.exists():
            shutil.rmtree(folder)
        os.rename(temporary, folder)
    return folder


def with_overrides(name: str, **overrides) -> SynthConfig:
    """The default settings of `name` with some fields replaced (None values keep the default)."""
    return replace(synthetic_spec(name).defaults, **{k: v for k, v in overrides.items() if v is not None})

