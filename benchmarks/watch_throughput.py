"""Throughput of the recognition engine on the shared test clips (REC-5 figures).

For each clip: the camera worker's real run (frames, faces, descriptions, alerts, fps =
processed frames per wall second, the same figure `lfr watch` prints), then the cost of
each stage measured separately on the same frames: decode, detect (dlib HOG), landmarks +
alignment + quality per face, and describing one face (dlib ResNet).

    PYTHONPATH=src python benchmarks/watch_throughput.py [--data ../shared/data] \
        [--watchlist DIR] [--upsample N]

Prints a table; asserts nothing (speed is shown, never tested).
"""

from __future__ import annotations

import argparse
import math
import statistics
import threading
import time
from pathlib import Path

from lfr.vision.detection import HogDetectorConfig
from lfr.vision.enrolment import load_watchlist_dir
from lfr.vision.pipeline import CameraWorker, Emitted, Engine, EngineConfig
from lfr.vision.sources import FileSource
from lfr.vision.types import HealthFigures, MatchEvent

DESCRIBE_SAMPLE = 12
"""Faces described per clip for the per-face cost (each takes about 100 ms)."""


def worker_run(
    clip: Path, engine: Engine, config: EngineConfig, watchlist: Path
) -> dict[str, float]:
    gallery, _ = load_watchlist_dir(
        watchlist, engine.analyser, engine.describer, config.enrolment_gate
    )
    emitted: list[Emitted] = []
    worker = CameraWorker(FileSource(clip, clip.stem), engine, gallery, config, emitted.append)
    started = time.monotonic()
    worker.run(threading.Event())
    wall = time.monotonic() - started
    final = next(e for e in reversed(emitted) if isinstance(e, HealthFigures))
    return {
        "frames": final.frames,
        "faces": final.faces,
        "described": worker.descriptions,
        "alerts": sum(isinstance(e, MatchEvent) for e in emitted),
        "fps": final.frames / wall,
        "p50": final.latency_ms_p50,
        "p95": final.latency_ms_p95,
    }


def stage_costs(clip: Path, engine: Engine) -> dict[str, float]:
    decode, detect, observe, chips = [], [], [], []
    source = FileSource(clip, clip.stem)
    while True:
        started = time.perf_counter()
        frame = source.read(0)
        decode.append(time.perf_counter() - started)
        if frame is None:
            break
        started = time.perf_counter()
        detections = engine.analyser.detector.detect(frame.image)
        detect.append(time.perf_counter() - started)
        for detection in detections:
            started = time.perf_counter()
            face = engine.analyser.observe(frame.image, detection.box, detection.confidence)
            observe.append(time.perf_counter() - started)
            if len(chips) < DESCRIBE_SAMPLE:
                chips.append(face.chip)
    describe = []
    for chip in chips:
        started = time.perf_counter()
        engine.describer.describe([chip])
        describe.append(time.perf_counter() - started)
    return {
        name: 1000 * statistics.median(v) if v else float("nan")
        for name, v in (
            ("decode", decode),
            ("detect", detect),
            ("observe", observe),
            ("describe", describe),
        )
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    parser.add_argument("--watchlist", type=Path, help="default: the two Hamilton reference photos")
    parser.add_argument("--upsample", type=int, default=0)
    args = parser.parse_args()
    watchlist = args.watchlist or _hamilton_watchlist(args.data)
    config = EngineConfig(detector=HogDetectorConfig(upsample=args.upsample))
    engine = Engine.from_config(config)
    header = (
        "clip",
        "frames",
        "faces",
        "described",
        "alerts",
        "fps",
        "lat p50",
        "lat p95",
        "decode",
        "detect",
        "observe/face",
        "describe/face",
    )
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for clip in sorted((args.data / "video").glob("*.*")):
        if clip.suffix.lower() not in {".mp4", ".gif", ".avi", ".mkv"}:
            continue
        run = worker_run(clip, engine, config, watchlist)
        ms = stage_costs(clip, engine)
        print(
            f"{clip.name} | {run['frames']:.0f} | {run['faces']:.0f} | {run['described']:.0f} | "
            f"{run['alerts']:.0f} | {run['fps']:.1f} | {run['p50']:.0f} ms | {run['p95']:.0f} ms | "
            f"{_ms(ms['decode'])} | {_ms(ms['detect'])} | {_ms(ms['observe'])} | "
            f"{_ms(ms['describe'], 0)}",
            flush=True,
        )


def _ms(value: float, digits: int = 1) -> str:
    """Milliseconds, or a dash where the clip gave nothing to time (no face found)."""
    return "–" if math.isnan(value) else f"{value:.{digits}f} ms"


def _hamilton_watchlist(data: Path) -> Path:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="lfr-bench-watchlist-"))
    for name in ("lin-manuel-miranda.png", "alex-lacamoire.png"):
        (folder / name).symlink_to(data / "faces" / "face_recognition-examples" / name)
    return folder


if __name__ == "__main__":
    main()
