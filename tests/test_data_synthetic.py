"""The synthetic datasets: real formats, deterministic, generated once even when raced, and they test what they
claim: frame order is the only signal within a synth-something twin pair, appearance is enough on synth-kinetics."""

import argparse
import csv
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import av
import numpy as np
import pytest
import torch

from actionbook.data import SynthConfig, build_dataset, ensure_dataset, ensure_synthetic, generate
from actionbook.data import synthetic as synthetic_module
from actionbook.data.cli import add_parser
from actionbook.data.writers import write_video
from actionbook.errors import ConfigError

TINY = SynthConfig(num_classes=4, train_per_class=2, val_per_class=1, frames=6, width=40, height=32)


def codec_of(path):
    with av.open(str(path)) as container:
        return container.streams.video[0].codec_context.name


def test_synth_something_is_ssv2_shaped(tmp_path):
    manifest = generate("synth-something", tmp_path, TINY)
    labels = json.loads((tmp_path / "labels" / "labels.json").read_text())
    assert labels == {"Moving something from left to right": "0", "Moving something from right to left": "1",
                      "Moving something up": "2", "Moving something down": "3"}
    train = json.loads((tmp_path / "labels" / "train.json").read_text())
    assert len(train) == 8 and {"id", "label", "template", "placeholders"} <= set(train[0])
    video = tmp_path / "20bn-something-something-v2" / f"{train[0]['id']}.webm"
    assert codec_of(video) == "vp9"
    assert manifest["videos"] == 12


def test_synth_kinetics_is_kinetics_shaped(tmp_path):
    generate("synth-kinetics", tmp_path, TINY)
    with open(tmp_path / "validate.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["label", "youtube_id", "time_start", "time_end", "split"] and len(rows) == 4
    row = rows[0]
    video = tmp_path / "val" / row["label"] / f"{row['youtube_id']}_{int(row['time_start']):06d}_" \
                                              f"{int(row['time_end']):06d}.mp4"
    assert codec_of(video) == "h264" and len(row["youtube_id"]) == 11


@pytest.mark.parametrize("name", ["synth-something", "synth-kinetics"])
def test_same_seed_same_fingerprint_and_files(tmp_path, name):
    generate(name, tmp_path / "a", TINY)
    generate(name, tmp_path / "b", TINY, workers=2)
    generate(name, tmp_path / "c", replace(TINY, seed=1))
    prints = {key: build_dataset(name, root=tmp_path / key, frames=2, input_size=32).fingerprint()
              for key in "abc"}
    assert prints["a"] == prints["b"]
    assert prints["a"]["annotations_sha256"] != prints["c"]["annotations_sha256"]
    assert prints["a"]["videos"] == 8 and prints["a"]["frames"] == 48 and prints["a"]["class_histogram"] == [2] * 4
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)


def test_synth_images_are_one_frame_folders_in_the_ibm_list_layout(tmp_path):
    """The proxy's ImageNet stand-in: still images of object kinds, read by the ordinary video pipeline as
    one-frame clips; the same seed writes the same bytes, with any worker count."""
    config = SynthConfig(num_classes=5, train_per_class=3, val_per_class=1, frames=1, width=64, height=48)
    generate("synth-images", tmp_path / "a", config)
    generate("synth-images", tmp_path / "b", config, workers=2)
    lines = (tmp_path / "a" / "train.txt").read_text().splitlines()
    assert len(lines) == 15 and lines[0] == "images/00/train-00000 1 1 0"
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.jpg"))
    assert len(files) == 20
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    train = build_dataset("synth-images", root=tmp_path / "a", frames=1, input_size=32)
    clip, label = train[0][:2]
    assert tuple(clip.shape) == (3, 1, 32, 32)  # C, T, H, W: a clip of one frame
    assert sorted({train[i][1] for i in range(len(train))}) == [0, 1, 2, 3, 4]
    with pytest.raises(ConfigError, match="frames 2 must be 1"):
        generate("synth-images", tmp_path / "c", replace(config, frames=2))


def test_ensure_dataset_generates_defaults_once_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTIONBOOK_DATA", str(tmp_path))
    spec = synthetic_module.SYNTHETIC["synth-kinetics"]
    monkeypatch.setitem(synthetic_module.SYNTHETIC, "synth-kinetics", replace(spec, defaults=TINY))
    folder = ensure_dataset("synth-kinetics")
    assert folder == tmp_path / "synth-kinetics" and (folder / "synth.json").is_file()
    stamp = (folder / "synth.json").stat().st_mtime_ns
    assert ensure_dataset("synth-kinetics") == folder and (folder / "synth.json").stat().st_mtime_ns == stamp
    assert len(build_dataset("synth-kinetics", frames=2, input_size=32)) == 8  # root=None: the default set
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_two_processes_racing_to_generate_get_one_complete_dataset(tmp_path):
    with ProcessPoolExecutor(2) as pool:
        folders = list(pool.map(ensure_synthetic, ["synth-something"] * 2, [tmp_path / "set"] * 2, [TINY] * 2))
    assert folders == [tmp_path / "set"] * 2
    assert len(build_dataset("synth-something", root=tmp_path / "set", frames=2, input_size=32)) == 8
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["set"]


def test_generation_settings_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="must be even"):
        generate("synth-something", tmp_path / "odd", replace(TINY, num_classes=5))
    with pytest.raises(ConfigError, match="decord cannot read 48x32 videos"):
        generate("synth-kinetics", tmp_path / "narrow", replace(TINY, width=48))
    ensure_synthetic("synth-kinetics", tmp_path / "set", TINY)
    version = synthetic_module.GENERATOR_VERSION
    with pytest.raises(ConfigError, match=f"already holds synth-kinetics from generator version {version} with"):
        ensure_synthetic("synth-kinetics", tmp_path / "set", replace(TINY, seed=5))
    assert ensure_synthetic("synth-kinetics", tmp_path / "set", replace(TINY, seed=5), force=True)


def test_cli_synth_is_idempotent(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="actionbook")
    add_parser(parser.add_subparsers(required=True))
    argv = ["data", "synth", "synth-kinetics", "--root", str(tmp_path / "k"), "--classes", "2",
            "--train-per-class", "1", "--val-per-class", "1", "--frames", "4", "--width", "64", "--height", "48"]
    for _ in range(2):
        args = parser.parse_args(argv)
        assert args.func(args) == 0
    assert capsys.readouterr().out.count(str(tmp_path / "k")) == 2
    with pytest.raises(ConfigError):
        args = parser.parse_args(argv + ["--seed", "9"])
        args.func(args)


# ------------------------------------------------------------------ what the datasets test

@pytest.fixture
def one_thread():
    """Tiny tensors are faster on one thread, especially on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def frame_features(name, root, split, frames):
    """Per-frame features (edge energy and colour on a 6x6 grid), for the whole clip (order-agnostic) and for its
    first and second half separately (order-aware)."""
    dataset = build_dataset(name, root=root, split=split, frames=frames, input_size=48, scale_size=48, augment="none")
    agnostic, ordered, labels = [], [], []
    for index in range(len(dataset)):
        clip, label, _ = dataset[index]
        x = clip.float() / 255  # (3, T, H, W)
        gray = x.mean(0)
        edges = (gray[:, :-1, 1:] - gray[:, :-1, :-1]).abs() + (gray[:, 1:, :-1] - gray[:, :-1, :-1]).abs()
        per_frame = torch.cat([torch.nn.functional.adaptive_avg_pool2d(edges[:, None], 6).flatten(1),
                               torch.nn.functional.adaptive_avg_pool2d(x.transpose(0, 1), 6).flatten(1)], 1)
        half = frames // 2
        agnostic.append(per_frame.mean(0))
        ordered.append(torch.cat([per_frame[:half].mean(0), per_frame[half:].mean(0)]))
        labels.append(label)
    return torch.stack(agnostic), torch.stack(ordered), torch.tensor(labels)


def logistic_regression(train_x, train_y, test_x, num_classes):
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    weight = torch.zeros(train_x.shape[1], num_classes, requires_grad=True)
    bias = torch.zeros(num_classes, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], max_iter=200)

    def loss():
        optimiser.zero_grad()
        value = torch.nn.functional.cross_entropy(train_x @ weight + bias, train_y) + 1e-2 * weight.square().sum()
        value.backward()
        return value

    optimiser.step(loss)
    return (test_x @ weight + bias).detach()


def test_frame_order_is_the_only_signal_within_twin_pairs_and_appearance_suffices_on_kinetics(tmp_path, one_thread):
    something = SynthConfig(num_classes=16, train_per_class=16, val_per_class=8, frames=8, width=64, height=48)
    kinetics = SynthConfig(num_classes=10, train_per_class=10, val_per_class=6, frames=8, width=64, height=48)
    generate("synth-something", tmp_path / "s", something)
    generate("synth-kinetics", tmp_path / "k", kinetics)

    train_a, train_o, train_y = frame_features("synth-something", tmp_path / "s", "train", 8)
    val_a, val_o, val_y = frame_features("synth-something", tmp_path / "s", "val", 8)
    twin = val_y ^ 1  # classes 2k and 2k + 1 are time-reversed twins

    def within_pair_accuracy(logits):
        return (logits.gather(1, val_y[:, None]) > logits.gather(1, twin[:, None])).float().mean().item()

    agnostic = within_pair_accuracy(logistic_regression(train_a, train_y, val_a, 16))
    ordered = within_pair_accuracy(logistic_regression(train_o, train_y, val_o, 16))
    assert abs(agnostic - 0.5) < 0.12, agnostic  # chance: 128 validation clips, one standard deviation is 0.044
    assert ordered > 0.7, ordered  # the same features, split in two halves, see the order

    train_a, _, train_y = frame_features("synth-kinetics", tmp_path / "k", "train", 8)
    val_a, _, val_y = frame_features("synth-kinetics", tmp_path / "k", "val", 8)
    accuracy = (logistic_regression(train_a, train_y, val_a, 10).argmax(1) == val_y).float().mean().item()
    assert accuracy > 0.35, accuracy  # chance is 0.1


def test_the_same_frames_always_encode_to_the_same_bytes(tmp_path):
    """x264's macroblock tree made the same frames encode to different files now and then: 19 of the 320 proxy
    synth-kinetics videos differed between two generations, this one in 2-6 ways in 12 encodings. The writer turns
    the tree off."""
    spec = synthetic_module.SYNTHETIC["synth-kinetics"]
    config = SynthConfig(num_classes=4, train_per_class=50, val_per_class=30, frames=24, width=64, height=48)
    (job,) = [job for job in synthetic_module._plan(spec, config) if "MwllY8TSWbq" in job["file"]]
    frames = spec.video(job["label"], config, np.random.default_rng([0, job["label"], False, job["number"]]))
    encodings = {write_video(tmp_path / f"{i}.mp4", frames).read_bytes() for i in range(12)}
    assert len(encodings) == 1
