"""Faces described per second through ONNX Runtime's CUDA execution provider, beside its
CPU provider on the same machine, and what that gives in cameras per GPU at 1080p and
25 frames/s (REC-2; docs/evaluation.md "GPU").

Usage (from the project root, on a machine with onnxruntime-gpu and an NVIDIA GPU):

    PYTHONPATH=src python -m benchmarks.gpu_describe [--model dlib_resnet.onnx]
        [--chips chips.npy] [--batches 1 8 32 128 512] [--seconds 3]
        [--descriptions-per-frame 0.41] [--camera-fps 25]

    # where the test data and dlib are (this project's machine): write the inputs once,
    # so that they can travel to a GPU machine that has neither
    PYTHONPATH=src python -m benchmarks.gpu_describe --save-inputs DIR

The chips are real aligned faces (the face_recognition example photos, as in
`benchmarks/describe_speed.py`), repeated to fill each batch. Each row is the best of
three rounds of at least `--seconds`; the CUDA descriptors are checked against the CPU
ones. Cameras per GPU divides the faces/s by what one camera asks for: `--camera-fps` ×
`--descriptions-per-frame` (0.41: the engine's descriptions per frame on the 1080p crowd,
103 in 250 frames, docs/evaluation.md). Detection is not counted: the detectors run on
the CPU (OpenCV's YuNet, dlib), so a GPU machine's cameras are bounded by its cores too;
the last lines say both.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lfr.vision.describers import OnnxDescriber, OnnxDescriberConfig

CUDA = ("CUDAExecutionProvider", "CPUExecutionProvider")
CPU = ("CPUExecutionProvider",)
CROWD_1080P_DESCRIPTIONS_PER_FRAME = 103 / 250


@dataclass(frozen=True)
class Row:
    provider: str
    batch: int
    ms_per_face: float

    @property
    def faces_per_s(self) -> float:
        return 1000 / self.ms_per_face


def best_ms_per_face(
    describer: OnnxDescriber, chips: Sequence[np.ndarray[Any, Any]], seconds: float
) -> float:
    describer.describe(chips)  # warm up: the session, its buffers, cuDNN's algorithm search
    rounds = []
    for _ in range(3):
        calls, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds or calls == 0:
            describer.describe(chips)
            calls += 1
        rounds.append(elapsed * 1000 / (calls * len(chips)))
    return min(rounds)


def describer(model: Path, providers: tuple[str, ...], batch: int) -> OnnxDescriber:
    config = OnnxDescriberConfig(model_path=model, providers=providers, batch_size=batch)
    return OnnxDescriber(config)


def measure(
    model: Path, chips: np.ndarray[Any, Any], batches: Sequence[int], seconds: float
) -> tuple[list[Row], float]:
    """Rows for CUDA then CPU, and the largest difference between their descriptors."""
    rows = []
    for providers in (CUDA, CPU):
        name = providers[0].removesuffix("ExecutionProvider")
        for batch in batches:
            batch_chips = [chips[i % len(chips)] for i in range(batch)]
            ms = best_ms_per_face(describer(model, providers, batch), batch_chips, seconds)
            rows.append(Row(name, batch, ms))
            print(f"  {name:<5} batch {batch:>4}: {ms:.3f} ms/face", flush=True)
    sample = list(chips)
    difference = np.abs(
        describer(model, CUDA, 64).describe(sample) - describer(model, CPU, 64).describe(sample)
    ).max()
    return rows, float(difference)


def print_table(rows: list[Row], per_camera: float, cores: int) -> None:
    print(f"{'provider':<9}{'batch':>6}{'ms/face':>10}{'faces/s':>10}{'cameras':>9}")
    for row in rows:
        cameras = row.faces_per_s / per_camera
        print(
            f"{row.provider:<9}{row.batch:>6}{row.ms_per_face:>10.3f}"
            f"{row.faces_per_s:>10.0f}{cameras:>9.0f}"
        )
    print(
        f"cameras: faces/s ÷ {per_camera:.1f} descriptions/s per camera; "
        f"the CPU rows use all {cores} cores"
    )


def save_inputs(folder: Path) -> None:
    from benchmarks.describe_speed import load_chips
    from lfr.vision.describers.dlib_onnx_export import export_dlib_model

    folder.mkdir(parents=True, exist_ok=True)
    export_dlib_model(folder / "dlib_resnet.onnx")
    np.save(folder / "chips.npy", np.stack(load_chips()))
    print(f"wrote {folder / 'dlib_resnet.onnx'} and {folder / 'chips.npy'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="ONNX model (default: export dlib's now)")
    parser.add_argument("--chips", type=Path, help="aligned chips, N×150×150×3 uint8 (.npy)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 128, 512])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument(
        "--descriptions-per-frame", type=float, default=CROWD_1080P_DESCRIPTIONS_PER_FRAME
    )
    parser.add_argument("--camera-fps", type=float, default=25.0)
    parser.add_argument("--save-inputs", type=Path, help="write the model and chips here")
    args = parser.parse_args()
    if args.save_inputs:
        save_inputs(args.save_inputs)
        return

    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        raise SystemExit(
            "ONNX Runtime has no CUDA provider here: install onnxruntime-gpu on a machine "
            f"with an NVIDIA GPU (available: {onnxruntime.get_available_providers()})"
        )
    with tempfile.TemporaryDirectory() as scratch:
        if args.model is None or args.chips is None:
            save_inputs(Path(scratch))
        model = args.model or Path(scratch) / "dlib_resnet.onnx"
        chips = np.load(args.chips or Path(scratch) / "chips.npy")
        rows, difference = measure(model, chips, args.batches, args.seconds)
    cores = os.cpu_count() or 1
    per_camera = args.camera_fps * args.descriptions_per_frame
    print(f"onnxruntime {onnxruntime.__version__}; {len(chips)} distinct chips; {cores} cores")
    print_table(rows, per_camera, cores)
    print(f"max |CUDA - CPU| over {len(chips)} normalised descriptors: {difference:.2e}")


if __name__ == "__main__":
    main()
