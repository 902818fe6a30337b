"""dlib's MMOD CNN face detector (model from face-recognition-models): finds more
turned and partly hidden faces than HOG, but takes seconds per frame on a CPU — use it
for enrolment or offline work, not for live video without a GPU build of dlib."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from lfr.vision.detection._dlib import DlibDetector, exclusive_box
from lfr.vision.detection.base import DetectorSettings, register_detector
from lfr.vision.types import RGBImage


class MmodSettings(DetectorSettings):
    """What both MMOD backends (dlib's own and its ONNX export) take."""

    min_confidence: float = Field(
        default=0.0,
        ge=-5.0,
        le=5.0,
        description=(
            "Detections below this MMOD score are dropped. Raising it removes doubtful faces "
            "(fewer false faces, more missed); lowering it keeps more."
        ),
    )


class MmodDetectorConfig(MmodSettings):
    type: Literal["mmod"] = "mmod"


def _load_mmod() -> Any:
    import dlib
    import face_recognition_models

    return dlib.cnn_face_detection_model_v1(
        face_recognition_models.cnn_face_detector_model_location()
    )


class MmodDetector(DlibDetector[MmodDetectorConfig]):
    def __init__(self, config: MmodDetectorConfig) -> None:
        super().__init__(config, _load_mmod)

    def _detect_in(self, image: RGBImage) -> list[tuple[tuple[int, int, int, int], float]]:
        model = self._model.get()
        with self._lock:
            found = model(image, self._config.upsample)
        return [
            (exclusive_box(d.rect), float(d.confidence))
            for d in found
            if d.confidence >= self._config.min_confidence
        ]


@register_detector("mmod")
def build_mmod(config: MmodDetectorConfig) -> MmodDetector:
    return MmodDetector(config)
