"""The reconciler: the record says what runs, and the running system follows by itself
(DEP-2, AUTH-1, AUTH-3, AUTH-4, WL-1, WL-6).

A service changes the record and never talks to a process. This loop reads the record
every few seconds, and at once after each commit that changes a deployment or an authority
(`lfr.db.changes`), and closes the difference, the way a Kubernetes controller does:

* **Out of force, ended**: a running deployment whose authority is no longer in force (its
  window ended, an urgent authority lapsed unconfirmed) is ended by the system, audited
  with the rule as the reason (`deployments.end_out_of_force`).
* **Local workers**: a deployment that should run (`lfr.domain.deployment.run_verdict`:
  RUNNING, authority in force, watchlist sealed) gets one worker per local camera; one that
  should not (halted, ended, vetoed) has its workers stopped at once.
* **Nodes**: a running deployment with cameras on nodes has its sealed watchlist released
  to them (audited); every halt recorded in the control outbox is published until the bus
  holds it, and re-sent until each node serving the deployment has acknowledged it. A
  restarted service finds the unacknowledged halts in the database and sends them again.

* **Several instances** (`lfr.runtime.leases`): a camera's worker starts only on the
  instance holding the camera's lease, renewed at every pass; one whose lease went
  elsewhere is stopped, and if the leases cannot be renewed in time every worker here
  stops (fenced). Only the instance holding the leader's lease ends deployments out of
  force and talks to the nodes. Stopping a deployment here gives up its leases and
  records this instance's acknowledgement of the halt.

The local pass is quick and a request may wait for it (`converge`): a halt answers with the
workers here already stopped. The remote pass talks to the bus, which may be down for
minutes; it runs on its own so that an outage never delays a local halt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from lfr.audit import record
from lfr.bus.cameras import Camera
from lfr.bus.identity import NodePublicKey
from lfr.bus.messages import HaltDeployment, WatchlistRelease
from lfr.db.governance import DeploymentRow
from lfr.db.leases import camera_lease
from lfr.db.session import SessionFactory, transaction, unanswered_reason
from lfr.domain.authorisation import urgent_lapse_time
from lfr.domain.people import SYSTEM_ACTOR
from lfr.domain.refusal import Refusal
from lfr.reports.recognition import engine_differences, recognition_of
from lfr.runtime.central import CentralRuntime
from lfr.runtime.engine import EngineJob
from lfr.runtime.leases import LEADER, Leases, instance_name
from lfr.runtime.release import seal_release, withdrawal
from lfr.services import authorisations, deployments, fleet
from lfr.services.cameras import cameras_for
from lfr.services.policy import GovernancePolicy
from lfr.services.watchlists import sealed_templates
from lfr.vision.matcher import TemplateSet
from lfr.vision.pipeline import EngineConfig, threads_per_worker
from lfr.vision.source_types import runs_on_node

log = logging.getLogger("lfr.reconciler")

INTERVAL_S = 2.0
"""Longest time between two passes when nothing wakes the loop: how late a window's end or
an urgent lapse is noticed at worst."""

RESEND_S = 15.0
"""A published halt not yet acknowledged by every node is published again this often."""

CONVERGE_WAIT_S = 30.0
"""How long a request waits for the local pass (workers are signalled at once; this only
bounds the wait for their exit)."""

JobWrapper = Callable[[EngineJob], object]
"""Wraps a deployment's job before its workers start (the live preview's sink)."""


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    deployment_id: str
    cameras: list[Camera]
    job: object
    has_nodes: bool


class Planner:
    """What a deployment's workers run, read from the record (sealed templates, the
    authorised threshold) and what its nodes are sent."""

    def __init__(
        self,
        base_config: EngineConfig | None = None,
        *,
        policy: GovernancePolicy,
        realtime: bool = True,
        wrap: JobWrapper | None = None,
        loop_files: bool = False,
    ) -> None:
        """`policy`: the governance limits of the system's settings (an unconfirmed urgent
        authority's lapse bounds what a node is released)."""
        self.base_config = base_config or EngineConfig()
        self.policy = policy
        self.realtime = realtime
        self.wrap = wrap
        self.loop_files = loop_files

    def config_for(self, row: DeploymentRow) -> EngineConfig:
        """The engine with the deployment's recorded threshold (`recognition_of`: the
        authority's, else the engine setting when it was resolved)."""
        threshold = recognition_of(row).threshold
        return self.base_config.model_copy(update={"alert_threshold": threshold})

    def plan(self, session: Session, row: DeploymentRow, workers_here: int = 0) -> WorkerPlan:
        """`workers_here`: camera workers already running on this machine; the new ones
        share its cores with them (ONNX Runtime and OpenCV threads each). Refused when
        this engine would run another describer, rule or calibration than the deployment
        recorded when it started (the settings changed since)."""
        cameras = cameras_for(session, deployments.cameras_of(row))
        templates = sealed_templates(session, row.id)
        local = [camera for camera in cameras if not runs_on_node(camera.source)]
        differences = engine_differences(
            recognition_of(row), self.base_config, len(set(templates.subject_ids))
        )
        if local and differences:
            raise Refusal(
                "REC-2",
                "this engine would run "
                + "; ".join(differences)
                + ": restart with the settings it started with, or end it",
                "recognition",
            )
        config = self.config_for(row)
        if not config.threads:
            threads = threads_per_worker(workers_here + len(local))
            config = config.model_copy(update={"threads": threads})
        job = EngineJob(config, templates.gallery(), realtime=self.realtime, loop=self.loop_files)
        wrapped = self.wrap(job) if self.wrap is not None else job
        return WorkerPlan(row.id, local, wrapped, has_nodes=len(local) < len(cameras))

    def release(
        self, session: Session, row: DeploymentRow, node: str, key: NodePublicKey
    ) -> WatchlistRelease:
        """The sealed watchlist encrypted to one enrolled node, audited in the caller's
        transaction."""
        templates = sealed_templates(session, row.id)
        threshold = recognition_of(row).threshold
        authority = authorisations.load_authority(session, row.authority_id)
        # An unconfirmed urgent authority stops being in force before its window ends
        # (AUTH-3): the nodes stop matching then (a confirmation re-releases).
        lapse = urgent_lapse_time(authority, self.policy.urgent_validity)
        ends = authority.scope.window.end
        valid_until = min(ends, lapse) if lapse is not None else ends
        release = seal_release(row.id, templates, threshold, valid_until, node, key)
        _audit_release(session, row, templates, threshold, valid_until, node)
        return release


def _audit_release(
    session: Session,
    row: DeploymentRow,
    templates: TemplateSet,
    threshold: float,
    valid_until: datetime,
    node: str,
) -> None:
    count = len(templates.subject_ids)
    record(
        session,
        actor=SYSTEM_ACTOR,
        action="watchlist.release",
        object_type="deployment",
        object_id=row.id,
        summary=f"sealed watchlist ({count} templates) released to node {node}",
        after={
            "templates": count,
            "alert_threshold": threshold,
            "valid_until": valid_until,
            "node": node,
        },
    )


class Reconciler:
    """Makes the local workers, the nodes and the released watchlists match the record."""

    def __init__(
        self,
        db: SessionFactory,
        runtime: CentralRuntime,
        planner: Planner,
        *,
        policy: GovernancePolicy,
        interval_s: float = INTERVAL_S,
        resend_s: float = RESEND_S,
        on_stopped: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        leases: Leases | None = None,
    ) -> None:
        """`policy`: the governance limits the record is judged by (an urgent authority's
        lapse); `interval_s`: the longest time between passes (the system's settings give
        both, `lfr.system`); `clock`: the time the rules are judged at (a test moves it
        past a window); `leases`: this instance's (default: a new name on `db`)."""
        self._db = db
        self._policy = policy
        self.leases = leases or Leases(db, instance_name())
        self._leader = False
        self._plans: dict[str, WorkerPlan] = {}
        """Each running deployment's plan, made once when it first runs here."""
        self._started: dict[str, set[str]] = {}
        """The cameras whose workers this instance started, per deployment."""
        self.clock = clock
        self._runtime = runtime
        self._planner = planner
        self._interval_s = interval_s
        self._resend = timedelta(seconds=resend_s)
        self._on_stopped = on_stopped
        self._running: set[str] = set()
        self._cannot_run: dict[str, str] = {}
        """Why a deployment the record says runs could not be brought up (said once)."""
        self._released: set[tuple[str, str]] = set()
        """(deployment, node) pairs whose release is on the bus."""
        self._local_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakes: list[asyncio.Event] = []
        self._held: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    @property
    def planner(self) -> Planner:
        """What each deployment's workers run (the configured engine, the authority's
        threshold)."""
        return self._planner

    async def start(self) -> None:
        self._stopping = False
        self._loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):  # the database is down: the passes retry
            await self._renew_leases()  # the leader is known before the scheduled jobs ask
        local, remote = asyncio.Event(), asyncio.Event()
        self._wakes = [local, remote]
        self._tasks = [
            asyncio.create_task(self._forever(self.local_pass, local), name="reconcile-local"),
            asyncio.create_task(self._forever(self.remote_pass, remote), name="reconcile-nodes"),
        ]

    async def stop(self) -> None:
        # The flag as well as the cancellation: a wake that lands with the cancellation
        # must not keep a loop going (asyncio.wait_for could swallow it before 3.12).
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def wake(self) -> None:
        """Ask for a pass now; from any thread (the commit hook calls it)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        for event in self._wakes:
            loop.call_soon_threadsafe(event.set)

    def converge(self, timeout_s: float = CONVERGE_WAIT_S) -> None:
        """From a request thread: run a local pass now and wait for it, so the caller sees
        the workers here as the record says; the nodes are woken too."""
        if self._loop is None:
            return
        self.wake()
        future: Future[None] = asyncio.run_coroutine_threadsafe(self.local_pass(), self._loop)
        future.result(timeout_s)

    async def _forever(self, step: Callable[[], Awaitable[None]], wake: asyncio.Event) -> None:
        while not self._stopping:
            try:
                await step()
            except OperationalError as error:  # an outage: one line a pass, no traceback
                log.error(
                    "a reconcile pass failed: the database does not answer (%s); the next "
                    "one retries",
                    unanswered_reason(error),
                )
            except Exception:  # one failed pass must not stop reconciling
                log.exception("a reconcile pass failed; the next one retries")
            await _woken_or_after(wake, self._interval_s)
            wake.clear()

    @property
    def leads(self) -> bool:
        """Whether this instance holds the leader's lease (`lfr.runtime.leases`): it alone
        ends deployments out of force, talks to the nodes and runs the scheduled jobs."""
        return self._leader

    # The local pass: the record, then this process's workers.

    async def local_pass(self) -> None:
        async with self._local_lock:
            await self._renew_leases()
            if self._leader:
                await asyncio.to_thread(self._end_out_of_force)
            if not self._runtime.ready:  # the bus is not reached yet: nothing can run here
                return
            wanted = await asyncio.to_thread(self._wanted)
            for deployment_id in sorted(self._running - wanted):
                await self._stop_here(deployment_id)
            new = sorted(wanted - self._running)
            for deployment_id in new:
                await self._bring_up(deployment_id)
            if new:
                await self._renew_leases()
            await self._start_held_cameras()

    async def _renew_leases(self) -> None:
        """Renews and takes the leader's lease and those of the running deployments'
        cameras; a camera whose lease went elsewhere is stopped here. If the database does
        not answer for long enough that the leases may lapse, every worker here stops."""
        wanted = {LEADER} | {
            camera_lease(d, camera.name)
            for d, plan in self._plans.items()
            for camera in plan.cameras
        }
        bound = max(self.leases.seconds_until_fenced(), 0.5)
        try:
            held = await asyncio.wait_for(asyncio.to_thread(self.leases.claim, wanted), bound)
        except Exception:  # refused, or hanging past the point the leases may lapse
            if self.leases.fenced:
                await self._fence()
            raise
        self._leader = LEADER in held
        self._held = held
        for deployment_id, cameras in sorted(self._started.items()):
            if any(camera_lease(deployment_id, c) not in held for c in cameras):
                log.warning(
                    "deployment %s: a camera lease went elsewhere; stopped here", deployment_id
                )
                await self._runtime.halt_here(deployment_id)
                del self._started[deployment_id]

    async def _fence(self) -> None:
        log.error("leases not renewed in time (database unreachable): every worker here stops")
        self._leader = False
        self._held = set()
        for deployment_id in sorted(self._started):
            await self._runtime.halt_here(deployment_id)
        self._started.clear()

    async def _start_held_cameras(self) -> None:
        """Starts a worker for each camera whose lease this instance holds and has not
        started yet (one whose source ended is not started again)."""
        for deployment_id, plan in sorted(self._plans.items()):
            started = self._started.setdefault(deployment_id, set())
            cameras = [
                camera
                for camera in plan.cameras
                if camera.name not in started
                and camera_lease(deployment_id, camera.name) in self._held
            ]
            if cameras:
                await self._runtime.run(deployment_id, cameras, plan.job)
                started.update(camera.name for camera in cameras)

    async def _stop_here(self, deployment_id: str) -> None:
        """Stops the deployment's workers here, then gives up its camera leases and records
        that this instance (and any whose leases lapsed) has stopped them (DEP-2)."""
        await self._runtime.halt_here(deployment_id)
        plan = self._plans.pop(deployment_id, None)
        self._started.pop(deployment_id, None)
        self._running.discard(deployment_id)
        names = [camera_lease(deployment_id, c.name) for c in plan.cameras] if plan else []
        await asyncio.to_thread(self._release_and_acknowledge, deployment_id, names)
        if self._on_stopped is not None:
            self._on_stopped(deployment_id)

    def _release_and_acknowledge(self, deployment_id: str, names: list[str]) -> None:
        self.leases.release(names)
        with transaction(self._db) as session:
            fleet.acknowledge_stopped_instances(session, deployment_id)

    def release_leases(self) -> None:
        """At a clean shutdown, once the workers here are stopped: the other instances
        take the cameras over at once rather than when the leases lapse."""
        self.leases.release_all()

    def _end_out_of_force(self) -> None:
        with transaction(self._db) as session:
            ids = [row.id for row in deployments.running_deployments(session)]
        for deployment_id in ids:
            with transaction(self._db) as session:
                ended = deployments.end_out_of_force(
                    session, deployment_id, now=self.clock(), policy=self._policy
                )
                if ended is not None:
                    log.warning("deployment %s ended: %s", deployment_id, ended.cancel_reason)

    def _wanted(self) -> set[str]:
        at = self.clock()
        with transaction(self._db) as session:
            return {
                row.id
                for row in deployments.running_deployments(session)
                if deployments.verdict(session, row, at, self._policy).run
            }

    async def _bring_up(self, deployment_id: str) -> None:
        try:
            workers_here = self._runtime.workers_alive()
            plan = await asyncio.to_thread(self._plan, deployment_id, workers_here)
        except Refusal as refusal:
            if self._cannot_run.get(deployment_id) != str(refusal):  # once, not every pass
                log.error("deployment %s cannot run: %s", deployment_id, refusal)
            self._cannot_run[deployment_id] = str(refusal)
            return
        self._cannot_run.pop(deployment_id, None)
        self._plans[deployment_id] = plan  # its workers start where its leases are held
        self._running.add(deployment_id)
        if plan.has_nodes:
            self.wake()  # the remote pass releases its watchlist to its nodes

    def _plan(self, deployment_id: str, workers_here: int) -> WorkerPlan:
        with transaction(self._db) as session:
            row = deployments.get_deployment(session, deployment_id)
            return self._planner.plan(session, row, workers_here)

    # The remote pass: releases and halts owed to nodes, over a bus that may be down.

    async def remote_pass(self) -> None:
        if not self._runtime.ready or not self._leader:  # one instance talks to the nodes
            return
        await asyncio.to_thread(self._acknowledge_lapsed)
        # Halts first: a deployment halted a moment ago must not wait behind releases.
        owed = await asyncio.to_thread(self._undelivered)
        now = datetime.now(UTC)  # the bus's time, not the rules': resending is mechanics
        for outbox_id, deployment_id, reason, halted_at, published_at, nodes in owed:
            if published_at is None or now - published_at >= self._resend:
                await self._send_halt(outbox_id, deployment_id, reason, halted_at, nodes)
        if self._runtime.on_nats:  # no node can read a bus in memory
            await self._match_releases()

    async def _match_releases(self) -> None:
        """Each enrolled node serving a running deployment holds its own release; a node
        no longer entitled (revoked, or its deployment stopped) has it withdrawn."""
        targets = await asyncio.to_thread(self._release_targets)
        for deployment_id, node in sorted(set(targets) - self._released):
            key = targets[(deployment_id, node)]
            await self._publish_release(deployment_id, node, key)
        for deployment_id, node in sorted(self._released - set(targets)):
            with contextlib.suppress(Exception):  # a withdrawal lost is sent with the halt
                await self._runtime.publish(withdrawal(deployment_id, node))
                self._released.discard((deployment_id, node))

    def _release_targets(self) -> dict[tuple[str, str], NodePublicKey]:
        with transaction(self._db) as session:
            targets: dict[tuple[str, str], NodePublicKey] = {}
            for deployment_id in sorted(self._running):
                row = deployments.get_deployment(session, deployment_id)
                for node, key in fleet.release_targets(
                    session, deployments.cameras_of(row)
                ).items():
                    targets[(deployment_id, node)] = key
            return targets

    async def _publish_release(self, deployment_id: str, node: str, key: NodePublicKey) -> None:
        try:
            release = await asyncio.to_thread(self._sealed_release, deployment_id, node, key)
        except Refusal:  # it stopped since the local pass saw it: nothing to release
            return
        try:
            await self._runtime.publish(release)
        except Exception as error:  # the bus is down: the next pass tries again
            log.warning("watchlist of %s not released yet: %s", deployment_id, type(error).__name__)
            return
        self._released.add((deployment_id, node))

    def _sealed_release(
        self, deployment_id: str, node: str, key: NodePublicKey
    ) -> WatchlistRelease:
        with transaction(self._db) as session:
            row = deployments.get_deployment(session, deployment_id)
            return self._planner.release(session, row, node, key)

    def _undelivered(
        self,
    ) -> list[tuple[str, str, str, datetime, datetime | None, list[str]]]:
        with transaction(self._db) as session:
            return [
                (
                    row.id,
                    row.deployment_id,
                    row.reason,
                    row.created_at,
                    row.published_at,
                    json.loads(row.nodes),
                )
                for row in fleet.undelivered(session)
            ]

    async def _send_halt(
        self, outbox_id: str, deployment_id: str, reason: str, at: datetime, nodes: list[str]
    ) -> None:
        # `issued_at` is when the halt was recorded, however late it is sent: a node
        # destroys what it captured after that moment (`lfr.runtime.backlog`).
        halt = HaltDeployment(
            deployment_id=deployment_id, reason=reason[:500], halt_id=outbox_id, issued_at=at
        )
        try:
            await self._runtime.publish(halt)
            # Replaces each node's released watchlist: its templates leave the bus (WL-6).
            for node in fleet.only_nodes(nodes):
                await self._runtime.publish(withdrawal(deployment_id, node))
        except Exception as error:  # the bus is down: kept, and sent again next pass
            await asyncio.to_thread(self._record_failure, outbox_id, type(error).__name__)
            return
        await asyncio.to_thread(self._record_published, outbox_id)

    def _acknowledge_lapsed(self) -> None:
        """Halts owed to instances that died: their lapsed leases are their word that
        their workers are gone (`lfr.runtime.lifeline`, `Leases.fenced`)."""
        with transaction(self._db) as session:
            for row in fleet.undelivered(session):
                fleet.acknowledge_stopped_instances(session, row.deployment_id)

    def _record_published(self, outbox_id: str) -> None:
        with transaction(self._db) as session:
            fleet.mark_published(session, outbox_id, datetime.now(UTC))

    def _record_failure(self, outbox_id: str, error: str) -> None:
        log.warning("halt %s not on the bus yet (%s); it is sent again", outbox_id, error)
        with transaction(self._db) as session:
            fleet.mark_failed(session, outbox_id, error)


async def _woken_or_after(wake: asyncio.Event, seconds: float) -> None:
    """Until `wake` is set or `seconds` pass, whichever first (cancellable at any point)."""
    waiting = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({waiting}, timeout=seconds)
    finally:
        waiting.cancel()
