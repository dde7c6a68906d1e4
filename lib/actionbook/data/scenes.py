"""Drawing for the synthetic datasets: backgrounds, textured shapes ("sprites") and their motion over time.

A sprite has a fixed appearance (shape, texture, two colours, an optional orientation marker) and one value per
frame for its position, radius, angle, opacity and, for containers, fill level. `render` draws a background
window and the sprites, in order, into uint8 frames. Everything random comes from the numpy `Generator` passed
in, so a video is a pure function of its seed.

Coordinates are pixels, x to the right and y down, so a growing angle turns a sprite clockwise on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPES = ("circle", "square", "triangle", "diamond", "hexagon", "star", "ring", "cross")
TEXTURES = ("solid", "stripes", "checker", "dots", "halves")


def random_colour(rng: np.random.Generator, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    return rng.uniform(low, high, size=3).astype(np.float32)


def contrasting_colour(colour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A colour far from `colour`: each channel pushed to the other half of the range."""
    return np.where(colour > 0.5, rng.uniform(0.0, 0.35, 3), rng.uniform(0.65, 1.0, 3)).astype(np.float32)


@dataclass
class Sprite:
    """One object: appearance plus a per-frame track (arrays of length T, or scalars broadcast to T)."""

    shape: str
    texture: str
    colour: np.ndarray
    colour2: np.ndarray
    x: np.ndarray
    y: np.ndarray
    radius: np.ndarray
    angle: np.ndarray | float = 0.0
    opacity: np.ndarray | float = 1.0
    fill: np.ndarray | None = None  # containers: share filled with colour2, from the bottom
    marker: bool = False  # a dot near the rim that makes rotation visible on any shape

    def at(self, t: int) -> dict:
        """The track's values at frame t."""
        values = {"x": self.x, "y": self.y, "radius": self.radius, "angle": self.angle, "opacity": self.opacity,
                  "fill": self.fill}
        return {key: None if value is None else float(value[t] if np.ndim(value) else value)
                for key, value in values.items()}


def random_sprite(rng: np.random.Generator, x, y, radius, shapes=SHAPES, textures=TEXTURES, **track) -> Sprite:
    """A sprite with a random shape, texture and colours."""
    colour = random_colour(rng)
    return Sprite(str(rng.choice(shapes)), str(rng.choice(textures)), colour, contrasting_colour(colour, rng),
                  np.asarray(x, np.float32), np.asarray(y, np.float32), np.asarray(radius, np.float32), **track)


def progress(rng: np.random.Generator, frames: int) -> np.ndarray:
    """0 -> 1 over a random stretch of the clip (random start, duration, easing), flat before and after."""
    last = frames - 1
    start = rng.uniform(0, 0.3) * last
    end = start + rng.uniform(0.45, 1.0) * (last - start)
    p = np.clip((np.arange(frames) - start) / max(end - start, 1.0), 0, 1)
    return (p * p * (3 - 2 * p) if rng.random() < 0.5 else p).astype(np.float32)


def drift(rng: np.random.Generator, frames: int, start: float, speed: float) -> np.ndarray:
    """Linear motion from `start` with a random signed speed up to `speed` per frame."""
    return (start + rng.uniform(-speed, speed) * np.arange(frames)).astype(np.float32)


def bounce(positions: np.ndarray, low: float, high: float) -> np.ndarray:
    """Fold positions back into [low, high] as if the object bounced off the edges."""
    span = high - low
    folded = np.mod(positions - low, 2 * span)
    return (low + np.where(folded > span, 2 * span - folded, folded)).astype(np.float32)


def _shape_distance(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Approximate signed distance to the shape's outline in radius units (negative inside)."""
    r = np.hypot(u, v)
    theta = np.arctan2(v, u)
    if shape == "circle":
        return r - 1
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) - 0.8
    if shape == "diamond":
        return (np.abs(u) + np.abs(v)) / 1.2 - 0.9
    if shape in ("triangle", "hexagon"):
        n = 3 if shape == "triangle" else 6
        sector = 2 * np.pi / n
        return r * np.cos(np.mod(theta + np.pi / 2, sector) - sector / 2) - np.cos(np.pi / n)
    if shape == "star":
        return r - (0.45 + 0.55 * np.abs(np.cos(2.5 * theta)) ** 2)
    if shape == "ring":
        return np.abs(r - 0.72) - 0.28
    if shape == "cross":
        return np.minimum(np.maximum(np.abs(u) - 1, np.abs(v) - 0.32), np.maximum(np.abs(u) - 0.32, np.abs(v) - 1))
    if shape == "cup":  # container outline, open at the top
        outer = np.maximum(np.abs(u) - 0.8, np.abs(v) - 0.9)
        inner = np.maximum(np.abs(u) - 0.64, v - 0.74)
        return np.maximum(outer, -inner)
    raise ValueError(f"unknown shape {shape!r}")


def _texture_mask(texture: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Share of colour2 (0..1) at local coordinates: the texture moves and turns with the sprite."""
    if texture == "solid":
        return np.zeros_like(u)
    if texture == "stripes":
        return (np.sin(u * 3.0 * np.pi) > 0).astype(np.float32)
    if texture == "checker":
        return (np.sin(u * 2.5 * np.pi) * np.sin(v * 2.5 * np.pi) > 0).astype(np.float32)
    if texture == "dots":
        return ((np.mod(u * 2.5, 1) - 0.5) ** 2 + (np.mod(v * 2.5, 1) - 0.5) ** 2 < 0.06).astype(np.float32)
    if texture == "halves":
        return (u > 0).astype(np.float32)
    raise ValueError(f"unknown texture {texture!r}")


def _draw(frame: np.ndarray, sprite: Sprite, t: int) -> None:
    s = sprite.at(t)
    if s["opacity"] <= 0 or s["radius"] <= 0.5:
        return
    height, width = frame.shape[:2]
    reach = s["radius"] * 1.45 + 1
    x0, x1 = max(int(s["x"] - reach), 0), min(int(s["x"] + reach) + 1, width)
    y0, y1 = max(int(s["y"] - reach), 0), min(int(s["y"] + reach) + 1, height)
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = (xs + 0.5 - s["x"]) / s["radius"], (ys + 0.5 - s["y"]) / s["radius"]
    cos, sin = np.cos(s["angle"]), np.sin(s["angle"])
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy
    alpha = np.clip(0.5 - _shape_distance(sprite.shape, u, v) * s["radius"], 0, 1) * s["opacity"]
    second = _texture_mask(sprite.texture, u, v)
    if s["fill"] is not None:  # inside the cup, below the fill line
        liquid = (np.abs(u) < 0.64) & (v < 0.74) & (v > 0.74 - 1.6 * s["fill"])
        alpha = np.maximum(alpha, liquid * s["opacity"])
        second = liquid.astype(np.float32)
    if sprite.marker:
        second = np.maximum(second, (np.hypot(u - 0.55, v) < 0.22).astype(np.float32))
    colour = sprite.colour * (1 - second[..., None]) + sprite.colour2 * second[..., None]
    patch = frame[y0:y1, x0:x1]
    patch += alpha[..., None] * (colour - patch)


def render(background: np.ndarray, pan: tuple[np.ndarray, np.ndarray], sprites: list[Sprite], frames: int,
           width: int, height: int) -> np.ndarray:
    """uint8 frames (T, H, W, 3): a window of `background` at integer offsets `pan`, then the sprites in order."""
    video = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        x, y = int(pan[0][t]), int(pan[1][t])
        frame = background[y:y + height, x:x + width].copy()
        for sprite in sprites:
            _draw(frame, sprite, t)
        video[t] = np.clip(frame * 255 + 0.5, 0, 255).astype(np.uint8)
    return video


def camera_pan(rng: np.random.Generator, frames: int, margin_x: int, margin_y: int,
               moving: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Window offsets into a background `margin` pixels larger than the frame: still, or a slow straight pan."""
    start = np.array([rng.uniform(0, margin_x), rng.uniform(0, margin_y)])
    end = np.array([rng.uniform(0, margin_x), rng.uniform(0, margin_y)]) if rng.random() < moving else start
    steps = np.linspace(0, 1, frames)[:, None]
    offsets = start + (end - start) * steps
    return offsets[:, 0], offsets[:, 1]


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Values in [0, 1]: a coarse random grid upsampled bilinearly (blobs about width / cells wide)."""
    grid = rng.random((cells + 2, cells + 2)).astype(np.float32)
    ys = np.linspace(0, cells, height, dtype=np.float32)[:, None]
    xs = np.linspace(0, cells, width, dtype=np.float32)[None, :]
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = ys - y0, xs - x0
    top = grid[y0, x0] * (1 - fx) + grid[y0, x0 + 1] * fx
    bottom = grid[y0 + 1, x0] * (1 - fx) + grid[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _coordinates(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return xs / width, ys / height


def _mix(a: np.ndarray, b: np.ndarray, share: np.ndarray) -> np.ndarray:
    return a * (1 - share[..., None]) + b * share[..., None]


def generic_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random plain, gradient, blotchy, striped or tiled background (float32 RGB in [0, 1])."""
    xs, ys = _coordinates(height, width)
    a, b = random_colour(rng), random_colour(rng)
    kind = rng.integers(5)
    if kind == 0:
        share = np.zeros_like(xs)
    elif kind == 1:
        angle = rng.uniform(0, 2 * np.pi)
        share = np.clip(0.5 + (xs - 0.5) * np.cos(angle) + (ys - 0.5) * np.sin(angle), 0, 1)
    elif kind == 2:
        share = _smooth_noise(rng, height, width, int(rng.integers(2, 7)))
    elif kind == 3:
        angle, frequency = rng.uniform(0, np.pi), rng.uniform(3, 9)
        share = 0.5 + 0.5 * np.sin(2 * np.pi * frequency * (xs * np.cos(angle) + ys * np.sin(angle)))
    else:
        tiles = rng.uniform(3, 8)
        share = (np.sin(np.pi * tiles * xs) * np.sin(np.pi * tiles * ys * height / width) > 0).astype(np.float32)
    share = share * rng.uniform(0.2, 0.6)  # keep backgrounds calmer than the objects
    return _mix(a, b, share).astype(np.float32)


def _jitter(colour, rng: np.random.Generator, amount: float = 0.06) -> np.ndarray:
    return np.clip(np.asarray(colour, np.float32) + rng.uniform(-amount, amount, 3), 0, 1).astype(np.float32)


def scene_background(scene: str, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A recognisable scene with random details (horizon height, blotches, waves, stars)."""
    xs, ys = _coordinates(height, width)
    noise = _smooth_noise(rng, height, width, int(rng.integers(3, 8)))
    if scene in ("beach", "grass", "indoor", "desert"):
        upper, lower = {"beach": ((0.55, 0.75, 0.95), (0.9, 0.8, 0.55)),
                        "grass": ((0.6, 0.8, 1.0), (0.25, 0.6, 0.2)),
                        "indoor": ((0.85, 0.8, 0.7), (0.45, 0.3, 0.2)),
                        "desert": ((0.95, 0.75, 0.45), (0.85, 0.55, 0.25))}[scene]
        horizon = rng.uniform(0.35, 0.65) + (0.06 * np.sin(2 * np.pi * rng.uniform(1, 3) * xs)
                                              if scene == "desert" else 0)
        share = np.clip((ys - horizon) * height / 2 + 0.5, 0, 1)
        image = _mix(_jitter(upper, rng), _jitter(lower, rng), share)
        return np.clip(image + (noise[..., None] - 0.5) * 0.12, 0, 1).astype(np.float32)
    if scene == "forest":
        trunks = (np.sin(2 * np.pi * rng.uniform(4, 8) * xs + rng.uniform(0, 6)) > 0.7).astype(np.float32)
        image = _mix(_mix(_jitter((0.1, 0.35, 0.1), rng), _jitter((0.3, 0.55, 0.2), rng), noise),
                     _jitter((0.3, 0.2, 0.1), rng), trunks * 0.8)
        return image.astype(np.float32)
    if scene == "snow":
        return _mix(_jitter((0.95, 0.95, 0.97), rng, 0.03), _jitter((0.75, 0.8, 0.9), rng, 0.03), noise)
    if scene == "night":
        stars = (rng.random((height, width)) < 0.01).astype(np.float32)
        return _mix(_mix(_jitter((0.02, 0.03, 0.12), rng, 0.02), _jitter((0.08, 0.1, 0.25), rng, 0.03), noise),
                    np.ones(3, np.float32), stars).astype(np.float32)
    if scene == "pool":
        waves = 0.5 + 0.5 * np.sin(2 * np.pi * (rng.uniform(4, 9) * ys + 0.05 * np.sin(2 * np.pi * 3 * xs)))
        return _mix(_jitter((0.1, 0.45, 0.8), rng), _jitter((0.45, 0.75, 0.95), rng), waves * 0.6)
    raise ValueError(f"unknown scene {scene!r}")
