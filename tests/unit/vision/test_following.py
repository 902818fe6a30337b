"""Faces followed between detections (REC-2): the detector runs on every Nth frame and
the faces it found are carried to the frames between by optical flow, measured afresh
there, and dropped when the flow or the face's look says the box was lost."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lfr.vision.analysis import FaceAnalyser
from lfr.vision.detection import HogDetectorConfig, build_detector
from lfr.vision.following import FaceFollower, FollowingConfig, chip_similarity, moved_box
from lfr.vision.landmarks import LandmarkLocator, Landmarks
from lfr.vision.sources import FileSource
from lfr.vision.tracking import iou
from lfr.vision.types import Box, RGBImage

CLOSE_UP = range(100, 112)
"""Frames of the Hamilton clip's close-up of Lin-Manuel Miranda (one face, moving)."""


@pytest.fixture(scope="module")
def close_up(video_dir: Path) -> list[RGBImage]:
    frames = []
    for frame in FileSource(video_dir / "short_hamilton_clip.mp4", "stage"):
        if frame.index in CLOSE_UP:
            frames.append(frame.image)
        if frame.index >= CLOSE_UP[-1]:
            break
    return frames


@pytest.fixture(scope="module")
def stage_analyser(locator: LandmarkLocator) -> FaceAnalyser:
    return FaceAnalyser(build_detector(HogDetectorConfig()), locator)


def test_followed_faces_stay_on_the_face_the_detector_finds(
    close_up: list[RGBImage], stage_analyser: FaceAnalyser
) -> None:
    """Every 4th frame detected, the others followed: each followed box overlaps the
    detector's own box on that frame, and its chip looks like the detected face."""
    follower = FaceFollower(stage_analyser, FollowingConfig(detect_every=4))
    for number, image in enumerate(close_up):
        faces = follower.observe(image)
        assert follower.detected == (number % 4 == 0)
        detected = stage_analyser.analyse(image)
        assert len(faces) == len(detected) == 1
        assert iou(faces[0].box, detected[0].box) > 0.6
        assert chip_similarity(faces[0].chip, detected[0].chip) > 0.8


def test_a_cut_to_another_picture_drops_the_followed_face(
    close_up: list[RGBImage], stage_analyser: FaceAnalyser
) -> None:
    """A cut to another shot leaves nothing to follow: no face is invented there."""
    follower = FaceFollower(stage_analyser, FollowingConfig(detect_every=10))
    assert len(follower.observe(close_up[0])) == 1
    elsewhere = np.ascontiguousarray(np.roll(close_up[0], close_up[0].shape[1] // 2, axis=1))
    elsewhere[:] = cv2.GaussianBlur(elsewhere, (31, 31), 0)
    assert follower.observe(elsewhere) == []
    assert not follower.detected


def test_reset_makes_the_next_frame_a_detection(
    close_up: list[RGBImage], stage_analyser: FaceAnalyser
) -> None:
    follower = FaceFollower(stage_analyser, FollowingConfig(detect_every=10))
    follower.observe(close_up[0])
    follower.observe(close_up[1])
    assert not follower.detected
    follower.reset()
    follower.observe(close_up[2])
    assert follower.detected


def test_detect_every_1_detects_every_frame(
    close_up: list[RGBImage], stage_analyser: FaceAnalyser
) -> None:
    follower = FaceFollower(stage_analyser, FollowingConfig(detect_every=1))
    for image in close_up[:3]:
        follower.observe(image)
        assert follower.detected


def test_chip_similarity_tells_the_same_face_from_anything_else(
    close_up: list[RGBImage], stage_analyser: FaceAnalyser
) -> None:
    chip = stage_analyser.analyse(close_up[0])[0].chip
    assert chip_similarity(chip, chip) == pytest.approx(1.0)
    assert chip_similarity(chip, np.ascontiguousarray(chip[::-1])) < 0.6  # upside down
    assert chip_similarity(chip, np.full_like(chip, 128)) == 0.0  # flat: no correlation


@pytest.mark.parametrize(
    ("shift", "scale", "expected"),
    [
        ((10, -5), 1.0, Box(left=110, top=95, right=150, bottom=135)),
        ((0, 0), 1.25, Box(left=95, top=95, right=145, bottom=145)),
        ((-120, 0), 1.0, None),  # half out of the frame: not followed out of it
        ((-80, 0), 1.0, Box(left=20, top=100, right=60, bottom=140)),
    ],
)
def test_moved_box_moves_scales_and_clips(
    shift: tuple[int, int], scale: float, expected: Box | None
) -> None:
    box = Box(left=100, top=100, right=140, bottom=140)
    moved = moved_box(box, np.asarray(shift, dtype=np.float32), scale, (480, 640, 3))
    assert moved == expected


class CountingLocator(LandmarkLocator):
    def __init__(self, inner: LandmarkLocator) -> None:
        self._inner = inner
        self.calls = 0

    def locate(self, image: RGBImage, box: Box) -> Landmarks:
        self.calls += 1
        return self._inner.locate(image, box)


@pytest.mark.parametrize("relocate", [False, True])
def test_carried_landmarks_stay_on_the_face_and_spare_the_predictor(
    close_up: list[RGBImage], locator: LandmarkLocator, relocate: bool
) -> None:
    """Landmarks carried by the flow (the default) instead of located afresh: the followed
    face still lies where the detector finds it and looks like it; the shape predictor
    runs on detections and on every other followed frame only (never two flow steps in a
    row), against every frame when relocating."""
    counting = CountingLocator(locator)
    analyser = FaceAnalyser(build_detector(HogDetectorConfig()), counting)
    reference = FaceAnalyser(build_detector(HogDetectorConfig()), locator)
    config = FollowingConfig(detect_every=4, relocate_landmarks=relocate, search_changes=False)
    follower = FaceFollower(analyser, config)
    for image in close_up[:8]:
        (face,) = follower.observe(image)
        (detected,) = reference.analyse(image)
        assert iou(face.box, detected.box) > 0.6
        assert chip_similarity(face.chip, detected.chip) > 0.8
        assert np.abs(face.landmarks - detected.landmarks).max() < 0.1 * detected.box.width
    # 8 frames: detected 0 and 4; carried 1, 3, 5, 7; located afresh 2 and 6.
    assert counting.calls == (8 if relocate else 4)
