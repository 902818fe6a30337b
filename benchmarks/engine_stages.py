"""Milliseconds per stage of the engine core on this machine (REC-2).

Times each step the camera worker runs for a face, on a real frame of the Hamilton clip
(640×360) and on the same frame scaled to 1280×720, and prints a table (median of
`--repeats` runs). Speed is shown here, never asserted in tests.

    PYTHONPATH=src python benchmarks/engine_stages.py [--data $LFR_TEST_DATA]
        [--yunet ../shared/models/yunet_n_640_640.onnx] [--repeats 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from lfr.vision.analysis import FaceAnalyser
from lfr.vision.describers import build_describer
from lfr.vision.detection import (
    DetectorConfig,
    HogDetectorConfig,
    MmodDetectorConfig,
    YuNetDetectorConfig,
    build_detector,
)
from lfr.vision.imageio import load_image
from lfr.vision.landmarks import LandmarkLocator, align
from lfr.vision.matcher import Gallery
from lfr.vision.quality import assess_quality
from lfr.vision.types import RGBImage

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    frame = _hamilton_frame(args.data / "video" / "short_hamilton_clip.mp4", index=160)
    frame_720: RGBImage = np.ascontiguousarray(cv2.resize(frame, (1280, 720)), dtype=np.uint8)
    rows: list[tuple[str, float]] = []

    def measure(name: str, step: Callable[[], object], repeats: int = args.repeats) -> None:
        step()  # warm-up: loads the model
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            step()
            times.append((time.perf_counter() - started) * 1000)
        rows.append((name, statistics.median(times)))

    portrait = args.data / "faces" / "face_recognition-examples" / "obama.jpg"
    measure("load_image obama.jpg (910×1137 JPEG)", lambda: load_image(portrait))
    detectors: list[tuple[str, DetectorConfig, RGBImage]] = [
        ("detect HOG 640×360", HogDetectorConfig(), frame),
        ("detect HOG 640×360, upsample 1", HogDetectorConfig(upsample=1), frame),
        ("detect HOG 1280×720", HogDetectorConfig(), frame_720),
    ]
    if args.yunet is not None and args.yunet.is_file():
        detectors += [
            ("detect YuNet 640×360", YuNetDetectorConfig(model_path=args.yunet), frame),
            ("detect YuNet 1280×720", YuNetDetectorConfig(model_path=args.yunet), frame_720),
        ]
    for name, config, image in detectors:
        detector = build_detector(config)
        measure(name, lambda d=detector, i=image: d.detect(i))  # type: ignore[misc]
    mmod = build_detector(MmodDetectorConfig())
    measure("detect MMOD CNN 640×360", lambda: mmod.detect(frame), repeats=2)

    analyser = FaceAnalyser(build_detector(HogDetectorConfig(upsample=1)), LandmarkLocator())
    [face, *_] = analyser.analyse(frame)
    locator = analyser.locator
    measure("landmarks (5-point)", lambda: locator.locate(frame, face.box))
    measure("align to 150×150 chip", lambda: align(frame, face.landmarks))
    measure("quality", lambda: assess_quality(frame, face.box, face.landmarks, face.chip))
    describer = build_describer()
    measure("describe (dlib ResNet), 1 chip", lambda: describer.describe([face.chip]))
    eight = [face.chip] * 8
    rows.append(("describe, per chip in a batch of 8", _per_item(describer.describe, eight)))
    probe = describer.describe([face.chip])
    rng = np.random.default_rng(0)
    for size in (1_000, 10_000):
        templates = rng.normal(size=(size, describer.dimension)).astype(np.float32)
        gallery = Gallery.build([f"s{i}" for i in range(size)], templates)
        measure(f"match 1 probe, top-5 of {size:,} subjects", lambda g=gallery: g.search(probe))  # type: ignore[misc]

    print(f"\n| stage | ms (median of {args.repeats}) |\n|---|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.2f} |")
    return 0


def _per_item(step: Callable[[list[RGBImage]], object], batch: list[RGBImage]) -> float:
    step(batch)
    started = time.perf_counter()
    step(batch)
    return (time.perf_counter() - started) * 1000 / len(batch)


def _hamilton_frame(path: Path, index: int) -> RGBImage:
    capture = cv2.VideoCapture(str(path))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = capture.read()
    finally:
        capture.release()
    if not ok:
        raise SystemExit(f"{path}: cannot read frame {index}")
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    override = os.environ.get("LFR_TEST_DATA")
    data = Path(override) if override else PROJECT_ROOT.parent / "shared" / "data"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=data, help="the shared test data folder")
    parser.add_argument(
        "--yunet",
        type=Path,
        default=data.parent / "models" / "yunet_n_640_640.onnx",
        help="a YuNet ONNX model (skipped when missing)",
    )
    parser.add_argument("--repeats", type=int, default=10, help="runs per stage")
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(main())
