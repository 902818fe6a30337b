"""Landmarks, alignment and quality factors (REC-2, ADJ-1)."""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import dlib
import face_recognition_models
import numpy as np
import pytest

from lfr.vision.analysis import FaceObservation
from lfr.vision.landmarks import LandmarkLocator, align, eye_centres
from lfr.vision.quality import QualityGate, assess_quality, estimate_roll_deg, estimate_yaw_deg
from lfr.vision.types import Box, QualityFactors, RGBImage

# A frontal face's 5 points (dlib order): image-right eye corners, image-left eye corners,
# nose base; eyes 40 px apart, nose centred below them.
FRONTAL = np.array([[130, 100], [110, 100], [70, 100], [90, 100], [100, 130]], dtype=np.float32)


def test_landmarks_lie_in_the_face(example_faces: Callable[[str], list[FaceObservation]]) -> None:
    [face] = example_faces("obama.jpg")
    assert face.landmarks.shape == (5, 2)
    assert face.landmarks.dtype == np.float32
    box = face.box
    assert (face.landmarks[:, 0] > box.left).all()
    assert (face.landmarks[:, 0] < box.right).all()
    left_eye, right_eye = eye_centres(face.landmarks)
    assert left_eye[0] < right_eye[0]
    assert face.landmarks[4, 1] > max(left_eye[1], right_eye[1])  # the nose is below the eyes


def test_align_is_dlibs_face_chip(
    example_image: Callable[[str], RGBImage], locator: LandmarkLocator
) -> None:
    image = example_image("obama_small.jpg")
    [rect] = dlib.get_frontal_face_detector()(image, 1)
    predictor = dlib.shape_predictor(
        face_recognition_models.pose_predictor_five_point_model_location()
    )
    expected = dlib.get_face_chip(image, predictor(image, rect), 150, 0.25)
    box = Box(left=rect.left(), top=rect.top(), right=rect.right() + 1, bottom=rect.bottom() + 1)
    chip = align(image, locator.locate(image, box))
    assert chip.shape == (150, 150, 3)
    np.testing.assert_array_equal(chip, expected)


def test_roll_and_yaw_from_synthetic_landmarks() -> None:
    assert estimate_roll_deg(FRONTAL) == pytest.approx(0.0, abs=1e-6)
    assert estimate_yaw_deg(FRONTAL) == pytest.approx(0.0, abs=1e-6)

    angle = math.radians(20)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    tilted = ((FRONTAL - 100) @ rotation.T + 100).astype(np.float32)
    assert estimate_roll_deg(tilted) == pytest.approx(20.0, abs=1e-4)
    assert estimate_yaw_deg(tilted) == pytest.approx(0.0, abs=1e-4)

    turned = FRONTAL.copy()
    turned[4, 0] += 24.0  # nose shifted by 0.6 × the eye distance: tan(yaw) = 1
    assert estimate_yaw_deg(turned) == pytest.approx(45.0, abs=1e-4)


def test_quality_of_a_good_portrait(example_faces: Callable[[str], list[FaceObservation]]) -> None:
    [face] = example_faces("obama.jpg")
    q = face.quality
    assert q.inter_eye_px > 80
    assert q.face_height_px == face.box.height
    assert abs(q.yaw_deg) < 15
    assert abs(q.roll_deg) < 10
    assert 60 < q.brightness < 200
    assert q.score > 0.9
    assert QualityGate.for_enrolment().refusal(q) is None


def test_blur_and_darkness_lower_their_factors(
    example_image: Callable[[str], RGBImage],
    example_faces: Callable[[str], list[FaceObservation]],
    locator: LandmarkLocator,
) -> None:
    image = example_image("obama.jpg")
    [face] = example_faces("obama.jpg")
    blurred = cv2.GaussianBlur(image, (0, 0), 6)
    dark = (image * 0.25).astype(np.uint8)
    for changed in (blurred, dark):
        landmarks = locator.locate(changed, face.box)
        q = assess_quality(changed, face.box, landmarks, align(changed, landmarks))
        assert q.score < face.quality.score
    q_blur = assess_quality(blurred, face.box, face.landmarks, align(blurred, face.landmarks))
    q_dark = assess_quality(dark, face.box, face.landmarks, align(dark, face.landmarks))
    assert q_blur.sharpness < face.quality.sharpness / 5
    assert q_dark.brightness < face.quality.brightness / 3
    # Sharpness is measured at a reference contrast, so darkness alone does not read as blur.
    assert q_dark.sharpness > face.quality.sharpness / 3


def _factors(**changes: float) -> QualityFactors:
    good = {
        "inter_eye_px": 60.0,
        "face_height_px": 150.0,
        "sharpness": 100.0,
        "brightness": 128.0,
        "contrast": 45.0,
        "yaw_deg": 3.0,
        "roll_deg": 2.0,
        "score": 0.95,
    }
    return QualityFactors(**(good | changes))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"inter_eye_px": 25.0}, "face too small: eyes 25 px apart, at least 40 needed"),
        ({"sharpness": 5.0}, "blurred: sharpness 5.0, at least 20.0 needed"),
        ({"yaw_deg": -35.0}, "turned away: head turned 35°, at most 25° allowed"),
        ({"roll_deg": 40.0}, "tilted: head tilted 40°, at most 25° allowed"),
        ({"brightness": 20.0}, "too dark: brightness 20, at least 50 needed"),
        ({"brightness": 240.0}, "too bright: brightness 240, at most 215 allowed"),
        ({"contrast": 8.0}, "low contrast: contrast 8.0, at least 20.0 needed"),
        ({"score": 0.1}, "poor quality: quality score 0.10, at least 0.30 needed"),
    ],
)
def test_enrolment_gate_names_each_reason(changes: dict[str, float], reason: str) -> None:
    assert QualityGate.for_enrolment().refusal(_factors(**changes)) == reason


def test_live_gate_is_more_lenient_than_enrolment() -> None:
    distant = _factors(inter_eye_px=25.0, score=0.5)
    assert QualityGate().refusal(distant) is None
    assert QualityGate.for_enrolment().refusal(distant) is not None
    assert QualityGate().refusal(_factors(inter_eye_px=12.0)) is not None
