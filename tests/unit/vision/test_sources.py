"""Sources that need no network: files, the drop-oldest buffer, backoff, specs (REC-1).

Every test of a file runs with each decoder (`decoding`: OpenCV's FFmpeg and PyAV's, the
second the one that decodes on a GPU by settings), so both keep one behaviour."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from lfr.vision.decoding import DecodingConfig
from lfr.vision.source_types import is_stream
from lfr.vision.sources import (
    Backoff,
    DropOldestBuffer,
    FileSource,
    SourceError,
    ThreadedSource,
    open_source,
    shown,
)
from lfr.vision.types import CameraStatus, Frame

START = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
WALKING = "face-demographics-walking-and-pause.gif"


@pytest.fixture(params=["opencv", "pyav"])
def decoding(request: pytest.FixtureRequest) -> DecodingConfig:
    return DecodingConfig(decoder=request.param)


def test_buffer_drops_the_oldest_item_and_counts_it() -> None:
    buffer: DropOldestBuffer[int] = DropOldestBuffer(2)
    for item in (1, 2, 3, 4):
        buffer.put(item)
    assert buffer.dropped == 2
    assert [buffer.get(0), buffer.get(0), buffer.get(0)] == [3, 4, None]


def test_buffer_refuses_zero_capacity() -> None:
    with pytest.raises(ValueError, match="capacity"):
        DropOldestBuffer[int](0)


def test_backoff_doubles_up_to_its_cap_and_restarts_after_a_success() -> None:
    backoff = Backoff(initial_s=0.5, factor=2, maximum_s=3)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1, 2, 3, 3]
    backoff.reset()
    assert backoff.next_delay() == 0.5


@pytest.mark.parametrize(
    ("spec", "stream"),
    [
        ("rtsp://10.0.0.5/live", True),
        ("RTSP://cam/1", True),
        ("http://127.0.0.1:8080/x.mjpg", True),
        ("https://example.org/cam", True),
        ("/tmp/clip.mp4", False),
        ("clip.gif", False),
        ("device:0", False),
        ("file://clip.mp4", False),
    ],
)
def test_stream_specs_are_recognised_by_scheme(spec: str, stream: bool) -> None:
    assert is_stream(spec) is stream


def test_device_spec_must_be_a_number() -> None:
    with pytest.raises(SourceError, match="device:front: a local device is written device:N"):
        open_source("device:front", "cam")


def test_absent_device_reports_down_naming_it() -> None:
    with pytest.raises(SourceError, match="device:9: cannot open local video device 9"):
        open_source("device:9", "cam", wait_for_first_connection_s=5)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "no such file"),
        (b"", "empty file"),
        (b"this is not a video" * 50, "cannot be decoded as video"),
    ],
)
def test_unusable_file_is_an_error_naming_it(
    decoding: DecodingConfig, tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "camera.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError) as raised:
        open_source(str(path), "cam", decoding=decoding)
    assert str(raised.value).startswith(f"{path}: {reason}")


def test_directory_is_not_a_video(decoding: DecodingConfig, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a file"):
        open_source(str(tmp_path), "cam", decoding=decoding)


def test_file_frames_are_rgb_and_stamped_like_a_live_camera(
    decoding: DecodingConfig, video_dir: Path
) -> None:
    source = open_source(str(video_dir / WALKING), "entrance", start=START, decoding=decoding)
    assert isinstance(source, FileSource)
    frames = list(source)
    assert len(frames) == 41
    assert [f.index for f in frames] == list(range(41))
    assert frames[0].image.shape == (270, 480, 3)
    assert frames[0].camera == "entrance"
    assert frames[10].captured_at == START + timedelta(seconds=10 / 12.5)
    assert source.status is CameraStatus.ENDED
    assert source.read(0) is None


def test_mp4_cut_off_before_its_index_is_refused_naming_it(
    decoding: DecodingConfig, tmp_path: Path, video_dir: Path
) -> None:
    data = (video_dir / "short_hamilton_clip.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"cut\.mp4: cannot be decoded as video"):
        open_source(str(cut), "cam", decoding=decoding)


def test_video_that_ends_mid_frame_ends_cleanly_with_the_frames_that_decoded(
    decoding: DecodingConfig, tmp_path: Path, video_dir: Path
) -> None:
    data = (video_dir / WALKING).read_bytes()
    cut = tmp_path / "cut.gif"
    cut.write_bytes(data[: len(data) // 2])
    frames = list(FileSource(cut, "cam", decoding=decoding))
    assert 0 < len(frames) < 41
    assert all(f.image.shape == (270, 480, 3) for f in frames)


def test_realtime_file_replays_at_its_frame_rate_and_drops_for_a_slow_reader(
    decoding: DecodingConfig,
    video_dir: Path,
) -> None:
    source = open_source(
        str(video_dir / WALKING),
        "rehearsal",
        realtime=True,
        start=START,
        buffer_size=1,
        decoding=decoding,
    )
    assert isinstance(source, ThreadedSource)
    try:
        first = source.read(timeout=5)
        assert first is not None
        assert first.captured_at == START
        time.sleep(0.5)  # about six frames' worth at 12.5 fps
        later = source.read(timeout=5)
        assert later is not None
        assert later.index > first.index + 1
        assert source.dropped_frames > 0
        assert later.captured_at == START + timedelta(seconds=later.index / 12.5)
    finally:
        source.close()


def test_realtime_file_ends_after_its_last_frame(decoding: DecodingConfig, video_dir: Path) -> None:
    source = open_source(
        str(video_dir / WALKING), "rehearsal", realtime=True, buffer_size=64, decoding=decoding
    )
    try:
        frames = []
        while (frame := source.read(timeout=0.5)) is not None or (
            source.status is not CameraStatus.ENDED
        ):
            if frame is not None:
                frames.append(frame)
        assert len(frames) + source.dropped_frames == 41
    finally:
        source.close()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("rtsp://user:secret@10.0.0.5:554/stream", "rtsp://***@10.0.0.5:554/stream"),
        ("http://cam.example/mjpeg", "http://cam.example/mjpeg"),
        ("clips/door.mp4", "clips/door.mp4"),
    ],
)
def test_a_stream_s_credentials_are_never_shown(spec: str, expected: str) -> None:
    """A camera's password must not reach health figures, logs or alert lines."""
    assert shown(spec) == expected
    assert "secret" not in str(SourceError(spec, "connection refused"))


def _write_clip(path: Path, colours: list[int], fps: float) -> Path:
    """A tiny MJPEG clip, one flat grey level per frame (tells the frames apart)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (64, 48))
    for level in colours:
        writer.write(np.full((48, 64, 3), level, dtype=np.uint8))
    writer.release()
    return path


def _level(frame: Frame) -> int:
    return int(round(float(frame.image.mean()) / 10) * 10)


def test_looping_file_starts_again_numbered_and_stamped_on(
    decoding: DecodingConfig, tmp_path: Path
) -> None:
    """REC-1: a file plays a camera that never stops (`loop`), frames counted and
    stamped on from pass to pass, nothing dropped."""
    clip = _write_clip(tmp_path / "loop.avi", [40, 120, 200], fps=25)
    source = open_source(str(clip), "soak", start=START, loop=True, decoding=decoding)
    assert isinstance(source, FileSource)
    frames = [source.read(0) for _ in range(10)]
    assert all(f is not None for f in frames)
    shown_frames = [f for f in frames if f is not None]
    assert [_level(f) for f in shown_frames] == [40, 120, 200] * 3 + [40]
    assert [f.index for f in shown_frames] == list(range(10))
    assert shown_frames[9].captured_at == START + timedelta(seconds=9 / 25)
    assert source.status is CameraStatus.UP
    source.close()
    assert source.status is CameraStatus.ENDED


def test_file_without_loop_still_ends(decoding: DecodingConfig, tmp_path: Path) -> None:
    clip = _write_clip(tmp_path / "once.avi", [40, 120, 200], fps=25)
    assert len(list(open_source(str(clip), "once", decoding=decoding))) == 3


def test_looping_file_in_real_time_never_ends_or_goes_down(
    decoding: DecodingConfig, tmp_path: Path
) -> None:
    """REC-1: a looping rehearsal clip replayed at its frame rate keeps delivering
    across its end, never DOWN, never ENDED."""
    clip = _write_clip(tmp_path / "loop.avi", [40, 120, 200], fps=50)
    source = open_source(
        str(clip), "soak", realtime=True, loop=True, buffer_size=64, decoding=decoding
    )
    assert isinstance(source, ThreadedSource)
    try:
        frames: list[Frame] = []
        statuses = set()
        deadline = time.monotonic() + 10
        while len(frames) < 9 and time.monotonic() < deadline:
            frame = source.read(timeout=0.5)
            if frame is not None:
                frames.append(frame)
            if frames:  # from its first frame on
                statuses.add(source.status)
        assert [_level(f) for f in frames] == [40, 120, 200] * 3
        assert [f.index for f in frames] == list(range(9))
        assert statuses == {CameraStatus.UP}
        assert source.dropped_frames == 0
    finally:
        source.close()
