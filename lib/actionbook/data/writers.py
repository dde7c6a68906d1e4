"""Writers: uint8 frames (T, H, W, 3) to a video file (PyAV) or to a JPEG frame folder (Pillow).

Used by the synthetic datasets, the loader benchmark (which needs the same clips as videos and as frames) and the
tests. Encoders run single-threaded, x264 without its macroblock tree (with it, the same frames gave 2-6 different
files in 12 encodings: its SIMD path is not deterministic here; `asm=0` fixed it too, at a larger cost), and the
muxer bit-exact (no random ids, no dates), so that the same frames always give the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
from PIL import Image

from .readers import FRAME_TEMPLATE

# container suffix -> (codec, encoder options); both keep every frame decodable on its own GOP of 12 frames
CODECS = {
    ".mp4": ("libx264", {"preset": "veryfast", "crf": "18", "threads": "1", "x264-params": "mbtree=0"}),
    ".webm": ("libvpx-vp9", {"deadline": "realtime", "cpu-used": "8", "crf": "24", "b": "0", "threads": "1"}),
}
GOP = 12


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: int = 12) -> Path:
    """Encode `frames` (T, H, W, 3 uint8; even H and W) as H.264 in .mp4 or VP9 in .webm, by the file suffix."""
    path = Path(path)
    codec, options = CODECS[path.suffix.lower()]
    frames = np.asarray(frames, dtype=np.uint8)
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(f"video frames need even sizes for 4:2:0 chroma, got {width}x{height}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(codec, rate=fps, options=dict(options))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = GOP
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def write_frame_folder(folder: str | os.PathLike, frames: np.ndarray, quality: int = 95) -> Path:
    """Save `frames` as `00001.jpg, 00002.jpg, ...` (the IBM layout) in `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for number, frame in enumerate(np.asarray(frames, dtype=np.uint8), start=1):
        Image.fromarray(frame).save(folder / FRAME_TEMPLATE.format(number), quality=quality)
    return folder
