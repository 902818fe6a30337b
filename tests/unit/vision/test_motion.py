"""Detection only where the frame changed (REC-2, `following.search_changes`): the parts
to search are found on a small grey copy, padded and merged; a still background is not
searched again, a moving blob is, the faces of the previous frame are, and the whole
frame is still searched every `full_search_every` detections."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from lfr.vision.analysis import FaceAnalyser, FaceObservation
from lfr.vision.detection import HogDetectorConfig, RegionDetector, build_detector
from lfr.vision.detection.base import GreyImage
from lfr.vision.following import FaceFollower, FollowingConfig
from lfr.vision.landmarks import LandmarkLocator
from lfr.vision.motion import changed_boxes, merged, padded, scaled, search_share
from lfr.vision.sources import FileSource
from lfr.vision.tracking import iou
from lfr.vision.types import Box, QualityFactors, RGBImage

WIDTH, HEIGHT = 640, 360


def street(seed: int = 0) -> RGBImage:
    """A textured still background (noise, smoothed), the same for every frame."""
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 200, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.repeat(np.repeat(small, 8, axis=0), 8, axis=1))


def with_blob(background: RGBImage, left: int, top: int, size: int = 60) -> RGBImage:
    frame = background.copy()
    frame[top : top + size, left : left + size] = (250, 250, 250)
    frame[top + size // 4 : top + size // 2, left + size // 4 : left + size // 2] = (0, 0, 0)
    return frame


def covers(regions: Sequence[Box], box: Box) -> bool:
    return any(
        r.left <= box.left and r.top <= box.top and r.right >= box.right and r.bottom >= box.bottom
        for r in regions
    )


def test_a_still_picture_has_no_change_and_a_moved_blob_has_one() -> None:
    grey = np.full((90, 160), 100, np.uint8)
    assert changed_boxes(grey, grey.copy(), threshold=12) == []
    noisy = (grey + np.random.default_rng(1).integers(0, 8, grey.shape)).astype(np.uint8)
    assert changed_boxes(grey, noisy, threshold=12) == []  # codec noise is not a change
    moved = grey.copy()
    moved[30:45, 60:75] = 220
    (box,) = changed_boxes(grey, moved, threshold=12)
    assert (box.left, box.top) <= (60, 30)
    assert (box.right, box.bottom) >= (75, 45)
    assert max(box.width, box.height) <= 15 + 4  # grown by the closing only


def test_overlapping_boxes_merge_into_one_and_separate_ones_stay() -> None:
    a = Box(left=0, top=0, right=50, bottom=50)
    b = Box(left=40, top=40, right=90, bottom=90)
    c = Box(left=85, top=0, right=120, bottom=45)  # overlaps only the merge of a and b
    far = Box(left=300, top=200, right=340, bottom=240)
    result = merged([far, a, c, b])
    assert result == [Box(left=0, top=0, right=120, bottom=90), far]
    assert search_share(result, (360, 640)) == pytest.approx((120 * 90 + 40 * 40) / (640 * 360))


def test_boxes_scale_back_and_pad_within_the_frame() -> None:
    box = scaled(Box(left=1, top=1, right=3, bottom=3), 0.25, (360, 640))
    assert box == Box(left=4, top=4, right=12, bottom=12)
    assert padded(box, 10, 10, (360, 640)) == Box(left=0, top=0, right=22, bottom=22)


class RecordingAnalyser(FaceAnalyser):
    """Records where each detection searched (None: the whole frame) and finds nothing,
    or the faces it is told to find."""

    def __init__(self) -> None:
        self.searches: list[list[Box] | None] = []
        self.given_grey: list[bool] = []
        self.faces: list[FaceObservation] = []

    def analyse(
        self,
        image: RGBImage,
        regions: Sequence[Box] | None = None,
        *,
        grey: GreyImage | None = None,
    ) -> list[FaceObservation]:
        if grey is not None:
            assert grey.shape == image.shape[:2]
        self.given_grey.append(grey is not None)
        self.searches.append(None if regions is None else list(regions))
        return list(self.faces)


def observation(box: Box) -> FaceObservation:
    quality = QualityFactors(
        inter_eye_px=40,
        face_height_px=box.height,
        sharpness=60,
        brightness=128,
        contrast=40,
        yaw_deg=0,
        roll_deg=0,
        score=1,
    )
    chip = np.zeros((150, 150, 3), np.uint8)
    return FaceObservation(box, 1.0, np.zeros((5, 2), np.float32), chip, quality)


def changes_follower(analyser: FaceAnalyser, **settings: object) -> FaceFollower:
    config = FollowingConfig(detect_every=1, search_changes=True, **settings)  # type: ignore[arg-type]
    return FaceFollower(analyser, config)


def test_a_still_background_is_not_searched_again_until_the_whole_frame_is_due() -> None:
    analyser = RecordingAnalyser()
    follower = changes_follower(analyser, full_search_every=4)
    background = street()
    for _ in range(9):
        assert follower.observe(background) == []
    # Whole frame first and at every 4th detection; between them nothing changed and
    # nobody was there: nothing to search, and the detector is not even asked.
    assert analyser.searches == [None, None, None]
    assert follower.detected


def test_a_moving_blob_is_searched_and_the_rest_of_the_frame_is_not() -> None:
    analyser = RecordingAnalyser()
    follower = changes_follower(analyser, full_search_every=10)
    background = street()
    follower.observe(background)
    for step in range(1, 4):
        blob = Box(left=100 + 20 * step, top=150, right=160 + 20 * step, bottom=210)
        follower.observe(with_blob(background, blob.left, blob.top))
        regions = analyser.searches[-1]
        assert regions is not None
        assert covers(regions, blob)
        assert search_share(regions, background.shape) < 0.15
        assert follower.searched == regions
    assert all(analyser.given_grey)  # the follower's grey frame: converted once a frame


def test_the_previous_frames_faces_are_searched_even_when_still() -> None:
    """Someone standing still changes nothing, but must stay found between whole-frame
    searches."""
    analyser = RecordingAnalyser()
    follower = changes_follower(analyser, full_search_every=10)
    face = Box(left=400, top=100, right=480, bottom=180)
    analyser.faces = [observation(face)]
    background = street()
    follower.observe(background)
    follower.observe(background)
    regions = analyser.searches[-1]
    assert regions == [Box(left=360, top=60, right=520, bottom=220)]  # half a face around


def test_a_large_change_searches_the_whole_frame() -> None:
    analyser = RecordingAnalyser()
    follower = changes_follower(analyser, full_search_every=10, max_search_share=0.5)
    follower.observe(street(0))
    follower.observe(street(1))  # a cut: everything changed
    assert analyser.searches == [None, None]
    follower.reset()
    follower.observe(street(1))
    assert analyser.searches[-1] is None  # after a gap, the whole frame


def test_off_searches_the_whole_frame_every_time() -> None:
    analyser = RecordingAnalyser()
    follower = FaceFollower(analyser, FollowingConfig(detect_every=1, search_changes=False))
    for _ in range(3):
        follower.observe(street())
    assert analyser.searches == [None, None, None]


def test_followed_frames_between_detections_still_count_towards_the_whole_search() -> None:
    """With following (detect_every 2) the whole frame is searched every
    `full_search_every` detections, i.e. every 2 × that many frames."""
    analyser = RecordingAnalyser()
    follower = FaceFollower(
        analyser, FollowingConfig(detect_every=2, search_changes=True, full_search_every=3)
    )
    for _ in range(12):
        follower.observe(street())
    assert analyser.searches == [None, None]  # frames 0 and 6; 2, 4, 8, 10 searched nothing


class FixedBackend(RegionDetector):
    """Finds one face at a fixed place of whatever it is given (to check the mapping)."""

    def __init__(self) -> None:
        super().__init__(HogDetectorConfig())
        self.searched: list[tuple[int, ...]] = []

    def _detect_in(self, image: RGBImage) -> list[tuple[tuple[int, int, int, int], float]]:
        self.searched.append(image.shape)
        return [((10, 10, 50, 50), 1.0)]


def test_regions_start_on_the_grid_and_boxes_come_back_in_frame_pixels() -> None:
    detector = FixedBackend()
    frame = np.zeros((360, 640, 3), np.uint8)
    found = detector.detect_regions(frame, [Box(left=70, top=40, right=200, bottom=150)])
    assert detector.searched == [(150 - 32, 200 - 64, 3)]  # from (64, 32), a 32-px grid
    assert [d.box for d in found] == [Box(left=74, top=42, right=114, bottom=82)]


def test_a_face_found_in_two_regions_is_reported_once() -> None:
    class Same(FixedBackend):
        def _detect_in(self, image: RGBImage) -> list[tuple[tuple[int, int, int, int], float]]:
            return [((0, 0, 40, 40), 1.0)] if image.shape[1] > 40 else []

    frame = np.zeros((360, 640, 3), np.uint8)
    regions = [Box(left=0, top=0, right=64, bottom=64), Box(left=0, top=0, right=60, bottom=62)]
    assert len(Same().detect_regions(frame, regions)) == 1


def test_hog_in_a_region_finds_the_face_it_finds_in_the_whole_frame(
    video_dir: Path, locator: LandmarkLocator
) -> None:
    """On the Hamilton close-up, HOG searching only around Miranda's face (half a face
    around it, as around a followed face) finds the face it finds in the whole frame;
    the box may differ by the detector's own jitter between pyramid levels (it does
    from frame to frame too). Searching only elsewhere finds nothing."""
    clip = video_dir / "short_hamilton_clip.mp4"
    frames = [f.image for f in FileSource(clip, "s") if f.index in (100, 130, 160, 200)]
    analyser = FaceAnalyser(build_detector(HogDetectorConfig()), locator)
    for image in frames:
        (whole,) = analyser.analyse(image)
        region = padded(whole.box, whole.box.width / 2, whole.box.height / 2, image.shape)
        (part,) = analyser.analyse(image, [region])
        assert iou(part.box, whole.box) > 0.75
        elsewhere = Box(left=0, top=0, right=max(1, whole.box.left - 10), bottom=image.shape[0])
        assert analyser.analyse(image, [elsewhere]) == []
