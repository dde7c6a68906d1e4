"""Readers: decord frames equal PyAV's, JPEG frame folders, and every kind of broken input is reported."""

import av
import numpy as np
import pytest
from PIL import Image

from actionbook.data import FrameFolder, UnreadableVideo, VideoFile, open_video, write_frame_folder, write_video


def random_frames(count=12, height=32, width=40, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, height, width, 3), dtype=np.uint8)


def pyav_frames(path):
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_decord_returns_exactly_the_frames_pyav_decodes(tmp_path, suffix):
    # Exact equality: both libraries convert the same decoded YUV 4:2:0 frames with ffmpeg's default RGB conversion.
    path = write_video(tmp_path / f"clip{suffix}", random_frames())
    reference = pyav_frames(path)
    video = VideoFile(path)
    assert video.num_frames == len(reference) == 12
    for indices in ([0, 5, 11], [11, 3, 3, 0], list(range(12)), [7]):
        np.testing.assert_array_equal(video.read(indices), reference[indices])


def test_video_with_a_mismatched_suffix_is_still_read(tmp_path):
    webm = write_video(tmp_path / "clip.webm", random_frames(count=4))
    renamed = webm.rename(tmp_path / "clip.mp4")  # decord recognises the container by its content
    assert VideoFile(renamed).read([0, 3]).shape == (2, 32, 40, 3)


def test_frame_folder_reads_numbered_jpegs(tmp_path):
    frames = np.stack([np.full((16, 24, 3), 20 * number, np.uint8) for number in range(1, 9)])  # flat greys
    folder = write_frame_folder(tmp_path / "video", frames)
    assert sorted(p.name for p in folder.iterdir())[:2] == ["00001.jpg", "00002.jpg"]

    counted = FrameFolder(folder)
    assert counted.num_frames == 8
    assert counted.read([2, 0, 2]).shape == (3, 16, 24, 3)
    assert abs(int(counted.read([2])[0, 0, 0, 0]) - 60) <= 2  # index 2 = 00003.jpg (1-based files); JPEG is lossy

    window = FrameFolder(folder, num_frames=4, start_frame=3)  # an IBM list line "video 3 6 label"
    np.testing.assert_array_equal(window.read([0, 3]), counted.read([2, 5]))
    assert isinstance(open_video(folder), FrameFolder)


def _truncated(source, share):
    data = source.read_bytes()
    return data[: int(len(data) * share)]


def _jpeg_bytes(tmp_path):
    Image.new("RGB", (32, 32), (200, 10, 10)).save(tmp_path / "image.jpg")
    return (tmp_path / "image.jpg").read_bytes()


BROKEN_FILES = {
    # name: (file name, how to make its content from a good mp4 / webm, expected start of the reason)
    "missing": ("missing.mp4", None, "missing file"),
    "zero-byte": ("empty.mp4", lambda good, tmp: b"", "empty file (0 bytes)"),
    "truncated mp4": ("truncated.mp4", lambda good, tmp: _truncated(good[".mp4"], 0.5), "cannot open"),
    "truncated webm header": ("truncated.webm", lambda good, tmp: _truncated(good[".webm"], 0.02), "cannot open"),
    "garbage": ("garbage.mp4", lambda good, tmp: np.random.default_rng(1).bytes(5000), "cannot open"),
    "image named .mp4": ("image.mp4", lambda good, tmp: _jpeg_bytes(tmp), "cannot open"),
    "text named .webm": ("notes.webm", lambda good, tmp: b"not a video\n" * 10, "cannot open"),
}


@pytest.mark.parametrize("case", BROKEN_FILES)
def test_broken_video_files_raise_unreadable_with_a_reason_and_print_nothing(tmp_path, capfd, case):
    name, content, reason = BROKEN_FILES[case]
    good = {suffix: write_video(tmp_path / f"good{suffix}", random_frames(count=24)) for suffix in (".mp4", ".webm")}
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content(good, tmp_path))
    capfd.readouterr()
    with pytest.raises(UnreadableVideo) as error:
        video = VideoFile(path)
        video.read(range(video.num_frames))
    assert error.value.path == str(path)
    assert error.value.reason.startswith(reason)
    assert str(path) not in error.value.reason  # the path is reported once, next to the reason
    assert capfd.readouterr().err == ""  # decord's own messages end up in the reason, not on stderr


def test_the_reason_carries_what_decord_printed(tmp_path):
    # decord's exception only says "Error reading <path>..."; the cause was printed to stderr and is captured
    good = write_video(tmp_path / "good.mp4", random_frames(count=24))
    (tmp_path / "cut.mp4").write_bytes(_truncated(good, 0.5))
    with pytest.raises(UnreadableVideo, match="Invalid data found when processing input"):
        VideoFile(tmp_path / "cut.mp4")


def test_broken_frame_folders(tmp_path):
    with pytest.raises(UnreadableVideo, match="missing frame folder"):
        FrameFolder(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnreadableVideo, match="empty frame folder"):
        FrameFolder(tmp_path / "empty")

    folder = write_frame_folder(tmp_path / "video", random_frames(count=4))
    with pytest.raises(UnreadableVideo, match="missing frame 00006.jpg"):
        FrameFolder(folder, num_frames=6).read([5])
    (folder / "00002.jpg").write_bytes((folder / "00002.jpg").read_bytes()[:100])
    with pytest.raises(UnreadableVideo, match="cannot decode frame 00002.jpg"):
        FrameFolder(folder).read([1])


def test_out_of_range_indices_are_a_programming_error(tmp_path):
    video = VideoFile(write_video(tmp_path / "clip.mp4", random_frames(count=4)))
    with pytest.raises(IndexError):
        video.read([4])
