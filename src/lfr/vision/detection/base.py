"""What every face detector shares: the result type, the Protocol, the common settings
and the region-of-interest / minimum-size handling (REC-2)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

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
    """Crops to the region of interest, runs the backend, maps boxes back to the frame,
    clips them to it and drops faces smaller than `min_face_px` — so that a backend
    only implements `_detect_in(crop)`."""

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
        found = []
        for box, confidence in self._detect_in(image):
            placed = _clip(box, left, top, width, height)
            if placed is None:
                continue
            if min(placed.width, placed.height) < self._settings.min_face_px:
                continue
            found.append(Detection(box=placed, confidence=confidence))
        found.sort(key=lambda d: d.confidence, reverse=True)
        return found

    @abstractmethod
    def _detect_in(self, image: RGBImage) -> list[tuple[tuple[int, int, int, int], float]]:
        """Faces in `image` as ((left, top, right, bottom), confidence), right/bottom
        exclusive, possibly reaching past the image's edges."""


def _clip(box: tuple[int, int, int, int], dx: int, dy: int, width: int, height: int) -> Box | None:
    left = max(box[0] + dx, 0)
    top = max(box[1] + dy, 0)
    right = min(box[2] + dx, width)
    bottom = min(box[3] + dy, height)
    if right <= left or bottom <= top:
        return None
    return Box(left=left, top=top, right=right, bottom=bottom)
