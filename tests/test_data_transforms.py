"""Clip transforms: crop positions and sizes, one draw per clip, flips, evaluation views, normalisation."""

import numpy as np
import pytest
import torch

from actionbook.data import normalize
from actionbook.data.transforms import (
    build_transform,
    default_scale_size,
    fixed_crop_offsets,
    multiscale_crop_size,
    resize_short_side,
)
from actionbook.errors import ConfigError


def position_clip(width=64, height=48, frames=4):
    """Red = x, green = y, blue = frame number: every pixel says where it came from."""
    ys, xs = np.mgrid[0:height, 0:width]
    clip = np.zeros((frames, height, width, 3), np.uint8)
    clip[..., 0], clip[..., 1] = xs, ys
    clip[..., 2] = np.arange(frames)[:, None, None]
    return clip


def test_default_scale_size_is_256_for_224():
    assert default_scale_size(224) == 256 and default_scale_size(64) == 73


def test_thirteen_fixed_crop_positions():
    offsets = fixed_crop_offsets(100, 80, 60, 40)  # steps 10 and 10
    assert offsets == [(0, 0), (40, 0), (0, 40), (40, 40), (20, 20),  # corners, centre
                       (0, 20), (40, 20), (20, 40), (20, 0),  # edge centres
                       (10, 10), (30, 10), (10, 30), (30, 30)]  # quarter points
    assert fixed_crop_offsets(100, 80, 60, 40, positions=5) == offsets[:5]


def test_multiscale_crop_sizes_pair_neighbouring_scales_and_snap_to_the_input_size():
    drawn = {multiscale_crop_size(340, 256, 224, (1, 0.875, 0.75, 0.66), 1, np.random.default_rng(s))
             for s in range(500)}
    sizes = [256, 224, 192, 168]
    assert drawn == {(w, h) for i, h in enumerate(sizes) for j, w in enumerate(sizes) if abs(i - j) <= 1}
    assert multiscale_crop_size(258, 258, 224, (0.875,), 0, np.random.default_rng(0)) == (224, 224)  # 225 snaps
    assert multiscale_crop_size(260, 260, 224, (0.875,), 0, np.random.default_rng(0)) == (227, 227)  # 3 px: no


@pytest.mark.parametrize("augment", ["v1", "v2", "mmaction-tsn", "mmaction-i3d", "mmaction-rrc", "none"])
def test_training_transforms_give_one_square_view_with_the_same_crop_on_every_frame(augment):
    transform = build_transform(train=True, input_size=32, scale_size=48, augment=augment)
    clip = position_clip()
    for seed in range(20):
        (view,) = transform(clip, np.random.default_rng(seed))
        assert view.shape == (4, 32, 32, 3) and view.dtype == np.uint8
        np.testing.assert_array_equal(view[..., :2], np.broadcast_to(view[:1, ..., :2], view[..., :2].shape))
        np.testing.assert_array_equal(view[:, 0, 0, 2], np.arange(4))  # frames stay in order


def test_v1_crops_at_the_fixed_positions_of_the_drawn_size():
    # short side already scale_size and scale 1 snapped to the input size: crops are not resized
    transform = build_transform(train=True, input_size=48, scale_size=48, augment="v1", flip=False)
    corners = {tuple(transform(position_clip(), np.random.default_rng(s))[0][0, 0, 0, :2]) for s in range(300)}
    full_size = {(x, y) for x, y in fixed_crop_offsets(64, 48, 48, 48)}
    assert full_size <= corners


def _mirrored(view):
    """True if x decreases from left to right (the red channel holds x)."""
    return int(view[0, 0, -1, 0]) < int(view[0, 0, 0, 0])


@pytest.mark.parametrize("augment", ["v1", "v2", "mmaction-rrc"])
def test_flip_is_a_coin_toss_and_can_be_switched_off(augment):
    flips = [_mirrored(build_transform(True, 32, 48, augment)(position_clip(), np.random.default_rng(s))[0])
             for s in range(100)]
    assert 25 < sum(flips) < 75
    never = [_mirrored(build_transform(True, 32, 48, augment, flip=False)(position_clip(), np.random.default_rng(s))[0])
             for s in range(100)]
    assert not any(never)


def test_evaluation_views_one_three_five_and_ten_crops():
    clip = position_clip()  # 64 x 48, already at scale_size 48: crops are exact

    def corner(num_crops):
        return [tuple(view[0, 0, 0, :2]) for view in build_transform(False, 32, 48, num_crops=num_crops)(clip)]

    assert corner(1) == [(16, 8)]  # centre
    assert corner(3) == [(0, 8), (32, 8), (16, 8)]  # left, right, centre along the long side
    assert corner(5) == [(0, 0), (32, 0), (0, 16), (32, 16), (16, 8)]
    ten = build_transform(False, 32, 48, num_crops=10)(clip)
    assert len(ten) == 10 and not any(map(_mirrored, ten[:5])) and all(map(_mirrored, ten[5:]))
    np.testing.assert_array_equal(ten[5], ten[0][:, :, ::-1])
    portrait = position_clip(width=48, height=64)
    assert [tuple(v[0, 0, 0, :2]) for v in build_transform(False, 32, 48, num_crops=3)(portrait)] == [
        (8, 0), (8, 32), (8, 16)]  # top, bottom, centre


def test_evaluation_resizes_the_short_side_first():
    views = build_transform(False, input_size=16, scale_size=24, num_crops=1)(position_clip())
    assert views[0].shape == (4, 16, 16, 3)
    assert resize_short_side(position_clip(), 24).shape == (4, 24, 32, 3)
    assert resize_short_side(position_clip(width=48, height=64), 24).shape == (4, 32, 24, 3)


def test_invalid_transform_settings_are_config_errors():
    with pytest.raises(ConfigError, match="num_crops 10 includes mirrored views"):
        build_transform(False, 32, flip=False, num_crops=10)
    with pytest.raises(ConfigError, match="num_crops 4 not supported"):
        build_transform(False, 32, num_crops=4)
    with pytest.raises(ConfigError, match="augment 'v3' unknown"):
        build_transform(True, 32, augment="v3")
    with pytest.raises(ConfigError, match="scale_size 24 is smaller than input_size 32"):
        build_transform(True, 32, scale_size=24)


def test_normalize_returns_float_with_the_models_mean_and_std():
    clips = torch.full((2, 5, 3, 4, 8, 8), 255, dtype=torch.uint8)  # (N, V, 3, T, H, W)
    clips[:, :, 1] = 0
    out = normalize(clips, mean=(0.5, 0.5, 0.25), std=(0.5, 0.25, 0.25))
    assert out.dtype == torch.float32 and out.shape == clips.shape
    assert out[0, 0, :, 0, 0, 0].tolist() == [1.0, -2.0, 3.0]
