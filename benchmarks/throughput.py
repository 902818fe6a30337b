"""End-to-end throughput on a clip: the engine (`CameraWorker`, as `lfr watch` runs it)
against a naive per-frame loop in the face_recognition style, with recall against the
crowd clips' ground truth.

The naive loop does what face_recognition and most demos built on it do: for every
frame, detect every face (dlib HOG on the full frame), align and describe every one of
them with dlib-bin's ResNet (face_recognition's own describer), search the watchlist,
alert at or above the threshold. The engine runs as shipped (`EngineConfig` defaults:
its detection settings, tracking, a few chosen descriptions per track, the same ResNet
weights in ONNX Runtime — identical descriptors). Both use the same watchlist people and
threshold.

Each run happens in its own process (``python -m benchmarks.throughput RUN.json``) so
that its peak memory is its own; it prints one JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks import PROJECT_ROOT
from benchmarks.common import (
    describer_config,
    enrolled_gallery,
    naive_detector,
    peak_rss_mb,
)
from lfr.vision.analysis import FaceAnalyser
from lfr.vision.describers import build_describer
from lfr.vision.detection import build_detector


@dataclass(frozen=True)
class RunSpec:
    mode: str  # "engine" or "naive"
    clip: str
    watchlist: str
    describer: str
    threshold: float
    max_frames: int
    engine_detector: dict[str, Any] | None = None
    """The engine's detector settings (a `DetectorConfig` as a mapping); None keeps the
    engine's default."""
    engine_settings: dict[str, Any] | None = None
    """Further `EngineConfig` fields for the engine (e.g. ``{"following":
    {"detect_every": 1}}``); None keeps the defaults."""


@dataclass
class RunResult:
    spec: RunSpec
    frames: int
    seconds: float
    faces: int
    descriptions: int
    alerts: list[str] = field(default_factory=list)
    """Alerted subject ids, one per alert, in order."""
    refused_enrolments: int = 0
    peak_rss_mb: float = 0.0
    latency_ms_p50: float = 0.0
    """Per processed frame, from capture to done (the engine's own health figure)."""
    latency_ms_p95: float = 0.0
    cpu_ms_per_frame: float = 0.0
    """Process CPU time (every thread) per frame while the clip ran: the cost that the
    other work on a shared machine changes least."""

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def read_frames(clip: Path, max_frames: int) -> list[np.ndarray]:
    """Decode up to `max_frames` frames as RGB (GIFs included)."""
    capture = cv2.VideoCapture(str(clip))
    frames = []
    while len(frames) < max_frames:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)))
    capture.release()
    return frames


def run_naive(spec: RunSpec) -> RunResult:
    enrolled = enrolled_gallery(Path(spec.watchlist), spec.describer)
    analyser = FaceAnalyser(build_detector(naive_detector()))
    describer = build_describer(describer_config(spec.describer))
    capture = cv2.VideoCapture(spec.clip)
    frames = faces = 0
    alerts: list[str] = []
    latencies: list[float] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    while frames < spec.max_frames:
        frame_started = time.perf_counter()
        ok, bgr = capture.read()  # decoding counts: the engine pays for it too
        if not ok:
            break
        image = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        observations = analyser.analyse(image)
        frames += 1
        faces += len(observations)
        if observations:
            descriptors = describer.describe([o.chip for o in observations])
            for candidates in enrolled.gallery.search(descriptors, k=1):
                if candidates and candidates[0].score >= spec.threshold:
                    alerts.append(candidates[0].subject_id)
        latencies.append((time.perf_counter() - frame_started) * 1000)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    capture.release()
    p50, p95 = np.percentile(latencies, [50, 95]) if latencies else (0.0, 0.0)
    return RunResult(
        spec,
        frames,
        seconds,
        faces,
        faces,
        alerts,
        enrolled.refused,
        latency_ms_p50=float(p50),
        latency_ms_p95=float(p95),
        cpu_ms_per_frame=1000 * cpu_s / max(1, frames),
    )


def run_engine(spec: RunSpec) -> RunResult:
    from lfr.vision.pipeline import CameraWorker, Engine, EngineConfig
    from lfr.vision.sources import open_source
    from lfr.vision.types import HealthFigures, MatchEvent

    # The engine as shipped: its default detector and detection settings, and the
    # describer named by the run (``dlib``, the default, runs the weights in ONNX Runtime).
    detector = {} if spec.engine_detector is None else {"detector": spec.engine_detector}
    config = EngineConfig.model_validate(
        {
            **(spec.engine_settings or {}),
            **detector,
            "describer": describer_config(spec.describer),
            "alert_threshold": spec.threshold,
            "health_interval_s": 3600,
        }
    )
    # The watchlist described as the engine describes its probes.
    enrolled = enrolled_gallery(Path(spec.watchlist), spec.describer, config.description)
    engine = Engine.from_config(config)
    source = FrameLimit(open_source(spec.clip, "benchmark"), spec.max_frames)
    events: list[MatchEvent] = []
    health: list[HealthFigures] = []

    def emit(item: MatchEvent | HealthFigures) -> None:
        (events if isinstance(item, MatchEvent) else health).append(item)  # type: ignore[arg-type]

    worker = CameraWorker(source, engine, enrolled.gallery, config, emit)  # type: ignore[arg-type]
    warm_up(engine, config)
    started, cpu_started = time.perf_counter(), time.process_time()
    worker.run(threading.Event())
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    source.close()
    final = health[-1]  # sent at the end; with a 3600 s interval it covers the whole run
    return RunResult(
        spec,
        frames=source.delivered,
        seconds=seconds,
        faces=sum(h.faces for h in health),
        descriptions=worker.descriptions,
        alerts=[e.subject_id for e in events],
        refused_enrolments=enrolled.refused,
        latency_ms_p50=final.latency_ms_p50,
        latency_ms_p95=final.latency_ms_p95,
        cpu_ms_per_frame=1000 * cpu_s / max(1, source.delivered),
    )


def warm_up(engine: Any, config: Any) -> None:
    """Load the engine's models (detector, landmarks, describer) before the clock starts:
    loading is paid once per worker (about a second of CPU here: 3–4 ms a frame over a
    250-frame clip), not per frame, and a camera runs for hours."""
    from lfr.vision.types import Box

    blank = np.zeros((200, 200, 3), dtype=np.uint8)
    engine.analyser.detector.detect(blank)
    face = engine.analyser.observe(blank, Box(left=50, top=50, right=150, bottom=150))
    config.description.describe(engine.describer, [face])


class FrameLimit:
    """A source that ends after `limit` frames (quick mode on long clips)."""

    def __init__(self, source: Any, limit: int) -> None:
        self._source = source
        self._limit = limit
        self.delivered = 0

    def read(self, timeout: float) -> Any:
        if self.delivered >= self._limit:
            return None
        frame = self._source.read(timeout)
        if frame is not None:
            self.delivered += 1
        return frame

    @property
    def status(self) -> Any:
        from lfr.vision.types import CameraStatus

        return CameraStatus.ENDED if self.delivered >= self._limit else self._source.status

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)


def run_in_subprocess(spec: RunSpec, timeout_s: float = 3600) -> RunResult:
    """One run in a fresh interpreter: its peak RSS is the run's own."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.throughput", json.dumps(asdict(spec))],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{spec.mode} run on {spec.clip} failed:\n{completed.stderr[-3000:]}")
    data = json.loads(completed.stdout.strip().splitlines()[-1])
    data["spec"] = RunSpec(**data["spec"])
    return RunResult(**data)


def walker_recall(
    alerts: Sequence[str], truth: dict[str, Any], enrolled: set[str]
) -> dict[str, Any]:
    """Recall per pass: the share of watchlisted walkers (enrolled ones) that raised at
    least one alert naming them; alerts naming anyone else are false."""
    walkers = truth["walkers"]
    expected = {w["identity"] for w in walkers if w["watchlisted"] and w["identity"] in enrolled}
    found = expected & set(alerts)
    false_alerts = sum(1 for subject in alerts if subject not in expected)
    return {
        "watchlisted_walkers": len(expected),
        "found": len(found),
        "recall": len(found) / len(expected) if expected else float("nan"),
        "false_alerts": false_alerts,
        "alerts": len(alerts),
    }


def main(argv: Sequence[str]) -> None:
    spec = RunSpec(**json.loads(argv[0]))
    result = run_engine(spec) if spec.mode == "engine" else run_naive(spec)
    result.peak_rss_mb = peak_rss_mb()
    data = asdict(result)
    print(json.dumps(data))


if __name__ == "__main__":
    main(sys.argv[1:])
