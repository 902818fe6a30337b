"""The production worker target: the recognition engine on one camera (REC-1..5).

The central process (or `lfr node`) enrols the watchlist once (`prepare_job`) and hands the
gallery to each worker process inside an `EngineJob`, through the spawn pipe: templates
travel in memory only, never through a file (WL-6, DP-2). Each worker builds its own
engine (models load in the worker), opens its camera and runs `CameraWorker` until the
source ends or the supervisor's SIGTERM sets ``stop``. A job may carry a `PreviewSink`: the
worker then hands it the engine's private frames, a blur but for the faces that alerted
(REC-5; `lfr.runtime.preview` is the one `lfr serve` uses).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lfr.runtime.worker import WorkerContext
from lfr.vision.enrolment import RefusedImage, load_watchlist_dir
from lfr.vision.matcher import Gallery
from lfr.vision.pipeline import CameraWorker, Engine, EngineConfig, PreviewFrame
from lfr.vision.sources import open_source


class PreviewSink(Protocol):
    """Where a worker's private preview frames go (REC-5: a blur but for alerted faces);
    picklable, opened in the child."""

    def open(self, deployment_id: str) -> Callable[[PreviewFrame], None]: ...


@dataclass(frozen=True)
class EngineJob:
    """What every camera worker of a deployment is started with."""

    config: EngineConfig
    gallery: Gallery
    realtime: bool = True
    """Play rehearsal files at their frame rate, like a live camera (False: as fast as the
    engine goes, for tests and benchmarks)."""
    preview: PreviewSink | None = None
    """Where private preview frames go (a blur but for alerted faces); None: none."""
    loop: bool = False
    """Start a file source again at its end (demos, soak tests, training): the camera runs
    until halted instead of ending."""


def prepare_job(
    watchlist: Path, config: EngineConfig, *, realtime: bool = True
) -> tuple[EngineJob, list[RefusedImage]]:
    """Enrol a watchlist folder with the engine's own models (WL-5) into a job."""
    engine = Engine.from_config(config)
    gallery, refusals = load_watchlist_dir(
        watchlist,
        engine.enrolment_analyser,
        engine.describer,
        config.enrolment_gate,
        description=config.description,
    )
    return EngineJob(config, gallery, realtime), refusals


def run_camera_engine(context: WorkerContext) -> None:
    """Worker target: run the engine on the context's camera until it ends or is stopped."""
    job = context.job
    if not isinstance(job, EngineJob):
        raise TypeError(f"the engine worker needs an EngineJob, not {type(job).__name__}")
    engine = Engine.from_config(job.config, describer=context.describer)
    source = open_source(
        context.source,
        context.camera,
        realtime=job.realtime,
        loop=job.loop,
        decoding=job.config.decoding,
    )
    try:
        worker = CameraWorker(
            source,
            engine,
            job.gallery,
            job.config,
            context.emit,
            preview=job.preview.open(context.deployment_id) if job.preview else None,
            deployment_id=context.deployment_id,
        )
        worker.run(context.stop)
    finally:
        source.close()
