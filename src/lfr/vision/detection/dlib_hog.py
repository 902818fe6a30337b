"""dlib's HOG + linear SVM frontal face detector: the default (fast on a CPU, frontal
faces of about 80 px and more; smaller with `upsample`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from lfr.vision.detection._dlib import DlibDetector, exclusive_box
from lfr.vision.detection.base import DetectorSettings, register_detector
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


def _load_hog() -> Any:
    import dlib

    return dlib.get_frontal_face_detector()


class HogDetector(DlibDetector[HogDetectorConfig]):
    def __init__(self, config: HogDetectorConfig) -> None:
        super().__init__(config, _load_hog)

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
