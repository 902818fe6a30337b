"""Milliseconds per stage of the engine on the frames of one clip: decode, detect (per
frame), landmarks, align, quality, describe (per face, each describer), match (per
probe). Medians over the clip's first frames and the faces found in them."""

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
from lfr.vision.detection import build_detector
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
