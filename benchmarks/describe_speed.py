"""Time per face of the describers: dlib-bin against ONNX Runtime on this machine (REC-2).

Usage (from the project root):

    PYTHONPATH=src python benchmarks/describe_speed.py [--seconds 2] [--rounds 3]
        [--model exported.onnx] [--providers CUDAExecutionProvider,CPUExecutionProvider]

The chips are real: every face dlib's HOG detector finds in the face_recognition example
photos (``LFR_TEST_DATA`` or ``../shared/data``), aligned with ``dlib.get_face_chip``,
repeated to fill each batch. Without ``--model`` the installed dlib ResNet is exported to a
temporary file first. Each row is measured ``--rounds`` times for at least ``--seconds``
each; the table shows the best round (the one least disturbed by other processes) and the
median, plus the load average before and after, so a busy machine shows in the numbers.
The last line checks that both describers gave the same descriptors.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lfr.vision.describers import (
    Describer,
    DlibDescriber,
    DlibDescriberConfig,
    OnnxDescriber,
    OnnxDescriberConfig,
)
from lfr.vision.describers.dlib_onnx_export import export_dlib_model

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CHIP_SOURCES = ["obama.jpg", "biden.jpg", "two_people.jpg", "lin-manuel-miranda.png"]


@dataclass(frozen=True)
class Row:
    backend: str
    batch: int
    threads: str
    best_ms: float
    median_ms: float


def data_dir() -> Path:
    override = os.environ.get("LFR_TEST_DATA")
    return Path(override) if override else PROJECT_ROOT.parent / "shared" / "data"


def load_chips() -> list[np.ndarray[Any, Any]]:
    import dlib
    import face_recognition_models

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(
        face_recognition_models.pose_predictor_five_point_model_location()
    )
    chips = []
    for name in CHIP_SOURCES:
        image = dlib.load_rgb_image(str(data_dir() / "faces" / "face_recognition-examples" / name))
        for box in detector(image, 1):
            chips.append(dlib.get_face_chip(image, predictor(image, box), size=150, padding=0.25))
    if not chips:
        raise SystemExit(f"no faces found under {data_dir()} (set LFR_TEST_DATA)")
    return chips


def batch_of(chips: Sequence[np.ndarray[Any, Any]], size: int) -> list[np.ndarray[Any, Any]]:
    return [chips[i % len(chips)] for i in range(size)]


def time_per_face(
    describer: Describer, chips: Sequence[np.ndarray[Any, Any]], seconds: float, rounds: int
) -> tuple[float, float]:
    """(best, median) milliseconds per face over `rounds` rounds of at least `seconds`."""
    describer.describe(chips)  # warm up: loads the model, sizes the buffers
    per_face = []
    for _ in range(rounds):
        calls, started = 0, time.perf_counter()
        while True:
            describer.describe(chips)
            calls += 1
            elapsed = time.perf_counter() - started
            if elapsed >= seconds:
                break
        per_face.append(elapsed * 1000 / (calls * len(chips)))
    return min(per_face), statistics.median(per_face)


def measure(args: argparse.Namespace, model: Path, chips: list[np.ndarray[Any, Any]]) -> list[Row]:
    cores = os.cpu_count() or 1
    providers = tuple(args.providers.split(","))
    rows = []
    dlib_describer = DlibDescriber(DlibDescriberConfig())
    for batch in (1, 8):
        best, median = time_per_face(
            dlib_describer, batch_of(chips, batch), args.seconds, args.rounds
        )
        rows.append(Row("dlib-bin", batch, "dlib's", best, median))
    for threads in (0, 1):
        for batch in (1, 8, 32):
            if threads == 1 and batch == 32:
                continue
            config = OnnxDescriberConfig(
                model_path=model, intra_op_threads=threads, batch_size=32, providers=providers
            )
            best, median = time_per_face(
                OnnxDescriber(config), batch_of(chips, batch), args.seconds, args.rounds
            )
            label = f"{cores} (all)" if threads == 0 else str(threads)
            rows.append(
                Row(
                    "onnxruntime "
                    + "+".join(p.removesuffix("ExecutionProvider") for p in providers),
                    batch,
                    label,
                    best,
                    median,
                )
            )
    return rows


def print_table(rows: list[Row]) -> None:
    # The fastest dlib-bin row is the baseline, so the speed-up is never flattered by noise.
    baseline = min(row.best_ms for row in rows if row.backend == "dlib-bin")
    header = (
        f"{'backend':<22}{'batch':>6}{'threads':>10}{'best ms/face':>14}"
        f"{'median':>9}{'faces/s':>9}{'speed-up':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.backend:<22}{row.batch:>6}{row.threads:>10}{row.best_ms:>14.2f}"
            f"{row.median_ms:>9.2f}{1000 / row.best_ms:>9.1f}{baseline / row.best_ms:>9.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum seconds per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per row (best is shown)")
    parser.add_argument("--model", type=Path, help="ONNX model (default: export dlib's now)")
    parser.add_argument(
        "--providers",
        default="CPUExecutionProvider",
        help="ONNX Runtime providers, comma-separated",
    )
    args = parser.parse_args()

    import dlib
    import onnxruntime

    chips = load_chips()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        model = args.model or export_dlib_model(Path(scratch) / "dlib_resnet.onnx")
        rows = measure(args, model, chips)
        onnx_descriptors = OnnxDescriber(OnnxDescriberConfig(model_path=model)).describe(chips)
    dlib_descriptors = DlibDescriber(DlibDescriberConfig()).describe(chips)
    load_after = os.getloadavg()

    print(
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"dlib {dlib.__version__} (dlib-bin wheel), onnxruntime {onnxruntime.__version__}; "
        f"{len(chips)} distinct chips, 150x150"
    )
    print(
        f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f}; "
        f"{args.rounds} rounds of >= {args.seconds:g} s per row"
    )
    print()
    print_table(rows)
    print()
    difference = float(np.abs(onnx_descriptors - dlib_descriptors).max())
    print(f"max |onnx - dlib| over {len(chips)} normalised descriptors: {difference:.2e}")


if __name__ == "__main__":
    main()
