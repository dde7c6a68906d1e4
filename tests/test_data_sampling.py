"""Frame sampling against the formulas of the IBM spec (6.3) and MMAction2's SampleFrames."""

import numpy as np
import pytest

from actionbook.data.sampling import (
    dense_eval,
    dense_train,
    mmaction_eval,
    mmaction_train,
    sample_clips,
    uniform_eval,
    uniform_eval_offsets,
    uniform_train,
)


def rngs(count=200):
    return (np.random.default_rng(seed) for seed in range(count))


def test_uniform_training_shares_one_offset_across_segments():
    offsets = set()
    for rng in rngs():
        indices = uniform_train(20, 4, rng)[0]  # segments of 5 frames
        assert np.all(np.diff(indices) == 5)
        offsets.add(int(indices[0]))
    assert offsets == {0, 1, 2, 3, 4}


def test_uniform_training_on_short_videos_draws_sorted_frames_with_replacement():
    for rng in rngs(50):
        indices = uniform_train(3, 8, rng)[0]
        assert len(indices) == 8 and np.all(np.diff(indices) >= 0) and indices.min() >= 0 and indices.max() < 3


def test_uniform_eval_offsets_use_floor_division():
    assert [uniform_eval_offsets(k) for k in (1, 2, 3, 4, 5)] == [[0], [0, 1], [-1, 0, 1], [-1, 0, 1, 2],
                                                                   [-2, -1, 0, 1, 2]]


def test_uniform_eval_takes_segment_centres_shifted_per_clip():
    np.testing.assert_array_equal(uniform_eval(20, 4, 1), [[2, 7, 12, 17]])  # int(2.5 + 5 g)
    np.testing.assert_array_equal(uniform_eval(20, 4, 3), [[1, 6, 11, 16], [2, 7, 12, 17], [3, 8, 13, 18]])
    # tick 1.25: offsets clipped to [-0.625, 0.6249]
    np.testing.assert_array_equal(uniform_eval(5, 4, 3), [[0, 1, 2, 3], [0, 1, 3, 4], [1, 2, 3, 4]])


def test_uniform_eval_on_short_videos_seeds_numpy_with_the_clip_number():
    clips = uniform_eval(3, 5, 2)
    for clip in range(2):
        expected = np.sort(np.random.RandomState(clip).choice(3, 5, replace=True))
        np.testing.assert_array_equal(clips[clip], expected)


def test_dense_training_uses_stride_from_a_random_start_and_wraps_short_videos():
    starts = set()
    for rng in rngs():
        indices = dense_train(50, 4, 3, rng)[0]
        np.testing.assert_array_equal(np.diff(indices), [3, 3, 3])
        starts.add(int(indices[0]))
    assert min(starts) == 0 and max(starts) == 37  # U{0, ..., N - span - 1}, span 12
    np.testing.assert_array_equal(dense_train(8, 4, 3, np.random.default_rng(0)), [[0, 3, 6, 1]])


def test_dense_eval_spreads_clip_starts_with_linspace():
    np.testing.assert_array_equal(dense_eval(50, 4, 3, 3)[:, 0], [0, 19, 38])  # linspace(0, 38, 3)
    np.testing.assert_array_equal(dense_eval(8, 4, 3, 2), [[0, 3, 6, 1], [0, 3, 6, 1]])


def test_mmaction_training_starts_one_clip_inside_each_segment():
    for rng in rngs(100):
        clips = mmaction_train(100, 4, 2, 3, rng)  # span 8, segments of (100 - 8 + 1) // 3 = 31
        for k, clip in enumerate(clips):
            assert 31 * k <= clip[0] < 31 * (k + 1)
            np.testing.assert_array_equal(np.diff(clip), [2, 2, 2])


def test_mmaction_training_short_video_branches():
    # no room for a segment per clip but the video is longer than a clip: sorted random starts
    for rng in rngs(50):
        starts = mmaction_train(20, 4, 4, 8, rng)[:, 0]
        assert np.all(np.diff(starts) >= 0) and starts.max() <= 4
    # as many clips as frames or more: evenly rounded starts
    np.testing.assert_array_equal(mmaction_train(10, 1, 1, 12, None)[:, 0],
                                  np.around(np.arange(12) * 10 / 12).astype(int))
    # a video shorter than one clip: start at 0 and loop
    np.testing.assert_array_equal(mmaction_train(10, 8, 2, 1, np.random.default_rng(0)),
                                  [[0, 2, 4, 6, 8, 0, 2, 4]])


def test_mmaction_eval_takes_segment_centres():
    np.testing.assert_array_equal(mmaction_eval(100, 4, 2, 3)[:, 0], [15, 46, 77])  # int(31 k + 15.5)
    np.testing.assert_array_equal(mmaction_eval(5, 4, 2, 1), [[0, 2, 4, 1]])


@pytest.mark.parametrize("sampling", ["uniform", "dense", "mmaction"])
def test_sample_clips_shapes(sampling):
    interval = 1 if sampling == "uniform" else 2
    train = sample_clips(sampling, 40, 8, interval, 2, np.random.default_rng(0))
    evaluation = sample_clips(sampling, 40, 8, interval, 3, None)
    assert train.shape == (2, 8) and evaluation.shape == (3, 8)
    assert evaluation.min() >= 0 and evaluation.max() < 40
