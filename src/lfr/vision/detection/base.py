"""What every face detector shares: the result type, the Protocol, the common settings
and the region-of-interest / minimum-size handling (REC-2)."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from lfr.vision.types import Box, RGBImage


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

    def detect(self, image: RGBImage) -> list[Detection]:
        height, width = image.shape[:2]
        region = self._settings.region_of_interest
        left, top = 0, 0
        if region is not None:
            left, top = max(region.left, 0), max(region.top, 0)
            right, bottom = min(region.right, width), min(region.bottom, height)
            if right <= left or bottom <= top:
                return []  # the region lies outside this frame
            image = image[top:bottom, left:right]
        scale = self._scale_for(image.shape[1])
        found = []
        # Contiguous (a copy only when it is not): dlib reads a non-contiguous array's
        # memory as if it were contiguous and silently finds nothing, or the wrong pixels.
        searched = np.ascontiguousarray(shrink(self._searched_image(image), scale))
        for box, confidence in self._detect_in(searched):
            placed = _clip(scale_box(box, scale), left, top, width, height)
            if placed is None:
                continue
            if min(placed.width, placed.height) < self._settings.min_face_px:
                continue
            found.append(Detection(box=placed, confidence=confidence))
        found.sort(key=lambda d: d.confidence, reverse=True)
        return found

    def _scale_for(self, width: int) -> float:
        """The shrink factor for an image `width` pixels wide (1 = full resolution)."""
        scale = self._settings.detect_scale
        cap = self._settings.max_detect_width
        if cap is not None and width * scale > cap:
            scale = cap / width
        return scale

    def _searched_image(self, image: RGBImage) -> RGBImage:
        """What the backend searches, before shrinking: the frame itself unless a backend
        needs less of it (HOG: grey)."""
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


def _clip(box: tuple[int, int, int, int], dx: int, dy: int, width: int, height: int) -> Box | None:
    left = max(box[0] + dx, 0)
    top = max(box[1] + dy, 0)
    right = min(box[2] + dx, width)
    bottom = min(box[3] + dy, height)
    if right <= left or bottom <= top:
        return None
    return Box(left=left, top=top, right=right, bottom=bottom)
