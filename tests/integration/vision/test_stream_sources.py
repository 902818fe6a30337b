"""Live sources against real sockets: a refusing address, and a camera that goes away and
comes back (REC-1, REC-5: the worker reports the camera down instead of dying).

The camera worker runs here with the real engine on synthetic grey MJPEG frames (no face):
what is under test is its health reporting while the camera fails."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from lfr.vision.matcher import Gallery
from lfr.vision.pipeline import CameraWorker, Emitted, Engine, EngineConfig
from lfr.vision.sources import Backoff, SourceError, ThreadedSource, open_source
from lfr.vision.types import CameraStatus, HealthFigures

from .mjpeg_server import MjpegCamera, free_port

REFUSING_URLS = ["http://127.0.0.1:1/x", "rtsp://127.0.0.1:1/none"]
QUICK_BACKOFF = Backoff(initial_s=0.05, factor=2.0, maximum_s=0.2)


def wait_until(condition: Callable[[], bool], patience_s: float = 10.0) -> bool:
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.mark.parametrize("url", REFUSING_URLS)
def test_refusing_url_is_an_error_naming_it_when_the_caller_waits_for_it(url: str) -> None:
    with pytest.raises(SourceError) as raised:
        open_source(url, "cam", wait_for_first_connection_s=5, connect_timeout_s=1)
    assert url in str(raised.value)
    assert "cannot connect" in str(raised.value)


@pytest.mark.parametrize("url", REFUSING_URLS)
def test_refusing_url_is_down_not_raised_when_the_worker_keeps_trying(url: str) -> None:
    source = open_source(url, "cam", connect_timeout_s=1, backoff=QUICK_BACKOFF)
    try:
        assert wait_until(lambda: source.last_error is not None)
        assert source.status is CameraStatus.DOWN
        assert url in (source.last_error or "")
        assert source.read(timeout=0.1) is None
    finally:
        source.close()


def test_stream_delivers_frames_stamped_now_in_utc() -> None:
    with MjpegCamera(free_port()) as camera:
        source = open_source(camera.url, "gate", connect_timeout_s=2, wait_for_first_connection_s=5)
        try:
            frame = source.read(timeout=5)
            assert frame is not None
            assert frame.camera == "gate"
            assert frame.image.shape == (96, 128, 3)
            assert frame.captured_at.utcoffset() is not None
            assert frame.captured_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
        finally:
            source.close()


def _read_one(source: ThreadedSource) -> bool:
    return source.read(timeout=0.2) is not None


def test_stream_that_drops_reports_down_then_reconnects_by_itself() -> None:
    camera = MjpegCamera(free_port())
    camera.start()
    source = open_source(
        camera.url,
        "gate",
        connect_timeout_s=1,
        backoff=QUICK_BACKOFF,
        wait_for_first_connection_s=5,
    )
    assert isinstance(source, ThreadedSource)
    try:
        assert wait_until(lambda: _read_one(source))
        camera.stop()
        assert wait_until(lambda: source.status is CameraStatus.DOWN)
        assert camera.url in (source.last_error or "")
        camera.start()
        assert wait_until(lambda: source.status is CameraStatus.UP)
        assert wait_until(lambda: _read_one(source))
    finally:
        source.close()
        camera.stop()


def test_slow_reader_of_a_live_stream_gets_recent_frames_and_drops_are_counted() -> None:
    with MjpegCamera(free_port(), fps=50) as camera:
        source = open_source(
            camera.url, "gate", buffer_size=2, connect_timeout_s=2, wait_for_first_connection_s=5
        )
        try:
            first = source.read(timeout=5)
            assert first is not None
            time.sleep(0.6)  # a worker busy on one frame; the camera keeps sending
            later = source.read(timeout=5)
            assert later is not None
            assert source.dropped_frames > 0
            assert later.index > first.index + source.dropped_frames // 2
        finally:
            source.close()


class HealthLog:
    """The worker's emit: records health figures, stops the worker once `enough` says so."""

    def __init__(
        self, stop: threading.Event, enough: Callable[[list[HealthFigures]], bool]
    ) -> None:
        self.figures: list[HealthFigures] = []
        self._stop = stop
        self._enough = enough

    def __call__(self, emitted: Emitted) -> None:
        assert isinstance(emitted, HealthFigures)  # grey frames: no face, so no alert
        self.figures.append(emitted)
        if self._enough(self.figures):
            self._stop.set()


def _empty_gallery() -> Gallery:
    return Gallery.build([], np.zeros((0, 128), np.float32))


def _run_worker_on(
    url: str, enough: Callable[[list[HealthFigures]], bool], wait_for_camera_s: float = 0
) -> HealthLog:
    config = EngineConfig(health_interval_s=0.2, read_timeout_s=0.1)
    source = open_source(
        url,
        "gate",
        connect_timeout_s=1,
        backoff=QUICK_BACKOFF,
        wait_for_first_connection_s=wait_for_camera_s,
    )
    stop = threading.Event()
    log = HealthLog(stop, enough)
    worker = CameraWorker(source, Engine.from_config(config), _empty_gallery(), config, log)
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    thread.join(timeout=30)
    source.close()
    assert not thread.is_alive()
    return log


def test_worker_on_a_refusing_camera_reports_it_down_and_keeps_running() -> None:
    url = REFUSING_URLS[0]
    log = _run_worker_on(url, lambda figures: len(figures) >= 3)
    assert [f.status for f in log.figures[:3]] == [CameraStatus.DOWN] * 3
    assert url in (log.figures[0].last_error or "")
    assert log.figures[-1].frames == 0


def test_worker_reports_a_camera_down_and_up_again_when_it_returns() -> None:
    camera = MjpegCamera(free_port())
    camera.start()
    seen: list[CameraStatus] = []

    def outage(figures: list[HealthFigures]) -> bool:
        status = figures[-1].status
        if not seen or seen[-1] is not status:
            seen.append(status)
            if status is CameraStatus.UP and len(seen) == 1:
                camera.stop()
            elif status is CameraStatus.DOWN:
                camera.start()
        return seen == [CameraStatus.UP, CameraStatus.DOWN, CameraStatus.UP]

    try:
        log = _run_worker_on(camera.url, outage, wait_for_camera_s=5)
    finally:
        camera.stop()
    assert seen == [CameraStatus.UP, CameraStatus.DOWN, CameraStatus.UP]
    frames = [f.frames for f in log.figures]
    assert frames == sorted(frames)
    assert frames[-1] > 0
