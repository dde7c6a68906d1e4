"""Video data: readers (decord, JPEG folders), dataset formats, sampling, transforms, synthetic datasets.

Typical use (the trainer's):

    ds = build_dataset("synth-kinetics", split="train", frames=8, input_size=64)
    loader = DataLoader(ds, batch_size=16, shuffle=True, num_workers=2, collate_fn=collate_clips,
                        worker_init_fn=seed_worker)
    tracker = BadFileTracker(threshold=0.01)
    for epoch in range(epochs):
        ds.set_epoch(epoch)
        for clips, labels, bad in loader:        # clips: uint8 (N, 3, T, H, W)
            tracker.update(bad, len(labels))
            x = to_model_input(clips, mean, std, device)

An unreadable video is replaced by another sample in training and left out (label UNREADABLE) in evaluation.

Modules: readers (frames of one video), formats (annotation parsers), datasets (registry and layouts),
sampling, transforms, scenes and synthetic (the generated datasets), dataset (the torch Dataset), badfiles,
fingerprint, check (the pre-flight check of a whole dataset and its diff against reference lists), writers (encode
videos and frame folders), bench (loader throughput), cli.
"""

from .badfiles import BadFileTracker, TooManyBadFiles
from .dataset import UNREADABLE, VideoClipDataset, build_dataset, collate_clips, seed_worker
from .datasets import DATASETS, DatasetInfo, dataset_info, default_data_dir, ensure_dataset
from .formats import Sample
from .readers import FrameFolder, UnreadableVideo, VideoFile, open_video
from .synthetic import SynthConfig, ensure_synthetic, generate
from .transforms import normalize, to_model_input
from .writers import write_frame_folder, write_video

__all__ = [
    "DATASETS",
    "BadFileTracker",
    "DatasetInfo",
    "FrameFolder",
    "Sample",
    "SynthConfig",
    "TooManyBadFiles",
    "UNREADABLE",
    "UnreadableVideo",
    "VideoClipDataset",
    "VideoFile",
    "build_dataset",
    "collate_clips",
    "dataset_info",
    "default_data_dir",
    "ensure_dataset",
    "ensure_synthetic",
    "generate",
    "normalize",
    "open_video",
    "seed_worker",
    "to_model_input",
    "write_frame_folder",
    "write_video",
]
