"""Faces followed between detections: the detector runs on every Nth frame only (REC-2).

Detection (dlib HOG) is the camera worker's main cost once the tracker bounds the
descriptions: about 50 ms a 720p frame here, against 2-3 ms a face for landmarks,
chip and quality. A face found on one frame is on the next one too, a few pixels away.
So between two detections each face of the previous frame is *followed*: its five
landmarks are carried to the new frame by pyramidal Lucas-Kanade optical flow (OpenCV),
its box is moved (and rescaled) with them, and the chip and quality are measured afresh
on the new frame — what the tracker, the describer and the operator get is measured on
the new frame, as for a detected face. The landmarks themselves are those the flow
carried when all five were tracked and they were located by the shape predictor on the
frame before (never two flow steps in a row); otherwise, or with `relocate_landmarks`,
they are located afresh in the moved box.

A followed face is dropped, not guessed, when the flow is unreliable (fewer than three
landmarks tracked there and back to within `max_flow_error_px`), when its box leaves the
frame, or when its new chip no longer looks like the chip it follows (normalised
correlation under `min_similarity`: a cut to another shot, an occlusion, a drift onto the
background). A face that enters between detections is found by the next detection, at
most `detect_every - 1` frames later.

With `search_changes`, a detection between whole-frame searches searches only what
changed since the last whole-frame search and around the previous frame's faces
(`lfr.vision.motion`); the whole frame is searched every `full_search_every` detections.

Each frame is turned grey once: the flow, the change image and the detector (HOG searches
grey) share it.

Nothing here is kept beyond the previous frame's faces, a small grey copy of it, and with
`search_changes` a smaller grey copy of the last frame searched whole (REC-4): all are
replaced as frames come and dropped with the worker.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from lfr.vision.analysis import FaceAnalyser, FaceObservation
from lfr.vision.motion import changed_boxes, merged, padded, scaled, search_share
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
    search_changes: bool = Field(
        default=True,
        description=(
            "Between whole-frame searches, the detector searches only the parts of the "
            "frame that changed since the last whole-frame search (a small grey copy "
            "compared pixel by pixel) and around the faces of the previous frame. On a "
            "fixed camera watching a quiet street most of the frame is unchanged and its "
            "search is skipped; when the changes cover more than `max_search_share` of the "
            "frame (a crowd, a moving camera, a cut) the whole frame is searched anyway. "
            "A face that appears without changing its surroundings (standing still, "
            "turning slowly towards the camera) is found by the next whole-frame search."
        ),
    )
    full_search_every: int = Field(
        default=5,
        ge=1,
        le=100,
        description=(
            "With `search_changes`: one detection in this many searches the whole frame "
            "whatever changed (5 with `detect_every` 2: every 10th frame, 0.4 s at 25 fps). "
            "Raising it saves more where little moves; a still face that was not found "
            "is found that much later. 1 searches the whole frame at every detection."
        ),
    )
    change_threshold: int = Field(
        default=12,
        ge=1,
        le=255,
        description=(
            "With `search_changes`: a pixel of the small grey copy changed when it differs "
            "by more than this many grey levels (of 255) from the last whole-frame search. "
            "Raising it ignores more noise and flicker and can miss a slow, low-contrast "
            "change; lowering it searches more of the frame."
        ),
    )
    change_width: int = Field(
        default=160,
        ge=32,
        le=1920,
        description=(
            "With `search_changes`: the width of the grey copy compared for changes (160: a "
            "pixel of it covers 8 of a 720p frame). Wider finds finer changes and costs "
            "more; narrower blurs small changes away."
        ),
    )
    search_margin: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description=(
            "With `search_changes`: each changed part is searched with this much more "
            "around it, as a share of the frame's shorter side (0.05: 36 px at 720p), so a "
            "face at its edge is whole in the search; around a previous frame's face half "
            "its size is searched on each side."
        ),
    )
    max_search_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description=(
            "With `search_changes`: when the parts to search cover more than this share "
            "of the frame, the whole frame is searched instead (one search costs less "
            "than many pieces covering most of it)."
        ),
    )
    relocate_landmarks: bool = Field(
        default=False,
        description=(
            "On a followed frame, locate the five landmarks afresh in the moved box with "
            "dlib's shape predictor (1-2 ms a face: on the 720p crowd the predictor took a "
            "quarter of a frame's CPU, half of it on followed frames) instead of taking "
            "them where the optical flow carried them. Carried "
            "landmarks are used only when all five were tracked there and back, and only "
            "one step from located ones (with `detect_every` above 2 every other followed "
            "frame locates afresh), so the flow's error never accumulates. On the clips "
            "carrying kept every alert and added no false one (docs/evaluation.md); True "
            "measures every followed frame afresh, as before."
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
        self._located: list[bool] = []
        """For each face of `_faces`: whether its landmarks were located by the shape
        predictor (detected, or relocated) rather than carried by the flow."""
        self._grey: GreyImage | None = None
        self._scale = 1.0
        self._since_detection = 0
        self._reference: GreyImage | None = None
        self._since_full_search = 0
        self.detected = False
        """Whether the last `observe` ran the detector (its faces are all the detector
        finds in what it searched); False when they were followed."""
        self.searched: list[Box] | None = None
        """What the last detection searched: None, the whole frame; else these regions
        (`search_changes`). Kept as figures for tests and benchmarks."""

    def observe(self, image: RGBImage) -> list[FaceObservation]:
        """The faces of this frame: detected when a detection is due, else followed."""
        following = self._config.detect_every > 1
        # The frame turned grey once: shrunk for the flow and the change image, and
        # searched by a grey detector (HOG) as it is.
        grey = (
            np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
            if following or self._config.search_changes
            else None
        )
        flow = self._flow_image(grey) if grey is not None else None
        due = self._grey is None or self._since_detection + 1 >= self._config.detect_every
        if not following or due or flow is None or self._grey is None:
            faces = self._detect(image, grey, flow)
            located = [True] * len(faces)
            self._since_detection = 0
            self.detected = True
        else:
            faces, located = self._follow(image, self._grey, flow)
            self._since_detection += 1
            self.detected = False
        self._faces, self._located, self._grey = faces, located, flow
        return faces

    def reset(self) -> None:
        """Forget the previous frame: the next frame is detected, whole (after a gap or
        a drop of the source, following would bridge what was not seen)."""
        self._faces, self._located, self._grey, self._reference = [], [], None, None

    def _detect(
        self, image: RGBImage, grey: GreyImage | None, flow: GreyImage | None
    ) -> list[FaceObservation]:
        regions = self._search_regions(image, flow)
        self.searched = regions
        if regions is None:
            self._since_full_search = 0
            if self._config.search_changes and flow is not None:
                self._reference = self._change_image(flow)
            return self._analyser.analyse(image, grey=grey)
        self._since_full_search += 1
        return self._analyser.analyse(image, regions, grey=grey) if regions else []

    def _search_regions(self, image: RGBImage, flow: GreyImage | None) -> list[Box] | None:
        """Where this detection searches: None for the whole frame (`search_changes` off,
        a whole-frame search due, nothing to compare with, or too much changed); else the
        changed parts since the last whole-frame search and the previous frame's faces,
        padded and merged (possibly none: nothing changed and nobody was there)."""
        config = self._config
        if (
            not config.search_changes
            or flow is None
            or self._reference is None
            or self._since_full_search + 1 >= config.full_search_every
        ):
            return None
        now = self._change_image(flow)
        if now.shape != self._reference.shape:
            return None
        factor = now.shape[1] / image.shape[1]
        margin = config.search_margin * min(image.shape[:2])
        regions = [
            padded(scaled(box, factor, image.shape), margin, margin, image.shape)
            for box in changed_boxes(self._reference, now, config.change_threshold)
        ]
        regions += [
            padded(face.box, face.box.width / 2, face.box.height / 2, image.shape)
            for face in self._faces
        ]
        regions = merged(regions)
        if search_share(regions, image.shape) > config.max_search_share:
            return None
        return regions

    def _change_image(self, grey: GreyImage) -> GreyImage:
        """The flow image shrunk to `change_width` (area averaging: codec noise evens out)."""
        width = self._config.change_width
        if grey.shape[1] <= width:
            return grey
        size = (width, max(1, round(grey.shape[0] * width / grey.shape[1])))
        return np.asarray(cv2.resize(grey, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)

    def _flow_image(self, grey: GreyImage) -> GreyImage:
        """The grey frame shrunk to at most `flow_width` wide."""
        width = grey.shape[1]
        self._scale = min(1.0, self._config.flow_width / width)
        if self._scale >= 1.0:
            return grey
        size = (round(width * self._scale), round(grey.shape[0] * self._scale))
        return np.asarray(cv2.resize(grey, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)

    def _follow(
        self, image: RGBImage, before: GreyImage, now: GreyImage
    ) -> tuple[list[FaceObservation], list[bool]]:
        """The previous frame's faces followed into this one, and for each whether its
        landmarks were located afresh."""
        if not self._faces or before.shape != now.shape:
            return [], []
        start = np.concatenate([f.landmarks for f in self._faces]).astype(np.float32)
        start *= self._scale
        end, tracked = self._flow(before, now, start.reshape(-1, 1, 2))
        followed, located = [], []
        for index, face in enumerate(self._faces):
            rows = slice(5 * index, 5 * index + 5)
            # Landmarks carried by the flow only one step from located ones: a second
            # step would carry the flow's error on.
            carry = (
                not self._config.relocate_landmarks
                and self._located[index]
                and bool(tracked[rows].all())
            )
            observation = self._followed(image, face, start[rows], end[rows], tracked[rows], carry)
            if observation is not None:
                followed.append(observation)
                located.append(not carry)
        return followed, located

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
        carry: bool = False,
    ) -> FaceObservation | None:
        """The face moved with its tracked landmarks and measured on the new frame;
        `carry`: its landmarks are where the flow carried them, not located afresh."""
        if int(tracked.sum()) < _MIN_TRACKED_POINTS:
            return None
        before, after = start[tracked], end[tracked]
        shift = np.median(after - before, axis=0) / self._scale
        spread = _spread(before)
        scale = min(max(_spread(after) / spread, 0.8), 1.25) if spread > 0 else 1.0
        box = moved_box(face.box, shift, scale, image.shape)
        if box is None:
            return None
        landmarks = np.ascontiguousarray(end / self._scale, dtype=np.float32) if carry else None
        observation = self._analyser.observe(image, box, face.confidence, landmarks)
        if chip_similarity(observation.chip, face.chip) < self._config.min_similarity:
            return None
        return observation
