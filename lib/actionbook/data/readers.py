"""Readers: the frames at given indices of one video, as uint8 arrays (T, H, W, 3).

Two sources, one interface (`num_frames`, `read(indices)`):

* `VideoFile`: a video file (mp4, webm, ...) decoded with decord, with accurate (frame-exact) indexing;
* `FrameFolder`: a folder of JPEG frames `00001.jpg, 00002.jpg, ...` (the IBM layout), decoded with Pillow.

Anything that cannot be read raises `UnreadableVideo(path, reason)`; the dataset turns that into a replaced
sample and a counted bad file in training, and into an item left out (and counted) in evaluation. decord reports
the real cause of a failure only on the process's stderr (its exceptions say "Error reading x.mp4..."), so opening
a video captures stderr and puts what was printed into the reason; outside those captures ffmpeg's log is silenced
for the whole process, which keeps training output readable.

A video file is readable when it exists and is not empty, its container opens and holds a video stream, and decord
indexes the frames its container states: a frame count (mp4), else a duration at a frame rate (webm), allowing
max(2, 5 %) frames for rounding. The last rule catches a cut file: decord indexes the packets it finds, so a webm
cut after its first frame would otherwise pass as a 1-frame video. A short video that is whole (a 1-frame mp4)
is readable; sampling repeats its frames. A multi-stream file that states no duration of its own video stream is
not checked for cuts: its file duration may be the audio's.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from pathlib import Path

import av
import decord
import numpy as np
from PIL import Image

FRAME_TEMPLATE = "{:05d}.jpg"

decord.logging.set_level(decord.logging.QUIET)

_STDERR_LOCK = threading.Lock()  # fd 2 is process-wide: one capture at a time
_LOG_PREFIXES = re.compile(r"\[\d\d:\d\d:\d\d\] \S+:\d+: |\[[^\]]* @ 0x[0-9a-f]+\] ")
_CHECK_FAILED = re.compile(r"Check failed: .*?\(-?\d+ vs\. -?\d+\) ")  # decord's C++ assertion, before its message


class UnreadableVideo(Exception):
    """A video (file or frame folder) that cannot be read; `reason` says why in a few words."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason

    def __reduce__(self):  # keeps both fields when the exception crosses a DataLoader worker boundary
        return type(self), (self.path, self.reason)


class _Captured:
    text = ""


@contextlib.contextmanager
def _captured_stderr():
    """Send the process's file descriptor 2, with ffmpeg's error messages, into a temporary file for the block."""
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        decord.logging.set_level(decord.logging.ERROR)
        captured = _Captured()
        try:
            yield captured
        finally:
            decord.logging.set_level(decord.logging.QUIET)
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.text = sink.read().decode(errors="replace")


def _cause(message: str, path: str) -> str:
    """One readable line from decord/ffmpeg messages: log prefixes, stack traces and the path itself removed."""
    parts: list[str] = []
    for line in message.splitlines():
        if line.startswith("Stack trace"):
            break
        if line.startswith("Last message repeated"):  # ffmpeg's note about an earlier, skipped line
            continue
        line = _CHECK_FAILED.sub("", _LOG_PREFIXES.sub("", line))
        line = line.replace(f"{path}, ", "").replace(f"[{path}] ", "").strip()
        if line and line not in parts:
            parts.append(line)
    text = "; ".join(parts) or "unknown decoder error"
    return text if len(text) <= 300 else text[:297] + "..."


def _distinct(indices, num_frames: int, path: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct frame indices and, for each requested index, its position among them."""
    unique, inverse = np.unique(np.asarray(indices, dtype=np.int64), return_inverse=True)
    if unique.size == 0 or unique[0] < 0 or unique[-1] >= num_frames:
        raise IndexError(f"{path}: need at least one frame index, all in [0, {num_frames})")
    return unique, inverse.reshape(-1)


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise UnreadableVideo(path, "missing file")
    if os.path.isdir(path):
        raise UnreadableVideo(path, "is a folder, expected a video file")
    if os.path.getsize(path) == 0:
        raise UnreadableVideo(path, "empty file (0 bytes)")


def _probe(path: str) -> tuple[list[str], int | None]:
    """The kinds of the container's streams (PyAV; [] when it cannot open the file) and the frame count it states
    for its first video stream (None when it states none we can trust, see the module's docstring)."""
    try:
        with av.open(path) as container:
            kinds = [stream.type for stream in container.streams]
            if not container.streams.video:
                return kinds, None
            stream = container.streams.video[0]
            if stream.frames > 0:
                return kinds, stream.frames
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif len(kinds) == 1 and container.duration is not None:
                seconds = container.duration / av.time_base
            else:
                return kinds, None
            rate = stream.average_rate or stream.guessed_rate
            return kinds, round(seconds * rate) if rate else None
    except (av.FFmpegError, OSError):
        return [], None


class VideoFile:
    """A video file decoded with decord. One decoding thread: parallelism comes from the loader's workers."""

    decoder = "decord"

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        _check_file(self.path)
        with _captured_stderr() as err:
            try:
                self._reader = decord.VideoReader(self.path, num_threads=1)
                error = None
            except (RuntimeError, decord.DECORDError, AssertionError) as exc:
                error = exc
            kinds, stated = _probe(self.path)
        if error is not None and kinds and "video" not in kinds:
            raise UnreadableVideo(self.path, f"no video stream: only {', '.join(sorted(set(kinds)))}")
        if error is not None:
            # the exception itself only says "Error reading <path>...": prefer what decord printed
            raise UnreadableVideo(self.path, "cannot open: " + _cause(err.text or str(error), self.path))
        self.num_frames = len(self._reader)
        if stated is not None and self.num_frames < stated - max(2, stated // 20):
            raise UnreadableVideo(self.path, f"truncated: {self.num_frames} of the {stated} frames its container "
                                             "states can be read")

    def read(self, indices) -> np.ndarray:
        """Frames at `indices` (0-based, any order, repeats allowed); each distinct frame is decoded once."""
        unique, inverse = _distinct(indices, self.num_frames, self.path)
        try:
            frames = self._reader.get_batch(unique.tolist()).asnumpy()
        except (RuntimeError, decord.DECORDError) as exc:
            raise UnreadableVideo(self.path, "cannot decode: " + _cause(str(exc), self.path)) from None
        return frames[inverse]


class FrameFolder:
    """A folder of JPEG frames numbered from `start_frame` (1 in the IBM lists), decoded with Pillow."""

    decoder = "pillow"

    def __init__(self, path: str | os.PathLike, num_frames: int | None = None, start_frame: int = 1,
                 template: str = FRAME_TEMPLATE):
        self.path = str(path)
        if not os.path.isdir(self.path):
            raise UnreadableVideo(self.path, "missing frame folder")
        if num_frames is None:  # not in the annotation: count the JPEGs
            num_frames = sum(1 for name in os.listdir(self.path) if name.lower().endswith((".jpg", ".jpeg")))
        if num_frames <= 0:
            raise UnreadableVideo(self.path, "empty frame folder (no JPEG frames)")
        self.num_frames = num_frames
        self.start_frame = start_frame
        self.template = template

    def read(self, indices) -> np.ndarray:
        """Frames at `indices` (0-based, any order, repeats allowed); each distinct frame is decoded once."""
        unique, inverse = _distinct(indices, self.num_frames, self.path)
        frames = [self._decode(self.template.format(self.start_frame + int(i))) for i in unique]
        if len({frame.shape for frame in frames}) > 1:
            raise UnreadableVideo(self.path, "frames of different sizes")
        return np.stack(frames)[inverse]

    def _decode(self, name: str) -> np.ndarray:
        try:
            with Image.open(os.path.join(self.path, name)) as image:
                return np.asarray(image.convert("RGB"))
        except FileNotFoundError:
            raise UnreadableVideo(self.path, f"missing frame {name}") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise UnreadableVideo(self.path, f"cannot decode frame {name}: {exc}") from None


def is_frame_folder(path: str | os.PathLike) -> bool:
    """True for a folder, or for a missing path without a suffix (a frame folder by its name)."""
    return os.path.isdir(path) or (not os.path.exists(path) and not Path(path).suffix)


def open_video(path: str | os.PathLike, num_frames: int | None = None, start_frame: int = 1):
    """A `FrameFolder` for a frame folder, else a `VideoFile`.

    `num_frames` and `start_frame` come from frame lists and only apply to folders: a video file always
    reports its own length.
    """
    if is_frame_folder(path):
        return FrameFolder(path, num_frames, start_frame)
    return VideoFile(path)


def decoder_versions() -> dict[str, str]:
    """Versions of the two decoders, for run records and fingerprints."""
    return {"decord": getattr(decord, "__version__", "unknown"), "pillow": Image.__version__}
