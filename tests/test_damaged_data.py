"""A damaged dataset: training replaces and counts every unreadable video, evaluation never substitutes one (it
leaves the item out, counts it, names it, and says how many it evaluated), and bad annotations are one line."""

import json
import logging

import av
import numpy as np
import pytest
import torch
from torch import nn

from actionbook import runs
from actionbook.data import (
    UNREADABLE,
    BadFileTracker,
    TooManyBadFiles,
    UnreadableVideo,
    VideoFile,
    build_dataset,
    collate_clips,
    write_video,
)
from actionbook.errors import ConfigError
from actionbook.train import evaluate as evaluation
from actionbook.train.distributed import DistContext

GOOD = {"good0.mp4": 0, "good1.webm": 1, "good2.mp4": 2, "good3.webm": 3, "good4.mp4": 4, "one_frame.mp4": 5}
BROKEN = {  # file -> expected start of its reason; each is listed with label 7 (a real class: nothing to hide)
    "empty.mp4": "empty file (0 bytes)",
    "truncated.webm": "truncated: 1 of the 24 frames",  # decord alone would take it for a 1-frame video
    "garbage.mp4": "cannot open",
    "audio.mp4": "no video stream: only audio",
    "missing.mp4": "missing file",
}
CPU = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


def frames(count, seed):
    return np.random.default_rng(seed).integers(0, 256, (count, 32, 40, 3), dtype=np.uint8)


def write_audio_only(path):
    """An mp4 holding one AAC stream and no video (a sound track saved under a video's name)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for number in range(8):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, number * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def write_videos(folder):
    for seed, name in enumerate(GOOD):
        write_video(folder / name, frames(1 if name == "one_frame.mp4" else 8, seed))
    whole = write_video(folder / "whole.webm", frames(24, 9)).read_bytes()
    (folder / "whole.webm").unlink()
    (folder / "truncated.webm").write_bytes(whole[:len(whole) // 10])
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "garbage.mp4").write_bytes(np.random.default_rng(1).bytes(4000))
    write_audio_only(folder / "audio.mp4")


@pytest.fixture(scope="module")
def damaged_root(tmp_path_factory):
    """kinetics400-mmaction lists (train and val alike): six readable videos, then the five broken ones."""
    root = tmp_path_factory.mktemp("damaged")
    lines = [f"{name} {label}" for name, label in GOOD.items()] + [f"{name} 7" for name in BROKEN]
    for split, folder in (("train", "videos_train"), ("val", "videos_val")):
        write_videos(root / folder)
        (root / f"kinetics400_{split}_list_videos.txt").write_text("\n".join(lines) + "\n")
    return root


def build(root, split, **options):
    return build_dataset("kinetics400-mmaction", root=root, split=split, frames=4, input_size=32, **options)


def loader(dataset, indices=None):
    subset = dataset if indices is None else torch.utils.data.Subset(dataset, indices)
    return torch.utils.data.DataLoader(subset, batch_size=4, num_workers=0, collate_fn=collate_clips)


def test_each_damage_has_its_reason_and_a_whole_one_frame_video_is_readable(damaged_root):
    folder = damaged_root / "videos_train"
    for name, reason in BROKEN.items():
        with pytest.raises(UnreadableVideo) as error:
            VideoFile(folder / name)
        assert error.value.reason.startswith(reason), (name, error.value.reason)
    one = VideoFile(folder / "one_frame.mp4")
    assert one.num_frames == 1 and one.read([0, 0, 0]).shape == (3, 32, 40, 3)


def test_training_replaces_counts_and_names_every_bad_file(damaged_root, caplog):
    dataset = build(damaged_root, "train")
    tracker = BadFileTracker(threshold=1.0, examples=10)
    with caplog.at_level(logging.WARNING, logger="actionbook.data"):
        for clips, labels, bad in loader(dataset):
            assert clips.shape[1:] == (3, 4, 32, 32)
            assert set(labels.tolist()) <= set(GOOD.values())  # replaced by readable videos, with their labels
            tracker.update(bad, len(labels))
    summary = tracker.summary()
    named = {example["path"]: example["reason"] for example in summary["examples"]}
    assert {path.rsplit("/", 1)[1] for path in named} == set(BROKEN)
    for path, reason in named.items():
        assert reason.startswith(BROKEN[path.rsplit("/", 1)[1]])
    assert summary["items"] == len(dataset) and summary["bad"] >= len(BROKEN)
    assert len(caplog.records) == len(BROKEN)
    with pytest.raises(TooManyBadFiles) as stop:  # the default 1 % stops such a run, in one line
        BadFileTracker().update([(path, reason) for path, reason in named.items()], len(dataset))
    assert "\n" not in str(stop.value) and "5 distinct files" in str(stop.value)


@pytest.mark.parametrize("clips, crops", [(1, 1), (2, 3)])
def test_evaluation_items_of_unreadable_videos_are_marked_never_replaced(damaged_root, caplog, clips, crops):
    dataset = build(damaged_root, "val", num_clips=clips, num_crops=crops, augment="none")
    with caplog.at_level(logging.WARNING, logger="actionbook.data"):
        batch, labels, bad = collate_clips([dataset[index] for index in range(len(dataset))])
    views = () if clips * crops == 1 else (clips * crops,)
    assert batch.shape == (len(dataset), *views, 3, 4, 32, 32)
    readable = len(GOOD)
    assert labels.tolist() == list(GOOD.values()) + [UNREADABLE] * len(BROKEN)
    assert not batch[readable:].any() and batch[:readable].flatten(1).any(dim=1).all()
    assert [path.rsplit("/", 1)[1] for path, _ in bad] == list(BROKEN)
    assert all("left out of the evaluation" in record.getMessage() for record in caplog.records)


class FirstClass(nn.Module):
    """Always predicts class 0: top-1 is then the share of evaluated items labelled 0."""

    def forward(self, clips):
        logits = torch.zeros(len(clips), 400)
        logits[:, 0] = 1.0
        return logits


def prepare(clips):
    return clips.float()


def test_evaluate_leaves_out_counts_and_names_the_unreadable(damaged_root):
    dataset = build(damaged_root, "val", augment="none")
    protocol = {"split": "val", "clips": 1, "crops": 1}
    result = evaluation.evaluate(FirstClass(), loader(dataset), CPU, prepare, 400, protocol,
                                 bad_file_threshold=1.0)
    assert result["samples"] == len(GOOD) and result["unreadable"] == len(BROKEN)
    assert result["top1"] == pytest.approx(100 / len(GOOD))  # one of the six evaluated is class 0
    support = [sum(row) for row in result["confusion"]]
    assert support[7] == 0 and sum(support) == len(GOOD)  # no unreadable item counted under its label
    files = {entry["path"].rsplit("/", 1)[1]: entry["reason"] for entry in result["unreadable_files"]}
    assert set(files) == set(BROKEN) and all(files[name].startswith(BROKEN[name]) for name in BROKEN)
    kept = result.pop(runs.PREDICTIONS)  # every scored video's per-view logits, written beside the JSON
    assert tuple(kept["logits"].shape) == (len(GOOD), 1, 400) and len(kept["labels"]) == len(GOOD)
    assert json.loads(json.dumps(result)) == result

    with pytest.raises(TooManyBadFiles) as stop:  # the experiment's threshold, as in training
        evaluation.evaluate(FirstClass(), loader(dataset), CPU, prepare, 400, protocol, bad_file_threshold=0.01)
    message = str(stop.value)
    assert "\n" not in message
    assert message.startswith("val evaluation (1x1 views): too many unreadable videos: 5 skipped in 11 items")


def test_evaluate_sums_the_unreadable_over_ranks(damaged_root, monkeypatch):
    dataset = build(damaged_root, "val", augment="none")
    protocol = {"split": "val", "clips": 1, "crops": 1}
    shards = [list(range(rank, len(dataset), 2)) for rank in (0, 1)]  # rank r takes every other item
    other = []
    monkeypatch.setattr(evaluation, "all_gather_objects", lambda ctx, obj: other.append(obj) or [obj])
    evaluation.evaluate(FirstClass(), loader(dataset, shards[1]), CPU, prepare, 400, protocol, bad_file_threshold=1)
    monkeypatch.setattr(evaluation, "all_gather_objects", lambda ctx, obj: [obj, other[0]])
    result = evaluation.evaluate(FirstClass(), loader(dataset, shards[0]), CPU, prepare, 400, protocol,
                                 bad_file_threshold=1)
    assert result["samples"] == len(GOOD) and result["unreadable"] == len(BROKEN)
    assert {entry["path"].rsplit("/", 1)[1] for entry in result["unreadable_files"]} == set(BROKEN)


# ---- annotations ------------------------------------------------------------------------------------------------

def one_line_error(build_it, *names) -> str:
    with pytest.raises(ConfigError) as error:
        build_it()
    message = str(error.value)
    assert "\n" not in message
    for name in names:
        assert name in message
    return message


def test_a_label_outside_the_classes_is_an_error_naming_file_line_and_label(tmp_path):
    lists = tmp_path / "kinetics400_train_list_videos.txt"
    lists.write_text("a.mp4 3\nb.mp4 400\nc.mp4 -4\nd.mp4 400\n")
    message = one_line_error(lambda: build(tmp_path, "train"), f"{lists}:2: label 400")
    assert "not one of the 400 classes (0..399)" in message and "3 entries in all have such labels: 400, -4" in message

    header = "label,youtube_id,time_start,time_end,split\n"
    (tmp_path / "train.csv").write_text(header + "abseiling,aaaaaaaaaaa,0,10,train\n")
    (tmp_path / "validate.csv").write_text(header + "abseiling,bbbbbbbbbbb,0,10,val\nabseling,ccccccccccc,0,10,val\n")
    one_line_error(lambda: build_dataset("kinetics400-videos", root=tmp_path, split="val"),
                   f"{tmp_path / 'validate.csv'}:3: label 'abseling' is not a class of the training CSV")

    names = [f"class {number:03d}" for number in range(400)]  # a full Kinetics-400 CSV with one label misspelt
    rows = [f"{name},id{number:09d},0,10,train" for number, name in enumerate(names * 2)] + ["clas 007,x,0,10,train"]
    (tmp_path / "train.csv").write_text(header + "\n".join(rows) + "\n")
    one_line_error(lambda: build_dataset("kinetics400-videos", root=tmp_path),
                   f"{tmp_path / 'train.csv'}: 401 labels, more than the dataset's 400 classes; "
                   "the rarest: 'clas 007' (1 line from line 802)")


def test_an_unknown_ssv2_template_names_the_entry(tmp_path):
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "labels.json").write_text(json.dumps({"Holding something": "0"}))
    (tmp_path / "labels" / "train.json").write_text(json.dumps(
        [{"id": "1", "template": "Holding [something]"}, {"id": "2", "template": "Dropping [something]"}]))
    one_line_error(lambda: build_dataset("ssv2-videos", root=tmp_path),
                   "train.json: entry 2: label 'Dropping something' is not one of the 1 classes of the labels JSON")


def test_an_annotation_file_that_is_not_utf8_is_one_line_naming_it(tmp_path):
    lists = tmp_path / "kinetics400_train_list_videos.txt"
    lists.write_bytes("a.mp4 1\ncaf\u00e9.mp4 2\n".encode("latin-1"))
    one_line_error(lambda: build(tmp_path, "train"), f"{lists}:2: not UTF-8 text (byte 0xe9)")
    lists.write_bytes("\ufeffa.mp4 1\n".encode())  # a byte-order mark is UTF-8 and is read
    assert build(tmp_path, "train").samples[0].path.endswith("a.mp4")
    (tmp_path / "train.csv").write_bytes("label,youtube_id,time_start,time_end,split\n\xe9t\xe9,x,0,1,train\n"
                                         .encode("latin-1"))
    one_line_error(lambda: build_dataset("kinetics400-videos", root=tmp_path), f"{tmp_path / 'train.csv'}:2: not UTF-8")
