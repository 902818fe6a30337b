"""From an image to its faces: detect → landmarks → align → quality (REC-2, ADJ-1).

Describing is left out on purpose: it is the expensive step, so the tracker decides
which observations are worth a descriptor. A `FaceObservation` lives in memory only
(REC-4): it holds a face crop and is never written anywhere by this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lfr.vision.detection import Detector
from lfr.vision.landmarks import CHIP_PADDING, CHIP_SIZE, LandmarkLocator, Landmarks, align
from lfr.vision.quality import assess_quality
from lfr.vision.types import Box, QualityFactors, RGBImage


@dataclass(slots=True)
class FaceObservation:
    """One face in one image, ready to be described."""

    box: Box
    confidence: float
    landmarks: Landmarks = field(repr=False)
    chip: RGBImage = field(repr=False)
    quality: QualityFactors


class FaceAnalyser:
    """Runs detection, landmarks, alignment and quality on an image. Thread-safe as far
    as its parts are (the dlib backends are)."""

    def __init__(
        self,
        detector: Detector,
        locator: LandmarkLocator | None = None,
        *,
        chip_size: int = CHIP_SIZE,
        chip_padding: float = CHIP_PADDING,
    ) -> None:
        self.detector = detector
        self.locator = locator if locator is not None else LandmarkLocator()
        self._chip_size = chip_size
        self._chip_padding = chip_padding

    def analyse(self, image: RGBImage) -> list[FaceObservation]:
        """Every face the detector finds, in its order (most confident first)."""
        return [self.observe(image, d.box, d.confidence) for d in self.detector.detect(image)]

    def observe(self, image: RGBImage, box: Box, confidence: float = 1.0) -> FaceObservation:
        """Landmarks, chip and quality for a face whose box is already known (e.g. a
        tracker's predicted box)."""
        landmarks = self.locator.locate(image, box)
        chip = align(image, landmarks, self._chip_size, self._chip_padding)
        quality = assess_quality(image, box, landmarks, chip)
        return FaceObservation(
            box=box, confidence=confidence, landmarks=landmarks, chip=chip, quality=quality
        )
