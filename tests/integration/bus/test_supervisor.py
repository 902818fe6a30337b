"""Camera worker processes: restart after a crash, halt at once, report as health.

REC-5 (a crash shows as health), DEP-2 (halting stops every worker of the deployment at
once), REC-4 (a worker can send nothing but MatchEvent and HealthFigures).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from lfr.bus.base import AnyEnvelope, Bus
from lfr.bus.cameras import Camera
from lfr.bus.memory import MemoryBus
from lfr.bus.messages import HaltDeployment
from lfr.bus.nats_bus import NatsBus, NatsSettings
from lfr.bus.subjects import Topic
from lfr.runtime.supervisor import Supervisor, SupervisorSettings
from lfr.runtime.worker import WorkerTarget
from lfr.vision.types import CameraStatus, HealthFigures

from . import targets
from .collect import WAIT_S, Collector

QUICK = SupervisorSettings(restart_initial_s=0.2, restart_max_s=1.0, halt_grace_s=3.0)


def health_of(envelope: AnyEnvelope) -> HealthFigures:
    assert isinstance(envelope.payload, HealthFigures)
    return envelope.payload


async def take_until(
    collector: Collector, done: Callable[[list[HealthFigures]], bool]
) -> list[HealthFigures]:
    """Health figures in arrival order until ``done(figures)`` holds (or WAIT_S runs out)."""
    seen: list[HealthFigures] = []

    async def gather() -> None:
        while not done(seen):
            [(envelope, _)] = await collector.take(1)
            seen.append(health_of(envelope))

    await asyncio.wait_for(gather(), WAIT_S)
    return seen


def is_gone(pid: int) -> bool:
    """The process runs no more: it has exited, or it is a zombie, which runs nothing and
    waits only for whoever adopted it to collect its status (how soon depends on the
    machine's init process, not on the worker)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return process_state(pid) in ("Z", "X")


def process_state(pid: int) -> str:
    """The kernel's one-letter state of `pid` (R, S, D, Z…), "" where /proc cannot say."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[0]


async def started(bus: Bus, target: WorkerTarget) -> tuple[Supervisor, Collector]:
    collector = Collector()
    await bus.subscribe(Topic.HEALTH, collector.handler, durable="central")
    return Supervisor(bus, target, settings=QUICK), collector


def supervisor_reports(seen: list[HealthFigures]) -> list[HealthFigures]:
    return [f for f in seen if f.last_error and f.last_error.startswith("worker process exited")]


def test_a_crashed_worker_is_restarted_with_backoff_and_the_crash_reported() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        supervisor, collector = await started(bus, targets.report_then_crash)
        await supervisor.start("dep-1", [Camera("cam-1", "rehearsal.mp4")], job=None)
        seen = await take_until(collector, lambda s: len(supervisor_reports(s)) >= 2)
        states = supervisor.states("dep-1")
        await supervisor.stop()

        first, second = supervisor_reports(seen)[:2]
        assert (first.status, first.errors, first.deployment_id) == (CameraStatus.DOWN, 1, "dep-1")
        assert "exited with code 1" in (first.last_error or "")
        assert "restart 1 in 0.2 s" in (first.last_error or "")
        assert "restart 2 in 0.4 s" in (second.last_error or "")  # the wait doubles
        own = [f for f in seen if "RuntimeError: decoder exploded" in (f.last_error or "")]
        assert own, "the worker's own report names the exception"
        assert sum(f.status is CameraStatus.UP for f in seen) >= 2  # it ran again
        assert states[0].crashes >= 2

    asyncio.run(scenario())


def test_halt_stops_every_worker_of_the_deployment_at_once_and_no_other() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        supervisor, collector = await started(bus, targets.run_until_stopped)
        cameras = [Camera(f"cam-{n}", f"rtsp://camera-{n}/stream") for n in range(3)]
        await supervisor.start("dep-1", cameras, job=None)
        await supervisor.start("dep-2", [Camera("cam-9", "device:0")], job=None)
        await take_until(collector, lambda s: len(s) >= 4)  # every worker is up
        pids = [state.pid for state in supervisor.states("dep-1")]

        # Two halts at once (Silver's button and the bus): both return with all gone.
        await asyncio.gather(supervisor.halt("dep-1"), supervisor.halt("dep-1"))
        assert all(pid is not None and is_gone(pid) for pid in pids)
        assert supervisor.states("dep-1") == []
        [other] = supervisor.states("dep-2")
        assert other.alive

        ended = await take_until(collector, lambda s: len(s) >= 3)
        assert {(f.camera, f.status) for f in ended} == {
            (camera.name, CameraStatus.ENDED) for camera in cameras
        }  # each stopped cleanly after the frame in hand, and what it sent was relayed
        await supervisor.halt("dep-1")  # idempotent
        await supervisor.stop()
        await supervisor.stop()  # idempotent
        assert other.pid is not None
        assert is_gone(other.pid)
        assert supervisor.states() == []

    asyncio.run(scenario())


def test_a_worker_that_ignores_the_halt_is_killed_after_the_grace() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        collector = Collector()
        await bus.subscribe(Topic.HEALTH, collector.handler, durable="central")
        settings = SupervisorSettings(halt_grace_s=0.5)
        supervisor = Supervisor(bus, targets.ignore_the_stop, settings=settings)
        await supervisor.start("dep-1", [Camera("cam-1", "file.mp4")], job=None)
        await take_until(collector, lambda s: len(s) >= 1)
        [state] = supervisor.states("dep-1")
        await supervisor.halt("dep-1")
        assert state.pid is not None
        assert is_gone(state.pid)
        assert await collector.nothing_more()  # not restarted: a halt is not a crash
        await supervisor.stop()

    asyncio.run(scenario())


def test_a_worker_cannot_send_anything_but_match_events_and_health() -> None:
    """REC-4: a raw frame handed to emit is refused; the worker fails and says why."""

    async def scenario() -> None:
        bus = MemoryBus()
        matches = Collector()
        await bus.subscribe(Topic.MATCH, matches.handler, durable="central-matches")
        supervisor, collector = await started(bus, targets.emit_a_frame)
        await supervisor.start("dep-1", [Camera("cam-1", "file.mp4")], job=None)
        seen = await take_until(collector, lambda s: len(supervisor_reports(s)) >= 1)
        await supervisor.stop()
        assert any(
            "TypeError: a worker may emit only MatchEvent or HealthFigures, not Frame"
            in (f.last_error or "")
            for f in seen
        )
        assert await matches.nothing_more()

    asyncio.run(scenario())


@pytest.mark.nats
def test_node_workers_publish_to_nats_themselves_and_crashes_are_reported_there(
    nats_settings: NatsSettings,
) -> None:
    async def scenario() -> None:
        node_bus, central = (
            await NatsBus.connect(nats_settings),
            await NatsBus.connect(nats_settings),
        )
        collector = Collector()
        await central.subscribe(Topic.HEALTH, collector.handler, durable="central")
        supervisor = Supervisor(
            node_bus, targets.report_then_crash, nats=nats_settings, settings=QUICK
        )
        await supervisor.start("dep-1", [Camera("cam-1", "rtsp://van/cam")], job=None)
        seen = await take_until(
            collector,
            lambda s: bool(supervisor_reports(s)) and any(f.status is CameraStatus.UP for f in s),
        )
        await supervisor.stop()
        await node_bus.close()
        await central.close()
        assert all(f.deployment_id == "dep-1" and f.camera == "cam-1" for f in seen)
        assert any("RuntimeError: decoder exploded" in (f.last_error or "") for f in seen)

    asyncio.run(scenario())


def test_a_halt_published_on_the_bus_stops_the_deployments_workers() -> None:
    """DEP-2 by the one path every supervisor follows: the services publish the halt."""

    async def scenario() -> None:
        bus = MemoryBus()
        supervisor, collector = await started(bus, targets.run_until_stopped)
        obeyed: asyncio.Queue[HaltDeployment] = asyncio.Queue()
        await supervisor.follow_halts("central-supervisor", on_halt=obeyed.put_nowait)
        await supervisor.start("dep-1", [Camera("cam-1", "a.mp4"), Camera("cam-2", "b.mp4")], None)
        await supervisor.start("dep-2", [Camera("cam-1", "c.mp4")], job=None)
        await take_until(collector, lambda s: len(s) >= 3)
        pids = [state.pid for state in supervisor.states("dep-1")]

        await bus.publish(HaltDeployment(deployment_id="dep-1", reason="Silver: crowd surge"))
        halt = await asyncio.wait_for(obeyed.get(), WAIT_S)
        assert halt.reason == "Silver: crowd surge"
        assert all(pid is not None and is_gone(pid) for pid in pids)
        assert [state.deployment_id for state in supervisor.states()] == ["dep-2"]
        await supervisor.stop()

    asyncio.run(scenario())
