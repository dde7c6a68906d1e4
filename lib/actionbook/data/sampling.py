"""Frame sampling: which frames of an N-frame video make a clip (IBM spec 6.3, MMAction2 `SampleFrames`).

Every sampler returns 0-based frame indices shaped (num_clips, frames_per_clip). Training samplers take a numpy
`Generator` (all randomness of an item comes from it); evaluation samplers are deterministic.

* uniform (TSN segments): G segments of N // G frames, one frame per segment. Training draws **one** random
  offset and uses it in every segment (the IBM code's choice, unlike classic TSN); evaluation takes the centre of
  each segment, shifted per clip by the offsets of `uniform_eval_offsets`.
* dense: G frames with stride f from a random start (training) or from K evenly spaced starts (evaluation),
  wrapping around the end of short videos.
* mmaction: `clip_len x frame_interval x num_clips`: the video is cut into num_clips equal segments and a clip of
  clip_len frames, frame_interval apart, starts at a random offset inside each segment (training) or at the
  segment's centre (evaluation); indices past the end loop back to the start.
"""

from __future__ import annotations

import numpy as np


def uniform_train(num_frames: int, groups: int, rng: np.random.Generator) -> np.ndarray:
    """One training clip of `groups` frames; short videos (N < G) draw G sorted frames with replacement."""
    segment = num_frames // groups
    if segment >= 1:
        indices = np.arange(groups) * segment + rng.integers(segment)
    else:
        indices = np.sort(rng.integers(num_frames, size=groups))
    return indices[None, :]


def uniform_eval_offsets(num_clips: int) -> list[int]:
    """Per-clip shifts of the segment centres: K=1 -> [0], K=2 -> [0, 1], K=3 -> [-1, 0, 1] (floor division)."""
    return list(range(-num_clips // 2 + 1, num_clips // 2 + 1))


def uniform_eval(num_frames: int, groups: int, num_clips: int = 1) -> np.ndarray:
    """`num_clips` evaluation clips of `groups` frames each.

    With N > G the segment length is tick = N / G and frame g of a clip shifted by o is
    int(tick / 2 + o + tick * g), o clipped to [-tick / 2, tick / 2 - 1e-4] so it stays in its segment.
    Shorter videos draw G frames with replacement from a numpy generator seeded with the clip number (sorted).
    """
    clips = []
    for clip, offset in enumerate(uniform_eval_offsets(num_clips)):
        if num_frames > groups:
            tick = num_frames / groups
            offset = min(max(offset, -tick / 2), tick / 2 - 1e-4)
            clips.append([int(tick / 2 + offset + tick * g) for g in range(groups)])
        else:
            clips.append(np.sort(np.random.RandomState(clip).choice(num_frames, groups, replace=True)))
    return np.asarray(clips, dtype=np.int64)


def dense_train(num_frames: int, frames: int, stride: int, rng: np.random.Generator) -> np.ndarray:
    """One clip of `frames` frames `stride` apart from a start ~ U{0, ..., N - span - 1} (0 if N <= span)."""
    span = frames * stride
    start = rng.integers(num_frames - span) if num_frames - span > 0 else 0
    return ((start + np.arange(frames) * stride) % num_frames)[None, :]


def dense_eval(num_frames: int, frames: int, stride: int, num_clips: int = 1) -> np.ndarray:
    """`num_clips` clips whose starts are int(linspace(0, last_start - 1, K)), last_start = max(1, 1 + N - span)."""
    last_start = max(1, 1 + num_frames - frames * stride)
    starts = np.linspace(0, last_start - 1, num_clips).astype(np.int64)
    return (starts[:, None] + np.arange(frames)[None, :] * stride) % num_frames


def mmaction_train(num_frames: int, clip_len: int, frame_interval: int, num_clips: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Training `SampleFrames`: one random clip start inside each of num_clips equal segments.

    With span = clip_len * frame_interval and segment = (N - span + 1) // num_clips:
    segment > 0: start_k = k * segment + U{0, segment - 1};
    else if N > max(num_clips, span): num_clips sorted starts ~ U{0, ..., N - span};
    else if segment == 0: start_k = round(k * (N - span + 1) / num_clips);
    else (the video is shorter than one clip): all starts 0.
    """
    span = clip_len * frame_interval
    segment = (num_frames - span + 1) // num_clips
    if segment > 0:
        starts = np.arange(num_clips) * segment + rng.integers(segment, size=num_clips)
    elif num_frames > max(num_clips, span):
        starts = np.sort(rng.integers(num_frames - span + 1, size=num_clips))
    elif segment == 0:
        starts = np.around(np.arange(num_clips) * (num_frames - span + 1) / num_clips).astype(np.int64)
    else:
        starts = np.zeros(num_clips, dtype=np.int64)
    return _loop_clips(starts, num_frames, clip_len, frame_interval)


def mmaction_eval(num_frames: int, clip_len: int, frame_interval: int, num_clips: int) -> np.ndarray:
    """Evaluation `SampleFrames`: clip k starts at int(segment * k + segment / 2), segment = (N - span + 1) / K."""
    span = clip_len * frame_interval
    segment = (num_frames - span + 1) / num_clips
    if num_frames > span - 1:
        starts = (np.arange(num_clips) * segment + segment / 2).astype(np.int64)
    else:
        starts = np.zeros(num_clips, dtype=np.int64)
    return _loop_clips(starts, num_frames, clip_len, frame_interval)


def _loop_clips(starts: np.ndarray, num_frames: int, clip_len: int, frame_interval: int) -> np.ndarray:
    return (starts[:, None] + np.arange(clip_len)[None, :] * frame_interval) % num_frames


SAMPLINGS = ("uniform", "dense", "mmaction")


def sample_clips(sampling: str, num_frames: int, frames: int, frame_interval: int, num_clips: int,
                 rng: np.random.Generator | None) -> np.ndarray:
    """Frame indices (num_clips, frames) by the named sampler; `rng=None` selects evaluation sampling.

    The IBM samplers draw a training clip once per requested clip; MMAction2's draws all its clips together.
    """
    if sampling == "uniform":
        if rng is None:
            return uniform_eval(num_frames, frames, num_clips)
        return np.concatenate([uniform_train(num_frames, frames, rng) for _ in range(num_clips)])
    if sampling == "dense":
        if rng is None:
            return dense_eval(num_frames, frames, frame_interval, num_clips)
        return np.concatenate([dense_train(num_frames, frames, frame_interval, rng) for _ in range(num_clips)])
    if sampling == "mmaction":
        if rng is None:
            return mmaction_eval(num_frames, frames, frame_interval, num_clips)
        return mmaction_train(num_frames, frames, frame_interval, num_clips, rng)
    raise ValueError(f"unknown sampling {sampling!r}; expected one of {SAMPLINGS}")
