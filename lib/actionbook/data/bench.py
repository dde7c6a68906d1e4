"""Loader benchmark: clips per second from video files (decord) and from JPEG frame folders, same clips.

The training split's first `videos` videos are also written as JPEG frame folders (quality 95, the IBM layout)
in a temporary folder, so both sources hold the same frames. Each source is then read through the real loader
(sampling, v1 augmentation, collate) for each worker count; the first batch is not timed (worker start-up).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from .dataset import VideoClipDataset, collate_clips, seed_worker
from .datasets import dataset_info, ensure_dataset, load_split
from .formats import Sample
from .readers import VideoFile
from .writers import write_frame_folder


def frame_folder_copies(samples: list[Sample], folder: Path) -> list[Sample]:
    """Decode each video and save its frames as `<folder>/<n>/00001.jpg, ...`; samples pointing at them."""
    copies = []
    for number, sample in enumerate(samples):
        video = VideoFile(sample.path)
        frames = video.read(range(video.num_frames))
        copies.append(Sample(str(write_frame_folder(folder / f"{number:05d}", frames)), sample.label,
                             video.num_frames))
    return copies


def clips_per_second(dataset: VideoClipDataset, workers: int, batch_size: int, repeats: int) -> float:
    order = list(range(len(dataset))) * repeats
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=order, num_workers=workers,
                                         collate_fn=collate_clips, worker_init_fn=seed_worker)
    started, clips = None, 0
    for _clips, labels, _bad in loader:
        if started is None:
            started = time.perf_counter()
            continue
        clips += len(labels)
    return clips / (time.perf_counter() - started)


def run_loader_benchmark(dataset: str = "synth-kinetics", root=None, workers=(0, 1, 2), videos: int = 64,
                         frames: int = 8, sampling: str = "uniform", input_size: int = 64, batch_size: int = 8,
                         repeats: int = 2, report=print) -> list[dict]:
    """Clips/s for each (source, worker count); `report` gets one line per measurement."""
    annotations = load_split(dataset_info(dataset), ensure_dataset(dataset, root), "train")
    step = max(1, len(annotations.samples) // videos)
    chosen = annotations.samples[::step][:videos]
    results = []
    with tempfile.TemporaryDirectory(prefix="actionbook-bench-") as temporary:
        sources = {"video (decord)": chosen, "jpeg (pillow)": frame_folder_copies(chosen, Path(temporary))}
        for source, samples in sources.items():
            loader_dataset = VideoClipDataset(samples, annotations.class_names, split="train", frames=frames,
                                              sampling=sampling, input_size=input_size, augment="v1")
            for count in workers:
                rate = clips_per_second(loader_dataset, count, batch_size, repeats)
                results.append({"source": source, "workers": count, "clips_per_second": round(rate, 1)})
                report(f"{source:16s} workers={count}  {rate:8.1f} clips/s")
    return results
