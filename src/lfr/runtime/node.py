"""A recognition node (`lfr node`): one deployment's camera workers on another machine (a
van, a camera site), publishing to NATS JetStream, obeying the deployment's halt (DEP-2).

The node reports itself (`NodeReport`: state, version, cameras) every few seconds and at
once when it obeys a halt, naming the halt it obeyed: that acknowledgement is what the
service counts before it calls a halt delivered (`lfr.services.fleet`). A node restarted
after a halt finds it on the bus, starts nothing, and acknowledges it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, start_http_server

from lfr import __version__
from lfr.bus.messages import HaltDeployment, NodeReport, NodeState
from lfr.bus.nats_bus import NatsBus, NatsSettings
from lfr.bus.subjects import Topic
from lfr.metrics import NodeCollector
from lfr.runtime.engine import EngineJob, run_camera_engine
from lfr.runtime.identity import NodeIdentity
from lfr.runtime.release import ReleaseError, await_release, open_release
from lfr.runtime.spool import SUFFIX, Spool, spool_key
from lfr.runtime.supervisor import Camera, Supervisor, SupervisorSettings
from lfr.vision.describers import describer_model_id
from lfr.vision.pipeline import EngineConfig

log = logging.getLogger("lfr.node")

FINISHED_POLL_S = 1.0
"""How often the node checks whether every camera has ended (rehearsal files)."""

REPORT_EVERY_S = 5.0
"""How often a node reports itself; the service shows a node silent for a few of these
intervals as unreachable."""

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

    async def send(self, state: NodeState) -> bool:
        report = NodeReport(
            node=self.node,
            deployment_id=self.deployment_id,
            state=state,
            version=__version__,
            cameras=self.cameras,
            acknowledged=tuple(self.acknowledged[-16:]),
            outbox_depth=spooled(self.outbox),
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
        return True

    async def acknowledge(self, halt: HaltDeployment) -> None:
        """Say which halt was obeyed, waiting a while for a link that is down."""
        if halt.halt_id is not None and halt.halt_id not in self.acknowledged:
            self.acknowledged.append(halt.halt_id)
        deadline = asyncio.get_running_loop().time() + REPORT_WAIT_S
        while not await self.send("halted"):
            if asyncio.get_running_loop().time() > deadline:
                log.warning("the halt's acknowledgement could not be sent before stopping")
                return
            await asyncio.sleep(1.0)

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

    async def run(self) -> str:
        """Run until halted, interrupted, every camera ended or the authorised window
        ended; say which."""
        bus = await NatsBus.connect(self.settings, signer=self.identity.signer(self.name))
        cameras = tuple(c.name for c in self.cameras)
        reporter = _Reporter(bus, self.name, self.deployment_id, cameras, self.outbox)
        earlier = await self._halted_already(bus)
        if earlier is not None:
            await reporter.acknowledge(earlier)
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
            run_camera_engine,
            nats=self.settings,
            settings=self.supervisor_settings,
            signer=self.identity.signer(self.name),
            spool=self._spool(),
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

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, finish, "interrupted")
        reporting = asyncio.create_task(reporter.every(REPORT_EVERY_S, "running"))
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
            reporting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporting
            await supervisor.stop()
            for halt in halts:
                await reporter.acknowledge(halt)
            if not halts:
                await reporter.send("stopped")
            await bus.close()
        return outcome[0]

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
        return Spool(self.outbox, spool_key(self.identity.private_signing))

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
