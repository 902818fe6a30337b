"""Milliseconds per stage of the engine on the frames of one clip: decode, detect (per
frame, the engine's default detector), landmarks, align, quality, describe (per face,
each describer, one at a time and in a batch of 8), match (per probe). Medians over the
clip's first frames and the faces found in them. Also each detector setting an operator
can choose (HOG at full resolution, shrunk, upsampled; MMOD; YuNet when its model is
at hand): ms per frame and faces found."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from benchmarks.common import describer_config
from lfr.vision.describers import build_describer
from lfr.vision.detection import (
    Detector,
    DetectorConfig,
    HogDetectorConfig,
    MmodDetectorConfig,
    YuNetDetectorConfig,
    build_detector,
)
from lfr.vision.landmarks import LandmarkLocator, align
from lfr.vision.matcher import Gallery
from lfr.vision.pipeline import EngineConfig
from lfr.vision.quality import assess_quality
from lfr.vision.types import Box, RGBImage

T = TypeVar("T")


@dataclass(frozen=True)
class StageTimes:
    clip: str
    resolution: str
    frames: int
    faces: int
    decode_ms: float
    detect_ms: float
    landmarks_ms: float
    align_ms: float
    quality_ms: float
    describe_ms: dict[str, float]
    batch_describe_ms: dict[str, float]
    match_ms: float


def timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = action()
    return result, (time.perf_counter() - started) * 1000


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def decode(clip: Path, max_frames: int) -> tuple[list[RGBImage], list[float]]:
    """Frames as RGB and the ms each took to decode (and convert, as the engine does)."""
    capture = cv2.VideoCapture(str(clip))
    frames, times = [], []
    while len(frames) < max_frames:
        started = time.perf_counter()
        ok, image = capture.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)))
        times.append((time.perf_counter() - started) * 1000)
    capture.release()
    return frames, times


def measure(clip: Path, max_frames: int, describers: Sequence[str], gallery: Gallery) -> StageTimes:
    frames, decode_times = decode(clip, max_frames)
    detector, locator = build_detector(EngineConfig().detector), LandmarkLocator()
    detector.detect(frames[0])  # load the model outside the timings
    detect_times, landmark_times, align_times, quality_times = [], [], [], []
    chips: list[RGBImage] = []
    for frame in frames:
        detections, ms = timed(lambda frame=frame: detector.detect(frame))
        detect_times.append(ms)
        for detection in detections:
            box: Box = detection.box
            landmarks, ms = timed(lambda f=frame, b=box: locator.locate(f, b))
            landmark_times.append(ms)
            chip, ms = timed(lambda f=frame, lm=landmarks: align(f, lm))
            align_times.append(ms)
            _, ms = timed(lambda f=frame, b=box, lm=landmarks, c=chip: assess_quality(f, b, lm, c))
            quality_times.append(ms)
            chips.append(chip)
    describe_ms = {name: _describe_ms(name, chips) for name in describers}
    match_ms = _match_ms(gallery, chips, describers[0]) if chips else float("nan")
    height, width = frames[0].shape[:2]
    return StageTimes(
        clip=clip.parent.name if clip.name == "clip.mp4" else clip.name,
        resolution=f"{width}×{height}",
        frames=len(frames),
        faces=len(chips),
        decode_ms=_median(decode_times),
        detect_ms=_median(detect_times),
        landmarks_ms=_median(landmark_times),
        align_ms=_median(align_times),
        quality_ms=_median(quality_times),
        describe_ms=describe_ms,
        batch_describe_ms={
            name: batch_describe_ms(name, chips) if chips else float("nan") for name in describers
        },
        match_ms=match_ms,
    )


def _describe_ms(name: str, chips: Sequence[RGBImage], most: int = 24) -> float:
    """Per face, one face at a time (what the engine does for one track)."""
    if not chips:
        return float("nan")
    describer = build_describer(describer_config(name))
    describer.describe(chips[:1])  # load the model outside the timings
    sample = list(chips[:most])
    return _median([timed(lambda c=chip: describer.describe([c]))[1] for chip in sample])


def _match_ms(gallery: Gallery, chips: Sequence[RGBImage], describer_name: str) -> float:
    describer = build_describer(describer_config(describer_name))
    probes = describer.describe(list(chips[:16]))
    return _median([timed(lambda p=row: gallery.search(p[None, :], k=5))[1] for row in probes])


@dataclass(frozen=True)
class DetectorTime:
    clip: str
    setting: str
    faces: int
    ms: float


def _detector_settings(yunet: Path | None) -> list[tuple[str, DetectorConfig]]:
    """The detector settings an operator chooses between (REC-2): the engine's default,
    full-resolution HOG (the naive loop's), HOG shrunk and upsampled, YuNet, MMOD."""
    settings: list[tuple[str, DetectorConfig]] = [
        ("engine default (HOG, ≤ 960 px wide)", EngineConfig().detector),
        ("HOG full resolution", HogDetectorConfig()),
        ("HOG detect_scale 0.5", HogDetectorConfig(detect_scale=0.5)),
        ("HOG upsample 1", HogDetectorConfig(upsample=1)),
        ("MMOD CNN", MmodDetectorConfig()),
    ]
    if yunet is not None and yunet.is_file():
        settings.append(("YuNet", YuNetDetectorConfig(model_path=yunet)))
    return settings


def detector_times(clip: Path, frame_count: int, yunet: Path | None) -> list[DetectorTime]:
    """Median ms per frame and faces found in the clip's first frames, per detector
    setting (MMOD, about 1.5 s per 640×360 frame, on two frames only)."""
    frames, _ = decode(clip, frame_count)
    rows = []
    for name, config in _detector_settings(yunet):
        detector = build_detector(config)
        detector.detect(frames[0])  # load the model outside the timings
        sample = frames[:2] if isinstance(config, MmodDetectorConfig) else frames
        found = [_timed_detect(detector, frame) for frame in sample]
        rows.append(
            DetectorTime(
                clip=clip.parent.name if clip.name == "clip.mp4" else clip.name,
                setting=name,
                faces=sum(count for count, _ in found),
                ms=_median([ms for _, ms in found]),
            )
        )
    return rows


def _timed_detect(detector: Detector, frame: RGBImage) -> tuple[int, float]:
    started = time.perf_counter()
    count = len(detector.detect(frame))
    return count, (time.perf_counter() - started) * 1000


def batch_describe_ms(name: str, chips: Sequence[RGBImage], batch: int = 8) -> float:
    """Per face, `batch` faces in one call (what the engine does for a crowd frame)."""
    describer = build_describer(describer_config(name))
    sample = [chips[i % len(chips)] for i in range(batch)]
    describer.describe(sample)  # load the model outside the timings
    return _median([timed(lambda: describer.describe(sample))[1] / batch for _ in range(3)])
