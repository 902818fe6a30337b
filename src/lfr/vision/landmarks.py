"""Five facial landmarks (dlib's 5-point model) and alignment to a face chip (REC-2).

Only the 5-point model is used: it is all alignment needs, and it is small and fast.
Point order (dlib): 0, 1 — the corners of the eye on the image's right; 2, 3 — the
corners of the eye on the image's left; 4 — the base of the nose.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from lfr.vision._lazy import LazyModel
from lfr.vision.types import Box, RGBImage

Landmarks = NDArray[np.float32]
"""Shape (5, 2): (x, y) pixel coordinates in dlib's 5-point order."""

CHIP_SIZE = 150
"""The chip size the dlib ResNet describer was trained on."""
CHIP_PADDING = 0.25


def _load_predictor() -> Any:
    import dlib
    import face_recognition_models

    return dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())


class LandmarkLocator:
    """Locates the 5 landmarks of a face inside its detection box; thread-safe, loads the
    model on first use."""

    def __init__(self) -> None:
        self._predictor: LazyModel[Any] = LazyModel(_load_predictor)

    def locate(self, image: RGBImage, box: Box) -> Landmarks:
        import dlib

        # dlib's rectangle is inclusive of right/bottom.
        rect = dlib.rectangle(box.left, box.top, box.right - 1, box.bottom - 1)
        # dlib misreads non-contiguous arrays (views, flipped channels); no copy when the
        # frame already is contiguous.
        shape = self._predictor.get()(np.ascontiguousarray(image), rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def eye_centres(landmarks: Landmarks) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """(eye on the image's left, eye on the image's right), each the mean of its corners."""
    image_right = landmarks[0:2].mean(axis=0)
    image_left = landmarks[2:4].mean(axis=0)
    return image_left.astype(np.float32), image_right.astype(np.float32)


def align(
    image: RGBImage, landmarks: Landmarks, size: int = CHIP_SIZE, padding: float = CHIP_PADDING
) -> RGBImage:
    """The face turned upright and scaled to `size`×`size`, exactly as `dlib.get_face_chip`
    does it (the describers expect that alignment)."""
    import dlib

    if landmarks.shape != (5, 2):
        raise ValueError(f"align needs 5 landmarks of (x, y), got shape {landmarks.shape}")
    points = dlib.points([dlib.point(round(float(x)), round(float(y))) for x, y in landmarks])
    xs, ys = landmarks[:, 0], landmarks[:, 1]
    rect = dlib.rectangle(
        round(float(xs.min())),
        round(float(ys.min())),
        round(float(xs.max())),
        round(float(ys.max())),
    )
    detection = dlib.full_object_detection(rect, points)
    chip = dlib.get_face_chip(np.ascontiguousarray(image), detection, size, padding)
    return np.ascontiguousarray(chip, dtype=np.uint8)
