"""The worker's small pure parts: probe crops, the private preview, configuration (REC-4/5)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from lfr.vision.describers import DlibDescriberConfig
from lfr.vision.detection import build_detector
from lfr.vision.imageio import load_image
from lfr.vision.matcher import Gallery
from lfr.vision.pipeline import (
    ALERT_MARGIN,
    PREVIEW_CONTRAST,
    PREVIEW_ROWS,
    EngineConfig,
    check_same_model,
    describer_with_threads,
    preview_grid,
    private_view,
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


def test_private_view_hides_every_face_and_shows_only_the_alerts(faces_dir: Path) -> None:
    """REC-5: a face is hidden whether or not the detector found it; an alert's box is shown."""
    image = load_image(faces_dir / "face_recognition-examples" / "two_people.jpg")
    detector = build_detector()
    found = detector.detect(image)
    assert len(found) == 2
    assert detector.detect(private_view(image, [])) == []
    shown = private_view(image, [found[0].box])
    area = widened(found[0].box, ALERT_MARGIN, image.shape)
    assert np.array_equal(shown[area], image[area])
    assert [f.box for f in detector.detect(shown)] == [found[0].box]
    assert not np.shares_memory(shown, image)


def test_private_view_is_a_grey_blur_of_a_coarse_grid() -> None:
    """Pixel-level: the view is grey, at reduced contrast, and carries no detail finer than
    its grid (it barely differs from a further blur of itself), so no face far away or
    missed survives."""
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, size=(270, 480, 3), dtype=np.uint8)
    assert preview_grid(image.shape) == (round(480 / (270 / PREVIEW_ROWS)), PREVIEW_ROWS)
    assert preview_grid((640, 360, 3))[0] == PREVIEW_ROWS  # portrait: rows along the long side
    view = private_view(image, [])
    assert view.shape == image.shape
    assert (view[:, :, 0] == view[:, :, 1]).all()
    assert (view[:, :, 1] == view[:, :, 2]).all()
    grey = view[:, :, 0].astype(np.float32)
    assert np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 2)).max() <= 2
    assert grey.std() < image.astype(np.float32).std() * PREVIEW_CONTRAST


def test_private_view_ignores_boxes_outside_the_frame() -> None:
    image = np.full((50, 50, 3), 7, dtype=np.uint8)
    assert np.array_equal(private_view(image, [Box(left=60, top=60, right=90, bottom=90)]), image)


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
