"""The central service's recognition runtime: the bus, the camera workers run here, and what
workers and nodes send turned into alerts, health and node status (REC-1, REC-5, DEP-2).

It does what the reconciler tells it (`run`, `halt_here`, `publish`) and nothing on its own
initiative: services change the record, the reconciler (`lfr.runtime.reconciler`) reads
it and brings this runtime, the nodes and the released watchlists to match.

The supervisor runs one process per camera and relays what they emit onto the bus. This
runtime subscribes to the bus: a `MatchEvent` goes to the alert sink (the alerts service
decides), `HealthFigures` are kept in memory with the time they arrived (latest per
camera; counts only, never a face), and `NodeReport`s go to the node sink. Listeners are
told of a new alert or new health (the web's live feeds) without this module knowing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lfr import metrics
from lfr.bus import Bus, Delivery, MemoryBus, Topic
from lfr.bus.base import AnyEnvelope
from lfr.bus.cameras import Camera
from lfr.bus.messages import Message, NodeReport, Signer, signed_content
from lfr.bus.nats_bus import BusUnavailableError, NatsBus, NatsSettings
from lfr.bus.subjects import check_token
from lfr.runtime.supervisor import Supervisor, SupervisorSettings, WorkerState
from lfr.runtime.worker import WorkerTarget
from lfr.services.fleet import Origin
from lfr.vision.describers import DescriberConfig
from lfr.vision.types import SILENT_AFTER_S, CameraStatus, HealthFigures, MatchEvent

log = logging.getLogger("lfr.serve")

CONNECT_RETRY_MAX_S = 15.0
"""Longest wait between two attempts to reach a NATS server that is down at start."""

STALE_AFTER_S = SILENT_AFTER_S
"""Health older than this is shown STALE: the camera's figures stopped arriving (a lost
link, a hung worker), whatever they last said."""

AlertSink = Callable[[MatchEvent, Origin], str | None]
"""Records an alert through the alerts service; returns its id, or None if refused."""
HealthSink = Callable[[HealthFigures, Origin], bool]
"""Records health for the review; False when its origin is refused."""
NodeSink = Callable[[NodeReport, Origin], None]


ALERT, HEALTH, NODE = "alert", "health", "node"
"""What one instance announces to all (`CentralRuntime._announce`)."""


@dataclass(frozen=True, slots=True)
class Listeners:
    """Who hears of what the runtime received (the web's live feeds); any thread."""

    alert: Callable[[str], None] = lambda _alert_id: None
    health: Callable[[str], None] = lambda _deployment_id: None


@dataclass(frozen=True, slots=True)
class LastError:
    """A camera's most recent error and when it was reported."""

    reason: str
    at: datetime


def remembered_error(previous: LastError | None, figures: HealthFigures) -> LastError | None:
    """The error to show beside a camera once `figures` arrive: theirs if they carry one;
    else the one before, until the camera reports up again. A restarted worker's first
    figures know nothing of the crash that restarted it, and must not wipe out why."""
    if figures.last_error:
        return LastError(figures.last_error, figures.at)
    if figures.status is CameraStatus.UP:
        return None
    return previous


@dataclass(frozen=True, slots=True)
class CameraHealth:
    """What the deployment page shows of one camera: the latest figures, how old they are,
    and the local worker (None for a camera a node runs)."""

    camera: str
    figures: HealthFigures | None
    worker: WorkerState | None
    age_s: float | None = None
    """Seconds since the figures arrived; None: none have."""
    min_fps: float = 0.0
    """The rate recognition here assumes (`SupervisorSettings.min_camera_fps`)."""
    settled: bool = False
    """Figures have come before these: the first window includes the models' loading."""
    last_error: LastError | None = None
    """Why the camera last failed, kept until it is up again (`remembered_error`)."""

    @property
    def slow(self) -> bool:
        """Up and reporting, but processing fewer frames per second than recognition
        assumes (REC-5): walkers may pass without enough frames to be confirmed."""
        figures = self.figures
        return (
            self.status == "up"
            and self.settled
            and figures is not None
            and figures.fps < self.min_fps
        )

    @property
    def stale(self) -> bool:
        return self.age_s is None or self.age_s > STALE_AFTER_S

    @property
    def status(self) -> str:
        """up, down or ended as last reported; stale when the figures stopped coming;
        stalled when it says up but its last report counted no frame."""
        if self.figures is None:
            return "waiting"
        if self.stale and self.figures.status is CameraStatus.UP:
            return "stale"
        if self.settled and self.figures.status is CameraStatus.UP and self.figures.fps == 0:
            return "stalled"
        return self.figures.status.value

    @property
    def without_frames(self) -> bool:
        """Delivering no frames, whatever the cause (REC-5): the console flags it."""
        return self.status in ("down", "stale", "stalled", "ended")


@dataclass(frozen=True, slots=True)
class _Received:
    figures: HealthFigures
    at: float  # monotonic
    reports: int = 1
    last_error: LastError | None = None


class CentralRuntime:
    """Owns the bus, the supervisor and the subscriptions; lives on the server's loop."""

    def __init__(
        self,
        target: WorkerTarget,
        *,
        alert_sink: AlertSink,
        health_sink: HealthSink | None = None,
        node_sink: NodeSink | None = None,
        listeners: Listeners | None = None,
        bus: Bus | None = None,
        nats: NatsSettings | None = None,
        settings: SupervisorSettings | None = None,
        signer: Signer | None = None,
        describer: DescriberConfig | None = None,
    ) -> None:
        """`bus`: a bus already open; else `nats` (connected at `start`), else in memory.
        `signer`: the service's key, which what it and its camera workers publish is signed
        with (what arrives unsigned is refused, `lfr.services.fleet.verified_node`).
        `describer`: the engine's, for the machine's describer service
        (`SupervisorSettings.shared_describer`)."""
        self._describer = describer
        self._signer = signer
        self._target = target
        self._alert_sink = alert_sink
        self._health_sink = health_sink
        self._node_sink = node_sink
        self._listeners = listeners or Listeners()
        self._nats = nats
        self._supervisor_settings = settings
        self._bus = bus
        self._supervisor: Supervisor | None = None
        self._health: dict[tuple[str, str], _Received] = {}
        self._health_lock = threading.Lock()
        self._subscriptions: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: asyncio.Task[None] | None = None

    @property
    def on_nats(self) -> bool:
        return self._nats is not None or isinstance(self._bus, NatsBus)

    @property
    def ready(self) -> bool:
        """Whether the bus is open and workers can run (NATS may still be unreachable)."""
        return self._supervisor is not None

    @property
    def bus_connected(self) -> bool:
        """Whether the bus is reached now: opened, and (NATS) its link up, not reconnecting
        through a broker outage."""
        bus = self._bus
        return bus is not None and (not isinstance(bus, NatsBus) or bus.connected)

    async def start(self) -> None:
        """Opens the bus, or with NATS keeps trying in the background: a service restarted
        while the broker is down still serves its pages and records halts, and its
        reconciler brings everything up once the broker answers."""
        self._loop = asyncio.get_running_loop()
        if self._bus is not None or self._nats is None:
            await self._open(self._bus or MemoryBus(signer=self._signer))
            return
        try:  # the usual case: the broker answers within its first-connection bound
            await self._open(await NatsBus.connect(self._nats, signer=self._signer))
        except BusUnavailableError as error:
            log.warning("%s; the runtime keeps trying", error)
            self._connecting = asyncio.create_task(self._connect_until_up(self._nats))

    async def _connect_until_up(self, nats: NatsSettings) -> None:
        delay, warned = 1.0, True
        while True:
            try:
                bus = await NatsBus.connect(nats, signer=self._signer)
                break
            except BusUnavailableError as error:
                if not warned:  # once, not once per attempt
                    log.warning("%s; the runtime keeps trying", error)
                warned = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, CONNECT_RETRY_MAX_S)
        if warned:
            log.info("NATS reached: the recognition runtime starts")
        await self._open(bus)

    async def _open(self, bus: Bus) -> None:
        self._bus = bus
        # With NATS the workers publish to it themselves (what they send survives a
        # restart of this process); in memory, through the supervisor's relay.
        self._subscriptions = [
            await bus.subscribe(Topic.MATCH, self._on_match, durable="web-alerts"),
            await bus.subscribe(Topic.HEALTH, self._on_health, durable="web-health"),
            await bus.subscribe(Topic.NODE, self._on_node, durable="web-nodes"),
        ]
        # Each message above reaches one instance (a shared consumer: stored once); what it
        # recorded is announced to every instance, so every console sees every alert.
        if isinstance(bus, NatsBus):
            for kind, handler in self._announced().items():
                self._subscriptions.append(await bus.hear(kind, handler))
        # The workers sign what they send with the service's key: the intake refuses
        # anything on the bus that is unsigned or signed by an unknown signer.
        self._supervisor = Supervisor(
            bus,
            self._target,
            nats=self._nats,
            settings=self.supervisor_settings,
            signer=self._signer,
            describer=self._describer,
        )
        log.info("recognition runtime started (bus: %s)", type(bus).__name__)

    async def stop(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
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
    def supervisor_settings(self) -> SupervisorSettings:
        """How the supervisor started with this runtime stops and restarts workers."""
        return self._supervisor_settings or SupervisorSettings()

    @property
    def describer(self) -> DescriberConfig | None:
        """The engine's describer, which the machine's describer service runs when the
        supervisor settings ask for one (`shared_describer`)."""
        return self._describer

    @property
    def supervisor(self) -> Supervisor:
        if self._supervisor is None:
            raise RuntimeError("the recognition runtime is not started")
        return self._supervisor

    # What the reconciler asks of it (on the loop).

    def deployments_here(self) -> set[str]:
        """Deployments with workers in this process (running, restarting or finished)."""
        if self._supervisor is None:
            return set()
        return {state.deployment_id for state in self._supervisor.states()}

    def workers_alive(self) -> int:
        """Camera worker processes running in this process's supervisor."""
        if self._supervisor is None:
            return 0
        return sum(1 for state in self._supervisor.states() if state.alive)

    def workers_elsewhere(self, deployment_id: str) -> int:
        """Camera workers running here for deployments other than `deployment_id` (what a
        start of it shares this machine's cores with)."""
        if self._supervisor is None:
            return 0
        states = self._supervisor.states()
        return sum(1 for s in states if s.alive and s.deployment_id != deployment_id)

    async def run(self, deployment_id: str, cameras: Sequence[Camera], job: Any) -> None:
        """Starts one worker per camera of a deployment the record says runs."""
        await self.supervisor.start(deployment_id, cameras, job)
        log.info("deployment %s: %d camera worker(s) started", deployment_id, len(cameras))

    async def halt_here(self, deployment_id: str) -> None:
        """Stops every worker of the deployment in this process at once (DEP-2)."""
        await self.supervisor.halt(deployment_id)
        with self._health_lock:
            for key in [k for k in self._health if k[0] == deployment_id]:
                del self._health[key]
        log.info("deployment %s: all camera workers here stopped", deployment_id)
        self._listeners.health(deployment_id)

    async def publish(self, message: Message) -> None:
        await self.bus.publish(message)

    def publish_from_thread(self, message: Message, timeout_s: float = 30.0) -> None:
        """Publishes from another thread what a worker's relay would (the latency
        benchmark)."""
        if self._loop is None:
            raise RuntimeError("the recognition runtime is not started")
        asyncio.run_coroutine_threadsafe(self.publish(message), self._loop).result(timeout_s)

    # What pages read (any thread).

    def cameras(self, deployment_id: str, names: Sequence[str] = ()) -> list[CameraHealth]:
        """Each camera's latest health with its age; `names` adds cameras not heard from."""
        states = self._supervisor.states(deployment_id) if self._supervisor else []
        workers = {s.camera: s for s in states}
        now = time.monotonic()
        with self._health_lock:
            received = {c: r for (d, c), r in self._health.items() if d == deployment_id}
        every = sorted(set(workers) | set(received) | set(names))
        min_fps = self.supervisor_settings.min_camera_fps
        return [
            _camera_health(name, received.get(name), workers.get(name), now, min_fps)
            for name in every
        ]

    def all_cameras(self) -> list[tuple[str, CameraHealth]]:
        """Every camera of every deployment heard from or run here (the metrics)."""
        with self._health_lock:
            heard = {d for d, _ in self._health}
        here = self.deployments_here()
        return [(d, c) for d in sorted(heard | here) for c in self.cameras(d)]

    # Bus handlers (on the loop).

    async def _on_match(self, envelope: AnyEnvelope, delivery: Delivery) -> None:
        event = envelope.payload
        assert isinstance(event, MatchEvent)
        alert_id = await asyncio.to_thread(self._alert_sink, event, origin_of(envelope))
        if alert_id is not None:
            log.info(
                "alert %s raised on camera %s (score %.3f)", alert_id, event.camera, event.score
            )
            await self._announce(ALERT, alert_id.encode())

    async def _on_health(self, envelope: AnyEnvelope, delivery: Delivery) -> None:
        figures = envelope.payload
        assert isinstance(figures, HealthFigures)
        if figures.deployment_id is None:
            return
        if self._health_sink is not None:  # running totals for the review (REV-1)
            accepted = await asyncio.to_thread(self._health_sink, figures, origin_of(envelope))
            if not accepted:
                return
        metrics.STAGES.add(figures.deployment_id, figures.camera, figures.stages)
        await self._announce(HEALTH, figures.model_dump_json().encode())

    async def _on_node(self, envelope: AnyEnvelope, delivery: Delivery) -> None:
        report = envelope.payload
        assert isinstance(report, NodeReport)
        if self._node_sink is not None:
            await asyncio.to_thread(self._node_sink, report, origin_of(envelope))
        await self._announce(NODE, report.deployment_id.encode())

    # Announcements: what one instance took from a shared consumer and recorded, every
    # instance's consoles hear (core NATS, `NatsBus.announce`); in memory, this one's.

    async def _announce(self, kind: str, data: bytes) -> None:
        if isinstance(self._bus, NatsBus):
            try:
                await self._bus.announce(kind, data)
                return
            except Exception as error:  # the record holds it; this instance's screens at least
                log.warning(
                    "%s not announced to the other instances: %s", kind, type(error).__name__
                )
        await self._announced()[kind](data)

    def _announced(self) -> dict[str, Callable[[bytes], Awaitable[None]]]:
        return {ALERT: self._heard_alert, HEALTH: self._heard_health, NODE: self._heard_node}

    async def _heard_alert(self, data: bytes) -> None:
        self._listeners.alert(str(uuid.UUID(data.decode())))  # an id, nothing else

    async def _heard_node(self, data: bytes) -> None:
        self._listeners.health(check_token(data.decode(), "deployment id"))

    async def _heard_health(self, data: bytes) -> None:
        figures = HealthFigures.model_validate_json(data)
        if figures.deployment_id is None:
            return
        with self._health_lock:
            key = (figures.deployment_id, figures.camera)
            latest = self._health.get(key)
            if latest is None or latest.figures.at <= figures.at:  # a backlog arrives in order
                reports = latest.reports + 1 if latest is not None else 1
                error = remembered_error(latest.last_error if latest else None, figures)
                self._health[key] = _Received(figures, time.monotonic(), reports, error)
        self._listeners.health(figures.deployment_id)


def origin_of(envelope: AnyEnvelope) -> Origin:
    """Who the envelope says sent it, for the services to check (`fleet.check_origin`)."""
    return Origin(envelope.node, signed_content(envelope), envelope.signature)


def _camera_health(
    name: str, received: _Received | None, worker: WorkerState | None, now: float, min_fps: float
) -> CameraHealth:
    if received is None:
        return CameraHealth(name, None, worker, min_fps=min_fps)
    return CameraHealth(
        name,
        received.figures,
        worker,
        age_s=now - received.at,
        min_fps=min_fps,
        settled=received.reports > 1,
        last_error=received.last_error,
    )
