"""The serving process's side of recognition: camera workers for running deployments, and
their messages turned into alerts and health (REC-1, REC-5, DEP-2, ADJ-1).

The supervisor (lfr.runtime) runs one process per camera and relays what they emit onto the
bus. This module subscribes to the bus: a `MatchEvent` goes to the alerts service (which
refuses one for a deployment that is not running), and every open console is woken;
`HealthFigures` are kept in memory (latest per camera; counts only, never a face) and wake
the deployment pages. Halting stops a deployment's workers at once, from any thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from lfr.bus import Bus, Delivery, MemoryBus, Topic
from lfr.bus.base import AnyEnvelope
from lfr.bus.messages import HaltDeployment, Message
from lfr.bus.nats_bus import NatsBus, NatsSettings
from lfr.runtime.release import withdrawal
from lfr.runtime.supervisor import Camera, Supervisor, SupervisorSettings, WorkerState
from lfr.runtime.worker import WorkerTarget
from lfr.vision.types import HealthFigures, MatchEvent
from lfr.web.live import LiveFeed, LiveMessage

log = logging.getLogger("lfr.serve")

ALERTS_TOPIC = "alerts"
"""Live-feed topic of new and changed alerts (consoles, handhelds)."""

HALT_WAIT_S = 30.0
"""How long a halting request waits for the workers to be stopped (they are signalled at
once; this only bounds the wait for the confirmation)."""

AlertSink = Callable[[MatchEvent], str | None]
"""Records an alert through the alerts service; returns its id, or None if refused."""


def health_topic(deployment_id: str) -> str:
    return f"health:{deployment_id}"


def alert_message(alert_id: str) -> LiveMessage:
    return LiveMessage(ALERTS_TOPIC, f"/console/alerts/{alert_id}/card", f"alert-{alert_id}")


@dataclass(frozen=True, slots=True)
class CameraHealth:
    """What the deployment page shows of one camera: the latest figures and the worker."""

    camera: str
    figures: HealthFigures | None
    worker: WorkerState | None


class DeploymentRuntime:
    """Owns the bus, the supervisor and the subscriptions; lives on the server's loop."""

    def __init__(
        self,
        feed: LiveFeed,
        alert_sink: AlertSink,
        target: WorkerTarget,
        *,
        bus: Bus | None = None,
        nats: NatsSettings | None = None,
        settings: SupervisorSettings | None = None,
        health_sink: Callable[[HealthFigures], None] | None = None,
    ) -> None:
        """`bus`: a bus already open; else `nats` (connected at `start`), else in memory."""
        self._feed = feed
        self._alert_sink = alert_sink
        self._health_sink = health_sink
        self._target = target
        self._nats = nats
        self._supervisor_settings = settings
        self._bus = bus
        self._supervisor: Supervisor | None = None
        self._health: dict[tuple[str, str], HealthFigures] = {}
        self._health_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscriptions: list[Any] = []

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._bus is None:
            self._bus = await NatsBus.connect(self._nats) if self._nats else MemoryBus()
        # With NATS the workers publish to it themselves (what they send survives a
        # restart of this process); in memory, through the supervisor's relay.
        self._supervisor = Supervisor(
            self._bus, self._target, nats=self._nats, settings=self._supervisor_settings
        )
        self._subscriptions = [
            await self._bus.subscribe(Topic.MATCH, self._on_match, durable="web-alerts"),
            await self._bus.subscribe(Topic.HEALTH, self._on_health, durable="web-health"),
        ]
        log.info("recognition runtime started (bus: %s)", type(self._bus).__name__)

    async def stop(self) -> None:
        if self._supervisor is not None:
            await self._supervisor.stop()
        for subscription in self._subscriptions:
            await subscription.close()
        if self._bus is not None:
            await self._bus.close()

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            raise RuntimeError("the recognition runtime is not started")
        return self._bus

    @property
    def supervisor(self) -> Supervisor:
        if self._supervisor is None:
            raise RuntimeError("the recognition runtime is not started")
        return self._supervisor

    # Called from request threads (the services decided; the runtime carries it out).

    def run_deployment(self, deployment_id: str, cameras: Sequence[Camera], job: Any) -> None:
        """Starts one worker per camera of a deployment that has just started running."""
        self._call(self.supervisor.start(deployment_id, cameras, job))
        log.info("deployment %s: %d camera worker(s) started", deployment_id, len(cameras))

    def halt_deployment(self, deployment_id: str, reason: str) -> None:
        """Stops every worker of the deployment here at once and tells every node to (DEP-2);
        returns when the local workers are stopped and the halt is on the bus."""
        self._call(self._halt_everywhere(deployment_id, reason))
        with self._health_lock:
            for key in [k for k in self._health if k[0] == deployment_id]:
                del self._health[key]
        log.info("deployment %s: all camera workers stopped", deployment_id)
        self._feed.publish(_health_message(deployment_id))

    async def _halt_everywhere(self, deployment_id: str, reason: str) -> None:
        # The nodes are told while the local workers stop, not after: neither waits for
        # the other, and a bus that fails to take the halt cannot keep workers here running.
        here, nodes = await asyncio.gather(
            self.supervisor.halt(deployment_id),
            self._tell_nodes(deployment_id, reason),
            return_exceptions=True,
        )
        for outcome in (here, nodes):
            if isinstance(outcome, BaseException):
                raise outcome

    async def _tell_nodes(self, deployment_id: str, reason: str) -> None:
        await self.bus.publish(HaltDeployment(deployment_id=deployment_id, reason=reason))
        # Replaces any released watchlist: its templates leave the bus now (WL-6).
        await self.bus.publish(withdrawal(deployment_id))

    def cameras(self, deployment_id: str) -> list[CameraHealth]:
        states = self._supervisor.states(deployment_id) if self._supervisor else []
        workers = {s.camera: s for s in states}
        with self._health_lock:
            figures = {c: f for (d, c), f in self._health.items() if d == deployment_id}
        names = sorted(set(workers) | set(figures))
        return [CameraHealth(name, figures.get(name), workers.get(name)) for name in names]

    def publish(self, message: Message) -> None:
        """Publishes on the runtime's bus from any thread: a deployment's watchlist release,
        or what a worker's relay would (the latency benchmark)."""
        self._call(self.bus.publish(message))

    def _call(self, coroutine: Any) -> None:
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("the recognition runtime is not started")
        future: Future[None] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        future.result(HALT_WAIT_S)

    # Bus handlers (on the loop).

    async def _on_match(self, envelope: AnyEnvelope, delivery: Delivery) -> None:
        event = envelope.payload
        assert isinstance(event, MatchEvent)
        alert_id = await asyncio.to_thread(self._alert_sink, event)
        if alert_id is not None:
            log.info(
                "alert %s raised on camera %s (score %.3f)", alert_id, event.camera, event.score
            )
            self._feed.publish(alert_message(alert_id))

    async def _on_health(self, envelope: AnyEnvelope, delivery: Delivery) -> None:
        figures = envelope.payload
        assert isinstance(figures, HealthFigures)
        if figures.deployment_id is None:
            return
        with self._health_lock:
            self._health[(figures.deployment_id, figures.camera)] = figures
        if self._health_sink is not None:  # running totals for the review (REV-1)
            await asyncio.to_thread(self._health_sink, figures)
        self._feed.publish(_health_message(figures.deployment_id))


def _health_message(deployment_id: str) -> LiveMessage:
    return LiveMessage(
        health_topic(deployment_id),
        f"/deployments/{deployment_id}/health",
        f"health-{deployment_id}-table",
    )
