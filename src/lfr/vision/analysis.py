"""From an image to its faces: detect → landmarks → align → quality (REC-2, ADJ-1).

Describing is left out on purpose: it is the expensive step, so the tracker decides
which observations are worth a descriptor. A `FaceObservation` lives in memory only
(REC-4): it holds a face crop and is never written anywhere by this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lfr.vision.alignment import DLIB_CHIP, ChipAlignment, DlibChip, cut_chip
from lfr.vision.detection import Detector, RegionDetector
from lfr.vision.detection.base import GreyImage
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
    """The analyser's own chip (dlib's, 150 px): quality is measured on it."""
    quality: QualityFactors
    chip_alignment: ChipAlignment = DLIB_CHIP
    describer_chips: dict[ChipAlignment, RGBImage] = field(default_factory=dict, repr=False)
    """The chips cut for the engine's describers where they take another crop."""

    def chip_for(self, alignment: ChipAlignment) -> RGBImage:
        """The face cut as `alignment` says; the analyser must have been asked for it."""
        if alignment == self.chip_alignment:
            return self.chip
        try:
            return self.describer_chips[alignment]
        except KeyError:
            raise ValueError(
                f"no {alignment.kind} chip of size {alignment.size} was cut for this face: "
                "give the describer's alignments to the FaceAnalyser"
            ) from None


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
        alignments: Sequence[ChipAlignment] = (),
    ) -> None:
        """`alignments`: the crops the describers need (`Describer.alignments`), cut from
        the frame beside the analyser's own chip."""
        self.detector = detector
        self.locator = locator if locator is not None else LandmarkLocator()
        self._chip_size = chip_size
        self._chip_padding = chip_padding
        self.chip_alignment = DlibChip(size=chip_size, padding=chip_padding)
        self.alignments = tuple(dict.fromkeys(a for a in alignments if a != self.chip_alignment))

    def analyse(
        self,
        image: RGBImage,
        regions: Sequence[Box] | None = None,
        *,
        grey: GreyImage | None = None,
    ) -> list[FaceObservation]:
        """Every face the detector finds, in its order (most confident first); only in
        `regions` (whole-frame boxes) when given and the detector can search parts of a
        frame (`RegionDetector`: every shipped backend), else in the whole frame. `grey`:
        the frame turned grey, when the caller has it (HOG searches it, not converting
        the frame again)."""
        if not isinstance(self.detector, RegionDetector):
            found = self.detector.detect(image)
        elif regions is not None:
            found = self.detector.detect_regions(image, regions, grey=grey)
        else:
            found = self.detector.detect(image, grey=grey)
        return [self.observe(image, d.box, d.confidence) for d in found]

    def observe(
        self,
        image: RGBImage,
        box: Box,
        confidence: float = 1.0,
        landmarks: Landmarks | None = None,
    ) -> FaceObservation:
        """Landmarks, chip and quality for a face whose box is already known (e.g. a
        tracker's predicted box); `landmarks` when already known (followed by optical
        flow), else located in the box."""
        if landmarks is None:
            landmarks = self.locator.locate(image, box)
        chip = align(image, landmarks, self._chip_size, self._chip_padding)
        quality = assess_quality(image, box, landmarks, chip)
        return FaceObservation(
            box=box,
            confidence=confidence,
            landmarks=landmarks,
            chip=chip,
            quality=quality,
            chip_alignment=self.chip_alignment,
            describer_chips={a: cut_chip(image, box, landmarks, a) for a in self.alignments},
        )

    def cutting(self, alignments: Sequence[ChipAlignment]) -> FaceAnalyser:
        """This analyser if it cuts every one of `alignments`, else one with the same
        detector and landmarks that also cuts them."""
        missing = [a for a in alignments if a != self.chip_alignment and a not in self.alignments]
        if not missing:
            return self
        return FaceAnalyser(
            self.detector,
            self.locator,
            chip_size=self._chip_size,
            chip_padding=self._chip_padding,
            alignments=(*self.alignments, *missing),
        )
