"""Experiment construction and validation, and the IBM row-name parser."""

import pytest

from actionbook.errors import ConfigError
from actionbook.experiment import Experiment, parse_row


@pytest.mark.parametrize("row, expected", [
    ("st2stv2-TAM-b3-sum-resnet-50-f16-cosine-bs48-e75",
     dict(dataset="st2stv2", model="tam_r50", blending_frames=3, blending_method="sum", frames=16,
          lr_scheduler="cosine", batch_size=48, epochs=75)),
    ("kinetics400-i3d-resnet-50-tp-f64-multisteps-syncbn-bs36-e45",
     dict(model="i3d_r50", temporal_pooling="max", frames=64, lr_scheduler="multisteps", sync_bn=True)),
    ("kinetics400-s3d-tp-max-f16-cosine-bs72-e100", dict(model="s3d", temporal_pooling="max")),
    ("mini_st2stv2-inception-v1-ts-avg-f8", dict(dataset="mini_st2stv2", model="tsn_inception_v1",
                                                   temporal_pooling="avg", frames=8)),
    ("moments-rgb-TAM-b5-max-allc-resnet-101-f32", dict(model="tam_r101", blending_frames=5, blending_method="max",
                                                         dw_conv=False, frames=32)),
    ("mini_kinetics400-s3d-resnet-18-dw-t-conv-ts-f8", dict(model="s3d_r18", dw_t_conv=True,
                                                             temporal_pooling="max")),
    ("st2stv2-i3d_v2-f8", dict(model="i3d", frames=8)),
])
def test_parse_row(row, expected):
    fields = parse_row(row)
    for key, value in expected.items():
        assert fields[key] == value, key


@pytest.mark.parametrize("row, piece", [
    ("imagenet-resnet-50-f8", "'imagenet'"),
    ("st2stv2-resnet-51-f8", "'51'"),
    ("st2stv2-vgg-16-f8", "'vgg'"),
    ("st2stv2-resnet-50-f8-adam", "'adam'"),
    ("st2stv2-TAM-b3-avg-resnet-50-f8", "'avg'"),
    ("st2stv2-resnet-50-tp-x8", "'x8'"),
])
def test_bad_rows_name_the_piece(row, piece):
    with pytest.raises(ConfigError, match=piece):
        parse_row(row)


def test_experiment_from_row_validates_frames():
    with pytest.raises(ConfigError, match="frames=12"):
        Experiment.from_row("st2stv2-resnet-50-tp-f12")


def test_overrides_are_coerced_from_strings():
    exp = Experiment.from_dict({"model": "tsn_r18", "frames": "16", "flip": "false", "lr": "0.1",
                                "lr_steps": "10,20", "dataset": "synth-kinetics", "imagenet_checkpoint": "none"})
    assert (exp.frames, exp.flip, exp.lr, exp.lr_steps, exp.imagenet_checkpoint) == (16, False, 0.1, [10, 20], None)


@pytest.mark.parametrize("values, message", [
    ({"model": "resnet9000"}, "unknown model 'resnet9000'; valid models: .*tam_r50"),
    ({"frames": "many"}, "frames must be of type int"),
    ({"sampling": "random"}, "sampling must be one of uniform, dense, mmaction"),
    ({"dataset": "imagenet"}, "imagenet"),
    ({"bogus": 1}, "unknown parameter\\(s\\) bogus"),
    ({"model": "tsn_r18", "blending_frames": 5}, "does not take option"),
])
def test_invalid_experiments_fail_in_one_line(values, message):
    with pytest.raises(ConfigError, match=message) as info:
        Experiment.from_dict(values)
    assert "\n" not in str(info.value)


def test_params_file_round_trip(tmp_path):
    exp = Experiment.from_row("kinetics400-resnet-50-f16-cosine-bs48-e75")
    path = tmp_path / "row.yaml"
    import yaml

    path.write_text(yaml.safe_dump(exp.to_dict()))
    assert Experiment.from_params(path) == exp
    assert Experiment.from_params(path, frames=8).frames == 8
