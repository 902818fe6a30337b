"""Faces followed between detections: the detector runs on every Nth frame only (REC-2).

Detection (dlib HOG) is the camera worker's main cost once the tracker bounds the
descriptions: about 50 ms a 720p frame here, against about 1 ms a face for landmarks,
chip and quality. A face found on one frame is on the next one too, a few pixels away.
So between two detections each face of the previous frame is *followed*: its five
landmarks are carried to the new frame by pyramidal Lucas-Kanade optical flow (OpenCV),
its box is moved (and rescaled) with them, and the landmarks, chip and quality are
measured afresh in the moved box — what the tracker, the describer and the operator get
is measured on the new frame, exactly as for a detected face.

A followed face is dropped, not guessed, when the flow is unreliable (fewer than three
landmarks tracked there and back to within `max_flow_error_px`), when its box leaves the
frame, or when its new chip no longer looks like the chip it follows (normalised
correlation under `min_similarity`: a cut to another shot, an occlusion, a drift onto the
background). A face that enters between detections is found by the next detection, at
most `detect_every - 1` frames later.

Nothing here is kept beyond the previous frame's faces and a small grey copy of it
(REC-4): both are replaced on every frame and dropped with the worker.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from lfr.vision.analysis import FaceAnalyser, FaceObservation
from lfr.vision.types import Box, RGBImage

GreyImage = NDArray[np.uint8]
_LK_WINDOW = (15, 15)
_LK_LEVELS = 2
_MIN_TRACKED_POINTS = 3
_MIN_VISIBLE_SHARE = 0.6
"""A moved box must keep this share of its area inside the frame (a face leaving the
frame is not followed out of it)."""


class FollowingConfig(BaseModel):
    """When the detector runs and how faces are followed in between."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detect_every: int = Field(
        default=2,
        ge=1,
        le=25,
        description=(
            "The detector runs on one processed frame in this many; the faces it found are "
            "followed on the frames between. Raising it cuts the worker's CPU per frame "
            "(detection is most of it) but a face that enters is found up to this many "
            "frames later, and a followed box drifts a little more before the next "
            "detection corrects it; 1 detects on every frame. At 2 the generated crowds "
            "kept every alert at 0.6 of the CPU per frame; at 3 (0.47) a walker hovering "
            "at the threshold was lost (docs/evaluation.md)."
        ),
    )
    min_similarity: float = Field(
        default=0.6,
        ge=-1,
        le=1,
        description=(
            "Normalised correlation between a followed face's new chip and its previous "
            "chip (grey, aligned) below which it is dropped. Consecutive frames of one face "
            "correlate at 0.8-1.0; a cut to another shot or a box drifting onto the "
            "background falls far below. Raising it drops more turning faces until the "
            "next detection; lowering it lets a lost box carry on measuring whatever lies "
            "there."
        ),
    )
    max_flow_error_px: float = Field(
        default=1.5,
        gt=0,
        description=(
            "A landmark counts as tracked when following it forward and then backward "
            "returns within this many pixels (of the flow image) of where it started. "
            "Raising it follows through blur and fast motion with less certainty; "
            "lowering it drops more faces until the next detection."
        ),
    )
    flow_width: int = Field(
        default=640,
        ge=160,
        le=4096,
        description=(
            "Frames wider than this are shrunk to it for the optical flow (the landmarks "
            "and chips are still measured at full resolution). Lowering it is faster and "
            "tracks less precisely."
        ),
    )


def chip_similarity(a: RGBImage, b: RGBImage) -> float:
    """Normalised correlation of two chips' luma (1: the same picture up to exposure)."""
    grey_a = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey_b = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey_a -= grey_a.mean()
    grey_b -= grey_b.mean()
    norm = float(np.sqrt((grey_a * grey_a).sum() * (grey_b * grey_b).sum()))
    return float((grey_a * grey_b).sum() / norm) if norm > 0 else 0.0


def moved_box(
    box: Box, shift: NDArray[np.float32], scale: float, shape: tuple[int, ...]
) -> Box | None:
    """`box` moved by `shift` (x, y) and scaled by `scale` about its centre, clipped to a
    frame of `shape`; None when too little of it is left inside the frame."""
    centre_x = (box.left + box.right) / 2 + float(shift[0])
    centre_y = (box.top + box.bottom) / 2 + float(shift[1])
    half_w, half_h = box.width * scale / 2, box.height * scale / 2
    height, width = shape[:2]
    left, right = max(0, round(centre_x - half_w)), min(width, round(centre_x + half_w))
    top, bottom = max(0, round(centre_y - half_h)), min(height, round(centre_y + half_h))
    if right <= left or bottom <= top:
        return None
    if (right - left) * (bottom - top) < _MIN_VISIBLE_SHARE * (4 * half_w * half_h):
        return None
    return Box(left=left, top=top, right=right, bottom=bottom)


def _spread(points: NDArray[np.float32]) -> float:
    return float(np.linalg.norm(points - points.mean(axis=0), axis=1).mean())


class FaceFollower:
    """One camera's faces from frame to frame: detected every `detect_every` frames,
    followed in between. Not thread-safe: one per camera worker."""

    def __init__(self, analyser: FaceAnalyser, config: FollowingConfig) -> None:
        self._analyser = analyser
        self._config = config
        self._faces: list[FaceObservation] = []
        self._grey: GreyImage | None = None
        self._scale = 1.0
        self._since_detection = 0
        self.detected = False
        """Whether the last `observe` ran the detector (its faces are all the detector
        finds); False when they were followed."""

    def observe(self, image: RGBImage) -> list[FaceObservation]:
        """The faces of this frame: detected when a detection is due, else followed."""
        following = self._config.detect_every > 1
        grey = self._flow_image(image) if following else None
        due = self._grey is None or self._since_detection + 1 >= self._config.detect_every
        if not following or due or grey is None or self._grey is None:
            faces = self._analyser.analyse(image)
            self._since_detection = 0
            self.detected = True
        else:
            faces = self._follow(image, self._grey, grey)
            self._since_detection += 1
            self.detected = False
        self._faces, self._grey = faces, grey
        return faces

    def reset(self) -> None:
        """Forget the previous frame: the next frame is detected (after a gap or a drop
        of the source, following would bridge what was not seen)."""
        self._faces, self._grey = [], None

    def _flow_image(self, image: RGBImage) -> GreyImage:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        width = image.shape[1]
        self._scale = min(1.0, self._config.flow_width / width)
        if self._scale < 1.0:
            size = (round(width * self._scale), round(image.shape[0] * self._scale))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        return np.asarray(grey, dtype=np.uint8)

    def _follow(self, image: RGBImage, before: GreyImage, now: GreyImage) -> list[FaceObservation]:
        if not self._faces or before.shape != now.shape:
            return []
        start = np.concatenate([f.landmarks for f in self._faces]).astype(np.float32)
        start *= self._scale
        end, tracked = self._flow(before, now, start.reshape(-1, 1, 2))
        followed = []
        for index, face in enumerate(self._faces):
            rows = slice(5 * index, 5 * index + 5)
            observation = self._followed(image, face, start[rows], end[rows], tracked[rows])
            if observation is not None:
                followed.append(observation)
        return followed

    def _flow(
        self, before: GreyImage, now: GreyImage, points: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """Each point's position in `now`, and whether it was tracked reliably (forward
        and back to within `max_flow_error_px`)."""
        forward, ok_forward, _ = cv2.calcOpticalFlowPyrLK(
            before, now, points, points.copy(), winSize=_LK_WINDOW, maxLevel=_LK_LEVELS
        )
        back, ok_back, _ = cv2.calcOpticalFlowPyrLK(
            now, before, forward, points.copy(), winSize=_LK_WINDOW, maxLevel=_LK_LEVELS
        )
        error = np.linalg.norm((np.asarray(back) - points).reshape(-1, 2), axis=1)
        tracked = (
            np.asarray(ok_forward).reshape(-1).astype(bool)
            & np.asarray(ok_back).reshape(-1).astype(bool)
            & (error <= self._config.max_flow_error_px)
        )
        return np.asarray(forward, dtype=np.float32).reshape(-1, 2), tracked

    def _followed(
        self,
        image: RGBImage,
        face: FaceObservation,
        start: NDArray[np.float32],
        end: NDArray[np.float32],
        tracked: NDArray[np.bool_],
    ) -> FaceObservation | None:
        if int(tracked.sum()) < _MIN_TRACKED_POINTS:
            return None
        before, after = start[tracked], end[tracked]
        shift = np.median(after - before, axis=0) / self._scale
        spread = _spread(before)
        scale = min(max(_spread(after) / spread, 0.8), 1.25) if spread > 0 else 1.0
        box = moved_box(face.box, shift, scale, image.shape)
        if box is None:
            return None
        observation = self._analyser.observe(image, box, face.confidence)
        if chip_similarity(observation.chip, face.chip) < self._config.min_similarity:
            return None
        return observation
