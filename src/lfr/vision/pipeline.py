"""The camera worker: capture → analyse → track → describe the chosen chips → match → alert.

What leaves a `CameraWorker` goes through one callable, `emit`, and is one of two things
(REC-4, REC-5):

- a `MatchEvent` for each confirmed (track, subject) pair — once per pass (REC-3), only
  at or above the authorised threshold (REC-2), with the probe crop as JPEG bytes, the
  box, the fused score, the candidates and the quality factors the operator needs (ADJ-1);
- periodic `HealthFigures`: frames and faces per second, latency, drops, errors, status.

Everything else dies in memory: the descriptors of a frame are dropped as soon as they
are scored, the crop of a face that never reaches the threshold is dropped when its
track moves on, and a track is forgotten when it ends. The worker writes nothing to disk
or a database and logs nothing about a face (REC-4). An optional `preview` hook receives
frames shown as a coarse grey blur except the faces that alerted (`private_view`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import cv2
import numpy as np

from lfr.vision.analysis import FaceAnalyser, FaceObservation
from lfr.vision.calibration import ModelCalibration, load_calibration
from lfr.vision.decision import TrackTemplates, searched_gallery
from lfr.vision.describers import DescriberConfig, build_describer
from lfr.vision.describers.base import Describer, DescriberGoneError
from lfr.vision.detection import build_detector

# Re-exported: the engine and its configuration are imported together by their callers.
from lfr.vision.engine_config import EngineConfig as EngineConfig
from lfr.vision.following import FaceFollower
from lfr.vision.imageio import encode_jpeg
from lfr.vision.matcher import Gallery
from lfr.vision.quality import QualityGate
from lfr.vision.sources import Source
from lfr.vision.tracking import Confirmation, Sighting, Tracker
from lfr.vision.types import (
    Box,
    CameraStatus,
    Frame,
    HealthFigures,
    MatchEvent,
    QualityFactors,
    RGBImage,
    StageTimes,
)

logger = logging.getLogger(__name__)

Emitted = MatchEvent | HealthFigures
Emit = Callable[[Emitted], None]


@dataclass(frozen=True, slots=True)
class Engine:
    """The parts built from an `EngineConfig`, shared by a node's camera workers (the
    models load once, lazily)."""

    analyser: FaceAnalyser
    describer: Describer
    enrolment_analyser: FaceAnalyser
    """The same detector at full resolution (no `detect_scale` / `max_detect_width`):
    a watchlist photograph is analysed once, so speed does not matter there, and a
    face the enrolment gate accepts must not be lost to shrinking (WL-5)."""
    calibration: ModelCalibration | None = None
    """The describer's model calibration (shipped, or the configured file)."""

    @classmethod
    def from_config(cls, config: EngineConfig, describer: Describer | None = None) -> Engine:
        """`describer`: one built elsewhere for `config.describer` (the machine's shared
        describer, `lfr.runtime.describer_service`); None: built here."""
        if config.threads:
            cv2.setNumThreads(config.threads)  # process-wide: one engine a process
        if describer is None:
            describer = build_describer(describer_with_threads(config.describer, config.threads))
        # Each describer brings its own crop, and the description its context paddings:
        # the analysers cut them all beside their own chip, from the full frame.
        crops = config.description.alignments(describer)
        analyser = FaceAnalyser(build_detector(config.detector), alignments=crops)
        return cls(
            analyser,
            describer,
            FaceAnalyser(
                build_detector(config.enrolment_detector()), analyser.locator, alignments=crops
            ),
            load_calibration(config.calibration_path, describer.model_id),
        )


def describer_with_threads(describer: DescriberConfig, threads: int) -> DescriberConfig:
    """The describer's settings with `threads` for ONNX Runtime, unless they set their
    own (`intra_op_threads` other than 0) or `threads` is 0."""
    if not threads or describer.intra_op_threads:
        return describer
    return describer.model_copy(update={"intra_op_threads": threads})


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Each of `workers` camera worker processes' share of this machine's cores (at
    least 1): what a supervisor puts in `EngineConfig.threads`."""
    available = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, available // max(1, workers))


@dataclass(frozen=True, slots=True)
class FaceInFrame:
    """What a sighting carries: the analysed face and its probe crop (memory only)."""

    face: FaceObservation
    crop: RGBImage


@dataclass(frozen=True, slots=True)
class PreviewFrame:
    """A frame fit to show: a coarse blur but for the boxes of faces that alerted
    (REC-4, REC-5)."""

    camera: str
    index: int
    captured_at: datetime
    image: RGBImage
    alert_boxes: tuple[Box, ...]


def widened(box: Box, margin: float, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The rows and columns of `box` widened by `margin` of its size on each side,
    clipped to an image of `shape`."""
    pad_x, pad_y = int(box.width * margin), int(box.height * margin)
    height, width = shape[:2]
    rows = slice(max(0, box.top - pad_y), min(height, box.bottom + pad_y))
    columns = slice(max(0, box.left - pad_x), min(width, box.right + pad_x))
    return rows, columns


def probe_crop(image: RGBImage, box: Box, margin: float) -> RGBImage:
    """The face box widened by `margin` on each side, clipped to the frame, copied."""
    rows, columns = widened(box, margin, image.shape)
    return np.ascontiguousarray(image[rows, columns])


PREVIEW_ROWS = 8
"""Cells of the preview's grid across the frame's shorter side (as many along the other as
keep them square): everything but an alert's box is shown as this grid, in grey, at half
contrast, softened into a blur, so a face no detector found is hidden too (REC-5). The
criterion is what it hides, not a cell count: a face from 40 px up to the full frame height,
aligned as in the clear frame and put through the engine's own describer, scores below the
calibrated threshold for a false-match rate of 1 in 100 against the photograph it came from
(tests/integration/vision/test_preview_criterion.py: closest 0.896 against 0.907). A blur
alone did not meet it: the describer still matched the coarse layout of hair and skin of
some faces at 8 rows in colour (0.913); grey and half contrast took that away. People, their
movement and the light stay visible as shapes, enough to see that a camera works."""

PREVIEW_SOFTENING = 0.8
"""Standard deviation, in grid cells, of the blur applied to the grid before it is scaled
up: the cells' edges carry no shape, so the view reads as a blur rather than a mosaic."""

PREVIEW_CONTRAST = 0.5
"""How much of the grid's departure from the frame's mean grey is kept."""

ALERT_MARGIN = 0.15
"""How far beyond the detector's box an alert's face is shown, as a fraction of its size:
the box is tight, and the operator compares the whole head with the watchlist image."""


def preview_grid(shape: tuple[int, ...]) -> tuple[int, int]:
    """(columns, rows) of the preview's grid for frames of `shape`: `PREVIEW_ROWS` cells
    across the shorter side, square cells."""
    height, width = shape[:2]
    cell = min(height, width) / PREVIEW_ROWS
    return max(1, round(width / cell)), max(1, round(height / cell))


def private_view(image: RGBImage, shown: Sequence[Box]) -> RGBImage:
    """A copy of `image` reduced to `preview_grid` (each cell the mean grey under it), at
    `PREVIEW_CONTRAST`, softened and scaled back up, except the boxes in `shown` (the faces
    that alerted), widened by `ALERT_MARGIN`, which are copied as they are. Private by
    construction: what the detector missed is hidden as surely as what it found."""
    height, width = image.shape[:2]
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    grid = cv2.resize(grey, preview_grid(image.shape), interpolation=cv2.INTER_AREA)
    grid = cv2.GaussianBlur(grid, (3, 3), PREVIEW_SOFTENING, borderType=cv2.BORDER_REPLICATE)
    mean = float(grid.mean())
    flattened = mean + (grid.astype(np.float32) - mean) * PREVIEW_CONTRAST
    blurred = cv2.resize(flattened, (width, height), interpolation=cv2.INTER_CUBIC)
    out: RGBImage = np.ascontiguousarray(
        np.repeat(np.clip(np.rint(blurred), 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    )
    for box in shown:
        area = widened(box, ALERT_MARGIN, image.shape)
        out[area] = image[area]
    return out


def check_same_model(gallery: Gallery, describer: Describer) -> None:
    """Refuse to match probes against templates another model made: their scores would
    mean nothing, and no threshold could be trusted (REC-2)."""
    if gallery.model_id is not None and gallery.model_id != describer.model_id:
        raise ValueError(
            f"the watchlist's templates were made by model {gallery.model_id}, this engine "
            f"describes faces with {describer.model_id}: re-enrol the watchlist with it"
        )


def tracked_quality(quality: QualityFactors, live_gate: QualityGate) -> float:
    """The quality score the tracker ranks a face by: 0 (never described) when the live
    gate refuses the face, so that it is still tracked but never matched."""
    return quality.score if live_gate.refusal(quality) is None else 0.0


class _HealthMeter:
    """Counts for the health figures; figures only, never a face (REC-5)."""

    def __init__(self) -> None:
        self.frames = 0
        self.faces = 0
        self.descriptions = 0
        self.errors = 0
        self.last_error: str | None = None
        self._latencies_ms: deque[float] = deque(maxlen=500)
        self._window_start = time.monotonic()
        self._window_frames = 0
        self._window_faces = 0
        self._stage_seconds: dict[str, list[float]] = {}

    def described(self, faces: int) -> None:
        self.descriptions += faces

    def stage(self, name: str, seconds: float) -> None:
        self._stage_seconds.setdefault(name, []).append(seconds)

    def frame_done(self, faces: int, latency_ms: float) -> None:
        self.frames += 1
        self.faces += faces
        self._window_frames += 1
        self._window_faces += faces
        self._latencies_ms.append(latency_ms)

    def error(self, message: str) -> None:
        self.errors += 1
        self.last_error = message

    def due(self, interval_s: float) -> bool:
        return time.monotonic() - self._window_start >= interval_s

    def figures(
        self, camera: str, status: CameraStatus, dropped: int, decode_s: list[float]
    ) -> HealthFigures:
        elapsed = max(time.monotonic() - self._window_start, 1e-6)
        p50, p95 = (
            np.percentile(np.asarray(self._latencies_ms), [50, 95])
            if self._latencies_ms
            else (0.0, 0.0)
        )
        figures = HealthFigures(
            camera=camera,
            status=status,
            at=datetime.now(UTC),
            fps=self._window_frames / elapsed,
            faces_per_s=self._window_faces / elapsed,
            latency_ms_p50=float(p50),
            latency_ms_p95=float(p95),
            frames=self.frames,
            faces=self.faces,
            descriptions=self.descriptions,
            dropped_frames=dropped,
            errors=self.errors,
            last_error=self.last_error,
            stages=self._stage_times(decode_s),
        )
        self._window_start = time.monotonic()
        self._window_frames = self._window_faces = 0
        self._stage_seconds = {}
        return figures

    def _stage_times(self, decode_s: list[float]) -> dict[str, StageTimes]:
        seconds = {"decode": decode_s, **self._stage_seconds}
        return {name: StageTimes.of(times) for name, times in seconds.items() if times}


class CameraWorker:
    """Runs one camera until its source ends or `stop` is set (REC-1..5)."""

    def __init__(
        self,
        source: Source,
        engine: Engine,
        gallery: Gallery,
        config: EngineConfig,
        emit: Emit,
        *,
        preview: Callable[[PreviewFrame], None] | None = None,
        deployment_id: str | None = None,
    ) -> None:
        check_same_model(gallery, engine.describer)
        self.source = source
        self.engine = engine
        self.gallery = searched_gallery(gallery, config.decision_rule(), engine.calibration)
        self.config = config
        self._emit = emit
        self._preview = preview
        self._deployment_id = deployment_id
        self._tracker: Tracker[FaceInFrame] = Tracker(config.tracker)
        self._templates = TrackTemplates(config.track_pooling)
        self._follower = FaceFollower(engine.analyser, config.following)
        self._last_captured_at: datetime | None = None
        self._health = _HealthMeter()
        self.descriptions = 0
        """Faces described so far (a count, for benchmarks and tests; never emitted)."""

    @property
    def track_templates_held(self) -> int:
        """Live tracks whose pooled descriptions the worker holds (`track_pooling` mean;
        a count, for tests: none is left once the source ends, REC-4)."""
        return len(self._templates)

    def run(self, stop: threading.Event) -> None:
        """Process frames until the source ENDS or `stop` is set; health figures go out
        every `health_interval_s` (also while the camera is down) and once at the end."""
        try:
            while not stop.is_set():
                frame = self.source.read(self.config.read_timeout_s)
                if frame is not None:
                    self._process(frame)
                elif self.source.status is CameraStatus.ENDED:
                    break
                if self._health.due(self.config.health_interval_s):
                    self._emit_health(self.source.status)
        finally:
            self._tracker.finish()  # whatever was held about any face goes now
            self._templates.keep_only(())
            self._emit_health(self.source.status)

    def _process(self, frame: Frame) -> None:
        started = time.perf_counter()
        faces = 0
        try:
            faces = self._analyse_and_match(frame)
        except DescriberGoneError:  # no frame can be described now: the worker stops
            raise
        except Exception as error:  # one bad frame must not stop a camera
            # The message is kept to the error's type: an exception's text can carry
            # coordinates or values of a face, which must not leave the worker (REC-4).
            self._health.error(f"frame {frame.index}: {type(error).__name__}")
            logger.warning(
                "camera %s: frame %d failed: %s", frame.camera, frame.index, type(error).__name__
            )
        self._health.frame_done(faces, (time.perf_counter() - started) * 1000)

    def _analyse_and_match(self, frame: Frame) -> int:
        started = time.perf_counter()
        observations = self._observe(frame)
        self._health.stage("detect", time.perf_counter() - started)
        sightings = [self._sighting(frame, face) for face in observations]
        track_ids = self._tracker.update(sightings, frame.captured_at)
        self._templates.keep_only(track.track_id for track in self._tracker.tracks)
        chosen = self._tracker.select_for_description(frame.captured_at)
        if chosen:
            self._describe_and_match(frame, chosen)
        if self._preview is not None and self._follower.detected:
            # Only frames the detector searched whole: there an alert's box is where the
            # face is (on a followed frame it may lag behind it).
            self._show(frame, sightings, track_ids)
        return len(observations)

    def _observe(self, frame: Frame) -> list[FaceObservation]:
        """The frame's faces, detected or followed from the previous frame; after a gap
        longer than a track may last (a camera down, a stall) the frame is detected."""
        last = self._last_captured_at
        if last is not None and (frame.captured_at - last).total_seconds() > (
            self.config.tracker.max_gap_s
        ):
            self._follower.reset()
        self._last_captured_at = frame.captured_at
        return self._follower.observe(frame.image)

    def _sighting(self, frame: Frame, face: FaceObservation) -> Sighting[FaceInFrame]:
        crop = probe_crop(frame.image, face.box, self.config.probe_margin)
        quality = tracked_quality(face.quality, self.config.live_gate)
        return Sighting(face.box, quality, frame.captured_at, FaceInFrame(face, crop))

    def _describe_and_match(
        self, frame: Frame, chosen: list[tuple[int, Sighting[FaceInFrame]]]
    ) -> None:
        started = time.perf_counter()
        descriptors = self.config.description.describe(
            self.engine.describer, [s.payload.face for _, s in chosen]
        )
        described = time.perf_counter()
        self._health.stage("describe", described - started)
        self._health.described(len(chosen))
        self.descriptions += len(chosen)
        # A track's descriptions pooled (track_pooling mean) are held only while it lives.
        searched = self._templates.searched([track_id for track_id, _ in chosen], descriptors)
        ranked = self.gallery.search(searched, k=self.config.top_k)
        del descriptors, searched  # never kept: a descriptor is biometric data (REC-4)
        threshold, margin = self.config.alert_threshold, self.config.alert_margin
        confirmations = [
            confirmation
            for (track_id, sighting), candidates in zip(chosen, ranked, strict=True)
            for confirmation in self._tracker.record(
                track_id, sighting, candidates, threshold, margin
            )
        ]
        self._health.stage("match", time.perf_counter() - described)
        for confirmation in confirmations:
            self._emit(self._match_event(frame.camera, confirmation))

    def _match_event(self, camera: str, confirmed: Confirmation[FaceInFrame]) -> MatchEvent:
        evidence = confirmed.evidence
        return MatchEvent(
            deployment_id=self._deployment_id,
            camera=camera,
            track_id=confirmed.track_id,
            subject_id=confirmed.subject_id,
            list_kind=self.gallery.list_kind(confirmed.subject_id),
            score=confirmed.score,
            threshold=self.config.alert_threshold,
            observations=confirmed.observations,
            candidates=confirmed.candidates,
            box=evidence.box,
            probe_jpeg=encode_jpeg(evidence.payload.crop, self.config.probe_jpeg_quality),
            quality=evidence.payload.face.quality,
            first_seen=confirmed.first_seen,
            captured_at=evidence.at,
            emitted_at=datetime.now(UTC),
        )

    def _show(
        self, frame: Frame, sightings: Sequence[Sighting[FaceInFrame]], track_ids: Sequence[int]
    ) -> None:
        assert self._preview is not None
        alerts = tuple(
            s.box for s, t in zip(sightings, track_ids, strict=True) if self._tracker.has_alerted(t)
        )
        image = private_view(frame.image, alerts)
        self._preview(PreviewFrame(frame.camera, frame.index, frame.captured_at, image, alerts))

    def _emit_health(self, status: CameraStatus) -> None:
        figures = self._health.figures(
            self.source.camera,
            status,
            self.source.dropped_frames,
            self.source.decode_times.drain(),
        )
        update: dict[str, object] = {"deployment_id": self._deployment_id}
        if status is CameraStatus.DOWN and self.source.last_error:
            update["last_error"] = self.source.last_error  # why the camera is down (REC-5)
        self._emit(figures.model_copy(update=update))
