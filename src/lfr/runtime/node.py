"""A recognition node (`lfr node`): one deployment's camera workers on another machine (a
van, a camera site), publishing to NATS JetStream, obeying the deployment's halt (DEP-2).

The node reports itself (`NodeReport`: state, version, cameras) every few seconds and at
once when it obeys a halt, naming the halt it obeyed: that acknowledgement is what the
service counts before it calls a halt delivered (`lfr.services.fleet`). A node restarted
after a halt finds it on the bus, starts nothing, and acknowledges it again.

Halted, with its workers stopped, a node with an outbox sends what its cameras captured
before the halt until the bus has every alert, and destroys (counting, for the service's
audit) what they captured after it (`lfr.runtime.backlog`); a node restarted after the
halt does the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, start_http_server

from lfr import __version__
from lfr.bus.cameras import Camera
from lfr.bus.identity import NodeIdentity
from lfr.bus.messages import HaltDeployment, NodeReport, NodeState
from lfr.bus.nats_bus import NatsBus, NatsSettings
from lfr.bus.subjects import Topic
from lfr.metrics import NodeCollector
from lfr.runtime.backlog import Backlog
from lfr.runtime.engine import EngineJob, run_camera_engine
from lfr.runtime.release import ReleaseError, await_release, open_release
from lfr.runtime.spool import SUFFIX, Spool, spool_key
from lfr.runtime.supervisor import Supervisor, SupervisorSettings
from lfr.runtime.worker import WorkerTarget
from lfr.vision.describers import describer_model_id
from lfr.vision.pipeline import EngineConfig

log = logging.getLogger("lfr.node")

FINISHED_POLL_S = 1.0
"""How often the node checks whether every camera has ended (rehearsal files)."""

REPORT_EVERY_S = 5.0
"""How often a node reports itself; the service shows a node silent for a few of these
intervals as unreachable."""

EXPIRE_EVERY_S = 60.0
"""How often a running node looks for alerts past its outbox retention (more often for a
retention shorter than four of these)."""

REPORT_WAIT_S = 10.0
"""How long a node stopping after a halt waits for the link to take its acknowledgement."""


@dataclass(frozen=True)
class ReleasedSource:
    """Where a node without a watchlist folder gets one: the service's release to it."""

    identity: NodeIdentity
    config: EngineConfig
    wait_s: float
    service_key: bytes
    """The service's release-signing public key (`lfr fleet service-key`)."""
    loop: bool = False
    """Play file sources again at their end (`lfr node --loop`)."""

    async def job(self, bus: NatsBus, deployment_id: str, node: str) -> tuple[EngineJob, datetime]:
        """The job built from the node's release, and when its window ends."""
        release = await await_release(bus, deployment_id, node, self.wait_s, self.service_key)
        model_id = describer_model_id(self.config.describer)
        opened = open_release(release, self.identity, node, model_id=model_id)
        config = self.config.model_copy(update={"alert_threshold": opened.alert_threshold})
        log.info(
            "watchlist released: %d template(s), threshold %.3f, valid until %s",
            len(opened.templates.subject_ids),
            opened.alert_threshold,
            opened.valid_until.isoformat(),
        )
        job = EngineJob(config, opened.templates.gallery(), loop=self.loop)
        return job, opened.valid_until


def spooled(outbox: Path | None) -> int | None:
    """Alerts waiting on this node's disk, every camera together (None: no spool)."""
    if outbox is None:
        return None
    return sum(1 for _ in outbox.glob(f"*/*/*{SUFFIX}"))


@dataclass
class _Reporter:
    """Publishes the node's reports; a failed one is logged once per change of state."""

    bus: NatsBus
    node: str
    deployment_id: str
    cameras: tuple[str, ...]
    outbox: Path | None = None
    acknowledged: list[str] = field(default_factory=list)
    failing: bool = False
    destroyed_after_halt: int = 0
    """Alerts captured after a halt destroyed here, not yet reported."""
    expired: int = 0
    """Alerts past the outbox retention destroyed here, not yet reported."""

    async def send(self, state: NodeState) -> bool:
        destroyed, expired = self.destroyed_after_halt, self.expired
        report = NodeReport(
            node=self.node,
            deployment_id=self.deployment_id,
            state=state,
            version=__version__,
            cameras=self.cameras,
            acknowledged=tuple(self.acknowledged[-16:]),
            outbox_depth=spooled(self.outbox),
            destroyed_after_halt=destroyed,
            expired=expired,
        )
        try:
            await self.bus.publish(report)
        except Exception as error:  # the link is down: the next report carries the same
            if not self.failing:
                log.warning("node report not sent (%s); retrying", type(error).__name__)
            self.failing = True
            return False
        if self.failing:
            log.info("node reports reach the service again")
        self.failing = False
        self.destroyed_after_halt -= destroyed  # reported once: the service audits them
        self.expired -= expired
        return True

    async def acknowledge(self, halt: HaltDeployment) -> None:
        """Say which halt was obeyed, waiting a while for a link that is down."""
        if halt.halt_id is not None and halt.halt_id not in self.acknowledged:
            self.acknowledged.append(halt.halt_id)
        if not await self.settle("halted"):
            log.warning("the halt's acknowledgement could not be sent before stopping")

    async def settle(self, state: NodeState) -> bool:
        """Report `state`, retrying a while for a link that is down; whether it went."""
        deadline = asyncio.get_running_loop().time() + REPORT_WAIT_S
        while not await self.send(state):
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(1.0)
        return True

    async def every(self, interval_s: float, state: NodeState) -> None:
        while True:
            await self.send(state)
            await asyncio.sleep(interval_s)


@dataclass
class Node:
    """One deployment's workers on this machine, and the halt that stops them."""

    deployment_id: str
    name: str
    cameras: list[Camera]
    watchlist: EngineJob | ReleasedSource
    settings: NatsSettings
    supervisor_settings: SupervisorSettings
    identity: NodeIdentity
    """The node's keys: it signs everything it publishes (the service refuses a node camera's
    messages without its enrolled node's signature) and opens the release made for it."""
    outbox: Path | None = None
    """Where unsent alerts are kept, encrypted, across restarts and power cuts (None: in
    memory only)."""
    metrics_port: int | None = None
    """Where the node serves Prometheus metrics (None: it serves none)."""
    target: WorkerTarget = run_camera_engine
    """What each camera worker runs (the recognition engine; tests give their own)."""
    interrupted: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    """Set by Ctrl-C or SIGTERM: stop, even with alerts still to send."""

    async def run(self) -> str:
        """Run until halted, interrupted, every camera ended or the authorised window
        ended; say which."""
        bus = await NatsBus.connect(self.settings, signer=self.identity.signer(self.name))
        cameras = tuple(c.name for c in self.cameras)
        reporter = _Reporter(bus, self.name, self.deployment_id, cameras, self.outbox)
        earlier = await self._halted_already(bus)
        if earlier is not None:  # restarted after the halt: start nothing, send what is owed
            self._on_signals(self.interrupted.set)
            try:
                await self._after_halts(bus, reporter, [earlier])
            finally:
                await bus.close()
            return f"halted: {earlier.reason}"
        try:
            job, valid_until = await self._job(bus)
        except ReleaseError:
            await bus.close()
            raise
        return await self._run_workers(bus, reporter, job, valid_until)

    async def _run_workers(
        self, bus: NatsBus, reporter: _Reporter, job: EngineJob, valid_until: datetime | None
    ) -> str:
        supervisor = Supervisor(
            bus,
            self.target,
            nats=self.settings,
            settings=self.supervisor_settings,
            signer=self.identity.signer(self.name),
            spool=self._spool(),
            describer=job.config.describer,
        )
        done = asyncio.Event()
        outcome = ["every camera ended"]
        halts: list[HaltDeployment] = []

        def finish(why: str) -> None:
            outcome[0] = why
            done.set()

        loop = asyncio.get_running_loop()
        if valid_until is not None:
            seconds = (valid_until - datetime.now(UTC)).total_seconds()
            loop.call_later(max(0.0, seconds), finish, "the authorised window ended")

        def halted(halt: HaltDeployment) -> None:
            halts.append(halt)
            finish(f"halted: {halt.reason}")

        async def finish_when_interrupted() -> None:
            await self.interrupted.wait()
            finish("interrupted")

        self._on_signals(self.interrupted.set)
        reporting = asyncio.create_task(reporter.every(REPORT_EVERY_S, "running"))
        expiring = asyncio.create_task(self._expire_every(reporter))
        watching = asyncio.create_task(finish_when_interrupted())
        self._serve_metrics(supervisor, reporter)
        try:
            # Listen before starting: a halt already on the stream stops the node at once.
            await supervisor.follow_halts(
                f"node-{self.deployment_id}-{self.name}",
                deployment_id=self.deployment_id,
                on_halt=halted,
            )
            if not done.is_set():
                await supervisor.start(self.deployment_id, self.cameras, job)
                log.info("node %s running %d camera(s)", self.name, len(self.cameras))
            await self._until_done(supervisor, done)
        finally:
            for task in (reporting, expiring, watching):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await supervisor.stop()
            if halts:
                await self._after_halts(bus, reporter, halts)
            else:
                await reporter.send("stopped")
            await bus.close()
        return outcome[0]

    def _on_signals(self, handler: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, handler)

    async def _after_halts(
        self, bus: NatsBus, reporter: _Reporter, halts: list[HaltDeployment]
    ) -> None:
        """With the workers stopped: destroy (and count) what was captured after the halt,
        acknowledge it, then send what was captured before it until the bus has all."""
        backlog = self._backlog()
        for halt in halts:
            if backlog is not None:
                destroyed = backlog.destroy_after(self.deployment_id, halt.issued_at)
                if destroyed:
                    log.warning(
                        "%d alert(s) captured after the halt destroyed unsent (reported)",
                        destroyed,
                    )
                reporter.destroyed_after_halt += destroyed
            await reporter.acknowledge(halt)
        if backlog is not None:
            await self._deliver(bus, reporter, backlog)

    async def _deliver(self, bus: NatsBus, reporter: _Reporter, backlog: Backlog) -> None:
        """Send the halted deployment's outbox, reporting its depth as it goes down, until
        every alert is on the bus (or the node is interrupted: they wait for its next
        start)."""
        reporter.expired += backlog.expire()
        waiting = backlog.waiting(self.deployment_id)
        if not waiting:
            return
        log.warning(
            "halted with %d alert(s) captured before the halt not yet delivered: sending "
            "each until the bus acknowledges it",
            waiting,
        )
        reporting = asyncio.create_task(reporter.every(REPORT_EVERY_S, "halted"))
        sending = asyncio.create_task(backlog.send(self.deployment_id, bus.publish_raw))
        interrupted = asyncio.create_task(self.interrupted.wait())
        try:
            await asyncio.wait({sending, interrupted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reporting, interrupted, sending):
                if not task.done():
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if sending.cancelled():
            left = backlog.waiting(self.deployment_id)
            log.warning("interrupted: %d alert(s) left in the outbox for the next start", left)
            return
        log.info("all %d alert(s) captured before the halt delivered", sending.result())
        await reporter.settle("halted")  # the service sees the outbox empty

    async def _expire_every(self, reporter: _Reporter) -> None:
        """Destroy, count and report alerts past the outbox retention while running."""
        backlog = self._backlog()
        if backlog is None:
            return
        interval = min(EXPIRE_EVERY_S, self.supervisor_settings.outbox_retention_s / 4)
        while True:
            expired = backlog.expire()
            if expired:
                log.warning("%d alert(s) past the outbox retention destroyed unsent", expired)
            reporter.expired += expired
            await asyncio.sleep(interval)

    def _backlog(self) -> Backlog | None:
        spool = self._spool()
        return Backlog(spool) if spool is not None else None

    def _serve_metrics(self, supervisor: Supervisor, reporter: _Reporter) -> None:
        if self.metrics_port is None:
            return
        registry = CollectorRegistry(auto_describe=False)
        registry.register(
            NodeCollector(
                self.name,
                lambda: [(s.camera, s.alive, s.crashes) for s in supervisor.states()],
                lambda: not reporter.failing,
                lambda: spooled(self.outbox),
            )
        )
        start_http_server(self.metrics_port, registry=registry)
        log.info("metrics on port %d", self.metrics_port)

    def _spool(self) -> Spool | None:
        if self.outbox is None:
            return None
        key = spool_key(self.identity.private_signing)
        return Spool(self.outbox, key, retention_s=self.supervisor_settings.outbox_retention_s)

    async def _halted_already(self, bus: NatsBus) -> HaltDeployment | None:
        """A halt already on the bus (DEP-2). Checked before anything starts: a node
        restarted under the same name continues a durable consumer that may have taken
        the halt already, and would not be given it again."""
        latest = await bus.latest(Topic.CONTROL, self.deployment_id)
        halt = latest.payload if latest is not None else None
        return halt if isinstance(halt, HaltDeployment) else None

    async def _job(self, bus: NatsBus) -> tuple[EngineJob, datetime | None]:
        if isinstance(self.watchlist, EngineJob):
            return self.watchlist, None
        return await self.watchlist.job(bus, self.deployment_id, self.name)

    async def _until_done(self, supervisor: Supervisor, done: asyncio.Event) -> None:
        while not done.is_set():
            states = supervisor.states(self.deployment_id)
            if states and all(state.finished for state in states):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), FINISHED_POLL_S)
