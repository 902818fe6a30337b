"""The worker's small pure parts: probe crops, preview blurring, configuration (REC-4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from lfr.vision.describers import DlibDescriberConfig
from lfr.vision.detection import build_detector
from lfr.vision.imageio import load_image
from lfr.vision.matcher import Gallery
from lfr.vision.pipeline import (
    BLUR_MARGIN,
    EngineConfig,
    blur_faces,
    check_same_model,
    describer_with_threads,
    probe_crop,
    threads_per_worker,
    widened,
)
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD
from lfr.vision.types import Box


def test_probe_crop_adds_the_margin_and_stays_inside_the_frame() -> None:
    image = np.arange(100 * 200 * 3, dtype=np.uint8).reshape(100, 200, 3)
    assert probe_crop(image, Box(left=50, top=30, right=90, bottom=60), 0.5).shape == (60, 80, 3)
    assert probe_crop(image, Box(left=0, top=0, right=40, bottom=40), 0.5).shape == (60, 60, 3)
    assert probe_crop(image, Box(left=180, top=80, right=200, bottom=100), 1.0).shape == (
        40,
        40,
        3,
    )


def test_blurred_face_can_no_longer_be_found_and_the_rest_is_untouched(faces_dir: Path) -> None:
    image = load_image(faces_dir / "face_recognition-examples" / "obama.jpg")
    detector = build_detector()
    (found,) = detector.detect(image)
    blurred = blur_faces(image, [found.box])
    assert detector.detect(blurred) == []
    outside = np.ones(image.shape[:2], dtype=bool)
    outside[widened(found.box, BLUR_MARGIN, image.shape)] = False
    assert not np.array_equal(blurred[~outside], image[~outside])
    assert np.array_equal(blurred[outside], image[outside])
    assert not np.shares_memory(blurred, image)


def test_blur_ignores_boxes_outside_the_frame() -> None:
    image = np.full((50, 50, 3), 7, dtype=np.uint8)
    assert np.array_equal(blur_faces(image, [Box(left=60, top=60, right=90, bottom=90)]), image)


def test_engine_config_defaults_to_the_shipped_threshold() -> None:
    assert EngineConfig().alert_threshold == DEFAULT_ALERT_THRESHOLD


@pytest.mark.parametrize(
    "settings",
    [
        {"alert_threshold": 1.5},
        {"top_k": 0},
        {"tracker": {"min_confirmations": 0}},
        {"detector": {"type": "no-such-detector"}},
        {"unknown": 1},
    ],
)
def test_engine_config_refuses_what_makes_no_sense(settings: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        EngineConfig.model_validate(settings)


def test_engine_config_reads_a_nested_mapping() -> None:
    config = EngineConfig.model_validate(
        {
            "alert_threshold": 0.95,
            "detector": {"type": "hog", "upsample": 1},
            "tracker": {"max_descriptions": 3},
        }
    )
    assert (config.alert_threshold, config.detector.upsample, config.tracker.max_descriptions) == (
        0.95,
        1,
        3,
    )


class _Describer:
    model_id = "model-b"


@pytest.mark.parametrize(
    ("gallery_model", "refused"), [("model-a", True), ("model-b", False), (None, False)]
)
def test_templates_of_another_model_are_refused(gallery_model: str | None, refused: bool) -> None:
    """REC-2: scores between descriptors of two models mean nothing."""
    gallery = Gallery.build(["s"], np.ones((1, 128), dtype=np.float32), model_id=gallery_model)
    if refused:
        with pytest.raises(ValueError, match=r"model model-a.*with model-b"):
            check_same_model(gallery, _Describer())  # type: ignore[arg-type]
    else:
        check_same_model(gallery, _Describer())  # type: ignore[arg-type]


def test_threads_are_divided_among_workers() -> None:
    """REC-1: 8 camera workers on 2 cores get one thread each, not two each."""
    assert threads_per_worker(1, cores=2) == 2
    assert threads_per_worker(8, cores=2) == 1
    assert threads_per_worker(2, cores=16) == 8
    assert describer_with_threads(DlibDescriberConfig(), 1).intra_op_threads == 1
    own = DlibDescriberConfig(intra_op_threads=2)
    assert describer_with_threads(own, 1).intra_op_threads == 2
    assert describer_with_threads(DlibDescriberConfig(), 0).intra_op_threads == 0
