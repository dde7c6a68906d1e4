"""The dataset in a DataLoader: batch shapes, multi-view order, determinism across workers and epochs, bench."""

import json

import pytest
import torch
from torch.utils.data import DataLoader

from actionbook.data import SynthConfig, build_dataset, collate_clips, generate, normalize, seed_worker
from actionbook.data.bench import run_loader_benchmark
from actionbook.errors import ConfigError


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synth") / "synth-kinetics"
    generate("synth-kinetics", folder, SynthConfig(num_classes=3, train_per_class=4, val_per_class=2, frames=12,
                                                   width=64, height=48))
    return folder


def batches(dataset, workers, epoch=0):
    dataset.set_epoch(epoch)
    loader = DataLoader(dataset, batch_size=4, num_workers=workers, collate_fn=collate_clips,
                        worker_init_fn=seed_worker)
    return list(loader)


def test_training_batches_are_uint8_and_independent_of_worker_count(root):
    dataset = build_dataset("synth-kinetics", root=root, frames=4, input_size=32, augment="v1", seed=1)
    serial, parallel = batches(dataset, 0), batches(dataset, 2)
    clips, labels, bad = serial[0]
    assert clips.shape == (4, 3, 4, 32, 32) and clips.dtype == torch.uint8 and clips.is_contiguous()
    assert labels.dtype == torch.int64 and bad == []
    for (a, a_labels, _), (b, b_labels, _) in zip(serial, parallel):
        assert torch.equal(a, b) and torch.equal(a_labels, b_labels)


def test_each_epoch_draws_again_and_an_epoch_can_be_replayed(root):
    dataset = build_dataset("synth-kinetics", root=root, frames=4, input_size=32, augment="v2")
    first, second, replay = (torch.cat([b[0] for b in batches(dataset, 0, epoch)]) for epoch in (0, 1, 0))
    assert not torch.equal(first, second)
    assert torch.equal(first, replay)


def test_multi_view_batches_are_clip_major(root):
    views = build_dataset("synth-kinetics", root=root, split="test", frames=4, num_clips=2, num_crops=3,
                          input_size=32, scale_size=48)
    centres = build_dataset("synth-kinetics", root=root, split="test", frames=4, num_clips=2, num_crops=1,
                            input_size=32, scale_size=48)
    clips, labels, _ = collate_clips([views[0], views[1]])
    assert clips.shape == (2, 6, 3, 4, 32, 32)
    single = centres[0][0]  # (2 clips, 3, T, H, W)
    assert torch.equal(clips[0, 2], single[0]) and torch.equal(clips[0, 5], single[1])  # crop 3 is the centre
    assert build_dataset("synth-kinetics", root=root, split="val", frames=4, input_size=32)[0][0].shape == (
        3, 4, 32, 32)


def test_mmaction_training_joins_its_clips_in_time(root):
    dataset = build_dataset("synth-kinetics", root=root, frames=1, sampling="mmaction", num_clips=3, input_size=32)
    assert dataset[0][0].shape == (3, 3, 32, 32)  # TSN 1x1x3: three one-frame clips
    dense = build_dataset("synth-kinetics", root=root, frames=4, sampling="dense", frame_interval=2, input_size=32)
    assert dense[0][0].shape == (3, 4, 32, 32)


def test_invalid_loader_settings_are_config_errors(root):
    with pytest.raises(ConfigError, match="frame_interval 2 needs sampling 'dense' or 'mmaction'"):
        build_dataset("synth-kinetics", root=root, frame_interval=2)
    with pytest.raises(ConfigError, match="num_crops 3 applies to evaluation"):
        build_dataset("synth-kinetics", root=root, num_crops=3)
    with pytest.raises(ConfigError, match="split 'dev' unknown"):
        build_dataset("synth-kinetics", root=root, split="dev")
    with pytest.raises(ConfigError, match="frames must be a whole number"):
        build_dataset("synth-kinetics", root=root, frames=0)


def test_normalized_batch_and_fingerprint(root):
    dataset = build_dataset("synth-kinetics", root=root, split="val", frames=4, input_size=32)
    clips, _, _ = collate_clips([dataset[0], dataset[1]])
    x = normalize(clips, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    assert x.dtype == torch.float32 and -2.2 < x.min() and x.max() < 2.7
    fingerprint = dataset.fingerprint()
    assert json.loads(json.dumps(fingerprint)) == fingerprint
    assert (fingerprint["videos"], fingerprint["frames"], fingerprint["num_classes"]) == (6, 72, 3)
    assert fingerprint["decoder"] == "decord" and "decord" in fingerprint["decoder_versions"]
    assert set(fingerprint["annotation_sha256"]) == {"train.csv", "validate.csv", "synth.json"}


def test_loader_benchmark_measures_video_and_jpeg(root):
    lines = []
    results = run_loader_benchmark("synth-kinetics", root, workers=(0,), videos=4, frames=4, input_size=32,
                                   batch_size=2, repeats=1, report=lines.append)
    assert [r["source"] for r in results] == ["video (decord)", "jpeg (pillow)"]
    assert all(r["clips_per_second"] > 0 for r in results) and len(lines) == 2
