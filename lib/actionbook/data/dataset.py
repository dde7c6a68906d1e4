"""The torch Dataset of clips, its collate function and the DataLoader worker seeding.

An item is `(clip, label, bad)`:

* `clip`: uint8 tensor (3, T, H, W), or (V, 3, T, H, W) when an evaluation asks for V = num_clips x num_crops > 1
  views (clip-major: all crops of clip 0, then of clip 1, ...). In training, num_clips > 1 clips are joined
  along time (T = num_clips x frames), as MMAction2 feeds TSN's 1x1x3;
* `label`: class id (-1 for unlabelled videos, `UNREADABLE` for a video left out of an evaluation);
* `bad`: (path, reason) of each unreadable video met to produce this item.

An unreadable video is handled by the split. In training ("train") it is replaced by another sample, with that
sample's label, and counted (`BadFileTracker` stops the run past a share). An evaluation split ("val", "test") never
stands another video in: its item is a zero clip of the usual shape labelled `UNREADABLE`, with the (path, reason),
and `train.evaluate.evaluate` leaves it out of the metrics and reports it. The split is the switch because it
already is the dataset's notion of evaluation (deterministic sampling, the evaluation transform, multi-view items).

Every random choice of item i (frames, crop, flip, the replacement of a broken video) comes from a generator
seeded with (seed, epoch, i), so items do not depend on worker count or order and a resumed run sees the same
data. DataLoader workers hold copies of the dataset: call `set_epoch` before creating each epoch's iterator, and
do not combine it with `persistent_workers=True`.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import torch

from actionbook.errors import ConfigError

from .badfiles import TooManyBadFiles
from .datasets import SPLITS, dataset_info, ensure_dataset, load_split
from .fingerprint import fingerprint
from .formats import Sample
from .readers import UnreadableVideo, open_video
from .sampling import SAMPLINGS, sample_clips
from .transforms import build_transform

log = logging.getLogger("actionbook.data")

UNREADABLE = -2  # the label of an evaluation item whose video could not be read


class VideoClipDataset(torch.utils.data.Dataset):
    """Clips from a list of samples: sampling, decoding, transforms, and what becomes of unreadable videos."""

    def __init__(self, samples: list[Sample], class_names: list[str], *, split: str = "train", frames: int = 8,
                 sampling: str = "uniform", frame_interval: int = 1, num_clips: int = 1, num_crops: int = 1,
                 input_size: int = 224, scale_size: int | None = None, augment: str = "v1", flip: bool = True,
                 seed: int = 0, name: str = "custom", annotation_files=(), max_replacements: int = 10):
        _check_options(split, frames, sampling, frame_interval, num_clips)
        self.samples, self.class_names = samples, list(class_names)
        self.split, self.train = split, split == "train"
        self.frames, self.sampling, self.frame_interval, self.num_clips = frames, sampling, frame_interval, num_clips
        self.input_size = input_size
        self.transform = build_transform(self.train, input_size, scale_size, augment, flip, num_crops)
        self.views = 1 if self.train else num_clips * num_crops  # per item: clips x crops in evaluation
        self.seed, self.epoch, self.name = seed, 0, name
        self.annotation_files = [Path(path) for path in annotation_files]
        self.max_replacements = max_replacements
        self._bad_paths: dict[str, str] = {}  # broken videos met by this object (each worker has its own)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, self.epoch, index])
        bad = []
        current = index
        for _ in range(self.max_replacements + 1):
            sample = self.samples[current]
            try:
                clips = self._read(sample, rng)
                break
            except UnreadableVideo as exc:
                bad.append((exc.path, exc.reason))
                self._remember_bad(exc)
                if not self.train:  # evaluation never stands another video in for this one
                    return self._unreadable_item(), UNREADABLE, tuple(bad)
                current = int(rng.integers(len(self.samples)))
        else:
            raise TooManyBadFiles(f"item {index}: {len(bad)} broken videos in a row, the last: "
                                  + "; ".join(f"{path} ({reason})" for path, reason in bad[-3:]))
        return self._views(clips, rng), sample.label, tuple(bad)

    def _read(self, sample: Sample, rng: np.random.Generator) -> np.ndarray:
        """Frames of the sampled clips, (num_clips, T, H, W, 3) uint8."""
        if sample.path in self._bad_paths:
            raise UnreadableVideo(sample.path, self._bad_paths[sample.path])
        video = open_video(sample.path, sample.num_frames, sample.start_frame)
        indices = sample_clips(self.sampling, video.num_frames, self.frames, self.frame_interval, self.num_clips,
                               rng if self.train else None)
        frames = video.read(indices.reshape(-1))
        return frames.reshape(*indices.shape, *frames.shape[1:])

    def _views(self, clips: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """Transform all clips at once (one draw), then split views per clip: (3, T, H, W) or (V, 3, T, H, W)."""
        num_clips, frames = clips.shape[:2]
        crops = self.transform(clips.reshape(-1, *clips.shape[2:]), rng)  # each (num_clips * T, h, w, 3)
        if self.train:
            views = crops[:1]
        else:
            views = [crop[k * frames:(k + 1) * frames] for k in range(num_clips) for crop in crops]
        stacked = np.stack(views).transpose(0, 4, 1, 2, 3)  # (V, 3, T, h, w); numpy copies, see transforms.py
        return torch.from_numpy(np.ascontiguousarray(stacked[0] if len(views) == 1 else stacked))

    def _unreadable_item(self) -> torch.Tensor:
        """The zero clip of an evaluation item whose video is unreadable: the shape `_views` gives the others."""
        view = (3, self.frames, self.input_size, self.input_size)
        return torch.zeros(view if self.views == 1 else (self.views, *view), dtype=torch.uint8)

    def _remember_bad(self, exc: UnreadableVideo) -> None:
        if exc.path not in self._bad_paths:
            self._bad_paths[exc.path] = exc.reason
            fate = "replaced by another sample" if self.train else "left out of the evaluation"
            log.warning("unreadable video %s: %s (%s)", fate, exc.path, exc.reason)

    def fingerprint(self, count_limit: int = 5000) -> dict:
        """Videos, frames, class histogram, decoder and annotation hashes (see `fingerprint.py`)."""
        return fingerprint(self.name, self.split, self.samples, self.class_names, self.annotation_files,
                           count_limit)


def _check_options(split, frames, sampling, frame_interval, num_clips) -> None:
    if split not in SPLITS:
        raise ConfigError(f"split {split!r} unknown; expected one of {', '.join(SPLITS)}")
    if sampling not in SAMPLINGS:
        raise ConfigError(f"sampling {sampling!r} unknown; expected one of {', '.join(SAMPLINGS)}")
    for field, value in (("frames", frames), ("frame_interval", frame_interval), ("num_clips", num_clips)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{field} must be a whole number >= 1, got {value!r}")
    if sampling == "uniform" and frame_interval != 1:
        raise ConfigError(f"frame_interval {frame_interval} needs sampling 'dense' or 'mmaction'; "
                          "uniform sampling takes one frame per segment")


def build_dataset(name: str, root=None, split: str = "train", frames: int = 8, sampling: str = "uniform",
                  frame_interval: int = 1, num_clips: int = 1, num_crops: int = 1, input_size: int = 224,
                  scale_size: int | None = None, augment: str = "v1", flip: bool = True,
                  seed: int = 0) -> VideoClipDataset:
    """The dataset `name` (see `datasets.DATASETS`) for one split; synthetic sets are generated if missing."""
    info = dataset_info(name)
    _check_options(split, frames, sampling, frame_interval, num_clips)
    annotations = load_split(info, ensure_dataset(name, root), split)
    return VideoClipDataset(annotations.samples, annotations.class_names, split=split, frames=frames,
                            sampling=sampling, frame_interval=frame_interval, num_clips=num_clips,
                            num_crops=num_crops, input_size=input_size, scale_size=scale_size, augment=augment,
                            flip=flip, seed=seed, name=name, annotation_files=annotations.annotation_files)


def collate_clips(items):
    """Items -> (stacked uint8 clips, int64 labels, flat list of (path, reason) of the unreadable videos met)."""
    clips, labels, bad = zip(*items)
    stacked = torch.from_numpy(np.stack([clip.numpy() for clip in clips]))  # numpy: see transforms.py
    return stacked, torch.tensor(labels, dtype=torch.int64), [pair for pairs in bad for pair in pairs]


def seed_worker(worker_id: int) -> None:
    """DataLoader `worker_init_fn`: seed Python and numpy from torch's per-worker seed, one thread per worker.

    The dataset's own draws do not need it (they are seeded per item); this covers anything else a worker
    might draw, and stops each worker from starting a thread per core.
    """
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(1)
