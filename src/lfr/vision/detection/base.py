"""What every face detector shares: the result type, the Protocol, the common settings
and the region-of-interest / minimum-size handling (REC-2)."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from lfr.vision.types import Box, RGBImage

GreyImage = NDArray[np.uint8]
"""A frame turned grey (`cv2.COLOR_RGB2GRAY`), same height and width."""


@dataclass(frozen=True, slots=True)
class Detection:
    """A face found in an image: its box (pixels of that image) and the detector's
    confidence (each backend's own scale: compare only within one backend)."""

    box: Box
    confidence: float


class Detector(Protocol):
    """Finds faces in an RGB image."""

    def detect(self, image: RGBImage) -> list[Detection]: ...


class DetectorSettings(BaseModel):
    """Settings every detector backend takes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    upsample: int = Field(
        default=0,
        ge=0,
        le=3,
        description=(
            "How many times the image is doubled before detecting. Each step finds faces half "
            "as large (HOG's smallest is about 80 px without upsampling, 40 px with one) but "
            "costs about four times the time."
        ),
    )
    min_face_px: int = Field(
        default=0,
        ge=0,
        le=4096,
        description=(
            "Faces whose box is narrower or shorter than this are dropped. Raising it ignores "
            "distant faces (fewer, better probes, faster); lowering it lets tiny faces through, "
            "which are the ones that produce false matches."
        ),
    )
    detect_scale: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description=(
            "The frame (or region) is shrunk by this factor before detection; the boxes "
            "are mapped back to full resolution, where landmarks, the aligned chip and "
            "the description are still taken, so a face that is found is described as "
            "well as before. Lowering it cuts detection time with the square of the "
            "factor (0.5: about a quarter) but the smallest face found grows by its "
            "inverse (HOG: about 80 px / scale); 1 detects at full resolution."
        ),
    )
    max_detect_width: int | None = Field(
        default=None,
        ge=64,
        le=8192,
        description=(
            "Frames (or regions) wider than this are shrunk to this width before detection "
            "(on top of `detect_scale`), boxes mapped back as above. A camera of higher "
            "resolution frames the same people larger, so a width cap keeps detection cost "
            "and the smallest face found in proportion: at 960, HOG finds faces of about "
            "80 px in a 960-wide frame, 107 px at 720p (1280 wide), 160 px at 1080p. "
            "Lowering it is faster and misses smaller faces; None never shrinks by width."
        ),
    )
    region_of_interest: Box | None = Field(
        default=None,
        description=(
            "Only this part of the frame is searched (e.g. the walkway the camera watches); "
            "boxes stay in whole-frame coordinates. None searches the whole frame."
        ),
    )


REGION_GRID = 32
"""Searched regions start on multiples of this many pixels (see `detect_regions`): a
multiple of the shrinking's period at the usual scales (3 of 4 pixels at 720p, 1 of 2 at
1080p) and of HOG's 8-pixel cells after it."""

ConfigT = TypeVar("ConfigT", bound=DetectorSettings)
_BUILDERS: dict[str, Callable[[Any], Detector]] = {}


def register_detector(
    type_name: str,
) -> Callable[[Callable[[ConfigT], Detector]], Callable[[ConfigT], Detector]]:
    """Register a backend's builder under its config's `type` value."""

    def decorate(builder: Callable[[ConfigT], Detector]) -> Callable[[ConfigT], Detector]:
        if type_name in _BUILDERS:
            raise ValueError(f"detector type {type_name!r} is already registered")
        _BUILDERS[type_name] = builder
        return builder

    return decorate


def builder_for(type_name: str) -> Callable[[Any], Detector]:
    try:
        return _BUILDERS[type_name]
    except KeyError:
        known = ", ".join(sorted(_BUILDERS))
        raise ValueError(f"unknown detector type {type_name!r} (known: {known})") from None


class RegionDetector(ABC):
    """Crops to the region of interest, shrinks it (`detect_scale`, `max_detect_width`;
    REC-2: detection cost is set by the operator, not by the camera), runs the backend,
    maps boxes back to the full-resolution frame, clips them to it and drops faces
    smaller than `min_face_px` — so that a backend only implements `_detect_in(crop)`."""

    def __init__(self, settings: DetectorSettings) -> None:
        self._settings = settings

    def detect(self, image: RGBImage, *, grey: GreyImage | None = None) -> list[Detection]:
        """Faces in the frame (within the region of interest). `grey`: the frame already
        turned grey by the caller (the camera worker needs it anyway, for following),
        used by a backend that searches grey (HOG) instead of converting the frame again."""
        height, width = image.shape[:2]
        area = self._searched_area(width, height)
        if area is None:
            return []  # the region of interest lies outside this frame
        left, top, right, bottom = area
        scale = self._scale_for(right - left)
        found = self._search(image, (left, top, right, bottom), scale, grey)
        found.sort(key=lambda d: d.confidence, reverse=True)
        return found

    def detect_regions(
        self, image: RGBImage, regions: Sequence[Box], *, grey: GreyImage | None = None
    ) -> list[Detection]:
        """Faces in `regions` of `image` only (whole-frame boxes, each searched on its
        own, within the region of interest), at the scale a whole-frame search would use,
        so that a face found is the face `detect` would find there. Each region's corner
        is moved up and left onto a grid of `REGION_GRID` pixels (counted from the
        searched area's corner) so that the shrunk pixels and the detector's cells fall as
        in the whole frame."""
        height, width = image.shape[:2]
        area = self._searched_area(width, height)
        if area is None:
            return []
        scale = self._scale_for(area[2] - area[0])
        found: list[Detection] = []
        for region in regions:
            left = area[0] + max(0, region.left - area[0]) // REGION_GRID * REGION_GRID
            top = area[1] + max(0, region.top - area[1]) // REGION_GRID * REGION_GRID
            right, bottom = min(area[2], region.right), min(area[3], region.bottom)
            if right > left and bottom > top:
                found += self._search(image, (left, top, right, bottom), scale, grey)
        found.sort(key=lambda d: d.confidence, reverse=True)
        kept: list[Detection] = []
        for detection in found:  # a face across two regions' edges, found in both: once
            if all(_iou(detection.box, k.box) < 0.5 for k in kept):
                kept.append(detection)
        return kept

    def _searched_area(self, width: int, height: int) -> tuple[int, int, int, int] | None:
        """(left, top, right, bottom) of what is searched: the region of interest within
        the frame, or the whole frame; None when the region lies outside it."""
        region = self._settings.region_of_interest
        if region is None:
            return 0, 0, width, height
        left, top = max(region.left, 0), max(region.top, 0)
        right, bottom = min(region.right, width), min(region.bottom, height)
        if right <= left or bottom <= top:
            return None
        return left, top, right, bottom

    def _search(
        self,
        image: RGBImage,
        area: tuple[int, int, int, int],
        scale: float,
        grey: GreyImage | None = None,
    ) -> list[Detection]:
        """Faces in `area` of `image`, shrunk by `scale`, in whole-frame boxes."""
        height, width = image.shape[:2]
        left, top, right, bottom = area
        crop = image[top:bottom, left:right]
        grey_crop = None if grey is None else grey[top:bottom, left:right]
        # Contiguous (a copy only when it is not): dlib reads a non-contiguous array's
        # memory as if it were contiguous and silently finds nothing, or the wrong pixels.
        searched = np.ascontiguousarray(shrink(self._searched_image(crop, grey_crop), scale))
        found = []
        for box, confidence in self._detect_in(searched):
            placed = _clip(scale_box(box, scale), left, top, width, height)
            if placed is None:
                continue
            if min(placed.width, placed.height) < self._settings.min_face_px:
                continue
            found.append(Detection(box=placed, confidence=confidence))
        return found

    def _scale_for(self, width: int) -> float:
        """The shrink factor for an image `width` pixels wide (1 = full resolution)."""
        scale = self._settings.detect_scale
        cap = self._settings.max_detect_width
        if cap is not None and width * scale > cap:
            scale = cap / width
        return scale

    def _searched_image(self, image: RGBImage, grey: GreyImage | None = None) -> RGBImage:
        """What the backend searches, before shrinking: the frame itself unless a backend
        needs less of it (HOG: grey, `grey` when the caller has it already)."""
        return image

    @abstractmethod
    def _detect_in(self, image: RGBImage) -> list[tuple[tuple[int, int, int, int], float]]:
        """Faces in `image` as ((left, top, right, bottom), confidence), right/bottom
        exclusive, possibly reaching past the image's edges."""


def shrink(image: RGBImage, scale: float) -> RGBImage:
    """`image` resized by `scale` (area averaging, which keeps the edges HOG relies on
    without aliasing); the image itself when `scale` is 1."""
    if scale >= 1.0:
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def scale_box(box: tuple[int, int, int, int], scale: float) -> tuple[int, int, int, int]:
    """A box found in an image shrunk by `scale`, in the pixels of the original."""
    if scale >= 1.0:
        return box
    left, top, right, bottom = box
    return (
        math.floor(left / scale),
        math.floor(top / scale),
        math.ceil(right / scale),
        math.ceil(bottom / scale),
    )


def _iou(a: Box, b: Box) -> float:
    width = min(a.right, b.right) - max(a.left, b.left)
    height = min(a.bottom, b.bottom) - max(a.top, b.top)
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / float(a.width * a.height + b.width * b.height - inter)


def _clip(box: tuple[int, int, int, int], dx: int, dy: int, width: int, height: int) -> Box | None:
    left = max(box[0] + dx, 0)
    top = max(box[1] + dy, 0)
    right = min(box[2] + dx, width)
    bottom = min(box[3] + dy, height)
    if right <= left or bottom <= top:
        return None
    return Box(left=left, top=top, right=right, bottom=bottom)
