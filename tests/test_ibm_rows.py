"""The IBM study's row-name grammar (studies/ibm/rows.py)."""

import pytest

from actionbook.errors import ConfigError
from actionbook.studies.ibm.rows import experiment_from_row, parse_row


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
        experiment_from_row("st2stv2-resnet-50-tp-f12")
