"""Face detection behind a small Protocol, chosen by configuration `type` (REC-2).

Backends: ``hog`` (dlib HOG, the default), ``mmod`` (dlib MMOD CNN), ``mmod-onnx`` (the
same network exported to ONNX, run by ONNX Runtime on the providers its settings name, a
GPU's included), ``yunet`` (OpenCV YuNet, optional: needs a model file). Adding a backend
is adding one module that defines its config (a `DetectorSettings` subclass with a `type`
literal) and a builder decorated with `register_detector`, then naming its config in
`DetectorConfig` below.
Models load lazily, under a lock, on the first `detect`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from lfr.vision.detection.base import (
    Detection,
    Detector,
    DetectorSettings,
    RegionDetector,
    builder_for,
    register_detector,
)
from lfr.vision.detection.dlib_hog import HogDetectorConfig
from lfr.vision.detection.dlib_mmod import MmodDetectorConfig
from lfr.vision.detection.mmod_onnx import MmodOnnxDetectorConfig
from lfr.vision.detection.yunet import YuNetDetectorConfig

DetectorConfig = Annotated[
    HogDetectorConfig | MmodDetectorConfig | MmodOnnxDetectorConfig | YuNetDetectorConfig,
    Field(discriminator="type"),
]
"""Any detector's configuration; ``{"type": "hog"}`` (the default) picks dlib HOG."""

DETECTOR_CONFIG_ADAPTER: TypeAdapter[DetectorConfig] = TypeAdapter(DetectorConfig)
"""Validates a plain mapping (e.g. from a settings file) into a `DetectorConfig`."""


def build_detector(config: DetectorConfig | None = None) -> Detector:
    """The detector `config` describes (dlib HOG with defaults when None). Cheap: the
    model is read on the first `detect`."""
    chosen = config if config is not None else HogDetectorConfig()
    return builder_for(chosen.type)(chosen)


__all__ = [
    "DETECTOR_CONFIG_ADAPTER",
    "Detection",
    "Detector",
    "DetectorConfig",
    "DetectorSettings",
    "HogDetectorConfig",
    "MmodDetectorConfig",
    "MmodOnnxDetectorConfig",
    "RegionDetector",
    "YuNetDetectorConfig",
    "build_detector",
    "register_detector",
]
