"""What the classes of the synthetic datasets look like: one function per class family that draws a video.

synth-something: each entry of `SOMETHING_PAIRS` draws the *forward* class of a twin pair (left to right, up,
approaching, ...); its twin (label + 1) is the same kind of video reversed in time. Appearance, positions, speeds,
backgrounds and distractors are drawn at random from the same distributions for every class.

synth-kinetics: class k is object k mod 8 (shape and texture) in scene k // 2; neighbouring classes share a scene
and differ by the object. The motion (drift, bounces, spin, camera pan) is random.

synth-images (the proxy's ImageNet stand-in): still images whose class is an object kind, a shape and a texture (8 x
5 = 40 classes), in any colours, on a random generic or scene background, with clutter: the videos' visual
vocabulary, but none of their labels (no motion, and the scene is never the class).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .scenes import (
    SHAPES,
    TEXTURES,
    Sprite,
    bounce,
    camera_pan,
    contrasting_colour,
    drift,
    generic_background,
    progress,
    random_colour,
    random_sprite,
    render,
    scene_background,
)


@dataclass(frozen=True)
class SynthConfig:
    """Size of a synthetic dataset. Width and height must be even (4:2:0 video)."""

    num_classes: int
    train_per_class: int = 40
    val_per_class: int = 10
    frames: int = 24
    width: int = 80
    height: int = 60
    seed: int = 0


# ---------------------------------------------------------------- synth-something: forward halves of twin pairs
# Each script draws the sprites of the *forward* class; its twin is the same video reversed in time.

def _main_radius(rng, height):
    return rng.uniform(0.11, 0.17) * height


def _wobble(rng, frames, amplitude):
    return amplitude * rng.uniform(0, 1) * np.sin(rng.uniform(0, 2 * np.pi) + np.arange(frames) * rng.uniform(0.2, 1))


def _left_to_right(rng, frames, width, height):
    radius = _main_radius(rng, height)
    start = rng.uniform(0.08, 0.35) * width
    end = min(start + rng.uniform(0.4, 0.6) * width, width - radius)
    y = rng.uniform(0.3, 0.7) * height + _wobble(rng, frames, 0.03 * height)
    return [random_sprite(rng, start + (end - start) * progress(rng, frames), y, radius,
                          angle=rng.uniform(0, 2 * np.pi), marker=True)]


def _up(rng, frames, width, height):
    radius = _main_radius(rng, height)
    start = rng.uniform(0.65, 0.85) * height
    end = max(start - rng.uniform(0.4, 0.55) * height, radius)
    x = rng.uniform(0.2, 0.8) * width + _wobble(rng, frames, 0.03 * height)
    return [random_sprite(rng, x, start + (end - start) * progress(rng, frames), radius,
                          angle=rng.uniform(0, 2 * np.pi), marker=True)]


def _approaching(rng, frames, width, height):
    small = rng.uniform(0.06, 0.09) * height
    large = small * rng.uniform(2.3, 3.2)
    return [random_sprite(rng, rng.uniform(0.35, 0.65) * width, rng.uniform(0.4, 0.6) * height,
                          small + (large - small) * progress(rng, frames), angle=rng.uniform(0, 2 * np.pi),
                          marker=True)]


def _clockwise(rng, frames, width, height):
    start = rng.uniform(0, 2 * np.pi)
    turn = rng.uniform(0.6, 1.3) * np.pi
    return [random_sprite(rng, rng.uniform(0.3, 0.7) * width, rng.uniform(0.35, 0.65) * height,
                          rng.uniform(0.18, 0.26) * height, angle=start + turn * progress(rng, frames), marker=True)]


def _appearing(rng, frames, width, height):
    onset = rng.uniform(0.15, 0.6) * (frames - 1)
    fade = rng.uniform(1, 4)
    opacity = np.clip((np.arange(frames) - onset) / fade, 0, 1).astype(np.float32)
    return [random_sprite(rng, rng.uniform(0.25, 0.75) * width, rng.uniform(0.3, 0.7) * height,
                          _main_radius(rng, height), angle=rng.uniform(0, 2 * np.pi), opacity=opacity, marker=True)]


def _closer(rng, frames, width, height):
    radii = [_main_radius(rng, height) * 0.85 for _ in range(2)]
    direction = rng.uniform(0, np.pi)
    along = np.array([np.cos(direction), np.sin(direction)])
    centre = np.array([width, height]) / 2 + rng.uniform(-0.05, 0.05, 2) * height
    # the farthest half-distance that keeps both objects inside the frame along this direction
    room = min((size / 2 - max(radii)) / max(abs(a), 1e-3) for size, a in zip((width, height), along))
    far = 2 * room * rng.uniform(0.75, 1.0)
    near = sum(radii) * rng.uniform(1.0, 1.1)
    distance = far + (near - far) * progress(rng, frames)
    return [random_sprite(rng, centre[0] + sign * distance / 2 * along[0], centre[1] + sign * distance / 2 * along[1],
                          radius, angle=rng.uniform(0, 2 * np.pi), marker=True)
            for sign, radius in zip((-1, 1), radii)]


def _covering(rng, frames, width, height):
    radius = _main_radius(rng, height) * 0.8
    x, y = rng.uniform(0.3, 0.7) * width, rng.uniform(0.35, 0.65) * height
    target = random_sprite(rng, x, y, radius, angle=rng.uniform(0, 2 * np.pi), marker=True)
    cover_radius = radius * rng.uniform(1.5, 1.8)
    direction = rng.uniform(0, 2 * np.pi)
    distance = (radius + cover_radius) * rng.uniform(1.1, 1.6) * (1 - progress(rng, frames))
    colour = random_colour(rng)
    cover = Sprite("square", str(rng.choice(("solid", "stripes", "checker"))), colour,
                   contrasting_colour(colour, rng), (x + distance * np.cos(direction)).astype(np.float32),
                   (y + distance * np.sin(direction)).astype(np.float32), np.float32(cover_radius))
    return [target, cover]


def _filling(rng, frames, width, height):
    full = rng.uniform(0.75, 1.0)
    empty = rng.uniform(0.0, 0.15)
    colour = random_colour(rng)
    return [Sprite("cup", "solid", colour, contrasting_colour(colour, rng), np.float32(rng.uniform(0.3, 0.7) * width),
                   np.float32(rng.uniform(0.4, 0.6) * height), np.float32(rng.uniform(0.2, 0.3) * height),
                   fill=empty + (full - empty) * progress(rng, frames))]


SOMETHING_PAIRS: list[tuple[str, str, Callable]] = [
    ("Moving [something] from left to right", "Moving [something] from right to left", _left_to_right),
    ("Moving [something] up", "Moving [something] down", _up),
    ("Approaching [something] with your camera", "Moving away from [something] with your camera", _approaching),
    ("Turning [something] clockwise", "Turning [something] anticlockwise", _clockwise),
    ("[Something] appearing", "[Something] disappearing", _appearing),
    ("Moving [something] and [something] closer to each other",
     "Moving [something] and [something] away from each other", _closer),
    ("Covering [something] with [something]", "Uncovering [something]", _covering),
    ("Filling [something]", "Emptying [something]", _filling),
]


def _distractors(rng, frames, width, height):
    """0-2 small objects drifting in random directions: clutter that carries no label information."""
    sprites = []
    for _ in range(rng.integers(3)):
        radius = rng.uniform(0.04, 0.07) * height
        x = bounce(drift(rng, frames, rng.uniform(0, width), 0.02 * width), radius, width - radius)
        y = bounce(drift(rng, frames, rng.uniform(0, height), 0.02 * height), radius, height - radius)
        sprites.append(random_sprite(rng, x, y, radius, angle=drift(rng, frames, rng.uniform(0, 6.3), 0.2)))
    return sprites


def something_video(label: int, config: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    pair, reverse = divmod(label, 2)
    frames, width, height = config.frames, config.width, config.height
    margin_x, margin_y = width // 8, height // 8
    background = generic_background(rng, height + margin_y, width + margin_x)
    pan = camera_pan(rng, frames, margin_x, margin_y, moving=0.3)
    sprites = _distractors(rng, frames, width, height) + SOMETHING_PAIRS[pair][2](rng, frames, width, height)
    video = render(background, pan, sprites, frames, width, height)
    return video[::-1] if reverse else video


def something_classes(num_classes: int) -> list[str]:
    return [template for forward, backward, _ in SOMETHING_PAIRS for template in (forward, backward)][:num_classes]


# ---------------------------------------------------------------- synth-kinetics: appearance classes

KINETICS_OBJECTS = [("striped ball", "circle", "stripes"), ("checkered box", "square", "checker"),
                    ("star", "star", "solid"), ("ring", "ring", "solid"), ("spotted triangle", "triangle", "dots"),
                    ("cross", "cross", "solid"), ("striped hexagon", "hexagon", "stripes"),
                    ("two-tone diamond", "diamond", "halves")]
KINETICS_SCENES = [("beach", "on the beach"), ("forest", "in the forest"), ("snow", "in the snow"),
                   ("night", "at night"), ("pool", "in the pool"), ("indoor", "indoors"),
                   ("desert", "in the desert"), ("grass", "on the grass")]


def _kinetics_class(label: int) -> tuple[tuple[str, str, str], tuple[str, str]]:
    """Class k: object k mod 8 in scene k // 2: neighbouring classes share a scene and differ by the object."""
    return KINETICS_OBJECTS[label % len(KINETICS_OBJECTS)], KINETICS_SCENES[(label // 2) % len(KINETICS_SCENES)]


def kinetics_classes(num_classes: int) -> list[str]:
    return [f"{obj[0]} {scene[1]}" for obj, scene in map(_kinetics_class, range(num_classes))]


def kinetics_video(label: int, config: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    (_, shape, texture), (scene, _) = _kinetics_class(label)
    frames, width, height = config.frames, config.width, config.height
    margin_x, margin_y = width // 6, height // 6
    background = scene_background(scene, rng, height + margin_y, width + margin_x)
    pan = camera_pan(rng, frames, margin_x, margin_y, moving=0.6)
    radius = rng.uniform(0.15, 0.22) * height
    x = bounce(drift(rng, frames, rng.uniform(radius, width - radius), 0.04 * width), radius, width - radius)
    y = bounce(drift(rng, frames, rng.uniform(radius, height - radius), 0.04 * height), radius, height - radius)
    actor = random_sprite(rng, x, y, radius, shapes=(shape,), textures=(texture,),
                          angle=drift(rng, frames, rng.uniform(0, 2 * np.pi), 0.15))
    sprites = _distractors(rng, frames, width, height) + [actor]
    return render(background, pan, sprites, frames, width, height)


# ---------------------------------------------------------------- synth-images: stills of object kinds

IMAGE_CLASSES = [(shape, texture) for texture in TEXTURES for shape in SHAPES]  # the first n: n shapes, one texture


def image_classes(num_classes: int) -> list[str]:
    return [f"{texture} {shape}" for shape, texture in IMAGE_CLASSES[:num_classes]]


def image_still(label: int, config: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    """One frame (1, H, W, 3): the class's object, random size, place, angle and colours, on a generic background
    or one of synth-kinetics' scenes (half each), with the videos' clutter."""
    shape, texture = IMAGE_CLASSES[label]
    width, height = config.width, config.height
    if rng.random() < 0.5:
        background = generic_background(rng, height, width)
    else:
        background = scene_background(KINETICS_SCENES[rng.integers(len(KINETICS_SCENES))][0], rng, height, width)
    radius = rng.uniform(0.2, 0.32) * height
    x, y = rng.uniform(width / 2 - radius, width / 2 + radius), rng.uniform(radius, height - radius)
    actor = random_sprite(rng, x, y, radius, shapes=(shape,), textures=(texture,), angle=rng.uniform(0, 2 * np.pi))
    still = (np.zeros(1), np.zeros(1))
    return render(background, still, _distractors(rng, 1, width, height) + [actor], 1, width, height)
