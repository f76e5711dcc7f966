import tracemalloc

import cv2
import numpy as np
import pytest

from conftest import write_video
from crnnaudit import VideoError, open_clip


def test_real_clip_probe_counts_frames_the_container_misstates(vtest):
    clip = open_clip(vtest)
    assert (clip.width, clip.height, clip.codec) == (1280, 720, "h264")
    assert clip.container_frames == 682 and clip.container_fps == 50
    # OpenCV decoding every frame is the independent count.
    cap = cv2.VideoCapture(str(vtest))
    n = 0
    while cap.read()[0]:
        n += 1
    assert clip.frame_count == n == 341
    assert clip.fps == pytest.approx(25.0)
    assert clip.duration == pytest.approx(341 / 25, abs=1 / 25)  # from timestamps: last step is 1 tick
    assert len(clip.sha256) == 64


def test_seeked_frame_equals_sequential_decode(vtest):
    clip = open_clip(vtest)
    cap = cv2.VideoCapture(str(vtest))
    seq = []
    for _ in range(205):
        seq.append(cv2.cvtColor(cap.read()[1], cv2.COLOR_BGR2RGB))
    for i in (0, 1, 150, 204):
        diff = np.abs(clip.frame(i).astype(int) - seq[i]).mean()
        assert diff < 2.0, (i, diff)  # same frame (colour conversion differs slightly)
    assert np.abs(clip.frame(150).astype(int) - seq[100]).mean() > 2.0  # and a different frame differs


def test_windows_stream_with_bounded_memory(vtest):
    clip = open_clip(vtest)
    tracemalloc.start()
    count = 0
    for w in clip.windows(20, 10, (112, 112)):
        assert w.frames.shape == (20, 112, 112, 3) and w.frames.dtype == np.uint8
        assert list(w.indices) == list(range(w.index * 10, w.index * 10 + 20))
        count += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == clip.window_count(20, 10) == (341 - 20) // 10 + 1
    whole = clip.frame_count * clip.width * clip.height * 3
    assert peak < whole / 10, f"peak {peak / 1e6:.0f} MB: the clip ({whole / 1e6:.0f} MB) must not be held"


def test_window_by_index_matches_streamed_window(vtest):
    clip = open_clip(vtest)
    streamed = [w for w in clip.windows(8, 8, (64, 64))][:12][-1]
    alone = clip.window(11, 8, 8, (64, 64))
    assert np.array_equal(alone.indices, streamed.indices)
    assert np.abs(alone.frames.astype(int) - streamed.frames).max() == 0
    assert alone.times[0] == pytest.approx(88 / 25)


@pytest.mark.parametrize("suffix, codec, pix_fmt", [
    (".mp4", "libx264", "yuv420p"), (".avi", "mpeg4", "yuv420p"),
    (".mkv", "libx264", "yuv420p"), (".webm", "libvpx-vp9", "yuv420p"),
])
def test_containers(tmp_path, suffix, codec, pix_fmt):
    rng = np.random.default_rng(0)
    frames = [np.full((48, 64, 3), 20 * i, np.uint8) + rng.integers(0, 5, (48, 64, 3), dtype=np.uint8)
              for i in range(12)]
    clip = open_clip(write_video(tmp_path / f"c{suffix}", frames, 12, codec, pix_fmt))
    assert clip.frame_count == 12 and (clip.width, clip.height) == (64, 48)
    assert clip.fps == pytest.approx(12, rel=0.05)
    got = [f for _, f in clip.iter_frames()]
    assert len(got) == 12
    assert [int(g.mean() // 20) for g in got] == list(range(12))  # right frames, right order


def test_single_channel_and_odd_size(tmp_path):
    frames = [np.full((37, 53), 10 * i, np.uint8) for i in range(6)]
    clip = open_clip(write_video(tmp_path / "grey.mkv", frames, 6, "ffv1", "gray"))
    f = clip.frame(3)
    assert f.shape == (37, 53, 3) and abs(int(f.mean()) - 30) <= 1
    w = clip.window(0, 4, 2, (16, 16))
    assert w.frames.shape == (4, 16, 16, 3)


def test_short_clip_is_padded_and_flagged(tmp_path):
    frames = [np.full((32, 32, 3), 40 * i, np.uint8) for i in range(3)]
    clip = open_clip(write_video(tmp_path / "short.mp4", frames, 5))
    windows = list(clip.windows(8, 4, (16, 16)))
    assert len(windows) == 1 and windows[0].padded
    assert list(windows[0].indices) == [0, 1, 2, 2, 2, 2, 2, 2]
    assert clip.window(0, 8).padded


def _truncated(tmp_path, vtest):
    data = vtest.read_bytes()
    path = tmp_path / "truncated.avi"
    path.write_bytes(data[: len(data) // 3])
    return path


def _file(path, data):
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return path


BAD_VIDEOS = {
    "zero bytes": lambda tmp, v: _file(tmp / "empty.mp4", b""),
    "text named mp4": lambda tmp, v: _file(tmp / "notes.mp4", "hello, not a video\n" * 50),
    "random bytes": lambda tmp, v: _file(tmp / "noise.avi", np.random.default_rng(0).bytes(4096)),
    "header only": lambda tmp, v: _file(tmp / "head.avi", v.read_bytes()[:2000]),
    "missing": lambda tmp, v: tmp / "nope.mp4",
    "folder": lambda tmp, v: tmp,
}


@pytest.mark.parametrize("case", sorted(BAD_VIDEOS))
def test_bad_videos_raise_a_named_error(tmp_path, vtest, case):
    path = BAD_VIDEOS[case](tmp_path, vtest)
    with pytest.raises(VideoError) as err:
        open_clip(path)
    assert str(path) in str(err.value)


def test_truncated_file_decodes_what_it_holds_then_says_so(tmp_path, vtest):
    path = _truncated(tmp_path, vtest)
    clip = open_clip(path)  # the header and first frames survive
    assert 0 < clip.frame_count < 341
    frames = []
    try:
        for i, _ in clip.iter_frames():
            frames.append(i)
    except VideoError as e:  # if the last packet is partial, the error names the file
        assert str(path) in str(e)
    assert frames[: 5] == [0, 1, 2, 3, 4]


def test_bad_window_arguments(vtest):
    clip = open_clip(vtest)
    for length, stride in ((0, 1), (5, 0), ("5", 1)):
        with pytest.raises(VideoError, match="must be a positive"):
            list(clip.windows(length, stride))
    with pytest.raises(VideoError, match="no window 999"):
        clip.window(999, 20, 10)
    with pytest.raises(VideoError, match="no frame 341"):
        clip.frame(341)
