"""dlib's MMOD face detector (`mmod`, dlib-bin, CPU only) against the same network
exported to ONNX (`mmod-onnx`): do they find the same faces, and how long does a
1280×720 frame take (REC-2; docs/evaluation.md "GPU: detection").

    PYTHONPATH=src nice -n 5 python -m benchmarks.mmod_onnx [--rounds 5]
    # on a machine with onnxruntime-gpu and an NVIDIA GPU:
    PYTHONPATH=src python -m benchmarks.mmod_onnx --providers CUDAExecutionProvider \\
        CPUExecutionProvider

Equality: on the example photographs (small ones: dlib takes about a second per 0.2
megapixels), each of dlib's boxes is matched with the exported detector's most
overlapping one; the table gives the counts, the smallest IoU and the largest score
difference. Speed: obama-720p.jpg (1280×720, one face), the median of `--rounds` calls
after one warm-up call, dlib as installed (its own threading) and ONNX Runtime with one
thread and with every core (`intra_op_threads` 1 and 0); the exported detector's time
is split into building the tiled pyramid (numpy) and the rest (the network and the
decoding).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import shared_data_dir
from lfr.vision.detection import (
    Detection,
    MmodDetectorConfig,
    MmodOnnxDetectorConfig,
    build_detector,
)
from lfr.vision.detection.base import _iou
from lfr.vision.detection.mmod_export import convert_mmod_model
from lfr.vision.detection.mmod_onnx import tiled_pyramid
from lfr.vision.imageio import load_image
from lfr.vision.types import RGBImage

EQUALITY_IMAGES = [
    ("face_recognition-examples/obama_small.jpg", 0),
    ("face_recognition-examples/obama-240p.jpg", 1),
    ("face_recognition-examples/alex-lacamoire.png", 0),
    ("face_recognition-examples/obama-480p.jpg", 0),
    ("face_recognition-examples/lin-manuel-miranda.png", 0),
    ("face_recognition-examples/two_people.jpg", 0),
    ("dlib-examples/2008_001322.jpg", 0),
    ("dlib-examples/2009_004587.jpg", 0),
    ("dlib-examples/2008_002470.jpg", 0),
    ("dlib-examples/2008_002470.jpg", 1),
    ("dlib-examples/2007_007763.jpg", 1),
]
SPEED_IMAGE = "face_recognition-examples/obama-720p.jpg"


def compare(ours: list[Detection], dlibs: list[Detection]) -> tuple[float, float]:
    """(smallest IoU, largest score difference) over dlib's detections, each with our
    most overlapping one; (1, 0) when there are none."""
    worst_iou, worst_difference = 1.0, 0.0
    for theirs in dlibs:
        if not ours:
            return 0.0, float("inf")
        best = max(ours, key=lambda d: _iou(d.box, theirs.box))
        worst_iou = min(worst_iou, _iou(best.box, theirs.box))
        worst_difference = max(worst_difference, abs(best.confidence - theirs.confidence))
    return worst_iou, worst_difference


def equality(faces: Path, providers: tuple[str, ...]) -> None:
    print("| image | upsample | dlib faces | onnx faces | smallest IoU | largest score diff |")
    print("|---|---|---|---|---|---|")
    for name, upsample in EQUALITY_IMAGES:
        image = load_image(faces / name)
        dlibs = build_detector(MmodDetectorConfig(upsample=upsample)).detect(image)
        onnx_config = MmodOnnxDetectorConfig(upsample=upsample, providers=providers)
        ours = build_detector(onnx_config).detect(image)
        iou, difference = compare(ours, dlibs)
        print(
            f"| {Path(name).name} {image.shape[1]}×{image.shape[0]} | {upsample} | "
            f"{len(dlibs)} | {len(ours)} | {iou:.3f} | {difference:.1e} |"
        )


def median_ms(call: Callable[[], object], rounds: int) -> float:
    call()  # warm-up: the model is read and the session created on the first call
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def speed(image: RGBImage, rounds: int, providers: tuple[str, ...]) -> None:
    print(f"\n## 1280×720 frame, median of {rounds} ({os.cpu_count()} cores)\n")
    print("| detector | ms per frame |")
    print("|---|---|")
    dlib = build_detector(MmodDetectorConfig())
    ms = median_ms(lambda: dlib.detect(image), rounds)
    print(f"| mmod (dlib-bin, its own threads) | {ms:.0f} |")
    for threads in (1, 0):
        config = MmodOnnxDetectorConfig(providers=providers, intra_op_threads=threads)
        onnx = build_detector(config)
        label = "1 thread" if threads == 1 else "all cores"
        ms = median_ms(lambda: onnx.detect(image), rounds)  # noqa: B023 (called here)
        print(f"| mmod-onnx {'+'.join(providers)}, {label} | {ms:.0f} |")
    net, _ = convert_mmod_model()
    ms = median_ms(lambda: tiled_pyramid(image, net), rounds)
    print(f"| of which the tiled pyramid (numpy) | {ms:.0f} |")
    began = time.perf_counter()
    convert_mmod_model()
    ms = (time.perf_counter() - began) * 1000
    print(f"\nExport of the .dat to ONNX (once per detector): {ms:.0f} ms")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--providers", nargs="+", default=["CPUExecutionProvider"])
    parser.add_argument("--skip-equality", action="store_true")
    args = parser.parse_args(argv)
    faces = shared_data_dir() / "faces"
    providers = tuple(args.providers)
    if not args.skip_equality:
        equality(faces, providers)
    speed(load_image(faces / SPEED_IMAGE), args.rounds, providers)


if __name__ == "__main__":
    main()
