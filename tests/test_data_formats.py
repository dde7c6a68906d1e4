"""Each annotation format, from tiny datasets written here, read through `build_dataset`; the registry."""

import json

import numpy as np
import pytest

from actionbook.data import DATASETS, build_dataset, dataset_info, write_frame_folder, write_video
from actionbook.errors import ConfigError


def frames(seed, count=6, height=32, width=40):
    return np.random.default_rng(seed).integers(0, 256, (count, height, width, 3), dtype=np.uint8)


def test_registry_class_counts_follow_the_spec_table():
    counts = {name: info.num_classes for name, info in DATASETS.items()}
    assert counts == {"st2stv2": 174, "mini_st2stv2": 87, "kinetics400": 400, "mini_kinetics400": 200,
                      "moments": 339, "mini_moments": 200, "ssv2-videos": 174, "kinetics400-videos": 400,
                      "kinetics400-mmaction": 400, "synth-something": 12, "synth-kinetics": 10, "synth-images": 40}
    assert dataset_info("synth-kinetics").kind == "synthetic"
    assert {info.kind for info in DATASETS.values()} == {"synthetic", "ssv2", "kinetics", "ibm-list",
                                                         "mmaction-list"}
    with pytest.raises(ConfigError, match="unknown; expected one of st2stv2"):
        dataset_info("ucf101")


def test_ssv2_json_and_webm(tmp_path):
    labels = {"Holding something": "1", "Moving something from left to right": "0"}
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "labels.json").write_text(json.dumps(labels))
    entries = [{"id": "17", "label": "moving a cup from left to right",
                "template": "Moving [something] from left to right", "placeholders": ["a cup"]},
               {"id": "3", "label": "holding a pen", "template": "Holding [something]", "placeholders": ["a pen"]}]
    (tmp_path / "labels" / "train.json").write_text(json.dumps(entries))
    (tmp_path / "labels" / "validation.json").write_text(json.dumps(entries[:1]))
    for seed, entry in enumerate(entries):
        write_video(tmp_path / "20bn-something-something-v2" / f"{entry['id']}.webm", frames(seed))

    train = build_dataset("ssv2-videos", root=tmp_path, split="train", frames=4, input_size=32)
    assert train.class_names == ["Moving something from left to right", "Holding something"]
    assert [s.label for s in train.samples] == [0, 1]
    clip, label, bad = train[1]
    assert clip.shape == (3, 4, 32, 32) and label == 1 and bad == ()
    assert len(build_dataset("ssv2-videos", root=tmp_path, split="val", frames=4, input_size=32)) == 1


def test_ssv2_accepts_the_long_annotation_file_names(tmp_path):
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "something-something-v2-labels.json").write_text(json.dumps({"Holding something": "0"}))
    (tmp_path / "labels" / "something-something-v2-train.json").write_text(
        json.dumps([{"id": "5", "template": "Holding [something]"}]))
    write_video(tmp_path / "20bn-something-something-v2" / "5.webm", frames(0))
    assert len(build_dataset("ssv2-videos", root=tmp_path, frames=2, input_size=32)) == 1


def test_kinetics_csv_and_folder_layout(tmp_path):
    rows = [("riding a bike", "abcdefghijk", 10, 20, "train"), ("abseiling", "-_AbCdEfGhI", 0, 10, "train"),
            ("riding a bike", "zzzzzzzzzzz", 125, 135, "val")]
    header = "label,youtube_id,time_start,time_end,split\n"
    (tmp_path / "train.csv").write_text(header + "".join(",".join(map(str, r)) + "\n" for r in rows[:2]))
    (tmp_path / "validate.csv").write_text(header + ",".join(map(str, rows[2])) + "\n")
    for seed, (label, youtube_id, start, end, split) in enumerate(rows):
        folder = tmp_path / split / (label if seed != 2 else label.replace(" ", "_"))  # both spellings exist
        write_video(folder / f"{youtube_id}_{start:06d}_{end:06d}.mp4", frames(seed))

    train = build_dataset("kinetics400-videos", root=tmp_path, split="train", frames=4, input_size=32)
    assert train.class_names == ["abseiling", "riding a bike"]  # sorted training labels
    assert train.samples[0].path.endswith("train/riding a bike/abcdefghijk_000010_000020.mp4")
    assert [s.label for s in train.samples] == [1, 0]
    val = build_dataset("kinetics400-videos", root=tmp_path, split="val", frames=4, input_size=32)
    assert val.samples[0].path.endswith("val/riding_a_bike/zzzzzzzzzzz_000125_000135.mp4")
    assert val[0][1] == 1 and val[0][2] == ()


def test_ibm_lists_with_space_and_semicolon_and_the_short_video_filter(tmp_path):
    write_frame_folder(tmp_path / "long", frames(0, count=30))
    write_frame_folder(tmp_path / "short", frames(1, count=10))
    (tmp_path / "train.txt").write_text("long 1 30 5\nshort 3 10 7\n")
    (tmp_path / "val.txt").write_text("long 1 30 5\n")
    ssv2 = build_dataset("st2stv2", root=tmp_path, split="train", frames=4, input_size=32)
    assert len(ssv2) == 2 and ssv2.num_classes == 174  # st2stv2 drops videos under 3 frames only
    short = ssv2.samples[1]
    assert (short.label, short.num_frames, short.start_frame) == (7, 8, 3)
    assert ssv2[1][0].shape == (3, 4, 32, 32)

    (tmp_path / "train.txt").write_text("long;1;30;5\nshort;1;10;7\n")  # Kinetics lists use ';'
    (tmp_path / "val.txt").write_text("long;1;30;5\nshort;1;10;7\n")
    assert len(build_dataset("kinetics400", root=tmp_path, split="train", frames=4, input_size=32)) == 1
    assert len(build_dataset("kinetics400", root=tmp_path, split="val", frames=4, input_size=32)) == 1
    assert len(build_dataset("kinetics400", root=tmp_path, split="test", frames=4, input_size=32)) == 2


def test_mmaction_video_list(tmp_path):
    write_video(tmp_path / "videos_train" / "abseiling" / "a.mp4", frames(0))
    write_video(tmp_path / "videos_train" / "zumba" / "b.mp4", frames(1))
    (tmp_path / "kinetics400_train_list_videos.txt").write_text("abseiling/a.mp4 0\nzumba/b.mp4 399\n")
    dataset = build_dataset("kinetics400-mmaction", root=tmp_path, frames=4, sampling="mmaction",
                            frame_interval=1, input_size=32)
    assert [s.label for s in dataset.samples] == [0, 399]
    assert dataset[1][0].shape == (3, 4, 32, 32)


def test_missing_or_malformed_annotations_are_one_line_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="pass root="):
        build_dataset("ssv2-videos")
    with pytest.raises(ConfigError, match=f"dataset folder {tmp_path / 'absent'} not found"):
        build_dataset("kinetics400-videos", root=tmp_path / "absent")
    with pytest.raises(ConfigError, match=r"missing annotation file .*labels\.json \(expected SSv2 labels JSON"):
        build_dataset("ssv2-videos", root=tmp_path)
    (tmp_path / "train.txt").write_text("video 1 30 2\nvideo one thirty\n")
    with pytest.raises(ConfigError, match=r"train\.txt:2: 'video one thirty' is not a line 'folder start_frame"):
        build_dataset("moments", root=tmp_path)
    (tmp_path / "train.txt").write_text("video 1 30 500\n")
    with pytest.raises(ConfigError, match=r"train\.txt:1: label 500 is not one of the 339 classes \(0\.\.338\)"):
        build_dataset("moments", root=tmp_path)
