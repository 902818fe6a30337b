"""Admission control (REC-5): a machine is not asked to run more cameras than it can
process at the frame rate recognition needs.

A start is checked before any worker runs: each camera this machine would run is probed
(one frame read: its size and stated rate), and its expected rate is this machine's
capacity at that size shared equally among every camera it would then run, capped at the
source's own rate. A camera expected below `SupervisorSettings.min_camera_fps` is listed
on the start checklist with the expected rate, as a warning or (``over_capacity:
refuse``) as an unmet condition. Cameras a node runs are checked by that node's own
figures, not here.

Capacity is configured (`host_frames_per_s`) or measured: the first time a size is needed,
a child process times the configured detector and face follower on a frame of that size,
less a margin for decoding, descriptions and the bus (`HEADROOM`):

- detection on the CPU: one stream on one core, times the machine's cores (the cameras'
  workers detect side by side, a core each);
- detection on a GPU (the detector's `providers` name one, e.g. `mmod-onnx` on CUDA): as
  many streams at once as the machine has cores, each with its own detector, and their
  frames together per second. The cores do not multiply a GPU: every camera's detection
  queues on the one device, so only a measurement of streams side by side says what it
  carries.

The measurement sees no face, so it is an upper bound for a crowd: the running figures say
what was reached, and a camera below the minimum is shown on the deployment page and the
console while it runs.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lfr.bus.cameras import Camera
from lfr.domain.refusal import Unmet
from lfr.runtime.supervisor import SupervisorSettings
from lfr.vision.decoding import DecodingConfig
from lfr.vision.pipeline import EngineConfig
from lfr.vision.sources import SourceError, SourceShape, probe
from lfr.vision.types import RGBImage

if TYPE_CHECKING:
    from lfr.vision.following import FaceFollower

log = logging.getLogger(__name__)

HEADROOM = 0.5
"""Share of the face-free detection rate left once frames are decoded, faces described and
results published. Measured on this project's 2-core machine: the 720p crowd reached 0.89
of it on one camera, four 640×360 cameras together 0.30; 0.5 sits between, and the running
figures show what each camera reaches (`host_frames_per_s` replaces the estimate)."""

SHAPE_KEPT_S = 60.0
"""How long a source's size and rate, once read, are taken as known."""

CALIBRATION_SECONDS = 1.5
CALIBRATION_TIMEOUT_S = 120.0

Calibrate = Callable[[EngineConfig, int, int, int], float]
"""Frames per second processed at width × height by that many streams side by side
(their frames together)."""


def frames_per_s(config: EngineConfig, width: int, height: int, streams: int = 1) -> float:
    """Time the detector and follower, `streams` of them side by side (a thread and a
    detector each, OpenCV on one thread each), on a textured frame with no face, every
    detection searching the whole frame (the busy case); their frames together per second.
    Run in a child process (`measured_in_child`) so the models it loads leave with it."""
    import cv2

    cv2.setNumThreads(1)
    noise = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    frame: RGBImage = np.ascontiguousarray(cv2.GaussianBlur(noise, (7, 7), 0), dtype=np.uint8)
    followers = [calibration_follower(config) for _ in range(streams)]
    for follower in followers:
        follower.observe(frame)  # loads the models: not part of the rate
    counts = [0] * streams
    started = time.perf_counter()

    def run(stream: int) -> None:
        while time.perf_counter() - started < CALIBRATION_SECONDS or counts[stream] < 3:
            followers[stream].observe(frame)
            counts[stream] += 1

    threads = [threading.Thread(target=run, args=(stream,)) for stream in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def detects_on_a_device(config: EngineConfig) -> bool:
    """Whether the configured detector runs on an accelerator (its `providers` name one
    other than the CPU's)."""
    providers = getattr(config.detector, "providers", None) or ()
    return any(provider != "CPUExecutionProvider" for provider in providers)


def calibration_follower(config: EngineConfig) -> FaceFollower:
    """The engine's detector and follower as the calibration times them. The same frame
    over and over changes nowhere: searching only what changed (`search_changes`) would
    skip nearly every detection and promise several times the rate a busy street allows,
    so every detection searches the whole frame (a crowd, a moving camera)."""
    from lfr.vision.analysis import FaceAnalyser
    from lfr.vision.detection import build_detector
    from lfr.vision.following import FaceFollower

    busy = config.following.model_copy(update={"search_changes": False})
    return FaceFollower(FaceAnalyser(build_detector(config.detector)), busy)


def measured_in_child(config: EngineConfig, width: int, height: int, streams: int) -> float:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        result = pool.apply_async(frames_per_s, (config, width, height, streams))
        return float(result.get(CALIBRATION_TIMEOUT_S))


class HostCapacity:
    """Frames per second this machine processes at a frame size, all cameras together."""

    def __init__(
        self,
        settings: SupervisorSettings,
        engine: EngineConfig,
        calibrate: Calibrate = measured_in_child,
        cores: int | None = None,
    ) -> None:
        self._configured = settings.host_frames_per_s
        self._engine = engine
        self._calibrate = calibrate
        self._cores = cores or os.cpu_count() or 1
        self._measured: dict[tuple[int, int], float] = {}
        self._lock = threading.Lock()

    @property
    def decoding(self) -> DecodingConfig:
        """How the engine measured here decodes its cameras."""
        return self._engine.decoding

    def frames_per_s(self, width: int, height: int) -> float:
        if self._configured is not None:
            return self._configured
        with self._lock:  # one calibration per size, however many pages ask at once
            if (width, height) not in self._measured:
                self._measured[width, height] = self._measure(width, height)
            return self._measured[width, height]

    def _measure(self, width: int, height: int) -> float:
        """One stream on one core times the cores, or (detection on a GPU) as many
        streams at once as there are cores, each way less `HEADROOM`."""
        on_device = detects_on_a_device(self._engine)
        streams = self._cores if on_device else 1
        rate = self._calibrate(self._engine, width, height, streams)
        capacity = (rate if on_device else rate * self._cores) * HEADROOM
        log.info(
            "capacity at %dx%d: %.1f frames/s (%.1f frames/s from %d stream%s %s, %d cores)",
            width,
            height,
            capacity,
            rate,
            streams,
            "" if streams == 1 else "s",
            "on the detector's device" if on_device else "on one core",
            self._cores,
        )
        return capacity


@dataclass(frozen=True, slots=True)
class AdmissionCheck:
    """What a start would meet: `unmet` refuses it, `warnings` are shown and let it go."""

    unmet: list[Unmet]
    warnings: list[Unmet]


class Admission:
    """Checks a deployment's local cameras against this machine's capacity."""

    def __init__(
        self,
        settings: SupervisorSettings,
        capacity: HostCapacity,
        running_elsewhere: Callable[[str], int],
        probe_source: Callable[[str], SourceShape] | None = None,
    ) -> None:
        """`running_elsewhere(deployment_id)`: camera workers this machine runs for other
        deployments (they share its cores with the new ones). `probe_source`: default, a
        read of one frame with the decoder the engine's workers use (`engine.decoding`)."""
        self._settings = settings
        self._capacity = capacity
        self._running_elsewhere = running_elsewhere
        self._probe = probe_source or functools.partial(probe, decoding=capacity.decoding)
        self._shapes: dict[str, tuple[float, SourceShape]] = {}
        self._shapes_lock = threading.Lock()

    @property
    def min_fps(self) -> float:
        return self._settings.min_camera_fps

    def check(self, deployment_id: str, cameras: Sequence[Camera]) -> AdmissionCheck:
        if not self.min_fps or not cameras:
            return AdmissionCheck([], [])
        sharing = len(cameras) + self._running_elsewhere(deployment_id)
        problems: list[Unmet] = []
        for camera in cameras:
            problem = self._camera_problem(camera, sharing)
            if problem is not None:
                problems.append(problem)
        unreadable = [p for p in problems if p.rule == "REC-1"]
        slow = [p for p in problems if p.rule == "REC-5"]
        if self._settings.over_capacity == "refuse":
            return AdmissionCheck(slow, unreadable)
        return AdmissionCheck([], unreadable + slow)

    def _shape_of(self, source: str) -> SourceShape:
        """The source's shape, read again once `SHAPE_KEPT_S` have passed: the checklist is
        shown on every view of a planned deployment, and a stream's probe can take
        seconds. A failed read is never kept, so a camera put right shows at once."""
        now = time.monotonic()
        with self._shapes_lock:
            kept = self._shapes.get(source)
        if kept is not None and now - kept[0] < SHAPE_KEPT_S:
            return kept[1]
        shape = self._probe(source)
        with self._shapes_lock:
            self._shapes[source] = (now, shape)
        return shape

    def _camera_problem(self, camera: Camera, sharing: int) -> Unmet | None:
        try:
            shape = self._shape_of(camera.source)
        except SourceError as error:
            # A camera not up yet may come up: its worker keeps trying, and its health
            # shows it down meanwhile; the checklist says so now.
            return Unmet("REC-1", f"its source cannot be read now: {error.reason}", camera.name)
        capacity = self._capacity.frames_per_s(shape.width, shape.height)
        shared = capacity / sharing
        if shape.fps is not None and shape.fps < min(shared, self.min_fps):
            return Unmet(
                "REC-5",
                f"its source delivers {shape.fps:.1f} frames/s; recognition here assumes at "
                f"least {self.min_fps:g}: set the camera to a higher frame rate",
                camera.name,
            )
        if shared >= self.min_fps:
            return None
        return Unmet(
            "REC-5",
            f"about {shared:.1f} frames/s expected ({shape.width}×{shape.height}, "
            f"{sharing} camera{'' if sharing == 1 else 's'} sharing this machine's "
            f"{capacity:.0f} frames/s); recognition here assumes at least {self.min_fps:g}: "
            "run fewer cameras on this machine, or some on a node",
            camera.name,
        )
