"""Face quality: the factors an operator needs beside an alert (ADJ-1), one 0–1 score the
engine ranks a track's frames by (REC-2), and the gate that refuses a poor watchlist
image with its reason (WL-5).

All factors are measured on what the describer will see — the aligned chip — except the
sizes, which are measured in the original image (a small face scaled up to a 150 px chip
looks blurred on the chip, which is the point: the describer gets no more detail than
the camera captured).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from lfr.vision.landmarks import Landmarks, eye_centres
from lfr.vision.types import Box, QualityFactors, RGBImage

if TYPE_CHECKING:
    from lfr.vision.analysis import FaceAnalyser, FaceObservation

NOSE_DEPTH_RATIO = 0.6
"""How far the nose base stands in front of the eyes, as a fraction of the distance
between the eyes (an average adult head); turns the nose's sideways offset into a yaw."""

REFERENCE_CONTRAST = 40.0
"""Luma standard deviation of a well-exposed face chip; sharpness is expressed at it."""

# Where each factor's contribution to the score reaches 1 (fully usable): above these the
# factor no longer limits recognition.
_GOOD_INTER_EYE_PX = 40.0
_GOOD_SHARPNESS = 60.0
_GOOD_CONTRAST = 35.0
_WORST_YAW_DEG = 60.0
_WORST_ROLL_DEG = 60.0


def assess_quality(
    image: RGBImage, box: Box, landmarks: Landmarks, chip: RGBImage
) -> QualityFactors:
    """Measure one face (ADJ-1). `chip` is the aligned face from `landmarks.align`."""
    left_eye, right_eye = eye_centres(landmarks)
    inter_eye = float(np.linalg.norm(right_eye - left_eye))
    grey: NDArray[np.uint8] = np.asarray(cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
    # OpenCV's mean and standard deviation (population, as numpy's): one pass, a third of
    # numpy's time on a chip, measured on every face of every frame.
    mean, deviation = cv2.meanStdDev(grey)
    brightness = float(mean[0, 0])
    contrast = float(deviation[0, 0])
    sharpness = measure_sharpness(grey, contrast)
    yaw = estimate_yaw_deg(landmarks)
    roll = estimate_roll_deg(landmarks)
    score = quality_score(
        inter_eye_px=inter_eye,
        sharpness=sharpness,
        brightness=brightness,
        contrast=contrast,
        yaw_deg=yaw,
        roll_deg=roll,
    )
    return QualityFactors(
        inter_eye_px=inter_eye,
        face_height_px=float(box.height),
        sharpness=sharpness,
        brightness=min(max(brightness, 0.0), 255.0),
        contrast=contrast,
        yaw_deg=yaw,
        roll_deg=roll,
        score=score,
    )


def measure_sharpness(grey: NDArray[np.uint8], contrast: float) -> float:
    """Variance of the Laplacian, rescaled to a chip of `REFERENCE_CONTRAST`: the raw
    variance grows with the square of the contrast, so without this a dark or flat face
    would read as blurred and the refusal would name the wrong cause."""
    _, deviation = cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_64F))
    raw = float(deviation[0, 0]) ** 2  # the Laplacian's variance
    return raw * (REFERENCE_CONTRAST / max(contrast, 1.0)) ** 2


def estimate_roll_deg(landmarks: Landmarks) -> float:
    """Tilt of the line through the eyes, degrees (positive: the image-right eye is lower)."""
    left_eye, right_eye = eye_centres(landmarks)
    dx, dy = float(right_eye[0] - left_eye[0]), float(right_eye[1] - left_eye[1])
    return math.degrees(math.atan2(dy, dx))


def estimate_yaw_deg(landmarks: Landmarks) -> float:
    """Head turn, degrees (0 facing the camera; the sign says which way).

    The nose base's offset from the eyes' midpoint along the eye line, relative to the
    apparent distance between the eyes, is tan(yaw) × NOSE_DEPTH_RATIO for a head turned
    by `yaw`. A rough estimate (5 points carry no more), good to about ±10°.
    """
    left_eye, right_eye = eye_centres(landmarks)
    axis = (right_eye - left_eye).astype(np.float64)
    inter_eye = float(np.linalg.norm(axis))
    if inter_eye < 1e-6:
        return 90.0  # eyes on top of each other: as turned away as it gets
    axis /= inter_eye
    nose_offset = float(np.dot(landmarks[4] - (left_eye + right_eye) / 2.0, axis))
    return math.degrees(math.atan(nose_offset / (inter_eye * NOSE_DEPTH_RATIO)))


def quality_score(
    *,
    inter_eye_px: float,
    sharpness: float,
    brightness: float,
    contrast: float,
    yaw_deg: float,
    roll_deg: float,
) -> float:
    """Fold the factors into one figure in [0, 1]: the product of one 0–1 term per factor,
    so that any single bad factor pulls the score down (a sharp face turned away is as
    useless as a blurred frontal one)."""
    terms = (
        _ramp(inter_eye_px, 8.0, _GOOD_INTER_EYE_PX),
        _ramp(sharpness, 5.0, _GOOD_SHARPNESS),
        _ramp(contrast, 5.0, _GOOD_CONTRAST),
        1.0 - _ramp(abs(brightness - 128.0), 70.0, 125.0),
        1.0 - _ramp(abs(yaw_deg), 15.0, _WORST_YAW_DEG),
        1.0 - _ramp(abs(roll_deg), 25.0, _WORST_ROLL_DEG),
    )
    return float(min(max(math.prod(terms), 0.0), 1.0))


def _ramp(value: float, low: float, high: float) -> float:
    """0 at or below `low`, 1 at or above `high`, linear between."""
    return min(max((value - low) / (high - low), 0.0), 1.0)


class QualityGate(BaseModel):
    """Limits a face must meet to be used: to be matched in live video, or — stricter, see
    `for_enrolment` — to become a watchlist template (WL-5). Each limit is a trade-off:
    raising a minimum (or lowering a maximum) refuses more faces, so fewer poor probes
    reach the matcher (fewer false alerts) but more passers-by of interest go unchecked
    (more missed matches) and more watchlist images are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_inter_eye_px: float = Field(
        default=20.0,
        ge=0,
        description=(
            "Smallest distance between the eye centres, pixels. Faces under about 20 px give "
            "descriptors that match strangers; raising it ignores distant faces."
        ),
    )
    min_sharpness: float = Field(
        default=10.0,
        ge=0,
        description=(
            "Smallest sharpness (variance of the Laplacian on the 150 px aligned chip, at a "
            "reference contrast): below it the face is blurred (motion, focus, or a small face "
            "scaled up)."
        ),
    )
    max_abs_yaw_deg: float = Field(
        default=40.0, ge=0, le=90, description="Largest head turn from frontal, degrees."
    )
    max_abs_roll_deg: float = Field(
        default=45.0, ge=0, le=180, description="Largest head tilt, degrees."
    )
    min_brightness: float = Field(
        default=35.0, ge=0, le=255, description="Smallest mean luma of the chip (too dark)."
    )
    max_brightness: float = Field(
        default=225.0, ge=0, le=255, description="Largest mean luma of the chip (washed out)."
    )
    min_contrast: float = Field(
        default=12.0, ge=0, description="Smallest luma standard deviation on the chip (flat)."
    )
    min_score: float = Field(default=0.0, ge=0, le=1, description="Smallest overall quality score.")

    @classmethod
    def for_enrolment(cls) -> QualityGate:
        """The stricter gate for watchlist images (WL-5): a template is compared with every
        passer-by, so a poor one costs false alerts (or misses) for the whole deployment,
        while a better photograph can usually be found."""
        return cls(
            min_inter_eye_px=40.0,
            min_sharpness=20.0,
            max_abs_yaw_deg=25.0,
            max_abs_roll_deg=25.0,
            min_brightness=50.0,
            max_brightness=215.0,
            min_contrast=20.0,
            min_score=0.3,
        )

    def refusal(self, q: QualityFactors) -> str | None:
        """Why this face fails the gate (the first failing limit), or None if it passes."""
        # Exposure is checked before blur and pose: a dark or flat face also measures as
        # blurred and its landmarks wander, and the refusal should name the first cause.
        checks = (
            (
                q.inter_eye_px < self.min_inter_eye_px,
                "face too small",
                f"eyes {q.inter_eye_px:.0f} px apart, at least {self.min_inter_eye_px:.0f} needed",
            ),
            (
                q.brightness < self.min_brightness,
                "too dark",
                f"brightness {q.brightness:.0f}, at least {self.min_brightness:.0f} needed",
            ),
            (
                q.brightness > self.max_brightness,
                "too bright",
                f"brightness {q.brightness:.0f}, at most {self.max_brightness:.0f} allowed",
            ),
            (
                q.contrast < self.min_contrast,
                "low contrast",
                f"contrast {q.contrast:.1f}, at least {self.min_contrast:.1f} needed",
            ),
            (
                q.sharpness < self.min_sharpness,
                "blurred",
                f"sharpness {q.sharpness:.1f}, at least {self.min_sharpness:.1f} needed",
            ),
            (
                abs(q.yaw_deg) > self.max_abs_yaw_deg,
                "turned away",
                f"head turned {abs(q.yaw_deg):.0f}°, at most {self.max_abs_yaw_deg:.0f}° allowed",
            ),
            (
                abs(q.roll_deg) > self.max_abs_roll_deg,
                "tilted",
                f"head tilted {abs(q.roll_deg):.0f}°, at most {self.max_abs_roll_deg:.0f}° allowed",
            ),
            (
                q.score < self.min_score,
                "poor quality",
                f"quality score {q.score:.2f}, at least {self.min_score:.2f} needed",
            ),
        )
        for failed, what, detail in checks:
            if failed:
                return f"{what}: {detail}"
        return None


class EnrolmentRefused(ValueError):  # noqa: N818 (the contract's name: a refusal, not a fault)
    """A watchlist image that cannot become a template (WL-5); `.reason` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def check_enrolment_image(
    image: RGBImage, analyser: FaceAnalyser, gate: QualityGate
) -> FaceObservation:
    """The one usable face of a watchlist image, or `EnrolmentRefused` saying why not
    (WL-5): no face, more than one face, or a face that fails `gate`."""
    faces = analyser.analyse(image)
    if not faces:
        raise EnrolmentRefused("no face found")
    if len(faces) > 1:
        sizes = ", ".join(f"{f.box.width}×{f.box.height} px" for f in faces)
        raise EnrolmentRefused(
            f"{len(faces)} faces found: a watchlist image must show one person only ({sizes})"
        )
    reason = gate.refusal(faces[0].quality)
    if reason is not None:
        raise EnrolmentRefused(reason)
    return faces[0]
