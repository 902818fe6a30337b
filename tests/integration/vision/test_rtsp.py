"""The RTSP path end to end against a real RTSP server (REC-1, REC-2, REC-5).

GStreamer's gst-rtsp-server (`rtsp_server.py`, its own process under the system Python)
serves Lin-Manuel Miranda's close-up from the Hamilton clip, looped, as H.264 over RTSP —
what an IP camera sends. The camera worker must alert on him, report the camera DOWN when
the server stops and UP when it is back, alert again on the pass after the outage, and
lose nothing on the way: no exception, every alert delivered, frames counted on.
`lfr watch` on a server that is not up yet retries until it comes up, and gives up with
exit status 1 when it never does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

import cv2
import pytest

from lfr.vision.decoding import DecodingConfig
from lfr.vision.enrolment import load_watchlist_dir
from lfr.vision.pipeline import CameraWorker, Emitted, Engine, EngineConfig
from lfr.vision.sources import Backoff, open_source
from lfr.vision.types import CameraStatus, HealthFigures, MatchEvent

from .conftest import MIRANDA, make_watchlist
from .mjpeg_server import free_port

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER = Path(__file__).with_name("rtsp_server.py")
CLOSE_UP = range(82, 211)
"""The Hamilton clip's close-up of Miranda (the wide shot's faces are too small)."""
QUICK_BACKOFF = Backoff(initial_s=0.2, factor=2.0, maximum_s=1.0)


def _server_available() -> bool:
    probe = "import gi; gi.require_version('GstRtspServer', '1.0')"
    return (
        Path(SYSTEM_PYTHON).is_file()
        and subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True).returncode == 0
    )


@pytest.fixture(scope="module", autouse=True)
def _gst_rtsp_server() -> None:
    if not _server_available():
        message = (
            "gst-rtsp-server not installed (apt-get install gir1.2-gst-rtsp-server-1.0 "
            "python3-gi gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly; .ci/run does)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def close_up_frames(tmp_path_factory: pytest.TempPathFactory, video_dir: Path) -> Path:
    """The close-up as numbered JPEG frames, what the server loops over."""
    folder = tmp_path_factory.mktemp("rtsp-frames")
    capture = cv2.VideoCapture(str(video_dir / "short_hamilton_clip.mp4"))
    written = index = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        if index in CLOSE_UP:
            cv2.imwrite(str(folder / f"frame{written:05d}.jpg"), image)
            written += 1
        index += 1
    capture.release()
    assert written == len(CLOSE_UP)
    return folder


class RtspCamera:
    """The GStreamer RTSP server as a process that can be stopped and started again on
    the same port, like a camera that loses power."""

    def __init__(self, frames: Path, port: int) -> None:
        self.frames = frames
        self.port = port
        self.url = f"rtsp://127.0.0.1:{port}/camera"
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        process = subprocess.Popen(
            [SYSTEM_PYTHON, str(SERVER), str(self.port), str(self.frames)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline()  # "ready" once it listens
        assert line.strip() == "ready", process.stderr.read() if process.stderr else line
        self._process = process

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def wait_until(condition: Callable[[], bool], patience_s: float) -> bool:
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


class Collected:
    """What the worker emitted, in order (thread-safe enough: appends only)."""

    def __init__(self) -> None:
        self.items: list[Emitted] = []

    def __call__(self, item: Emitted) -> None:
        self.items.append(item)

    def alerts(self) -> list[MatchEvent]:
        return [i for i in self.items if isinstance(i, MatchEvent)]

    def statuses(self) -> list[CameraStatus]:
        return [i.status for i in self.items if isinstance(i, HealthFigures)]

    def last_health(self) -> HealthFigures:
        return [i for i in self.items if isinstance(i, HealthFigures)][-1]


@pytest.fixture(params=["opencv", "pyav"])
def running_worker(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    examples_dir: Path,
    engine: Engine,
    close_up_frames: Path,
) -> Iterator[tuple[RtspCamera, Collected, threading.Thread]]:
    """With each decoder: OpenCV's FFmpeg and PyAV's (the one that decodes on a GPU)."""
    watchlist = make_watchlist(tmp_path / "wl", [examples_dir / f"{MIRANDA}.png"])
    config = EngineConfig(health_interval_s=0.3)
    gallery, refusals = load_watchlist_dir(
        watchlist, engine.enrolment_analyser, engine.describer, config.enrolment_gate
    )
    assert not refusals
    camera = RtspCamera(close_up_frames, free_port())
    camera.start()
    source = open_source(
        camera.url,
        "street",
        connect_timeout_s=3,
        backoff=QUICK_BACKOFF,
        decoding=DecodingConfig(decoder=request.param),
    )
    collected = Collected()
    worker = CameraWorker(source, engine, gallery, config, collected)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield camera, collected, thread
    finally:
        stop.set()
        thread.join(timeout=10)
        source.close()
        camera.stop()


def test_rtsp_camera_alerts_goes_down_comes_back_and_alerts_again(
    running_worker: tuple[RtspCamera, Collected, threading.Thread],
) -> None:
    """REC-1/REC-2/REC-5: alert over RTSP; the server stops: DOWN naming the camera's
    URL; it restarts: UP by itself, and the next pass alerts again; nothing lost."""
    camera, collected, thread = running_worker
    assert wait_until(lambda: len(collected.alerts()) >= 1, 90), collected.statuses()
    assert [a.subject_id for a in collected.alerts()] == [MIRANDA]
    frames_before = collected.last_health().frames

    camera.stop()
    assert wait_until(lambda: collected.last_health().status is CameraStatus.DOWN, 30)
    assert camera.url in (collected.last_health().last_error or "")
    alerts_while_down = len(collected.alerts())

    camera.start()
    assert wait_until(lambda: collected.last_health().status is CameraStatus.UP, 30)
    assert wait_until(lambda: len(collected.alerts()) > alerts_while_down, 90)
    assert thread.is_alive()  # the worker never died
    alerts = collected.alerts()
    assert {a.subject_id for a in alerts} == {MIRANDA}
    assert len({a.track_id for a in alerts}) == len(alerts)  # one alert per pass
    last = collected.last_health()
    assert last.frames > frames_before
    assert last.errors == 0
    statuses = collected.statuses()  # may start DOWN while the first connection is made
    up = statuses.index(CameraStatus.UP)
    down = statuses.index(CameraStatus.DOWN, up)
    assert CameraStatus.UP in statuses[down:]


def _watch(url: str, watchlist: Path, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "lfr", "watch", url, "--watchlist", str(watchlist)]
    return subprocess.Popen(
        [*command, "--json", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3] / "src")},
    )


def test_watch_waits_for_a_server_that_is_not_up_yet(
    tmp_path: Path, examples_dir: Path, close_up_frames: Path
) -> None:
    """REC-1: `lfr watch rtsp://…` started before its camera retries like a dropped
    camera and alerts once the server is up."""
    watchlist = make_watchlist(tmp_path / "wl", [examples_dir / f"{MIRANDA}.png"])
    camera = RtspCamera(close_up_frames, free_port())
    watch = _watch(camera.url, watchlist, "--give-up-after", "120")
    try:
        time.sleep(3)  # the command is up and retrying before the camera is
        camera.start()
        assert watch.stdout is not None
        alert_line = watch.stdout.readline()  # blocks until the first alert
        assert f'"subject": "{MIRANDA}"' in alert_line
    finally:
        watch.send_signal(signal.SIGINT)
        out, err = watch.communicate(timeout=60)
        camera.stop()
    assert watch.returncode == 0, err
    assert '"summary"' in out


def test_watch_gives_up_with_exit_status_1_when_the_server_never_comes(
    tmp_path: Path, examples_dir: Path
) -> None:
    """REC-1: a camera that never comes up is an error after `--give-up-after`, not an
    empty success."""
    watchlist = make_watchlist(tmp_path / "wl", [examples_dir / f"{MIRANDA}.png"])
    url = f"rtsp://127.0.0.1:{free_port()}/camera"
    started = time.monotonic()
    watch = _watch(url, watchlist, "--give-up-after", "3")
    _, err = watch.communicate(timeout=120)
    assert watch.returncode == 1
    assert f"error: {url}: cannot connect" in err
    assert time.monotonic() - started >= 3
