"""What runs inside a camera worker process, and how its messages leave it.

A worker process runs one *worker target*: a picklable module-level callable taking a
`WorkerContext`. The production target builds the recognition engine
(`lfr.runtime.engine.run_camera_engine`); tests pass small targets of their own, which is
the seam that lets the supervisor be tested with real child processes.

The only way out of a worker is ``WorkerContext.emit``, which accepts a `MatchEvent` or
`HealthFigures` and nothing else (REC-4). It goes through an *outlet*:

* `PipeOutlet` — the embedded default: encoded bytes down a pipe to the supervisor, which
  relays them onto its (memory) bus;
* `NatsOutlet` — a node: the worker publishes to NATS JetStream itself, through a bounded
  `Outbox` that keeps messages while the link is down.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol, TypeVar

from lfr.bus.messages import Signer, encode
from lfr.bus.nats_bus import NatsBus, NatsSettings
from lfr.bus.subjects import Topic, subject_for
from lfr.runtime.describer_service import DescriberLink
from lfr.runtime.lifeline import hold_lifeline
from lfr.runtime.spool import Spool, SpoolFullError
from lfr.vision.describers import Describer
from lfr.vision.pipeline import Emit
from lfr.vision.types import CameraStatus, HealthFigures, MatchEvent

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class WorkerContext:
    """What a worker target is given: who it is, what to watch, where to emit, when to stop."""

    deployment_id: str
    camera: str
    source: str
    job: Any = field(repr=False)
    """Whatever the target needs to build its engine (for the engine: an `EngineJob`)."""
    emit: Emit = field(repr=False)
    stop: threading.Event = field(repr=False)
    describer: Describer | None = field(default=None, repr=False)
    """The machine's shared describer (`lfr.runtime.describer_service`), where the
    supervisor runs one; None: the engine builds its own."""


WorkerTarget = Callable[[WorkerContext], None]


class Outlet(Protocol):
    """How a worker process's messages leave it; picklable, opened inside the child."""

    def open(self, prefix: str) -> Callable[[str, bytes], None]: ...

    def close(self) -> None: ...


@dataclass
class PipeOutlet:
    """Sends ``subject\\n`` + encoded message down a pipe to the supervisor."""

    connection: Connection

    def open(self, prefix: str) -> Callable[[str, bytes], None]:
        lock = threading.Lock()

        def send(subject: str, data: bytes) -> None:
            # One frame per message; the lock keeps two emitting threads from interleaving.
            with lock:
                self.connection.send_bytes(subject.encode() + b"\n" + data)

        return send

    def close(self) -> None:
        self.connection.close()


Item = tuple[str, bytes, Path | None]
"""A message to publish: subject, bytes, and the spool file that keeps it (alerts on a
node with a spool), removed once the stream holds it."""


class Outbox:
    """What a node's worker has emitted and not yet published.

    Alerts and health are bounded apart, so a long outage cannot push alerts out with
    stale counts: health keeps only its latest ``health_limit`` entries (the oldest go),
    alerts up to ``alert_limit`` (beyond it the newest is dropped, with a warning — the
    worker must not grow without bound on a van offline for days). Alerts go out first.
    With a `Spool`, each alert is also on the node's disk until published, and what an
    earlier run left there goes out before anything new.
    """

    def __init__(self, alert_limit: int, health_limit: int, spool: Spool | None = None) -> None:
        self.alert_limit = alert_limit
        self.spool = spool
        self.alerts: deque[Item] = deque()
        self.health: deque[Item] = deque(maxlen=health_limit)
        self.dropped_alerts = 0
        self.closed = False
        self._ready = threading.Condition()
        self._in_flight: Item | None = None
        """The message taken and not yet published (its publisher retries it)."""
        if spool is not None and (expired := spool.expire()):
            log.warning("%d alert(s) past the outbox retention destroyed unsent", expired)
        for path in spool.pending() if spool is not None else []:
            kept = spool.read(path) if spool is not None else None
            if kept is not None:
                self.alerts.append((*kept, path))

    def put(self, subject: str, data: bytes) -> None:
        with self._ready:
            if f".{Topic.MATCH}." not in subject:
                self.health.append((subject, data, None))
            elif len(self.alerts) < self.alert_limit:
                self.alerts.append((subject, data, self._keep(subject, data)))
            else:
                self._drop()
            self._ready.notify()

    def _keep(self, subject: str, data: bytes) -> Path | None:
        if self.spool is None:
            return None
        try:
            return self.spool.put(subject, data)
        except (OSError, SpoolFullError) as error:  # still sent from memory if the link holds
            log.error("alert not kept on disk (%s): it is lost if the node stops first", error)
            return None

    def _expired(self, item: Item) -> bool:
        """An alert past the outbox retention is destroyed, not sent (DP-2)."""
        kept = item[2]
        if self.spool is None or kept is None or not self.spool.expired(kept):
            return False
        self.spool.remove(kept)
        log.warning("an alert past the outbox retention was destroyed unsent")
        return True

    def _drop(self) -> None:
        self.dropped_alerts += 1
        log.error("outbox full: dropped an alert (%d so far)", self.dropped_alerts)

    def close(self) -> None:
        with self._ready:
            self.closed = True
            self._ready.notify()

    def take(self) -> Item | None:
        """The next message to publish; None once closed and empty."""
        with self._ready:
            while True:
                self._ready.wait_for(lambda: self.alerts or self.health or self.closed)
                while self.alerts:
                    item = self.alerts.popleft()
                    if not self._expired(item):
                        self._in_flight = item
                        return item
                if self.health:
                    self._in_flight = self.health.popleft()
                    return self._in_flight
                if self.closed:
                    return None

    def sent(self) -> None:
        """The message last taken is published: no longer the outbox's to account for."""
        with self._ready:
            self._in_flight = None

    def unsent(self) -> tuple[int, int]:
        """(alerts, of which kept on disk) not yet published: those waiting, and the one
        being published if it is an alert (a stop while its publisher retries loses it
        too, unless it is on disk)."""
        with self._ready:
            waiting = list(self.alerts)
            flying = self._in_flight
            if flying is not None and f".{Topic.MATCH}." in flying[0]:
                waiting.append(flying)
            return len(waiting), sum(1 for item in waiting if item[2] is not None)


class NatsOutlet:
    """Publishes to NATS from a background thread, so a slow link never stalls the engine;
    while the link is down, messages wait in an `Outbox` (alerts also on disk with a
    `Spool`)."""

    def __init__(
        self,
        settings: NatsSettings,
        *,
        alert_limit: int = 10_000,
        health_limit: int = 120,
        flush_s: float = 5.0,
        spool: Spool | None = None,
    ) -> None:
        # Only plain values until `open` runs in the child: the outlet is pickled to it.
        self.settings = settings
        self.alert_limit = alert_limit
        self.health_limit = health_limit
        self.flush_s = flush_s
        self.spool = spool
        self._outbox: Outbox | None = None
        self._thread: threading.Thread | None = None

    def open(self, prefix: str) -> Callable[[str, bytes], None]:
        self._outbox = Outbox(self.alert_limit, self.health_limit, self.spool)
        self._thread = threading.Thread(target=self._run, name="nats-outlet", daemon=True)
        self._thread.start()
        return self._outbox.put

    def close(self) -> None:
        """Flush for at most ``flush_s``, then say what could not be sent: kept on disk
        for the next start (with a spool), or lost (memory only)."""
        if self._outbox is None or self._thread is None:
            return
        self._outbox.close()
        self._thread.join(self.flush_s)
        alerts, kept = self._outbox.unsent()
        if kept:
            log.warning("%d alert(s) not sent yet: kept on disk, sent at the next start", kept)
        if alerts - kept:
            log.error("%d alert(s) could not be sent and are lost", alerts - kept)

    def _run(self) -> None:
        asyncio.run(self._publish_all())

    async def _publish_all(self) -> None:
        assert self._outbox is not None
        bus = await _connect_until_done(self.settings)
        try:
            while (item := await asyncio.to_thread(self._outbox.take)) is not None:
                subject, data, kept = item
                await _publish_until_done(bus, subject, data)
                if kept is not None and self.spool is not None:
                    self.spool.remove(kept)  # the stream holds it now
                self._outbox.sent()
        finally:
            await bus.close()


RETRY_MAX_S = 5.0


async def _connect_until_done(settings: NatsSettings) -> NatsBus:
    return await until_done(lambda: NatsBus.connect(settings), "reaching NATS")


async def _publish_until_done(bus: NatsBus, subject: str, data: bytes) -> None:
    await until_done(lambda: bus.publish_raw(subject, data), "publishing")


async def until_done(attempt: Callable[[], Awaitable[T]], what: str) -> T:
    """Retry with backoff until it succeeds; one line when it starts failing and one when it
    succeeds again, never one per attempt (a van may be offline for hours)."""
    delay, failures = 0.2, 0
    while True:
        try:
            result = await attempt()
        except Exception as error:  # a timeout, a lost link: retry
            if failures == 0:
                log.warning(
                    "%s failed (%s); retrying until it succeeds", what, type(error).__name__
                )
            failures += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
            continue
        if failures:
            log.info("%s succeeded after %d failed attempt(s)", what, failures)
        return result


def make_emit(
    deployment_id: str,
    prefix: str,
    send: Callable[[str, bytes], None],
    signer: Signer | None = None,
) -> Emit:
    """The worker's one way out: stamps the deployment, signs it on a node, and refuses
    anything else (REC-4)."""

    def emit(message: MatchEvent | HealthFigures) -> None:
        if not isinstance(message, MatchEvent | HealthFigures):
            raise TypeError(
                f"a worker may emit only MatchEvent or HealthFigures, not {type(message).__name__}"
            )
        if message.deployment_id is None:
            message = message.model_copy(update={"deployment_id": deployment_id})
        send(subject_for(prefix, message), encode(message, signer))

    return emit


def down_figures(deployment_id: str, camera: str, errors: int, last_error: str) -> HealthFigures:
    """Health figures for a worker that is not running (crashed, or waiting to restart)."""
    return HealthFigures(
        deployment_id=deployment_id,
        camera=camera,
        status=CameraStatus.DOWN,
        at=datetime.now(UTC),
        fps=0,
        faces_per_s=0,
        latency_ms_p50=0,
        latency_ms_p95=0,
        frames=0,
        faces=0,
        dropped_frames=0,
        errors=errors,
        last_error=last_error[:500],
    )


@dataclass(frozen=True)
class ChildSpec:
    """Everything a worker process is started with (pickled by multiprocessing spawn)."""

    target: WorkerTarget
    deployment_id: str
    camera: str
    source: str
    job: Any
    prefix: str
    outlet: Outlet
    signer: Signer | None = None
    """A node's signing key: what the worker publishes is signed (the service's own
    workers sign nothing)."""
    owner_pid: int = field(default_factory=os.getpid)
    """The process that starts the worker: the worker stops when it dies (`lifeline`)."""
    exit_deadline_s: float = 8.0
    """How long after it is told to stop (or its owner dies) the worker may take before it
    ends itself at once."""
    owner_link: Connection | None = None
    """The reading end of a pipe whose only writing end the owner holds: end-of-file
    there means the owner is gone (`lifeline`)."""
    describer: DescriberLink | None = None
    """The machine's describer service, where the supervisor runs one
    (`SupervisorSettings.shared_describer`)."""


def child_main(spec: ChildSpec) -> None:
    """Entry point of a worker process: run the target until it ends, SIGTERM arrives or
    its owner dies (`lfr.runtime.lifeline`)."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    link = None if spec.owner_link is None else spec.owner_link.fileno()
    hold_lifeline(spec.owner_pid, stop, spec.exit_deadline_s, link)
    emit = make_emit(spec.deployment_id, spec.prefix, spec.outlet.open(spec.prefix), spec.signer)
    started = time.monotonic()
    try:
        # Inside: a describer service that does not answer is a crash reported as health.
        describer = spec.describer.connect() if spec.describer is not None else None
        context = WorkerContext(
            spec.deployment_id, spec.camera, spec.source, spec.job, emit, stop, describer
        )
        spec.target(context)
    except Exception as error:
        # Reported as health so the deployment shows it; the type and text only, no frame.
        ran = time.monotonic() - started
        reason = f"worker crashed after {ran:.1f} s: {type(error).__name__}: {error}"
        emit(down_figures(spec.deployment_id, spec.camera, 1, reason))
        raise
    finally:
        spec.outlet.close()
