"""The live view is private by construction (REC-4, REC-5): on every test clip, the preview
frames the console receives (the real worker, the real preview sink, JPEG as sent) show no
face outside an alert's box to detectors stronger than the engine's own, and carry no detail
finer than the mosaic's blocks."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lfr.vision.detection import HogDetectorConfig, build_detector
from lfr.vision.detection.base import Detector
from lfr.vision.detection.yunet import YuNetDetectorConfig
from lfr.vision.imageio import decode_image_bytes
from lfr.vision.pipeline import (
    ALERT_MARGIN,
    CameraWorker,
    Engine,
    EngineConfig,
    PreviewFrame,
    preview_block,
    widened,
)
from lfr.vision.sources import FileSource
from lfr.vision.types import Box, CameraStatus, Frame, RGBImage
from lfr.web.preview import QueuePreview

from .conftest import MIRANDA, make_watchlist
from .test_camera_worker import enrol

FRAMES_PER_CLIP = 16
"""Preview frames checked per clip, spread over the whole clip (HOG with one upsampling costs
a quarter of a second a frame on the development machine)."""

JPEG_TOLERANCE = 2
"""The most a pixel inside a block (its one-pixel rim left out: the decoder blends colour
across block edges) may stray from the block's median after JPEG; 0 was measured."""


class EveryNth:
    """A real file source that hands the worker every `step`-th frame."""

    def __init__(self, source: FileSource, step: int) -> None:
        self._frames: Iterator[Frame] = (f for f in source if f.index % step == 0)
        self._source = source
        self.spec, self.camera = source.spec, source.camera
        self.decode_times = source.decode_times
        self.dropped_frames = 0
        self.last_error: str | None = None
        self.status = CameraStatus.UP

    def read(self, timeout: float) -> Frame | None:
        frame = next(self._frames, None)
        if frame is None:
            self.status = CameraStatus.ENDED
        return frame

    def close(self) -> None:
        self._source.close()


def clips(video_dir: Path) -> list[Path]:
    return sorted(p for p in video_dir.iterdir() if p.suffix in {".mp4", ".gif"})


def frame_count(clip: Path) -> int:
    return sum(1 for _ in FileSource(clip, "count"))


@pytest.fixture(scope="module")
def stronger_detectors(data_dir: Path) -> list[Detector]:
    """YuNet at a low score threshold (finds small, turned and blurred faces) and HOG with
    one upsampling (faces down to about 40 px)."""
    model = data_dir.parent / "models" / "yunet_n_dynamic.onnx"
    return [
        build_detector(YuNetDetectorConfig(model_path=model, score_threshold=0.5)),
        build_detector(HogDetectorConfig(upsample=1)),
    ]


def sent_previews(
    clip: Path, engine: Engine, config: EngineConfig, watchlist: Path
) -> list[tuple[RGBImage, tuple[Box, ...], RGBImage]]:
    """(what the console receives, decoded; the alert boxes; the original frame) for
    `FRAMES_PER_CLIP` frames of `clip` run through the worker and the real preview sink."""
    step = max(1, frame_count(clip) // FRAMES_PER_CLIP)
    originals = {f.index: f.image for f in FileSource(clip, "cam") if f.index % step == 0}
    frames: queue.Queue[tuple[str, str, object, bytes]] = queue.Queue()
    send = QueuePreview(frames, interval_s=0).open("deployment")
    shown: list[tuple[int, tuple[Box, ...]]] = []

    def preview(frame: PreviewFrame) -> None:
        shown.append((frame.index, frame.alert_boxes))
        send(frame)

    gallery = enrol(engine, watchlist)
    worker = CameraWorker(
        EveryNth(FileSource(clip, "cam"), step),
        engine,
        gallery,
        config,
        lambda _: None,
        preview=preview,
    )
    worker.run(threading.Event())
    jpegs = [frames.get_nowait()[3] for _ in shown]
    return [
        (decode_image_bytes(jpeg, name="preview"), boxes, originals[index])
        for jpeg, (index, boxes) in zip(jpegs, shown, strict=True)
    ]


def outside(boxes: tuple[Box, ...], shape: tuple[int, ...]) -> np.ndarray:
    """True where a pixel lies outside every alert's shown area."""
    mask = np.ones(shape[:2], dtype=bool)
    for box in boxes:
        mask[widened(box, ALERT_MARGIN, shape)] = False
    return mask


def faces_outside(detectors: list[Detector], image: RGBImage, boxes: tuple[Box, ...]) -> int:
    mask = outside(boxes, image.shape)
    found = [f.box for d in detectors for f in d.detect(image)]
    return sum(1 for b in found if mask[(b.top + b.bottom) // 2, (b.left + b.right) // 2])


def blocks_not_uniform(image: RGBImage, boxes: tuple[Box, ...]) -> int:
    """Mosaic blocks, wholly outside the alerts, whose pixels are not one colour (after JPEG)."""
    block = preview_block(image.shape)
    mask = outside(boxes, image.shape)
    height, width = image.shape[:2]
    uneven = 0
    for top in range(0, height, block):
        for left in range(0, width, block):
            area = (slice(top, top + block), slice(left, left + block))
            inner = (slice(top + 1, top + block - 1), slice(left + 1, left + block - 1))
            if not mask[area].all() or image[inner].size == 0:
                continue
            cell = image[inner].reshape(-1, 3).astype(np.int16)
            if np.abs(cell - np.median(cell, axis=0)).max() > JPEG_TOLERANCE:
                uneven += 1
    return uneven


@pytest.mark.slow
def test_no_face_can_be_found_in_the_live_view_of_any_clip(
    engine: Engine,
    video_dir: Path,
    examples_dir: Path,
    tmp_path: Path,
    stronger_detectors: list[Detector],
) -> None:
    """REC-5: for every clip, the detectors find faces in the frames themselves and none in
    what the console is sent outside an alert's box; every block is one colour. (That an
    alert's own face is shown is test_camera_worker's.)"""
    watchlist = make_watchlist(tmp_path / "wl", [examples_dir / f"{MIRANDA}.png"])
    config = EngineConfig(alert_threshold=0.92)  # the stage story's authorised threshold
    found_in_originals = 0
    for clip in clips(video_dir):
        for image, boxes, original in sent_previews(clip, engine, config, watchlist):
            found_in_originals += faces_outside(stronger_detectors, original, boxes)
            assert faces_outside(stronger_detectors, image, boxes) == 0, clip.name
            assert blocks_not_uniform(image, boxes) == 0, clip.name
    assert found_in_originals >= 20  # the check can fail: there were faces to hide
