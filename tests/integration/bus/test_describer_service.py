"""One describer per machine, shared by its camera workers (REC-1, REC-2, DEP-2).

The describer service is a real process here, started as the supervisor starts it; the
workers are real processes too. Its descriptors must be the workers' own (REC-2: the
decision does not change with where a face is described), it must batch the faces of
several workers together, it must die with its owner like a worker (REC-1, DEP-2), and a
worker whose service is gone must stop with a clear error that reaches the deployment's
health (REC-5).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lfr.bus.cameras import Camera
from lfr.bus.memory import MemoryBus
from lfr.bus.subjects import Topic
from lfr.runtime.describer_service import (
    DescriberLink,
    DescriberServiceError,
    ServiceSpec,
    SharedDescriber,
    start_service,
)
from lfr.runtime.supervisor import Supervisor, SupervisorSettings
from lfr.vision.analysis import FaceObservation
from lfr.vision.decision import FLIP_AND_CONTEXT, Description
from lfr.vision.imageio import load_image
from lfr.vision.matcher import Gallery
from lfr.vision.pipeline import Engine, EngineConfig
from lfr.vision.types import CameraStatus

from . import targets
from .collect import Collector
from .test_supervisor import is_gone, take_until
from .test_worker_lifeline import GONE_WITHIN_S, PROJECT, until_gone

CONFIG = EngineConfig(description=FLIP_AND_CONTEXT)
"""An engine whose faces are cut in every crop flip-and-context description takes, so
one analysis serves the plain description and the augmented one."""


@pytest.fixture(scope="module")
def service() -> Iterator[DescriberLink]:
    """The describer service of `CONFIG`, owned by this test process."""
    link = DescriberLink.fresh()
    spec = ServiceSpec(CONFIG.describer, link, max_wait_s=0.005, max_batch=64, exit_deadline_s=3)
    process = start_service(spec, multiprocessing.get_context("spawn"))
    yield link
    process.terminate()
    process.join(10)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_config(CONFIG)


def faces_of(engine: Engine, faces_dir: Path, name: str) -> list[FaceObservation]:
    image = load_image(faces_dir / "face_recognition-examples" / name)
    return engine.enrolment_analyser.analyse(image)


@pytest.mark.parametrize("description", [Description(), FLIP_AND_CONTEXT], ids=["plain", "flip"])
def test_the_service_describes_as_the_worker_would(
    service: DescriberLink, engine: Engine, faces_dir: Path, description: Description
) -> None:
    """The same faces through the worker's own describer and through the service give
    the same descriptors, and so the same score against the same watchlist."""
    shared = service.connect()
    assert (shared.model_id, shared.dimension) == (engine.describer.model_id, 128)
    probes = faces_of(engine, faces_dir, "two_people.jpg")
    watchlist = faces_of(engine, faces_dir, "obama.jpg") + faces_of(engine, faces_dir, "biden.jpg")
    assert len(probes) == 2
    assert len(watchlist) == 2

    own = description.describe(engine.describer, probes)
    through_service = description.describe(shared, probes)
    np.testing.assert_allclose(through_service, own, atol=1e-5)
    chips = [face.chip for face in probes]
    np.testing.assert_allclose(shared.describe(chips), engine.describer.describe(chips), atol=1e-5)

    gallery = Gallery.build(["obama", "biden"], description.describe(engine.describer, watchlist))
    ranked, shared_ranked = gallery.search(own), gallery.search(through_service)
    assert [[c.subject_id for c in row] for row in shared_ranked] == [
        [c.subject_id for c in row] for row in ranked
    ]
    np.testing.assert_allclose(
        [[c.score for c in row] for row in shared_ranked],
        [[c.score for c in row] for row in ranked],
        atol=1e-5,
    )
    shared.close()


def test_a_bad_chip_fails_its_request_with_the_reason(service: DescriberLink) -> None:
    shared = service.connect()
    with pytest.raises(DescriberServiceError, match="expected an H×W×3 uint8"):
        shared.describe([np.zeros((150, 150), np.uint8)])
    assert shared.describe([]).shape == (0, 128)
    assert shared.describe([np.zeros((150, 150, 3), np.uint8)]).shape == (1, 128)  # still serves
    shared.close()


SHARED = SupervisorSettings(
    restart_initial_s=0.2,
    restart_max_s=1.0,
    halt_grace_s=3.0,
    shared_describer=True,
    describer_max_wait_ms=200,  # generous: two loaded workers' requests must meet
)


async def describing_supervisor() -> tuple[Supervisor, Collector]:
    """A supervisor of describing workers sharing one service, and what they report."""
    bus = MemoryBus()
    collector = Collector()
    await bus.subscribe(Topic.HEALTH, collector.handler, durable="central")
    supervisor = Supervisor(
        bus, targets.describe_until_stopped, settings=SHARED, describer=CONFIG.describer
    )
    return supervisor, collector


def test_the_faces_of_two_workers_are_described_in_one_run() -> None:
    async def scenario() -> None:
        supervisor, collector = await describing_supervisor()
        cameras = [Camera("cam-1", "a.mp4"), Camera("cam-2", "b.mp4")]
        await supervisor.start("dep-1", cameras, job=None)
        await take_until(collector, lambda s: len(s) >= 2)  # both describe through it
        assert supervisor.describer_link is not None
        watcher = await asyncio.to_thread(supervisor.describer_link.connect)
        figures = await asyncio.to_thread(_until_shared, watcher)
        watcher.close()
        service = supervisor.describer_pid
        await supervisor.halt("dep-1")
        assert supervisor.describer_pid == service  # a halt stops the workers, not the service
        await supervisor.stop()
        assert figures["shared_runs"] >= 1, figures
        assert figures["faces"] > figures["runs"]  # fewer runs than faces: batches
        assert supervisor.describer_pid is None  # stopped with the supervisor

    asyncio.run(scenario())


def _until_shared(watcher: SharedDescriber) -> dict[str, float]:
    """The service's figures once a run has held both workers' faces (or 60 s on)."""
    for _ in range(600):
        figures = watcher.stats()
        if figures["shared_runs"] >= 1:
            return figures
        time.sleep(0.1)
    return figures


def test_a_worker_whose_service_dies_stops_with_a_clear_error_and_both_restart() -> None:
    async def scenario() -> None:
        supervisor, collector = await describing_supervisor()
        await supervisor.start("dep-1", [Camera("cam-1", "a.mp4")], job=None)
        await take_until(collector, lambda s: len(s) >= 1)
        first = supervisor.describer_pid
        assert first is not None
        os.kill(first, signal.SIGKILL)

        seen = await take_until(
            collector, lambda s: any(f.status is CameraStatus.UP for f in s[1:])
        )
        second = supervisor.describer_pid
        [state] = supervisor.states("dep-1")
        await supervisor.stop()
        own = [f.last_error or "" for f in seen if "DescriberService" in (f.last_error or "")]
        assert own, [f.last_error for f in seen]
        assert "describer service is gone" in own[0]
        assert any("exited with code 1" in (f.last_error or "") for f in seen)  # restart reported
        assert second is not None
        assert second != first
        assert state.crashes >= 1
        assert state.alive

    asyncio.run(scenario())


def test_the_service_stops_by_itself_when_its_owner_is_killed() -> None:
    owner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.bus.owner_process",
            "describe_until_stopped",
            "shared",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )
    assert owner.stdout is not None
    worker, service = (int(owner.stdout.readline()) for _ in range(2))
    try:
        assert not is_gone(service)
        owner.kill()  # SIGKILL: the owner runs nothing more
        owner.wait()
        until_gone(service, GONE_WITHIN_S)
        until_gone(worker, GONE_WITHIN_S)
    finally:
        for pid in (worker, service):
            if not is_gone(pid):
                os.kill(pid, signal.SIGKILL)
