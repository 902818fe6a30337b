"""Worker targets for the supervisor tests, run in real child processes (spawn).

They stand in for the recognition engine behind the supervisor's seam (a picklable
callable taking a WorkerContext), so restart, halt and reporting are tested with real
processes and real signals, independent of video decoding.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from lfr.runtime.worker import WorkerContext
from lfr.vision.types import CameraStatus, Frame, HealthFigures, MatchEvent


def figures(context: WorkerContext, status: CameraStatus) -> HealthFigures:
    return HealthFigures(
        camera=context.camera,
        status=status,
        at=datetime.now(UTC),
        fps=10,
        faces_per_s=0,
        latency_ms_p50=1,
        latency_ms_p95=2,
        frames=1,
        faces=0,
        dropped_frames=0,
        errors=0,
    )


def report_then_crash(context: WorkerContext) -> None:
    context.emit(figures(context, CameraStatus.UP))
    raise RuntimeError("decoder exploded (on purpose)")


def run_until_stopped(context: WorkerContext) -> None:
    context.emit(figures(context, CameraStatus.UP))
    context.stop.wait()
    context.emit(figures(context, CameraStatus.ENDED))


def idle_until_stopped(context: WorkerContext) -> None:
    """A camera worker that sees nothing: what the test publishes itself is all there is."""
    context.stop.wait()


def ignore_the_stop(context: WorkerContext) -> None:
    context.emit(figures(context, CameraStatus.UP))
    while True:  # a worker stuck in a long computation that never looks at `stop`
        time.sleep(0.05)


def emit_a_frame(context: WorkerContext) -> None:
    """A buggy engine trying to send a raw frame out: the emit must refuse it (REC-4)."""
    frame = Frame(np.zeros((4, 4, 3), np.uint8), 0, datetime.now(UTC), context.camera)
    context.emit(frame)  # type: ignore[arg-type]


def describe_until_stopped(context: WorkerContext) -> None:
    """A camera worker that describes a face chip after another through the machine's
    shared describer; reports once the first is described."""
    assert context.describer is not None, "started without the shared describer"
    chip = np.full((150, 150, 3), 128, np.uint8)
    context.describer.describe([chip])
    context.emit(figures(context, CameraStatus.UP))
    while not context.stop.is_set():
        context.describer.describe([chip])


def report_every_tick(context: WorkerContext) -> None:
    """Health with a rising frame count every 50 ms: a gap in what arrives is a loss."""
    frames = 0
    while not context.stop.wait(0.05):
        frames += 1
        context.emit(figures(context, CameraStatus.UP).model_copy(update={"frames": frames}))


def blocked_in_a_read(context: WorkerContext) -> None:
    """A worker blocked in a read that never returns (a stalled stream), never looking at
    `stop`: only its own exit deadline can end it."""
    context.emit(figures(context, CameraStatus.UP))
    reader, _writer = os.pipe()
    os.read(reader, 1)


def emit_dropped_alerts(context: WorkerContext) -> None:
    """Emit each alert the test drops into the camera's source folder (``*.json``, a
    MatchEvent), once, in name order, until stopped: the test decides what is captured
    when, and the worker's real outlet and outbox carry it."""
    folder = Path(context.source)
    context.emit(figures(context, CameraStatus.UP))
    while not context.stop.is_set():
        for dropped in sorted(folder.glob("*.json")):
            context.emit(MatchEvent.model_validate_json(dropped.read_text()))
            dropped.rename(dropped.with_suffix(".emitted"))
        context.stop.wait(0.05)
