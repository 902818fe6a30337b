"""Demo media that exists on every machine with lfr installed.

matplotlib (a dependency of lfr's reports) ships a public-domain portrait (a US Navy
photograph) among its sample data. The demo enrols that portrait on the rehearsal
watchlist and composites it into a generated street-like clip in which the face walks past
the camera, so `lfr demo` raises a real alert through the real engine without any download.
`lfr demo --media DIR` uses the user's own files instead (see `user_media`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from matplotlib import cbook
from numpy.typing import NDArray

SAMPLE_PORTRAIT = "grace_hopper.jpg"
"""The file name of the portrait in matplotlib's sample data."""

CLIP_SIZE = (960, 540)
CLIP_FPS = 10
CLIP_SECONDS = 12
FACE_HEIGHT_PX = 380
"""Height of the pasted portrait: large enough that the default detector finds the face
(about 130 px across) on the first pass, without upsampling."""

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".gif")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True, slots=True)
class DemoMedia:
    """A watchlist image and a rehearsal clip in which that face appears."""

    watchlist_image: Path
    clip: Path


class DemoMediaError(ValueError):
    """The user's --media folder lacks what the demo needs (the message says what)."""


def sample_portrait_path() -> Path:
    return Path(str(cbook.get_sample_data(SAMPLE_PORTRAIT, asfileobj=False)))


def generated_media(folder: Path) -> DemoMedia:
    """Writes (once) the demo's watchlist image and clip under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    loaded = cv2.imread(str(sample_portrait_path()))
    if loaded is None:
        raise DemoMediaError(f"{sample_portrait_path()}: matplotlib's sample image is unreadable")
    portrait_bgr = np.asarray(loaded, dtype=np.uint8)
    image_path = folder / "watchlist-subject.jpg"
    clip_path = folder / "rehearsal-walk-past.mp4"
    if not image_path.exists():
        cv2.imwrite(str(image_path), portrait_bgr)
    if not clip_path.exists():
        _write_clip(clip_path, portrait_bgr)
    return DemoMedia(watchlist_image=image_path, clip=clip_path)


def user_media(folder: Path) -> DemoMedia:
    """The user's own demo media: one image (the watchlist entry) and one video."""
    if not folder.is_dir():
        raise DemoMediaError(f"{folder}: --media must be a folder with one image and one video")
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not images:
        raise DemoMediaError(f"{folder}: no watchlist image (.jpg/.jpeg/.png) found")
    if not videos:
        raise DemoMediaError(f"{folder}: no video ({', '.join(VIDEO_SUFFIXES)}) found")
    return DemoMedia(watchlist_image=images[0], clip=videos[0])


def _write_clip(path: Path, portrait_bgr: NDArray[np.uint8]) -> None:
    width, height = CLIP_SIZE
    writer = cv2.VideoWriter(
        str(path.with_suffix(".partial.mp4")),
        cv2.VideoWriter.fourcc(*"mp4v"),
        CLIP_FPS,
        (width, height),
    )
    if not writer.isOpened():
        raise DemoMediaError(f"{path}: this OpenCV build cannot write mp4 video")
    face = _scaled(portrait_bgr, FACE_HEIGHT_PX)
    frames = CLIP_FPS * CLIP_SECONDS
    for index in range(frames):
        writer.write(_frame(face, index, frames, width, height))
    writer.release()
    path.with_suffix(".partial.mp4").replace(path)


def _scaled(image: NDArray[np.uint8], target_height: int) -> NDArray[np.uint8]:
    scale = target_height / image.shape[0]
    size = (round(image.shape[1] * scale), target_height)
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _frame(
    face: NDArray[np.uint8], index: int, frames: int, width: int, height: int
) -> NDArray[np.uint8]:
    """A plain 'street' (graded wall, pavement line) with the face crossing left to right,
    bobbing slightly as a walker does, and the light changing a little."""
    canvas = _background(width, height, index)
    progress = index / max(frames - 1, 1)
    x = int(-face.shape[1] * 0.2 + progress * (width - face.shape[1] * 0.6))
    y = int(height * 0.12 + 6 * np.sin(index * 0.8))
    _paste(canvas, face, x, y)
    gain = 0.9 + 0.1 * np.cos(index * 0.15)
    return np.asarray(np.clip(canvas.astype(np.float32) * gain, 0, 255), dtype=np.uint8)


def _background(width: int, height: int, index: int) -> NDArray[np.uint8]:
    ramp = np.linspace(70, 150, width, dtype=np.float32)
    canvas = np.repeat(ramp[None, :, None], height, axis=0).repeat(3, axis=2)
    canvas[int(height * 0.8) :, :, :] = 60.0
    rng = np.random.default_rng(index)
    canvas += rng.normal(0, 3, canvas.shape).astype(np.float32)
    return np.asarray(np.clip(canvas, 0, 255), dtype=np.uint8)


def _paste(canvas: NDArray[np.uint8], face: NDArray[np.uint8], x: int, y: int) -> None:
    height, width = canvas.shape[:2]
    left, top = max(x, 0), max(y, 0)
    right, bottom = min(x + face.shape[1], width), min(y + face.shape[0], height)
    if right <= left or bottom <= top:
        return
    canvas[top:bottom, left:right] = face[top - y : bottom - y, left - x : right - x]
