"""YuNet (libfacedetection) through OpenCV's `cv2.FaceDetectorYN`: fast and good at
small and turned faces. Optional: no package ships the model, so the configuration
names the ONNX file (from OpenCV's model zoo, `face_detection_yunet_*.onnx`)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field, field_validator

from lfr.vision._lazy import LazyModel
from lfr.vision.detection.base import DetectorSettings, RegionDetector, register_detector
from lfr.vision.types import RGBImage


class YuNetDetectorConfig(DetectorSettings):
    type: Literal["yunet"] = "yunet"
    model_path: Path = Field(description="The YuNet ONNX model file.")
    score_threshold: float = Field(
        default=0.8,
        ge=0.0,
        le=1.0,
        description=(
            "Faces scoring below this are dropped. Raising it removes doubtful faces (fewer "
            "false faces, more missed); lowering it keeps more."
        ),
    )
    nms_threshold: float = Field(
        default=0.3,
        gt=0.0,
        le=1.0,
        description="Overlap (IoU) above which two boxes are taken as one face.",
    )

    @field_validator("model_path")
    @classmethod
    def _model_exists(cls, path: Path) -> Path:
        if not path.is_file():
            raise ValueError(f"YuNet model file not found: {path}")
        return path


class YuNetDetector(RegionDetector):
    def __init__(self, config: YuNetDetectorConfig) -> None:
        super().__init__(config)
        self._config = config
        self._model: LazyModel[Any] = LazyModel(self._load)
        # The OpenCV object keeps its input size as state: one caller at a time.
        self._lock = threading.Lock()

    def _load(self) -> Any:
        return cv2.FaceDetectorYN.create(
            str(self._config.model_path),
            "",
            (320, 320),
            self._config.score_threshold,
            self._config.nms_threshold,
            5000,
        )

    def _detect_in(self, image: RGBImage) -> list[tuple[tuple[int, int, int, int], float]]:
        scale = 2**self._config.upsample
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        if scale > 1:
            bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        model = self._model.get()
        with self._lock:
            model.setInputSize((bgr.shape[1], bgr.shape[0]))
            _, faces = model.detect(bgr)
        if faces is None:
            return []
        found = []
        for row in np.asarray(faces, dtype=np.float64):
            x, y, w, h = (float(v) / scale for v in row[:4])
            box = (round(x), round(y), round(x + w), round(y + h))
            found.append((box, float(row[14])))
        return found


@register_detector("yunet")
def build_yunet(config: YuNetDetectorConfig) -> YuNetDetector:
    return YuNetDetector(config)
