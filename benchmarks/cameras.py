"""Cameras per machine: several camera workers at once, each in its own process as `lfr
serve` runs them, on live-like sources (REC-1, REC-5).

    PYTHONPATH=src python -m benchmarks.cameras                       # before and after
    PYTHONPATH=src python -m benchmarks.cameras --cameras 1 4 --seconds 30 --settings after
    PYTHONPATH=src python -m benchmarks.cameras --settings after --detector '{"type": "mmod-onnx"}'
    PYTHONPATH=src python -m benchmarks.cameras --cameras 1 4 8 --resolutions 640x360 \
        --settings after --describer own shared --seconds 10

Each camera replays a clip in real time and in a loop (`open_source(realtime=True,
loop=True)`): frames arrive at the clip's rate whether or not the worker keeps up, and a
worker that lags drops the oldest, as with a real camera. 640×360 is the Hamilton clip
(watchlist: the crowd's plus Miranda's photograph), 720p the generated crowd (its own
watchlist). All workers of a row load their models first, then start together and run
for `--seconds`.

Per row: processed frames per second per camera (mean and slowest camera), frames
dropped (share of those the source delivered), two frame → alert latencies, p50 / p95
over every alert of every camera: from the capture of the alert's *probe* frame (the
track's best evidence, which may be frames before the confirmation: it includes the wait
for the confirming description) and from the capture of the *deciding* frame (the frame
whose description confirmed the alert: what the machine adds, queueing and computing) to
the alert leaving the worker; CPU per worker (share of one core), CPU time per processed frame (the
cost that does not depend on what else the machine runs: 1000 / it is the frame rate one
free core would sustain) and peak RSS per worker.

`--settings before` runs the engine's settings before this benchmark existed: detection
on every frame (`following.detect_every` 1) and ONNX Runtime / OpenCV using every core in
every worker; `after` the shipped defaults with the cores divided among the workers
(`threads_per_worker`); `augmented` those with flip and context description and fair
normalisation (four network passes a described face instead of one), to see what the
description costs.
Code-only changes (a cheaper colour conversion) apply to all.

`--gpu` is the GPU machine's mode: 1920×1080 cameras (the generated crowd at 1080p), each
decoded on the GPU's NVDEC (`[engine.decoding]` PyAV with hardware `cuda`), each
worker detecting with dlib's MMOD network on ONNX Runtime (`mmod-onnx`) and every face
described by the machine's one describer service, both on `--providers` (CUDA first by
default), and the largest count of cameras *held* at the clip's 25 frames/s (the slowest
camera at 95% of it or more, 5% of frames dropped at most) named with the device. Where
ONNX Runtime lacks a provider it names (no onnxruntime-gpu, no GPU), or NVDEC cannot
decode, it says so and runs nothing; `--providers CPUExecutionProvider` runs the same code
path on the CPU (PyAV decoding on the CPU too).

    PYTHONPATH=src python -m benchmarks.cameras --gpu --cameras 8 16 32 48 --seconds 20

`--describer shared` runs the row with the machine's describer service
(`supervisor.shared_describer`, `lfr.runtime.describer_service`, at the supervisor's
default wait and batch): the workers describe through it, and its CPU counts in the CPU
per frame. Two more columns say what a described face cost: the worker's wait for its
descriptors (own: the describing itself) and, shared, the service's CPU per face.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import crowd as crowd_clips
from benchmarks import shared_data_dir
from benchmarks.common import enrolled_gallery, peak_rss_mb, video_watchlist
from lfr.runtime.describer_service import DescriberLink
from lfr.vision.decision import FLIP_AND_CONTEXT
from lfr.vision.sources import Source
from lfr.vision.types import CameraStatus, Frame

SETTINGS = ("before", "after", "augmented", "gpu")
GPU_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")
HELD_SHARE = 0.95
"""A camera is held when it runs at this share of its clip's frame rate or more."""
HELD_DROPPED = 0.05
"""...and drops this share of the frames delivered at most."""


@dataclass(frozen=True)
class Camera:
    resolution: str
    clip: Path
    watchlist: Path


@dataclass(frozen=True)
class WorkerFigures:
    frames: int
    dropped: int
    seconds: float
    alert_latencies_ms: list[float]
    decision_latencies_ms: list[float]
    cpu_s: float
    peak_rss_mb: float
    descriptions: int
    describe_s: float
    """The worker's time in the describe stage (own describer: describing; shared: the
    wait for the service's answer)."""


AUGMENTED = {
    "description": FLIP_AND_CONTEXT.model_dump(mode="json"),
    "fair_normalisation": True,
}
"""Flip and context description with fair normalisation (lfr.vision.decision)."""


def engine_settings(
    setting: str, cameras: int, providers: Sequence[str] = GPU_PROVIDERS
) -> dict[str, Any]:
    """The `EngineConfig` fields that differ between the settings; `providers`: where
    `gpu` runs its detector and describer."""
    from lfr.vision.pipeline import threads_per_worker

    if setting == "gpu":
        on = list(providers)
        return {
            "threads": threads_per_worker(cameras),
            "decoding": gpu_decoding(providers),
            "detector": {"type": "mmod-onnx", "providers": on},
            "describer": {"type": "dlib", "providers": on},
        }
    if setting == "before":
        return {"following": {"detect_every": 1}, "threads": 0}
    if setting == "augmented":
        return {"threads": threads_per_worker(cameras), **AUGMENTED}
    return {"threads": threads_per_worker(cameras)}


def gpu_decoding(providers: Sequence[str]) -> dict[str, str]:
    """The GPU mode decodes through PyAV, on NVDEC where the models run on CUDA (and on the
    CPU where `--providers` runs the mode's code path there)."""
    on_cuda = "CUDAExecutionProvider" in providers
    return {"decoder": "pyav", "hardware": "cuda" if on_cuda else "none"}


def run_worker(
    camera: Camera,
    settings: dict[str, Any],
    seconds: float,
    start: Any,
    results: Any,
    link: DescriberLink | None = None,
) -> None:
    """One camera worker process: load, wait for the others, run, report. `link`: the
    describer service to describe through, as a supervisor's worker does."""
    from lfr.vision.pipeline import CameraWorker, Emitted, Engine, EngineConfig
    from lfr.vision.sources import open_source
    from lfr.vision.types import HealthFigures, MatchEvent

    config = EngineConfig.model_validate({**settings, "health_interval_s": 3600})
    engine = Engine.from_config(config, describer=link.connect() if link else None)
    gallery = enrolled_gallery(camera.watchlist, "dlib", config.description).gallery
    engine.analyser.analyse(np.zeros((64, 64, 3), np.uint8))  # models loaded before timing
    engine.describer.describe([np.zeros((150, 150, 3), np.uint8)])
    latencies: list[float] = []
    decision_latencies: list[float] = []
    health: list[HealthFigures] = []

    def emit(item: Emitted) -> None:
        if isinstance(item, MatchEvent):
            latencies.append((item.emitted_at - item.captured_at).total_seconds() * 1000)
            deciding = source.processing or item.captured_at
            decision_latencies.append((item.emitted_at - deciding).total_seconds() * 1000)
        else:
            health.append(item)

    start.wait()
    clip = str(camera.clip)
    played = open_source(clip, "bench", realtime=True, loop=True, decoding=config.decoding)
    source = ProcessingClock(played)
    worker = CameraWorker(source, engine, gallery, config, emit)
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    cpu_before = _cpu_s()
    began = time.perf_counter()
    timer.start()
    worker.run(stop)
    elapsed = time.perf_counter() - began
    cpu = _cpu_s() - cpu_before
    dropped = source.dropped_frames
    source.close()
    last = health[-1]  # the figures sent at the end count every frame (one interval)
    results.put(
        WorkerFigures(
            frames=last.frames,
            dropped=dropped,
            seconds=elapsed,
            alert_latencies_ms=latencies,
            decision_latencies_ms=decision_latencies,
            cpu_s=cpu,
            peak_rss_mb=peak_rss_mb(),
            descriptions=last.descriptions,
            describe_s=last.stages["describe"].sum_s if "describe" in last.stages else 0.0,
        )
    )


class ProcessingClock:
    """A source as the worker reads it, noting the capture time of the frame it hands out:
    the worker processes one frame at a time, so an alert emitted now was decided on it."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self.spec, self.camera = source.spec, source.camera
        self.decode_times = source.decode_times
        self.processing: datetime | None = None

    @property
    def status(self) -> CameraStatus:
        return self._source.status

    @property
    def dropped_frames(self) -> int:
        return self._source.dropped_frames

    @property
    def last_error(self) -> str | None:
        return self._source.last_error

    def read(self, timeout: float) -> Frame | None:
        frame = self._source.read(timeout)
        if frame is not None:
            self.processing = frame.captured_at
        return frame

    def close(self) -> None:
        self._source.close()


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Row:
    setting: str
    cameras: int
    resolution: str
    workers: list[WorkerFigures]
    describer: str = "own"
    service_cpu_s: float = 0.0
    """The describer service's CPU over the run (shared describer)."""

    def cpu_ms_per_frame(self) -> float:
        cpu = sum(w.cpu_s for w in self.workers) + self.service_cpu_s
        return 1000 * cpu / max(1, sum(w.frames for w in self.workers))

    def describe_ms_per_face(self) -> float:
        faces = max(1, sum(w.descriptions for w in self.workers))
        return 1000 * sum(w.describe_s for w in self.workers) / faces

    def service_ms_per_face(self) -> float:
        return 1000 * self.service_cpu_s / max(1, sum(w.descriptions for w in self.workers))

    def fps(self) -> list[float]:
        return [w.frames / w.seconds for w in self.workers]

    def dropped_share(self) -> float:
        delivered = sum(w.frames + w.dropped for w in self.workers)
        return sum(w.dropped for w in self.workers) / delivered if delivered else 0.0

    def latencies(self) -> list[float]:
        return sorted(ms for w in self.workers for ms in w.alert_latencies_ms)

    def decision_latencies(self) -> list[float]:
        return sorted(ms for w in self.workers for ms in w.decision_latencies_ms)


def run_row(
    setting: str,
    cameras: int,
    camera: Camera,
    seconds: float,
    describer: str = "own",
    service_threads: int = 0,
    detector: dict[str, Any] | None = None,
    providers: Sequence[str] = GPU_PROVIDERS,
    decoding: dict[str, Any] | None = None,
) -> Row:
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    results = context.Queue()
    settings = engine_settings(setting, cameras, providers)
    if detector is not None:
        settings = {**settings, "detector": detector}
    if decoding is not None:
        settings = {**settings, "decoding": decoding}
    service = _start_service(settings, service_threads, context) if describer == "shared" else None
    link = service[1] if service else None
    processes = [
        context.Process(target=run_worker, args=(camera, settings, seconds, start, results, link))
        for _ in range(cameras)
    ]
    for process in processes:
        process.start()
    time.sleep(_load_time_s(cameras))
    service_cpu_before = _service_cpu_s(link)
    start.set()
    figures = [results.get(timeout=seconds + 600) for _ in processes]
    service_cpu = _service_cpu_s(link) - service_cpu_before
    for process in processes:
        process.join()
    if service is not None:
        service[0].terminate()
        service[0].join()
    return Row(setting, cameras, camera.resolution, figures, describer, service_cpu)


def _service_cpu_s(link: DescriberLink | None) -> float:
    """The service's CPU so far, asked on a connection closed at once: a connection that
    stays open and idle would hold every batch for the whole wait."""
    if link is None:
        return 0.0
    watcher = link.connect()
    cpu_s = watcher.stats()["cpu_s"]
    watcher.close()
    return cpu_s


def _start_service(
    settings: dict[str, Any], threads: int, context: Any
) -> tuple[Any, DescriberLink]:
    """The describer service with the supervisor's default wait and batch; `threads`:
    its ONNX Runtime threads (0: the describer's own setting)."""
    from lfr.runtime.describer_service import ServiceSpec, start_service
    from lfr.setting_groups import SupervisorSettings
    from lfr.vision.engine_config import EngineConfig

    defaults = SupervisorSettings()
    link = DescriberLink.fresh()
    describer = EngineConfig.model_validate(settings).describer
    if threads:
        describer = describer.model_copy(update={"intra_op_threads": threads})
    spec = ServiceSpec(
        describer,
        link,
        max_wait_s=defaults.describer_max_wait_ms / 1000,
        max_batch=defaults.describer_max_batch,
        exit_deadline_s=3.0,
    )
    return start_service(spec, context), link


def _load_time_s(cameras: int) -> float:
    """Time for every worker to load its models before they start together (they load
    one after another on a small machine)."""
    return 5.0 + 4.0 * cameras


def _percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(values, share * 100))


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| setting | describer | cameras | resolution | fps per camera (mean / slowest) | "
        "dropped | probe frame → alert p50 / p95 ms (alerts) | deciding frame → alert p50 / "
        "p95 ms | CPU per worker | CPU ms per frame | faces described | describe ms per face "
        "(worker) | service CPU ms per face | peak RSS per worker MB |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        fps = row.fps()
        latencies, deciding = row.latencies(), row.decision_latencies()
        cpu = statistics.mean(w.cpu_s / w.seconds for w in row.workers)
        rss = statistics.mean(w.peak_rss_mb for w in row.workers)
        service = f"{row.service_ms_per_face():.1f}" if row.describer == "shared" else "–"
        lines.append(
            f"| {row.setting} | {row.describer} | {row.cameras} | {row.resolution} | "
            f"{statistics.mean(fps):.1f} / {min(fps):.1f} | {row.dropped_share():.0%} | "
            f"{_percentile(latencies, 0.5):.0f} / {_percentile(latencies, 0.95):.0f} "
            f"({len(latencies)}) | {_percentile(deciding, 0.5):.0f} / "
            f"{_percentile(deciding, 0.95):.0f} | {cpu:.0%} | {row.cpu_ms_per_frame():.0f} | "
            f"{sum(w.descriptions for w in row.workers)} | {row.describe_ms_per_face():.1f} | "
            f"{service} | {rss:.0f} |"
        )
    return "\n".join(lines)


def camera_at(resolution: str) -> Camera:
    """The clip a camera of `resolution` replays (generated crowds are cached)."""
    if resolution == "640×360":
        crowd = crowd_clips.generate(crowd_clips.CrowdSpec(height=720, frames=250))
        hamilton = shared_data_dir() / "video" / "short_hamilton_clip.mp4"
        return Camera(resolution, hamilton, video_watchlist(crowd.watchlist))
    height = int(resolution.split("×")[1])
    crowd = crowd_clips.generate(crowd_clips.CrowdSpec(height=height, frames=250))
    return Camera(resolution, crowd.video, crowd.watchlist)


def engine_part(part: str) -> Callable[[str], dict[str, Any]]:
    """An argparse type for one part of the engine's settings written as JSON
    (`--detector`, `--decoding`): refused at once, saying why, when the engine would refuse
    it or this machine cannot decode that way, rather than in every worker process while
    the benchmark waits for their figures."""

    def parse(text: str) -> dict[str, Any]:
        from pydantic import ValidationError

        from lfr.settings import settings_error_line
        from lfr.vision.decoding import hardware_problem
        from lfr.vision.engine_config import EngineConfig

        try:
            value: dict[str, Any] = json.loads(text)
            config = EngineConfig.model_validate({part: value})
        except json.JSONDecodeError as error:
            raise argparse.ArgumentTypeError(f"not JSON ({error})") from None
        except ValidationError as error:
            raise argparse.ArgumentTypeError(settings_error_line(error)) from None
        problem = hardware_problem(config.decoding)
        if problem is not None:
            raise argparse.ArgumentTypeError(f"NVDEC decoding cannot run here: {problem}")
        return value

    return parse


def gpu_not_run(providers: Sequence[str]) -> str | None:
    """What the GPU mode says where it cannot run (None: it can): a provider ONNX Runtime
    lacks, or NVDEC decoding this machine cannot do."""
    from lfr.vision.decoding import DecodingConfig, hardware_problem
    from lfr.vision.onnx_runtime import available_providers, missing_providers

    missing = missing_providers(providers)
    if missing:
        return (
            f"## GPU mode: not run\n\nONNX Runtime here offers {available_providers()}; "
            f"the GPU mode needs {list(missing)} (onnxruntime-gpu in place of onnxruntime, "
            "on a machine with an NVIDIA GPU). `--providers CPUExecutionProvider` runs its "
            "code path on the CPU."
        )
    decoding = DecodingConfig.model_validate(gpu_decoding(providers))
    problem = hardware_problem(decoding)
    if problem is not None:
        return f"## GPU mode: not run\n\nNVDEC decoding cannot run here: {problem}."
    return None


def cameras_held(rows: Sequence[Row]) -> int:
    """The most cameras of one row that all ran at the clip's rate (25 frames/s)."""
    held = [
        row.cameras
        for row in rows
        if min(row.fps()) >= HELD_SHARE * 25.0 and row.dropped_share() <= HELD_DROPPED
    ]
    return max(held, default=0)


def device_name() -> str:
    """The GPU as nvidia-smi names it, or what ran instead."""
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return "no NVIDIA GPU (nvidia-smi absent)"
    query = ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"]
    found = subprocess.run(query, capture_output=True, text=True, timeout=30, check=False)
    return found.stdout.strip().replace("\n", "; ") or "nvidia-smi named no GPU"


def resolution_name(text: str) -> str:
    """`1280x720`, `1280X720` or `1280×720` as the benchmark names it (`1280×720`); a size
    it has no clip for is refused with the sizes it has."""
    width, separator, height = text.lower().replace("×", "x").partition("x")
    name = f"{width.strip()}×{height.strip()}"
    if not separator or name not in RESOLUTIONS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: no clip of that size; choose from {', '.join(RESOLUTIONS)} (WxH)"
        )
    return name


RESOLUTIONS = ("640×360", "1280×720", "1920×1080")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", nargs="+", type=int, default=[1, 4])
    parser.add_argument(
        "--resolutions", nargs="+", type=resolution_name, default=list(RESOLUTIONS), metavar="WxH"
    )
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    parser.add_argument("--seconds", type=float, default=30.0, help="Run time per row.")
    parser.add_argument(
        "--detector",
        type=engine_part("detector"),
        default=None,
        metavar="JSON",
        help=(
            "The engine's detector settings instead of its default, e.g. "
            '{"type": "mmod-onnx", "max_detect_width": 960}'
        ),
    )
    parser.add_argument(
        "--decoding",
        type=engine_part("decoding"),
        default=None,
        metavar="JSON",
        help='The engine\'s decoding settings instead of its default, e.g. {"decoder": "pyav"}',
    )
    parser.add_argument(
        "--describer",
        nargs="+",
        default=["own"],
        choices=("own", "shared"),
        help="Each worker's own describer, or the machine's describer service (both: a row each).",
    )
    parser.add_argument(
        "--gpu",
        action="store_true",
        help=(
            "The GPU machine's mode: 1920x1080 cameras, detection and description on "
            "--providers, one describer service, and the cameras held at 25 frames/s."
        ),
    )
    parser.add_argument(
        "--providers",
        nargs="+",
        default=list(GPU_PROVIDERS),
        help="ONNX Runtime execution providers of the gpu setting, in order of preference.",
    )
    parser.add_argument(
        "--service-threads",
        type=int,
        default=0,
        help="ONNX Runtime threads of the describer service (0: the describer's setting).",
    )
    args = parser.parse_args(argv)
    if args.gpu:
        not_run = gpu_not_run(args.providers)
        if not_run is not None:
            print(not_run)
            return
        args.settings, args.describer, args.resolutions = ["gpu"], ["shared"], ["1920×1080"]
    cameras = {resolution: camera_at(resolution) for resolution in args.resolutions}
    from lfr.vision.engine_config import EngineConfig

    for camera in cameras.values():  # enrolled once, cached for the workers
        for setting in args.settings:
            settings = engine_settings(setting, 1, args.providers)
            description = EngineConfig.model_validate(settings).description
            enrolled_gallery(camera.watchlist, "dlib", description)
    rows = []
    for resolution in args.resolutions:
        for count in args.cameras:
            for setting in args.settings:
                for describer in args.describer:
                    row = run_row(
                        setting,
                        count,
                        cameras[resolution],
                        args.seconds,
                        describer,
                        args.service_threads,
                        args.detector,
                        args.providers,
                        args.decoding,
                    )
                    rows.append(row)
                    print(f"  {setting}, {describer}, {count} × {resolution}: done", flush=True)
    print(f"\n## cameras per machine ({multiprocessing.cpu_count()} cores, {args.seconds:g} s)\n")
    print(table(rows))
    if args.gpu:
        print(
            f"\nCameras held at 1920×1080 and 25 frames/s: {cameras_held(rows)} "
            f"(providers {args.providers}; device: {device_name()})"
        )


if __name__ == "__main__":
    main()
