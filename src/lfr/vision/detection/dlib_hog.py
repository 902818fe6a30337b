"""dlib's HOG + linear SVM frontal face detector: the default (fast on a CPU, frontal
faces of about 80 px and more; smaller with `upsample`)."""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field

from lfr.vision.detection._dlib import DlibDetector, exclusive_box
from lfr.vision.detection.base import DetectorSettings, GreyImage, register_detector
from lfr.vision.types import RGBImage


class HogDetectorConfig(DetectorSettings):
    type: Literal["hog"] = "hog"
    adjust_threshold: float = Field(
        default=0.0,
        ge=-1.0,
        le=2.0,
        description=(
            "Added to the SVM's decision threshold. Raising it drops weak detections (fewer "
            "false faces, more missed ones); lowering it finds more faces and more non-faces."
        ),
    )
    grey: bool = Field(
        default=True,
        description=(
            "Search a grey copy of the frame. dlib's HOG takes, per pixel, the strongest "
            "gradient of the three colour channels; on grey it computes one, which cut its "
            "CPU time per 720p frame by about a fifth (docs/evaluation.md) with the same "
            "faces found within one in a hundred. False: search the colour frame."
        ),
    )


def _load_hog() -> Any:
    import dlib

    return dlib.get_frontal_face_detector()


class HogDetector(DlibDetector[HogDetectorConfig]):
    def __init__(self, config: HogDetectorConfig) -> None:
        super().__init__(config, _load_hog)

    def _searched_image(self, image: RGBImage, grey: GreyImage | None = None) -> RGBImage:
        if not self._config.grey or image.ndim != 3:
            return image
        if grey is not None:
            return grey  # the caller's grey copy: the same pixels, converted once a frame
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), dtype=np.uint8)

    def _detect_in(self, image: RGBImage) -> list[tuple[tuple[int, int, int, int], float]]:
        model = self._model.get()
        with self._lock:
            rects, scores, _ = model.run(
                image, self._config.upsample, self._config.adjust_threshold
            )
        return [(exclusive_box(r), float(s)) for r, s in zip(rects, scores, strict=True)]


@register_detector("hog")
def build_hog(config: HogDetectorConfig) -> HogDetector:
    return HogDetector(config)
