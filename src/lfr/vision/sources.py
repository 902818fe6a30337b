"""Where frames come from: video files, RTSP/HTTP streams and local devices (REC-1).

`open_source(spec, camera)` returns a `Source`; the camera worker calls `read(timeout)`
until the source says it has ENDED. Three kinds (`lfr.vision.source_types` says which a
spec is; a ``node:`` source is opened on its node):

- a **file** (mp4, gif, avi, …): read on demand, as fast as the worker can take frames
  (`lfr watch` on a file), or paced at the clip's own frame rate (`realtime=True`, for a
  rehearsal) — then it is read by a background thread like a live camera, so a slow
  worker drops frames exactly as it would in the street.
- a **stream** (`rtsp://`, `http://`, …) or a **device** (`device:0`): a background thread
  reads into a bounded buffer that drops the OLDEST frame when full and counts the drop,
  so the worker always analyses what the camera sees now and never falls behind real
  time. A stream that breaks is reconnected with exponential backoff; meanwhile the
  source reports `CameraStatus.DOWN` with the reason, and never raises.

A file can **loop** (`loop=True`): at its end it starts again from its first frame, its
frames numbered and stamped on, so it plays a camera that never stops (demonstrations,
soak tests, training) without a stream server.

Frames carry their capture time (UTC). A file's frames are stamped `start + index / fps`
so that a rehearsal clip behaves like a live camera that started at `start`.

Decoding goes through OpenCV's FFmpeg backend, or through PyAV's FFmpeg, on the GPU
when the engine's settings ask (`lfr.vision.decoding`; local devices always OpenCV). A
file that cannot be opened (missing, not a video, an MP4 cut off before its index) raises
`SourceError` naming the file and the reason; a file that ends mid-frame ends cleanly
after the frames that decoded.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

import cv2
import numpy as np

from lfr.vision.decoding import DecodingConfig, DecodingError, open_capture
from lfr.vision.source_types import DEVICE_PREFIX, form_problem, is_stream, parse_source
from lfr.vision.types import CameraStatus, Frame, RGBImage

FALLBACK_FPS = 25.0
"""Used when a file does not state its frame rate (timestamps only; nothing else)."""

T = TypeVar("T")


class SourceError(RuntimeError):
    """A source that cannot be used at all; `str()` names it and says why."""

    def __init__(self, spec: str, reason: str) -> None:
        super().__init__(f"{shown(spec)}: {reason}")
        self.spec = spec
        self.reason = reason


class DecodeTimes:
    """Seconds each frame took to decode, kept (bounded) until the worker drains them for
    its health figures; safe between a source's reader thread and the worker."""

    def __init__(self, keep: int = 10_000) -> None:
        self._times: deque[float] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._times.append(seconds)

    def drain(self) -> list[float]:
        with self._lock:
            times = list(self._times)
            self._times.clear()
        return times


def decoded(capture: Any, times: DecodeTimes) -> tuple[bool, Any]:
    """One `capture.read()`, its time added to `times` when it gave a frame."""
    started = time.perf_counter()
    ok, image = capture.read()
    if ok and image is not None:
        times.add(time.perf_counter() - started)
    return ok, image


class Source(Protocol):
    """What the camera worker reads frames from."""

    spec: str
    camera: str
    decode_times: DecodeTimes

    @property
    def status(self) -> CameraStatus: ...

    @property
    def dropped_frames(self) -> int: ...

    @property
    def last_error(self) -> str | None: ...

    def read(self, timeout: float) -> Frame | None:
        """The next frame, or None when none came within `timeout` seconds or the source
        has ENDED (check `status`)."""
        ...

    def close(self) -> None: ...


class DropOldestBuffer(Generic[T]):
    """A bounded, thread-safe FIFO that makes room by discarding its oldest item.

    A live camera keeps producing whether or not the worker keeps up; dropping the oldest
    frame (not the newest) keeps what the worker sees as close to "now" as possible.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"buffer capacity must be at least 1, got {capacity}")
        self._items: deque[T] = deque()
        self._capacity = capacity
        self._ready = threading.Condition()
        self.dropped = 0

    def put(self, item: T) -> None:
        with self._ready:
            if len(self._items) >= self._capacity:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._ready.notify()

    def get(self, timeout: float) -> T | None:
        with self._ready:
            if not self._items:
                self._ready.wait(timeout)
            return self._items.popleft() if self._items else None

    def wake(self) -> None:
        """Wake a reader waiting in `get` (it returns None if nothing arrived)."""
        with self._ready:
            self._ready.notify_all()

    def clear(self) -> None:
        with self._ready:
            self._items.clear()

    def __len__(self) -> int:
        with self._ready:
            return len(self._items)


@dataclass
class Backoff:
    """Exponential backoff between reconnection attempts.

    `initial_s`: a short first wait brings back a camera after a blip quickly. `maximum_s`:
    caps the wait so a camera that returns after a long outage is picked up within that
    time; lowering it hammers a dead address more often.
    """

    initial_s: float = 0.5
    factor: float = 2.0
    maximum_s: float = 30.0
    _next_s: float | None = None

    def next_delay(self) -> float:
        delay = self.initial_s if self._next_s is None else self._next_s
        self._next_s = min(delay * self.factor, self.maximum_s)
        return delay

    def reset(self) -> None:
        self._next_s = None


def bgr_to_rgb(image: Any) -> RGBImage:
    """OpenCV decodes to BGR (or grey / BGRA); the engine works on contiguous RGB."""
    array = np.asarray(image)
    if array.ndim == 2:
        return np.ascontiguousarray(cv2.cvtColor(array, cv2.COLOR_GRAY2RGB), dtype=np.uint8)
    if array.shape[2] == 4:
        return np.ascontiguousarray(cv2.cvtColor(array, cv2.COLOR_BGRA2RGB), dtype=np.uint8)
    # cvtColor: one vectorised pass (~0.1 ms at 720p) where a reversed numpy view copied
    # element by element (~4 ms).
    return np.ascontiguousarray(cv2.cvtColor(array, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def _frame_rate(capture: Any) -> float:
    fps = float(capture.get(cv2.CAP_PROP_FPS))
    return fps if np.isfinite(fps) and 0.5 <= fps <= 1000 else FALLBACK_FPS


class _FileClock:
    """Capture times for a file: start + index / fps, so a clip replays like a camera."""

    def __init__(self, start: datetime, fps: float) -> None:
        self.start = start
        self.fps = fps

    def at(self, index: int) -> datetime:
        return self.start + timedelta(seconds=index / self.fps)


def _open_file_capture(path: Path, spec: str, decoding: DecodingConfig) -> Any:
    try:
        if not path.exists():
            raise SourceError(spec, "no such file")
        if not path.is_file():
            raise SourceError(spec, "not a file")
        if path.stat().st_size == 0:
            raise SourceError(spec, "empty file (0 bytes)")
    except OSError as error:  # a name too long for the file system, a permission refused
        raise SourceError(spec, f"cannot be opened ({error.strerror or error})") from None
    try:
        capture = open_capture(str(path), decoding)
    except DecodingError as error:
        raise SourceError(spec, str(error)) from None
    if not capture.isOpened():
        capture.release()
        raise SourceError(
            spec, "cannot be decoded as video (not a video, or cut off before its index)"
        )
    return capture


class FileSource:
    """A video file read on demand, as fast as the worker asks (no frame is dropped);
    with `loop`, read again from its start each time it ends."""

    def __init__(
        self,
        path: Path,
        camera: str,
        *,
        start: datetime | None = None,
        loop: bool = False,
        decoding: DecodingConfig | None = None,
    ) -> None:
        self.spec = str(path)
        self.camera = camera
        self._path = path
        self._loop = loop
        self._decoding = decoding or DecodingConfig()
        self._capture = _open_file_capture(path, self.spec, self._decoding)
        self._clock = _FileClock(start or datetime.now(UTC), _frame_rate(self._capture))
        self._index = 0
        self._pass_start = 0
        self._status = CameraStatus.UP
        self._last_error: str | None = None
        self.decode_times = DecodeTimes()

    @property
    def status(self) -> CameraStatus:
        return self._status

    @property
    def dropped_frames(self) -> int:
        return 0

    @property
    def last_error(self) -> str | None:
        return self._last_error

    @property
    def fps(self) -> float:
        return self._clock.fps

    def read(self, timeout: float) -> Frame | None:
        if self._status is CameraStatus.ENDED:
            return None
        ok, image = decoded(self._capture, self.decode_times)
        if (not ok or image is None) and self._rewound():
            ok, image = decoded(self._capture, self.decode_times)
        if not ok or image is None:
            self._end()
            return None
        frame = Frame(bgr_to_rgb(image), self._index, self._clock.at(self._index), self.camera)
        self._index += 1
        return frame

    def _rewound(self) -> bool:
        """With `loop`, the file opened again at its start; False when not looping or
        when the pass that just ended gave no frame (it would loop forever on nothing)."""
        if not self._loop or self._index == self._pass_start:
            return False
        self._capture.release()
        self._capture = _open_file_capture(self._path, self.spec, self._decoding)
        self._pass_start = self._index
        return True

    def _end(self) -> None:
        self._status = CameraStatus.ENDED
        self._capture.release()

    def close(self) -> None:
        if self._status is not CameraStatus.ENDED:
            self._end()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read(0)) is not None:
            yield frame


@dataclass
class _Connection:
    """One opened capture plus how its frames are stamped."""

    capture: Any
    stamp: Callable[[int], datetime]
    pace_fps: float | None = None


class ThreadedSource:
    """Frames read by a background thread into a drop-oldest buffer (streams, devices,
    files replayed in real time).

    `connect` opens a capture or returns an error message; `reconnect` says whether a
    capture that stops delivering is a broken camera to retry (streams, devices) or the
    end of the material (a file); `loop` connects again at once, without going DOWN,
    when a capture that delivered frames ends (a looping file).
    """

    def __init__(
        self,
        spec: str,
        camera: str,
        connect: Callable[[], _Connection | str],
        *,
        reconnect: bool,
        buffer_size: int,
        backoff: Backoff,
        loop: bool = False,
    ) -> None:
        self.spec = spec
        self.camera = camera
        self._connect = connect
        self._reconnect = reconnect
        self._loop = loop
        self._buffer: DropOldestBuffer[Frame] = DropOldestBuffer(buffer_size)
        self._backoff = backoff
        self._closing = threading.Event()
        self._status = CameraStatus.DOWN
        self._last_error: str | None = None
        self._index = 0
        self.decode_times = DecodeTimes()
        self._thread = threading.Thread(target=self._run, name=f"source:{camera}", daemon=True)
        self._thread.start()

    @property
    def status(self) -> CameraStatus:
        if self._status is CameraStatus.ENDED and len(self._buffer):
            return CameraStatus.UP  # frames still to hand out
        return self._status

    @property
    def dropped_frames(self) -> int:
        return self._buffer.dropped

    @property
    def last_error(self) -> str | None:
        return self._last_error

    def read(self, timeout: float) -> Frame | None:
        return self._buffer.get(timeout)

    def close(self) -> None:
        self._closing.set()
        self._buffer.wake()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self) -> None:
        while not self._closing.is_set():
            connection = self._connect()
            if isinstance(connection, str):
                self._down(connection)
                if not self._reconnect:
                    break
                continue
            self._status = CameraStatus.UP
            self._backoff.reset()
            delivered = self._pump(connection)
            if self._closing.is_set():
                break
            if self._loop and delivered:
                continue
            if not self._reconnect:
                break
            self._down("stream stopped delivering frames; reconnecting")
        self._status = CameraStatus.ENDED
        self._buffer.wake()

    def _down(self, reason: str) -> None:
        self._status = CameraStatus.DOWN
        self._last_error = f"{shown(self.spec)}: {reason}"
        self._closing.wait(self._backoff.next_delay())

    def _pump(self, connection: _Connection) -> bool:
        """Frames into the buffer until the capture ends or the source closes; whether
        any frame came."""
        started = time.monotonic()
        first_index = self._index
        try:
            while not self._closing.is_set():
                ok, image = decoded(connection.capture, self.decode_times)
                if not ok or image is None:
                    break
                if connection.pace_fps:
                    due = started + (self._index - first_index) / connection.pace_fps
                    self._closing.wait(max(0.0, due - time.monotonic()))
                stamp = connection.stamp(self._index)
                self._buffer.put(Frame(bgr_to_rgb(image), self._index, stamp, self.camera))
                self._index += 1
        finally:
            connection.capture.release()
        return self._index > first_index


def _stream_connector(
    url: str, timeout_s: float, decoding: DecodingConfig
) -> Callable[[], _Connection | str]:
    def connect() -> _Connection | str:
        try:
            capture = open_capture(url, decoding, timeout_s)
        except DecodingError as error:
            return _stream_failure(error, decoding)
        if not capture.isOpened():
            capture.release()
            return "cannot connect (refused, unreachable or not a video stream)"
        return _Connection(capture, lambda _index: datetime.now(UTC))

    return connect


def _device_connector(number: int) -> Callable[[], _Connection | str]:
    def connect() -> _Connection | str:
        capture = cv2.VideoCapture(number)
        if not capture.isOpened():
            capture.release()
            return f"cannot open local video device {number}"
        return _Connection(capture, lambda _index: datetime.now(UTC))

    return connect


def _stream_failure(error: DecodingError, decoding: DecodingConfig) -> str:
    """Why a stream did not open through PyAV, worded as OpenCV's failure is unless the
    GPU is the reason."""
    if decoding.hardware != "none" and "NVDEC" in str(error):
        return str(error)
    return "cannot connect (refused, unreachable or not a video stream)"


def _paced_file_connector(
    path: Path, spec: str, start: datetime | None, decoding: DecodingConfig
) -> Callable[[], _Connection | str]:
    first = _open_file_capture(path, spec, decoding)  # a bad file fails now, not in the thread
    clock = _FileClock(start or datetime.now(UTC), _frame_rate(first))
    opened = [first]

    def connect() -> _Connection | str:
        """The capture opened above, then (a looping file) the file opened again."""
        if opened:
            return _Connection(opened.pop(), clock.at, pace_fps=clock.fps)
        try:
            capture = _open_file_capture(path, spec, decoding)
        except SourceError as error:  # the file went away while it looped
            return error.reason
        return _Connection(capture, clock.at, pace_fps=clock.fps)

    return connect


def _device_number(spec: str) -> int:
    problem = form_problem(spec)
    if problem is not None:
        raise SourceError(spec, problem)
    return int(parse_source(spec).detail)


def shown(spec: str) -> str:
    """A source as it may be shown, logged or sent in health figures: a stream URL's
    user name and password (rtsp://user:pass@host/...) replaced by ``***``."""
    if not is_stream(spec):
        return spec
    scheme, _, rest = spec.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return spec
    return f"{scheme}://***@{authority.rpartition('@')[2]}{slash}{path}"


def open_source(
    spec: str,
    camera: str,
    *,
    realtime: bool = False,
    start: datetime | None = None,
    buffer_size: int = 4,
    connect_timeout_s: float = 5.0,
    backoff: Backoff | None = None,
    wait_for_first_connection_s: float = 0.0,
    loop: bool = False,
    decoding: DecodingConfig | None = None,
) -> FileSource | ThreadedSource:
    """Open a video file path, a stream URL or `device:N` as camera `camera`.

    `loop` (files only; a stream or device is live and never ends): play the file again
    from its start each time it ends, frames numbered and stamped on.

    `buffer_size` (live sources): frames held between the reader and the worker. Raising
    it rides out short stalls of the worker but lets what it analyses lag further behind
    the street; lowering it to 1 always analyses the newest frame and drops more.
    `wait_for_first_connection_s`: when positive, a stream or device that does not come
    up within that time, retried meanwhile with `backoff`, raises `SourceError` naming
    the last reason (the `lfr watch` behaviour); at 0 it is returned DOWN and keeps
    trying (a deployment's camera that is not up yet).
    `decoding`: the engine's decoder for files and streams (default OpenCV's).
    """
    decoding = decoding or DecodingConfig()
    if spec.startswith(DEVICE_PREFIX):
        number = _device_number(spec)
        source = ThreadedSource(
            spec,
            camera,
            _device_connector(number),
            reconnect=True,
            buffer_size=buffer_size,
            backoff=backoff or Backoff(),
        )
    elif is_stream(spec):
        source = ThreadedSource(
            spec,
            camera,
            _stream_connector(spec, connect_timeout_s, decoding),
            reconnect=True,
            buffer_size=buffer_size,
            backoff=backoff or Backoff(),
        )
    elif realtime:
        connector = _paced_file_connector(Path(spec), spec, start, decoding)
        return ThreadedSource(
            spec,
            camera,
            connector,
            reconnect=False,
            buffer_size=buffer_size,
            backoff=backoff or Backoff(),
            loop=loop,
        )
    else:
        return FileSource(Path(spec), camera, start=start, loop=loop, decoding=decoding)
    if wait_for_first_connection_s > 0:
        _await_first_connection(source, wait_for_first_connection_s)
    return source


def _await_first_connection(source: ThreadedSource, patience_s: float) -> None:
    """Wait for the first frame while the source retries with its backoff, as it would
    after a drop (a camera or server still starting); give up after `patience_s`."""
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        if source.status is CameraStatus.UP:
            return
        if source.status is CameraStatus.ENDED:
            break
        time.sleep(0.02)
    reason = source.last_error or f"{source.spec}: no frames within {patience_s:g} s"
    source.close()
    raise SourceError(source.spec, reason.removeprefix(f"{source.spec}: "))


@dataclass(frozen=True, slots=True)
class SourceShape:
    """What one read of a source shows: its frame size and the rate it says it delivers."""

    width: int
    height: int
    fps: float | None
    """None: the source does not say (many streams and devices); treated as unbounded."""


def probe(spec: str, timeout_s: float = 5.0, decoding: DecodingConfig | None = None) -> SourceShape:
    """Open a source and read one frame: its size and frame rate, or `SourceError` with the
    reason (for the start checklist and the camera form, before any worker runs it).
    `decoding`: the decoder the workers will read it with (default OpenCV's)."""
    decoding = decoding or DecodingConfig()
    if spec.startswith(DEVICE_PREFIX):
        number = _device_number(spec)
        capture, failure = cv2.VideoCapture(number), f"cannot open local video device {number}"
    elif is_stream(spec):
        try:
            capture = open_capture(spec, decoding, timeout_s)
        except DecodingError as error:
            raise SourceError(spec, _stream_failure(error, decoding)) from None
        failure = "cannot connect (refused, unreachable or not a video stream)"
    else:
        capture = _open_file_capture(Path(spec), spec, decoding)
        failure = "cannot be decoded as video"
    try:
        if not capture.isOpened():
            raise SourceError(spec, failure)
        ok, image = capture.read()
        if not ok or image is None:
            raise SourceError(spec, "opened, but no frame could be read from it")
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        stated = fps if np.isfinite(fps) and 0.5 <= fps <= 1000 else None
        return SourceShape(width=int(image.shape[1]), height=int(image.shape[0]), fps=stated)
    finally:
        capture.release()
