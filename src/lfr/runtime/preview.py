"""The live camera view (REC-5): a grey blur of the scene, with only the faces that alerted
shown as they are.

The engine's preview hook (`CameraWorker(preview=...)`) hands over frames already made
private (`lfr.vision.pipeline.private_view`): the whole frame is reduced to a grid far
coarser than a face, so a face the detector missed is hidden as surely as one it found.
The hub puts a `QueuePreview` sink into each `EngineJob` (`PreviewHub.wrap`); the ordinary
worker target (`lfr.runtime.engine.run_camera_engine`) opens it in the child. Each worker
sends at most one such frame per `interval_s`, JPEG-encoded, down a bounded queue to the
serving process, which keeps only the latest frame of each camera, in memory, and forgets a
deployment's frames the moment it is halted or ended. Nothing is written to disk; a full
queue drops the frame.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from lfr.runtime.engine import EngineJob
from lfr.vision.imageio import encode_jpeg
from lfr.vision.pipeline import PreviewFrame

log = logging.getLogger(__name__)

PREVIEW_INTERVAL_S = 1.0
"""One preview frame per camera per second: enough to see the scene; more costs encoding
time in the worker and bandwidth to every console."""

PREVIEW_QUALITY = 70
"""JPEG quality of preview frames (smaller and faster than evidence quality)."""

QUEUE_FRAMES = 16
"""Frames waiting for the serving process; beyond it new frames are dropped."""

FROZEN_AFTER_S = 5.0
"""A camera's latest frame older than this is no longer served: a camera that stopped
delivering frames (a clip that ended, a stalled stream, a dead worker) must not look live
with a frozen picture; the console says it has no frames instead."""


@dataclass(frozen=True)
class QueuePreview:
    """A `PreviewSink` onto the hub's queue (pickled into the worker with its job)."""

    frames: Any  # a multiprocessing queue of (deployment, camera, captured_at, jpeg)
    interval_s: float = PREVIEW_INTERVAL_S

    def open(self, deployment_id: str) -> Callable[[PreviewFrame], None]:
        """At most one JPEG per ``interval_s`` onto the queue; a full queue drops it."""
        last = 0.0

        def send(frame: PreviewFrame) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < self.interval_s:
                return
            last = now
            jpeg = encode_jpeg(frame.image, quality=PREVIEW_QUALITY)
            # Full: the console shows the previous frame a little longer.
            with contextlib.suppress(queue.Full):
                self.frames.put_nowait((deployment_id, frame.camera, frame.captured_at, jpeg))

        return send


class PreviewHub:
    """The serving process's end: the latest private frame of each camera, in memory."""

    def __init__(self) -> None:
        import multiprocessing

        self.frames: Any = multiprocessing.get_context("spawn").Queue(QUEUE_FRAMES)
        self._latest: dict[tuple[str, str], tuple[bytes, float]] = {}
        self._closed: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def wrap(self, job: EngineJob) -> EngineJob:
        """The job with this hub as its preview sink."""
        return replace(job, preview=QueuePreview(self.frames))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="preview-hub", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.frames.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def latest(
        self, deployment_id: str, camera: str, max_age_s: float = FROZEN_AFTER_S
    ) -> bytes | None:
        """The camera's latest frame, unless it arrived more than `max_age_s` ago."""
        with self._lock:
            kept = self._latest.get((deployment_id, camera))
        if kept is None or time.monotonic() - kept[1] > max_age_s:
            return None
        return kept[0]

    def forget(self, deployment_id: str) -> None:
        """A halted or ended deployment's frames go at once."""
        with self._lock:
            self._closed.add(deployment_id)
            for key in [k for k in self._latest if k[0] == deployment_id]:
                del self._latest[key]

    def keep(
        self, deployment_id: str, camera: str, jpeg: bytes, received: float | None = None
    ) -> None:
        """Holds a camera's latest frame, received now (or at the monotonic `received`),
        unless its deployment has stopped (frames still queued at a halt are dropped)."""
        at = time.monotonic() if received is None else received
        with self._lock:
            if deployment_id not in self._closed:
                self._latest[(deployment_id, camera)] = (jpeg, at)

    def _run(self) -> None:
        while (item := self.frames.get()) is not None:
            deployment_id, camera, _captured_at, jpeg = item
            self.keep(deployment_id, camera, jpeg)
