"""Fault injection: the record drives the running system through vetoes, lapses, broker
outages and service restarts (DEP-2, AUTH-1, AUTH-3, AUTH-4, WL-6, REC-5).

    PYTHONPATH=src:. python -m benchmarks.faults                       # outages of 20 s
    PYTHONPATH=src:. python -m benchmarks.faults --outages 120 600     # 2 and 10 minutes
    PYTHONPATH=src:. python -m benchmarks.faults --database-url postgresql+psycopg://...
    PYTHONPATH=src:. python -m benchmarks.faults --only halt-backlog   # one scenario

Real parts throughout: the real NATS JetStream server (127.0.0.1:4222, or --nats), real
camera worker processes on a real clip, the services' own transactions on SQLite (or the
PostgreSQL given), a TCP link to the broker that is cut and restored. Each scenario
prints one row: what the framework expects, what was observed, and how long the system
took to converge after the fault ended (or after the decision, where no fault is injected).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
from pathlib import Path

from sqlalchemy import func, select
from tests.db_fixtures import Personas, make_personas
from tests.integration.bus.collect import Collector
from tests.integration.bus.test_flaky_link import CuttableLink
from tests.integration.bus.test_halt_backlog import Van, captured_now, enrolled_van, node_state
from tests.integration.governance.world import (
    CAMERAS,
    ON_VAN,
    CachingEnroler,
    World,
    build_world,
    match_event,
)
from tests.web.test_reconciler import any_alive

from benchmarks import shared_data_dir
from lfr.bus.identity import NodeIdentity
from lfr.bus.messages import HaltDeployment, NodeReport
from lfr.bus.nats_bus import NatsBus, NatsSettings
from lfr.bus.subjects import Topic
from lfr.db.base import utcnow
from lfr.db.governance import AlertRow, DeploymentRow
from lfr.db.session import SessionFactory, transaction
from lfr.domain.authorisation import ConsultationOutcome
from lfr.domain.deployment import DeploymentStatus
from lfr.keyring import prepare_database
from lfr.runtime.engine import run_camera_engine
from lfr.runtime.worker import NatsOutlet, make_emit
from lfr.services import authorisations, fleet
from lfr.services.people import console_actor
from lfr.services.policy import GovernancePolicy
from lfr.settings import Settings
from lfr.system import Recognition, attach_recognition
from lfr.vision.types import CameraStatus, HealthFigures
from lfr.web.context import WebContext

LONG_CLIP = "one-by-one-person-detection.mp4"
WAIT_S = 120.0


@dataclass(frozen=True)
class Row:
    scenario: str
    expected: str
    observed: str
    converged_s: float | None


@dataclass
class Lab:
    """A fresh database, its personas and the real enrolment, per scenario."""

    settings: Settings
    db: SessionFactory
    personas: Personas
    enroler: CachingEnroler
    faces: Path
    nats: NatsSettings

    def context(self, nats: NatsSettings | None = None) -> WebContext:
        from lfr.audit.log import request_id_var

        chosen = nats or self.nats
        update = {"nats_url": chosen.url, "nats_prefix": chosen.prefix}
        settings = self.settings.model_copy(update=update)
        return WebContext(settings=settings, db=self.db, request_id_var=request_id_var)

    def world(self, *, urgent: bool = False, on_van: bool = False) -> World:
        """Its cameras read the long clip here, or (`on_van`) are both run by node van-3."""
        clip = str(self.faces.parent / "video" / LONG_CLIP)
        sources = ON_VAN if on_van else dict.fromkeys(CAMERAS, clip)
        return build_world(
            self.db, self.personas, self.enroler, self.faces, urgent=urgent, sources=sources
        )


async def until(condition: Callable[[], bool], wait_s: float = WAIT_S) -> float | None:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > wait_s:
            return None
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def status(lab: Lab, world: World) -> DeploymentStatus:
    with transaction(lab.db) as session:
        row = session.get(DeploymentRow, world.deployment_id)
        assert row is not None
        return row.status


def alive(recognition: Recognition, world: World) -> int:
    return sum(1 for s in recognition.supervisor.states(world.deployment_id) if s.alive)


def worker_pids(recognition: Recognition, world: World) -> list[int]:
    return [s.pid for s in recognition.supervisor.states(world.deployment_id) if s.pid]


async def running(lab: Lab, world: World) -> Recognition:
    recognition = attach_recognition(lab.context(), run_camera_engine)
    await recognition.start()
    await until(lambda: alive(recognition, world) == len(CAMERAS))
    return recognition


async def veto(lab: Lab) -> Row:
    world = lab.world()
    recognition = await running(lab, world)
    pids = worker_pids(recognition, world)
    try:
        with transaction(lab.db) as session:
            row = session.get(DeploymentRow, world.deployment_id)
            assert row is not None
            authorisations.consult_chief_officer(
                session,
                lab.personas.chief_officer,
                row.authority.application_id,
                ConsultationOutcome.VETO,
                "Disproportionate",
                policy=GovernancePolicy.from_settings(lab.settings),
            )
        took = await until(lambda: not any_alive(pids))
    finally:
        await recognition.stop()
    observed = f"{status(lab, world).value}, workers alive: 0" if took is not None else "running"
    return Row("veto (AUTH-4)", "halted, workers stopped ≤ 2 s", observed, took)


async def out_of_force(lab: Lab, *, urgent: bool) -> Row:
    world = lab.world(urgent=urgent)
    recognition = await running(lab, world)
    shift = (
        GovernancePolicy.from_settings(lab.settings).urgent_validity
        if urgent
        else timedelta(hours=5)
    )
    pids = worker_pids(recognition, world)
    try:
        recognition.reconciler.clock = lambda: utcnow() + shift + timedelta(minutes=1)
        recognition.reconciler.wake()
        took = await until(lambda: not any_alive(pids))
    finally:
        await recognition.stop()
    rule = "AUTH-3 urgent lapse" if urgent else "AUTH-1 window end"
    return Row(rule, "ended by the system, workers stopped", status(lab, world).value, took)


async def halt_over_a_cut_link(lab: Lab, outage_s: float, *, restart: bool) -> Row:
    """The service's link is cut; Silver halts; (the service is restarted, still cut;) the
    link returns after `outage_s`; the node must get the halt and acknowledge it."""
    world = lab.world(on_van=True)
    identity = NodeIdentity.generate()
    with transaction(lab.db) as session:
        fleet.enrol_node(session, console_actor(), "van-3", identity.public().text())
    link = CuttableLink(lab.nats.url)
    await link.up()
    via_link = lab.nats.model_copy(update={"url": link.url})
    service = lab.context(via_link)
    recognition = attach_recognition(service, run_camera_engine)
    await recognition.start()
    node = await NatsBus.connect(lab.nats, signer=identity.signer("van-3"))
    halts = Collector()
    await node.subscribe(
        Topic.CONTROL, halts.handler, durable="node-van-3", deployment_id=world.deployment_id
    )
    try:
        await link.cut()
        await asyncio.to_thread(
            service.control.halt, lab.personas.silver, world.deployment_id, "Crowd surge"
        )
        if restart:  # the service goes away with the halt unsent, and comes back, still cut
            await recognition.stop()
            recognition = attach_recognition(replace(service), run_camera_engine)
            await recognition.start()
        await asyncio.sleep(outage_s)
        await link.up()
        restored = time.monotonic()
        ((envelope, _),) = await halts.take(1)
        halt = envelope.payload
        assert isinstance(halt, HaltDeployment)
        assert halt.halt_id is not None
        report = NodeReport(
            node="van-3",
            deployment_id=world.deployment_id,
            state="halted",
            version="faults",
            acknowledged=(halt.halt_id,),
        )
        await node.publish(report)
        took = await until(lambda: delivered(lab, world))
        took = None if took is None else time.monotonic() - restored
    finally:
        await node.close()
        await recognition.stop()
    name = f"halt, link down {outage_s:g} s" + (", service restarted" if restart else "")
    observed = "delivered to 1 of 1 node" if took is not None else "not delivered"
    return Row(name, "node obeys and acknowledges", observed, took)


def delivered(lab: Lab, world: World) -> bool:
    with transaction(lab.db) as session:
        delivery = fleet.halt_delivery(session, world.deployment_id)
        return delivery is not None and delivery.complete


async def alerts_through_an_outage(lab: Lab, outage_s: float) -> Row:
    """A node emits one alert a second and health every 5 s through its real outbox while
    its link is cut for `outage_s`: every alert is stored once, and the camera shows
    STALE during the outage."""
    world = lab.world(on_van=True)
    identity = NodeIdentity.generate()
    with transaction(lab.db) as session:
        fleet.enrol_node(session, console_actor(), "van-3", identity.public().text())
    recognition = attach_recognition(lab.context(), run_camera_engine)
    await recognition.start()
    link = CuttableLink(lab.nats.url)
    await link.up()
    outlet = NatsOutlet(lab.nats.model_copy(update={"url": link.url}), flush_s=30)
    send = outlet.open(lab.nats.prefix)
    emit = make_emit(world.deployment_id, lab.nats.prefix, send, identity.signer("van-3"))
    sent, stale_seen = 0, False
    try:
        # 10 s linked, then `outage_s` cut: an alert a second, health every 5 s throughout.
        for second in range(int(outage_s) + 10):
            if second == 10:
                await link.cut()
            emit(match_event(world, lab.faces, camera=CAMERAS[0], score=0.97))
            sent += 1
            if second % 5 == 0:
                emit(health(world))
            stale_seen |= camera_status(recognition, world) == "stale"
            await asyncio.sleep(1.0)
        await link.up()
        restored = time.monotonic()
        took = await until(lambda: stored(lab) >= sent)
        took = None if took is None else time.monotonic() - restored
    finally:
        await asyncio.to_thread(outlet.close)
        await recognition.stop()
    count = stored(lab)
    observed = f"{count} of {sent} stored, {count - sent if count > sent else 0} duplicated"
    observed += ", STALE seen" if stale_seen else ", never STALE"
    return Row(f"node alerts, link down {outage_s:g} s", "all stored once, STALE", observed, took)


async def halt_backlog(lab: Lab, outage_s: float) -> Row:
    """A node (real worker processes, its encrypted outbox) queues three alerts with its
    link down; Silver halts; its camera captures one more before the node hears of the
    halt; the link returns `outage_s` later. The three must be stored once each, the
    fourth never (destroyed on the node, or refused), the outbox left empty."""
    world = lab.world(on_van=True)
    context = lab.context()
    folder = Path(tempfile.mkdtemp(prefix="lfr-backlog-"))
    link = CuttableLink(lab.nats.url)
    await link.up()
    van = Van(context, world, folder, link.url)
    enrolled_van(context, lab.personas, world, van)
    recognition = attach_recognition(context, run_camera_engine)
    await recognition.start()
    running = asyncio.create_task(van.node(lab.nats).run())
    took: float | None = None
    try:
        await until(lambda: node_state(context) == "running")
        await link.cut()
        before = [captured_now(world, lab.faces) for _ in range(3)]
        for event in before:
            van.capture(event)
        await until(lambda: van.waiting() == 3)
        await asyncio.to_thread(
            context.control.halt, lab.personas.silver, world.deployment_id, "Crowd surge"
        )
        after = captured_now(world, lab.faces, later_s=1.0)
        van.capture(after)
        await until(lambda: van.waiting() == 4)
        await asyncio.sleep(outage_s)
        await link.up()
        restored = time.monotonic()
        wanted = {str(e.event_id) for e in before}
        took = await until(lambda: wanted <= stored_ids(context) and van.waiting() == 0)
        took = None if took is None else time.monotonic() - restored
        await asyncio.wait_for(running, WAIT_S)
    finally:
        running.cancel()
        await recognition.stop()
    ids = stored_ids(context)
    kept = len(wanted & ids)
    observed = f"{kept} of 3 stored, {stored(lab) - len(ids)} duplicated, "
    observed += "the one after the halt " + ("stored" if str(after.event_id) in ids else "not")
    observed += f"; {van.waiting()} left on the node"
    name = f"halt backlog, link back {outage_s:g} s after the halt"
    return Row(name, "3 stored once, none after the halt", observed, took)


def stored_ids(context: WebContext) -> set[str]:
    with transaction(context.db) as session:
        return set(session.scalars(select(AlertRow.event_id)))


def health(world: World) -> HealthFigures:
    return HealthFigures(
        deployment_id=world.deployment_id,
        camera=CAMERAS[0],
        status=CameraStatus.UP,
        at=utcnow(),
        fps=10,
        faces_per_s=1,
        latency_ms_p50=20,
        latency_ms_p95=30,
        frames=10,
        faces=1,
        dropped_frames=0,
        errors=0,
    )


def camera_status(recognition: Recognition, world: World) -> str:
    cameras_seen = recognition.runtime.cameras(world.deployment_id)
    return next((c.status for c in cameras_seen if c.camera == CAMERAS[0]), "waiting")


def stored(lab: Lab) -> int:
    with transaction(lab.db) as session:
        return int(session.scalar(select(func.count()).select_from(AlertRow)) or 0)


def make_lab(args: argparse.Namespace, enroler: CachingEnroler) -> Lab:
    folder = Path(tempfile.mkdtemp(prefix="lfr-faults-"))
    settings = Settings(environment="test", data_dir=folder)
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    db = prepare_database(settings)
    nats = NatsSettings(url=args.nats, prefix=f"f{uuid.uuid4().hex[:10]}")
    faces = shared_data_dir() / "faces"
    return Lab(settings, db, make_personas(db), enroler, faces, nats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outages", type=float, nargs="+", default=[20.0])
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite")
    parser.add_argument(
        "--only", choices=sorted(SCENARIOS), nargs="+", help="these scenarios (default: all)"
    )
    args = parser.parse_args()
    from lfr.services.watchlists import VisionEnroler

    enroler = CachingEnroler(VisionEnroler.default())
    chosen = [key for key in SCENARIOS if args.only is None or key in args.only]
    scenarios: list[Callable[[Lab], Awaitable[Row]]] = []
    for key in chosen:
        once, per_outage = SCENARIOS[key]
        scenarios += [once] if once is not None else []
        scenarios += [partial(per_outage, outage_s=o) for o in args.outages] if per_outage else []
    rows = [asyncio.run(scenario(make_lab(args, enroler))) for scenario in scenarios]
    print("| scenario | expected | observed | converged after |")
    print("|---|---|---|---:|")
    for row in rows:
        took = f"{row.converged_s:.2f} s" if row.converged_s is not None else "never"
        print(f"| {row.scenario} | {row.expected} | {row.observed} | {took} |")


Scenario = Callable[[Lab], Awaitable[Row]]
PerOutage = Callable[..., Awaitable[Row]]

SCENARIOS: dict[str, tuple[Scenario | None, PerOutage | None]] = {
    "veto": (veto, None),
    "window-end": (partial(out_of_force, urgent=False), None),
    "urgent-lapse": (partial(out_of_force, urgent=True), None),
    "halt-cut": (None, partial(halt_over_a_cut_link, restart=False)),
    "halt-cut-restart": (None, partial(halt_over_a_cut_link, restart=True)),
    "node-alerts": (None, alerts_through_an_outage),
    # The finding's case (1 of 3 arrived before), then each outage.
    "halt-backlog": (partial(halt_backlog, outage_s=3.0), halt_backlog),
}
"""Each scenario: run once, and/or once per `--outages` value (its `outage_s`)."""


if __name__ == "__main__":
    main()
