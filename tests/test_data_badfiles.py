"""Broken videos inside a dataset: replaced deterministically, logged once, counted, and stopped past a share."""

import json
import logging

import numpy as np
import pytest
from PIL import Image

from actionbook.data import BadFileTracker, TooManyBadFiles, build_dataset, collate_clips, write_video

GOOD = 6
BROKEN = {  # file -> expected kind of reason
    "missing.mp4": "missing file",
    "empty.mp4": "empty file (0 bytes)",
    "truncated.mp4": "cannot open",
    "garbage.mp4": "cannot open",
    "image.mp4": "cannot open",  # a JPEG with a video file's name
}


@pytest.fixture
def dataset_root(tmp_path):
    """An MMAction2-style list: 6 good videos, then the broken ones."""
    videos = tmp_path / "videos_train"
    rng = np.random.default_rng(0)
    for number in range(GOOD):
        write_video(videos / f"good{number}.mp4", rng.integers(0, 256, (8, 32, 40, 3), dtype=np.uint8))
    (videos / "empty.mp4").write_bytes(b"")
    (videos / "truncated.mp4").write_bytes((videos / "good0.mp4").read_bytes()[:2000])
    (videos / "garbage.mp4").write_bytes(rng.bytes(4000))
    Image.new("RGB", (32, 32)).save(videos / "image.mp4", format="JPEG")
    lines = [f"good{number}.mp4 {number}" for number in range(GOOD)] + [f"{name} 9" for name in BROKEN]
    (tmp_path / "kinetics400_train_list_videos.txt").write_text("\n".join(lines) + "\n")
    return tmp_path


def build(root, **options):
    return build_dataset("kinetics400-mmaction", root=root, frames=4, sampling="mmaction", input_size=32, **options)


def test_broken_videos_are_replaced_counted_and_logged_once(dataset_root, caplog):
    dataset = build(dataset_root)
    with caplog.at_level(logging.WARNING, logger="actionbook.data"):
        for epoch in range(2):
            dataset.set_epoch(epoch)
            clips, labels, bad = collate_clips([dataset[i] for i in range(len(dataset))])
            assert clips.shape == (len(dataset), 3, 4, 32, 32)
            assert set(labels.tolist()) <= set(range(GOOD))  # every broken item became a good video
            reasons = dict(bad)
            assert set(reasons) == {str(dataset_root / "videos_train" / name) for name in BROKEN}
            for name, kind in BROKEN.items():
                assert reasons[str(dataset_root / "videos_train" / name)].startswith(kind)
    logged = [record.getMessage() for record in caplog.records]
    assert len(logged) == len(BROKEN)  # once per file, not once per epoch
    assert all("unreadable video replaced" in message for message in logged)


def test_the_replacement_depends_only_on_seed_epoch_and_index(dataset_root):
    first, second = build(dataset_root, seed=3), build(dataset_root, seed=3)
    broken_index = GOOD + 2
    a, b = first[broken_index], second[broken_index]
    assert a[1] == b[1] and a[2] == b[2] and (a[0] == b[0]).all()
    replacements = set()
    for epoch in range(8):
        first.set_epoch(epoch)
        replacements.add(first[broken_index][1])
    assert len(replacements) > 1


def test_a_dataset_of_only_broken_videos_stops_after_a_few_tries(tmp_path):
    (tmp_path / "videos_train").mkdir()
    (tmp_path / "kinetics400_train_list_videos.txt").write_text("a.mp4 0\nb.mp4 1\n")
    with pytest.raises(TooManyBadFiles, match="11 broken videos in a row"):
        build(tmp_path)[0]


def test_tracker_stops_the_run_past_the_threshold_with_a_summary(dataset_root):
    dataset = build(dataset_root)
    tracker = BadFileTracker(threshold=0.01)
    _, labels, bad = collate_clips([dataset[i] for i in range(len(dataset))])
    with pytest.raises(TooManyBadFiles) as stop:
        tracker.update(bad, len(labels))
    # a replacement can itself be broken, so there are at least as many replacements as broken items
    message = str(stop.value)
    assert len(bad) >= len(BROKEN)
    assert f"too many unreadable videos: {len(bad)} replacements in 11 items" in message
    assert "5 distinct files" in message and "missing file x" in message and "missing.mp4 (missing file)" in message
    summary = tracker.summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["bad"] == len(bad) and summary["distinct_files"] == len(BROKEN)
    assert sum(summary["reasons"].values()) == len(bad) and len(summary["examples"]) == 5


def test_tracker_rule_judges_the_share_over_at_least_min_items():
    tracker = BadFileTracker(threshold=0.01, min_items=100)
    tracker.update([("a.mp4", "missing file")], 8)  # 1 bad in a first batch of 8: allowed (1 <= 1% of 100)
    with pytest.raises(TooManyBadFiles):
        tracker.update([("b.mp4", "missing file")], 8)  # 2 in 16 items: over 1% of 100
    long_run = BadFileTracker(threshold=0.01, min_items=100)
    long_run.update([("x.mp4", "cannot open: ...")] * 10, 1000)  # exactly 1%: allowed
    with pytest.raises(TooManyBadFiles):
        long_run.update([("y.mp4", "cannot open: ...")], 0)
    assert long_run.summary()["share"] == 0.011
