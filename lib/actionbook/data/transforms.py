"""Clip transforms (IBM spec 6.4, MMAction2 pipelines): one random draw per clip, applied to every frame.

A clip is a uint8 numpy array (T, H, W, 3), as the readers return it. A transform maps a clip and a numpy
`Generator` to a list of views, each (T, size, size, 3) uint8: one view in training, `num_crops` views in
evaluation. Crops and flips are numpy views; resizing is torch's bilinear with antialiasing (within 1 grey level
of Pillow's) on channels-last uint8, which stays fast at any thread count. Other torch ops on clips are avoided on
purpose: on a busy 2-core machine torch's multi-threaded copies (permute, flip, stack) of small clips were
10-100x slower than numpy's. Normalisation is not done
here: batches stay uint8 and the trainer calls `normalize` on the device.

Training augmentations (`augment`), all starting from frames whose short side is `scale_size` (the IBM frames
are stored that way; other inputs are resized to it first) except v2, which draws its own short side:

| name           | what                                                                  | used by                  |
|----------------|-----------------------------------------------------------------------|--------------------------|
| v1             | multi-scale crop, scales (1, .875, .75, .66), max distortion 1,       | IBM default, MMAction2   |
|                | 13 fixed positions, resize to input_size, flip                        | TSM                      |
| v2             | short side ~ U{scale_range}, random input_size crop, flip            | IBM `--augmentor_ver v2` |
| mmaction-tsn   | as v1 with the 5 fixed positions (corners and centre)                 | MMAction2 TSN            |
| mmaction-i3d   | multi-scale crop, scales (1, 0.8), max distortion 0, 5 positions     | MMAction2 I3D            |
| mmaction-rrc   | random resized crop (area 0.08-1, aspect 3/4-4/3), resize, flip       | MMAction2 SlowOnly,      |
|                |                                                                       | SlowFast, R(2+1)D        |
| none           | the evaluation transform (short side scale_size, centre crop)         |                          |

`flip=False` disables every mirror, including the mirrored views of 10-crop testing: in Something-Something a
flip turns "left" into "right".
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from actionbook.errors import ConfigError

Views = list[np.ndarray]
TSN_SCALES = (1, 0.875, 0.75, 0.66)
NUM_CROPS = (1, 3, 5, 10)


def default_scale_size(input_size: int) -> int:
    """Short side before cropping: 256 for 224 (IBM validation: int(input_size / 0.875 + 0.5))."""
    return int(input_size / 0.875 + 0.5)


def resize(clip: np.ndarray, height: int, width: int) -> np.ndarray:
    if clip.shape[1:3] == (height, width):
        return clip
    frames = torch.from_numpy(np.ascontiguousarray(clip)).permute(0, 3, 1, 2)  # channels-last (T, 3, H, W)
    resized = F.interpolate(frames, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    return resized.permute(0, 2, 3, 1).numpy()


def resize_short_side(clip: np.ndarray, size: int) -> np.ndarray:
    """Short side to `size`, the long side scaled and truncated (torchvision's `Resize(int)` of the time)."""
    height, width = clip.shape[1:3]
    if height <= width:
        return resize(clip, size, int(size * width / height))
    return resize(clip, int(size * height / width), size)


def crop(clip: np.ndarray, x: int, y: int, width: int, height: int) -> np.ndarray:
    return clip[:, y:y + height, x:x + width]


def flip(clip: np.ndarray) -> np.ndarray:
    """Mirror left-right."""
    return clip[:, :, ::-1]


def fixed_crop_offsets(width: int, height: int, crop_width: int, crop_height: int,
                       positions: int = 13) -> list[tuple[int, int]]:
    """Top-left corners of the fixed crops, steps (W - w) // 4 and (H - h) // 4: the 4 corners and the centre
    (5 positions), then the 4 edge centres and the 4 quarter points (13 positions)."""
    sx, sy = (width - crop_width) // 4, (height - crop_height) // 4
    five = [(0, 0), (4 * sx, 0), (0, 4 * sy), (4 * sx, 4 * sy), (2 * sx, 2 * sy)]
    more = [(0, 2 * sy), (4 * sx, 2 * sy), (2 * sx, 4 * sy), (2 * sx, 0),
            (sx, sy), (3 * sx, sy), (sx, 3 * sy), (3 * sx, 3 * sy)]
    return five if positions == 5 else five + more


def multiscale_crop_size(width: int, height: int, input_size: int, scales, max_distort: int,
                         rng: np.random.Generator) -> tuple[int, int]:
    """TSN's crop size draw: candidates int(min(W, H) * s), snapped to input_size when less than 3 px away;
    a (width, height) pair of candidates whose scale indices differ by at most `max_distort`, uniformly."""
    base = min(width, height)
    sizes = [input_size if abs(int(base * s) - input_size) < 3 else int(base * s) for s in scales]
    pairs = [(w, h) for i, h in enumerate(sizes) for j, w in enumerate(sizes) if abs(i - j) <= max_distort]
    return pairs[rng.integers(len(pairs))]


class MultiScaleCrop:
    """Crop of a drawn size at one of the fixed positions, resized to input_size x input_size, then flip."""

    def __init__(self, input_size: int, scale_size: int, flip: bool, scales=TSN_SCALES, max_distort: int = 1,
                 positions: int = 13):
        self.input_size, self.scale_size, self.flip = input_size, scale_size, flip
        self.scales, self.max_distort, self.positions = scales, max_distort, positions

    def __call__(self, clip: np.ndarray, rng: np.random.Generator) -> Views:
        clip = resize_short_side(clip, self.scale_size)
        height, width = clip.shape[1:3]
        crop_w, crop_h = multiscale_crop_size(width, height, self.input_size, self.scales, self.max_distort, rng)
        offsets = fixed_crop_offsets(width, height, crop_w, crop_h, self.positions)
        x, y = offsets[rng.integers(len(offsets))]
        clip = resize(crop(clip, x, y, crop_w, crop_h), self.input_size, self.input_size)
        return [_random_flip(clip, rng) if self.flip else clip]


class ShortSideJitterCrop:
    """IBM v2: short side resized to a random integer in scale_range (inclusive), random square crop, flip."""

    def __init__(self, input_size: int, scale_range: tuple[int, int], flip: bool):
        self.input_size, self.scale_range, self.flip = input_size, scale_range, flip

    def __call__(self, clip: np.ndarray, rng: np.random.Generator) -> Views:
        clip = resize_short_side(clip, int(rng.integers(self.scale_range[0], self.scale_range[1] + 1)))
        height, width = clip.shape[1:3]
        x = int(rng.integers(width - self.input_size + 1))
        y = int(rng.integers(height - self.input_size + 1))
        clip = crop(clip, x, y, self.input_size, self.input_size)
        return [_random_flip(clip, rng) if self.flip else clip]


class RandomResizedCrop:
    """MMAction2's random resized crop: area share ~ U(0.08, 1), log aspect ~ U(log 3/4, log 4/3), ten tries,
    else the centre square; resized to input_size x input_size, then flip."""

    def __init__(self, input_size: int, scale_size: int, flip: bool, area=(0.08, 1.0), aspect=(3 / 4, 4 / 3)):
        self.input_size, self.scale_size, self.flip = input_size, scale_size, flip
        self.area, self.log_aspect = area, (np.log(aspect[0]), np.log(aspect[1]))

    def __call__(self, clip: np.ndarray, rng: np.random.Generator) -> Views:
        clip = resize_short_side(clip, self.scale_size)
        height, width = clip.shape[1:3]
        side = min(width, height)
        box = ((width - side) // 2, (height - side) // 2, side, side)
        for _ in range(10):
            area = rng.uniform(*self.area) * width * height
            aspect = np.exp(rng.uniform(*self.log_aspect))
            crop_w, crop_h = int(round(np.sqrt(area * aspect))), int(round(np.sqrt(area / aspect)))
            if 0 < crop_w <= width and 0 < crop_h <= height:
                box = (int(rng.integers(width - crop_w + 1)), int(rng.integers(height - crop_h + 1)), crop_w, crop_h)
                break
        clip = resize(crop(clip, *box), self.input_size, self.input_size)
        return [_random_flip(clip, rng) if self.flip else clip]


class EvalViews:
    """Short side to scale_size, then 1 centre crop, 3 crops along the long side (start, end, centre),
    5 crops (4 corners, centre) or 10 (those 5 and their mirror images)."""

    def __init__(self, input_size: int, scale_size: int, num_crops: int = 1):
        self.input_size, self.scale_size, self.num_crops = input_size, scale_size, num_crops

    def __call__(self, clip: np.ndarray, rng: np.random.Generator | None = None) -> Views:
        clip = resize_short_side(clip, self.scale_size)
        size = self.input_size
        height, width = clip.shape[1:3]
        if self.num_crops == 1:
            offsets = [(int(round((width - size) / 2)), int(round((height - size) / 2)))]
        elif self.num_crops == 3:
            if width >= height:  # landscape: left, right, centre
                step, y = (width - size) // 4, (height - size) // 2
                offsets = [(0, y), (4 * step, y), (2 * step, y)]
            else:  # portrait: top, bottom, centre
                step, x = (height - size) // 4, (width - size) // 2
                offsets = [(x, 0), (x, 4 * step), (x, 2 * step)]
        else:
            offsets = fixed_crop_offsets(width, height, size, size, positions=5)
        views = [crop(clip, x, y, size, size) for x, y in offsets]
        return views + [flip(view) for view in views] if self.num_crops == 10 else views


def _random_flip(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return flip(clip) if rng.random() < 0.5 else clip


AUGMENTATIONS = ("v1", "v2", "mmaction-tsn", "mmaction-i3d", "mmaction-rrc", "none")


def _train_transform(augment: str, input_size: int, scale_size: int, flip: bool, scale_range: tuple[int, int]):
    if augment == "v1":
        return MultiScaleCrop(input_size, scale_size, flip)
    if augment == "v2":
        return ShortSideJitterCrop(input_size, scale_range, flip)
    if augment == "mmaction-tsn":
        return MultiScaleCrop(input_size, scale_size, flip, positions=5)
    if augment == "mmaction-i3d":
        return MultiScaleCrop(input_size, scale_size, flip, scales=(1, 0.8), max_distort=0, positions=5)
    if augment == "mmaction-rrc":
        return RandomResizedCrop(input_size, scale_size, flip)
    return EvalViews(input_size, scale_size)


def build_transform(train: bool, input_size: int = 224, scale_size: int | None = None, augment: str = "v1",
                    flip: bool = True, num_crops: int = 1, scale_range: tuple[int, int] | None = None):
    """The clip transform of a split: the `augment` recipe in training, `num_crops` views in evaluation.

    scale_size defaults to `default_scale_size(input_size)`; v2's scale_range defaults to
    (scale_size, scale_size * 320 / 256), i.e. [256, 320] for 224.
    """
    scale_size = default_scale_size(input_size) if scale_size is None else scale_size
    if scale_size < input_size:
        raise ConfigError(f"scale_size {scale_size} is smaller than input_size {input_size}; the crops would not fit")
    if num_crops not in NUM_CROPS:
        raise ConfigError(f"num_crops {num_crops} not supported; expected one of {NUM_CROPS}")
    if not train:
        if num_crops == 10 and not flip:
            raise ConfigError("num_crops 10 includes mirrored views, which flip=False forbids; use 1, 3 or 5")
        return EvalViews(input_size, scale_size, num_crops)
    if augment not in AUGMENTATIONS:
        raise ConfigError(f"augment {augment!r} unknown; expected one of {', '.join(AUGMENTATIONS)}")
    if num_crops != 1:
        raise ConfigError(f"num_crops {num_crops} applies to evaluation; training makes one crop per clip")
    scale_range = scale_range or (scale_size, int(scale_size * 320 / 256 + 0.5))
    return _train_transform(augment, input_size, scale_size, flip, scale_range)


def normalize(clips: torch.Tensor, mean, std) -> torch.Tensor:
    """uint8 clips with channels at dim -4 ((N, 3, T, H, W) or (N, V, 3, T, H, W)) -> float (x / 255 - mean) / std.

    Call it on the device after the copy: moving uint8 is 4x cheaper than float.
    """
    shape = (3, 1, 1, 1)
    mean = torch.as_tensor(mean, dtype=torch.float32, device=clips.device).view(shape)
    std = torch.as_tensor(std, dtype=torch.float32, device=clips.device).view(shape)
    return (clips.float() / 255 - mean) / std


def to_model_input(clips: torch.Tensor, mean, std, device: torch.device | str = "cpu",
                   channels_last: bool = False) -> torch.Tensor:
    """A uint8 batch from the loader -> the model's input: copied to `device` as uint8 (4x cheaper than float),
    normalised there with the model's mean and std, and channels-last-3d when asked (5-dim clips only).

    The one place that turns loader output into model input: the trainer, the evaluation and the speed benchmark
    call it.
    """
    x = normalize(clips.to(device, non_blocking=True), mean, std)
    if channels_last and x.dim() == 5:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    return x
