"""The record drives the running system (DEP-2, AUTH-1, AUTH-3, AUTH-4, WL-6): real camera
worker processes, real NATS JetStream, the services' own transactions; the reconciler
alone makes the processes follow what was recorded, by whichever door."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from lfr.audit import AuditEntry
from lfr.bus.identity import (
    NodeIdentity,
    parse_service_key,
    service_public_key,
    service_signer,
)
from lfr.bus.messages import HaltDeployment, Message, NodeReport, signed, signed_content, wrap
from lfr.bus.nats_bus import NatsBus, NatsSettings
from lfr.bus.subjects import Topic
from lfr.db.base import utcnow
from lfr.db.governance import AlertRow, DeploymentRow
from lfr.db.session import transaction
from lfr.domain.authorisation import ConsultationOutcome
from lfr.domain.deployment import DeploymentStatus
from lfr.domain.people import SYSTEM_ACTOR
from lfr.runtime.engine import run_camera_engine
from lfr.runtime.release import ReleaseError, await_release, open_release
from lfr.services import fleet
from lfr.services.fleet import Origin
from lfr.services.people import console_actor
from lfr.system import Recognition, attach_recognition
from lfr.vision.types import MatchEvent
from lfr.web.context import WebContext
from tests.db_fixtures import POLICY, Personas
from tests.integration.bus.collect import Collector
from tests.integration.bus.conftest import nats_settings
from tests.integration.bus.test_flaky_link import CuttableLink
from tests.integration.governance.conftest import enroler
from tests.integration.governance.world import (
    CAMERAS,
    ON_VAN,
    CachingEnroler,
    World,
    build_world,
    match_event,
)
from tests.web.test_scale_out import on_nats, until_withdrawn

__all__ = ["enroler", "nats_settings"]  # fixtures used here

LONG_CLIP = "one-by-one-person-detection.mp4"  # 139 s: the workers are busy throughout
WAIT_S = 20.0


def running_world(
    context: WebContext, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> World:
    clip = str(faces_dir.parent / "video" / LONG_CLIP)
    return build_world(
        context.db, personas, enroler, faces_dir, sources=dict.fromkeys(CAMERAS, clip)
    )


def alive(recognition: Recognition, deployment_id: str) -> list[str]:
    return [s.camera for s in recognition.supervisor.states(deployment_id) if s.alive]


async def until(condition: object, what: str, wait_s: float = WAIT_S) -> float:
    """Poll `condition` (a callable) until true; return the seconds it took."""
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - started > wait_s:
            raise AssertionError(f"{what}: not within {wait_s} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def any_alive(pids: list[int]) -> bool:
    """Whether any of these worker processes still exists (not only left the table)."""
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        return True
    return False


def status_of(context: WebContext, deployment_id: str) -> DeploymentStatus:
    with transaction(context.db) as session:
        row = session.get(DeploymentRow, deployment_id)
        assert row is not None
        return row.status


def test_a_veto_through_the_api_stops_the_workers_within_two_seconds(
    web_context: WebContext,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    client_for,
) -> None:
    """AUTH-4/DEP-2: the chief officer's veto is a consultation, recorded by the
    authorisations service; no deployment control is called, yet the reconciler, woken by
    the commit, stops every worker of the halted deployment."""
    world = running_world(web_context, personas, enroler, faces_dir)
    recognition = attach_recognition(web_context, run_camera_engine)
    chief = client_for(personas.chief_officer)
    with transaction(web_context.db) as session:
        row = session.get(DeploymentRow, world.deployment_id)
        assert row is not None
        application_id = row.authority.application_id

    async def scenario() -> float:
        await recognition.start()
        try:
            await until(lambda: len(alive(recognition, world.deployment_id)) == 2, "started")
            pids = [s.pid for s in recognition.supervisor.states(world.deployment_id) if s.pid]
            response = await asyncio.to_thread(
                chief.post,
                f"/api/applications/{application_id}/consultations",
                json={"outcome": ConsultationOutcome.VETO.value, "comments": "Disproportionate"},
            )
            assert response.status_code == 201, response.text
            return await until(lambda: not any_alive(pids), "every worker process gone")
        finally:
            await recognition.stop()

    took = asyncio.run(scenario())
    assert took < 2.0
    assert status_of(web_context, world.deployment_id) is DeploymentStatus.HALTED


def test_the_window_s_end_ends_a_running_deployment_by_itself(
    web_context: WebContext, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> None:
    """AUTH-1/DEP-2: once the authorised window is over, `lfr serve`'s reconciler ends the
    deployment (audited, the rule as the reason) and stops its workers; nobody pressed End."""
    world = running_world(web_context, personas, enroler, faces_dir)
    recognition = attach_recognition(web_context, run_camera_engine)

    async def scenario() -> None:
        await recognition.start()
        try:
            await until(lambda: len(alive(recognition, world.deployment_id)) == 2, "started")
            # Five hours on: the window (an hour ago to four hours ahead) has ended.
            recognition.reconciler.clock = lambda: utcnow() + timedelta(hours=5)
            recognition.reconciler.wake()
            await until(lambda: not alive(recognition, world.deployment_id), "stopped")
        finally:
            await recognition.stop()

    asyncio.run(scenario())
    assert status_of(web_context, world.deployment_id) is DeploymentStatus.ENDED
    with transaction(web_context.db) as session:
        (entry,) = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "deployment.end")
        ).all()
        assert "AUTH-1" in (entry.reason or "")
        assert entry.actor_id == SYSTEM_ACTOR.user_id


def test_an_alert_captured_before_the_halt_counts_one_captured_after_is_refused(
    web_context: WebContext, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> None:
    """DEP-2 and docs/bus.md: a node's backlog arriving after the halt keeps what it saw
    while the deployment ran (stored, flagged late); what it saw after is refused and
    counted on the deployment."""
    world = build_world(web_context.db, personas, enroler, faces_dir)
    time.sleep(1.5)  # the frame is captured a second before the event is made
    before = match_event(world, faces_dir, at=utcnow())  # captured while it runs
    web_context.control.halt(personas.silver, world.deployment_id, "Crowd surge")
    after = match_event(world, faces_dir, at=utcnow() + timedelta(seconds=1))

    assert web_context.control.record_alert(before) is not None
    assert web_context.control.record_alert(after) is None
    with transaction(web_context.db) as session:
        (alert,) = session.scalars(select(AlertRow)).all()
        assert (alert.event_id, alert.late) == (str(before.event_id), True)
        row = session.get(DeploymentRow, world.deployment_id)
        assert row is not None
        assert row.refused_alerts == 1


@pytest.mark.nats
def test_a_halt_issued_while_the_link_is_down_reaches_the_node_after_a_restart(
    web_context: WebContext,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    nats_settings: NatsSettings,
) -> None:
    """DEP-2, WL-6: the halt is recorded in the outbox with the status change. With the
    service's link cut, the request still answers at once; the service is then stopped
    (its memory lost) and a new one started on the same database re-sends the owed halt;
    the node obeys, acknowledges, and the halt shows delivered to 1 of 1 node."""
    world = build_world(web_context.db, personas, enroler, faces_dir, sources=ON_VAN)
    identity = NodeIdentity.generate()
    with transaction(web_context.db) as session:
        fleet.enrol_node(session, console_actor(), "van-3", identity.public().text())

    async def scenario() -> HaltDeployment:
        link = CuttableLink(nats_settings.url)
        await link.up()
        first = on_nats(web_context, nats_settings.model_copy(update={"url": link.url}))
        recognition = attach_recognition(first, run_camera_engine)
        await recognition.start()
        node = await NatsBus.connect(nats_settings, signer=identity.signer("van-3"))
        halts = Collector()
        await node.subscribe(
            Topic.CONTROL, halts.handler, durable="node-van-3", deployment_id=world.deployment_id
        )
        try:
            await link.cut()
            started = time.monotonic()
            await asyncio.to_thread(
                first.control.halt, personas.silver, world.deployment_id, "Crowd surge"
            )
            assert time.monotonic() - started < 5.0  # the halt answers; the outbox waits
            await recognition.stop()  # the service goes away with the halt unsent
            with transaction(web_context.db) as session:
                owed = fleet.halt_delivery(session, world.deployment_id)
                assert owed is not None
                assert owed.published_at is None
            second = on_nats(replace(web_context), nats_settings)
            restarted = attach_recognition(second, run_camera_engine)
            await restarted.start()
            try:
                ((envelope, _),) = await halts.take(1)
                halt = envelope.payload
                assert isinstance(halt, HaltDeployment)
                assert halt.halt_id is not None
                await node.publish(
                    NodeReport(
                        node="van-3",
                        deployment_id=world.deployment_id,
                        state="halted",
                        version="test",
                        acknowledged=(halt.halt_id,),
                    )
                )
                await until(lambda: delivered(web_context, world.deployment_id), "acknowledged")
                return halt
            finally:
                await restarted.stop()
        finally:
            await node.close()

    halt = asyncio.run(scenario())
    assert (halt.deployment_id, halt.reason) == (world.deployment_id, "Crowd surge")
    with transaction(web_context.db) as session:
        delivery = fleet.halt_delivery(session, world.deployment_id)
        assert delivery is not None
        assert (delivery.acknowledged, len(delivery.nodes)) == (1, 1)


def delivered(context: WebContext, deployment_id: str) -> bool:
    with transaction(context.db) as session:
        delivery = fleet.halt_delivery(session, deployment_id)
        return delivery is not None and delivery.complete


def test_silver_sees_how_far_the_halt_has_reached(
    web_context: WebContext,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    client_for,
) -> None:
    """DEP-2: the halt answers at once with what was recorded; the deployment page and the
    API say which nodes have acknowledged it and which are unreachable."""
    world = build_world(
        web_context.db, personas, enroler, faces_dir, sources={CAMERAS[0]: "node:van-3"}
    )
    silver = client_for(personas.silver)
    answer = silver.post(
        f"/api/deployments/{world.deployment_id}/halt", json={"reason": "Crowd surge"}
    )
    assert answer.status_code == 200
    delivery = answer.json()["delivery"]
    assert delivery["complete"] is False
    assert [n["node"] for n in delivery["nodes"]] == ["van-3"]
    assert delivery["nodes"][0]["acknowledged_at"] is None
    page = silver.get(f"/deployments/{world.deployment_id}").text
    assert "Halt delivered to 0 of 1 machine running its cameras" in page
    assert "van-3 unreachable (never heard from)" in page
    assert "Stopped: no camera is processing." in page


def signed_origin(identity: NodeIdentity, node: str, message: Message) -> Origin:
    """The origin the runtime reads off an envelope signed by `node`."""
    envelope = signed(wrap(message), identity.signer(node))
    return Origin(envelope.node, signed_content(envelope), envelope.signature)


def test_a_node_camera_speaks_only_through_its_enrolled_unrevoked_node(
    web_context: WebContext, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> None:
    """DEP-2/AUTH-6: an alert for camera node:van-3 is accepted signed by van-3 while it is
    enrolled; unsigned, signed by another node (even an enrolled one), or after van-3 is
    revoked, it is refused; the service's own camera takes no node's word."""
    world = build_world(
        web_context.db, personas, enroler, faces_dir, sources={CAMERAS[0]: "node:van-3"}
    )
    van, other = NodeIdentity.generate(), NodeIdentity.generate()
    with transaction(web_context.db) as session:
        fleet.enrol_node(session, console_actor(), "van-3", van.public().text())
        fleet.enrol_node(session, console_actor(), "van-9", other.public().text())

    def event() -> MatchEvent:
        return match_event(world, faces_dir, camera=CAMERAS[0], score=0.97)

    control = web_context.control
    assert control.record_alert(event()) is None  # unsigned
    forged = event()
    assert control.record_alert(forged, signed_origin(other, "van-9", forged)) is None
    impostor = event()
    assert control.record_alert(impostor, signed_origin(other, "van-3", impostor)) is None
    genuine = event()
    assert control.record_alert(genuine, signed_origin(van, "van-3", genuine)) is not None
    local = match_event(world, faces_dir, camera=CAMERAS[1], score=0.97)
    assert control.record_alert(local, signed_origin(van, "van-3", local)) is None
    with transaction(web_context.db) as session:
        fleet.revoke_node(session, personas.administrator, "van-3", "Van stolen")
    late = event()
    assert control.record_alert(late, signed_origin(van, "van-3", late)) is None
    with transaction(web_context.db) as session:
        stored = session.scalars(select(AlertRow.event_id)).all()
        assert stored == [str(genuine.event_id)]
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.object_type == "node")
        ).all()
        assert sorted(actions) == ["node.enrol", "node.enrol", "node.revoke"]


@pytest.mark.nats
def test_the_watchlist_is_released_to_each_enrolled_node_alone(
    web_context: WebContext,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    nats_settings: NatsSettings,
) -> None:
    """WL-1/DP-2/WL-6: each enrolled node serving the deployment gets its own release,
    which only its key opens; an unknown node gets none; revoking a node withdraws its
    copy; the halt withdraws every copy."""
    on_nodes: dict[str, str | None] = {CAMERAS[0]: "node:van-3", CAMERAS[1]: "node:van-9"}
    world = build_world(web_context.db, personas, enroler, faces_dir, sources=on_nodes)
    van, other = NodeIdentity.generate(), NodeIdentity.generate()
    with transaction(web_context.db) as session:
        fleet.enrol_node(session, console_actor(), "van-3", van.public().text())
    context = on_nats(web_context, nats_settings)
    recognition = attach_recognition(context, run_camera_engine)

    async def scenario() -> None:
        await recognition.start()
        reader = await NatsBus.connect(nats_settings)
        try:
            signer = service_signer(context.settings.audit_signing_key_bytes())
            key = parse_service_key(service_public_key(signer))
            release = await await_release(reader, world.deployment_id, "van-3", WAIT_S, key)
            assert release.node == "van-3"
            with pytest.raises(ReleaseError, match="not for node van-3"):
                open_release(release, other, "van-3", model_id=str(release.model_id))
            opened = open_release(release, van, "van-3", model_id=str(release.model_id))
            assert set(opened.templates.subject_ids) == {*world.entry_ids, world.blue_id}
            assert await reader.latest(Topic.WATCHLIST, world.deployment_id, "van-9") is None
            with transaction(context.db) as session:
                fleet.revoke_node(session, personas.administrator, "van-3", "Van stolen")
            recognition.reconciler.wake()
            await until_withdrawn(reader, world.deployment_id, "van-3")
        finally:
            await reader.close()
            await recognition.stop()

    asyncio.run(scenario())


def test_an_unconfirmed_urgent_authority_s_lapse_ends_the_deployment_by_itself(
    web_context: WebContext, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> None:
    """AUTH-3: an Inspector's urgent authority not confirmed by a Superintendent lapses;
    the reconciler ends the running deployment at the lapse, audited under AUTH-3."""
    world = build_world(web_context.db, personas, enroler, faces_dir, urgent=True, sources=ON_VAN)
    recognition = attach_recognition(web_context, run_camera_engine)
    validity = web_context.policy.urgent_validity

    async def scenario() -> None:
        await recognition.start()
        try:
            await asyncio.to_thread(recognition.reconciler.converge)
            assert status_of(web_context, world.deployment_id) is DeploymentStatus.RUNNING
            recognition.reconciler.clock = lambda: utcnow() + validity + timedelta(minutes=1)
            recognition.reconciler.wake()
            await until(
                lambda: status_of(web_context, world.deployment_id) is DeploymentStatus.ENDED,
                "ended",
            )
        finally:
            await recognition.stop()

    asyncio.run(scenario())
    with transaction(web_context.db) as session:
        (entry,) = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "deployment.end")
        ).all()
        assert (entry.reason or "").startswith("AUTH-3")


@pytest.mark.nats
@pytest.mark.slow
def test_a_node_s_link_outage_loses_and_duplicates_no_alert_and_health_goes_stale(
    web_context: WebContext,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    nats_settings: NatsSettings,
) -> None:
    """DEP-2/REC-5: a node's real outbox emits an alert a second through a link cut for
    20 s: every alert is stored exactly once (by event id), and while the figures stop
    arriving the camera shows STALE. `python -m benchmarks.faults --outages 120 600` runs
    the same scenario for 2 and 10 minutes."""
    from benchmarks.faults import Lab, alerts_through_an_outage

    lab = Lab(web_context.settings, web_context.db, personas, enroler, faces_dir, nats_settings)
    row = asyncio.run(alerts_through_an_outage(lab, 20.0))
    assert row.observed == "30 of 30 stored, 0 duplicated, STALE seen"
    assert row.converged_s is not None


def test_retention_runs_by_itself_in_the_service(web_context: WebContext) -> None:
    """DP-1: `lfr serve` runs retention when it is due, without anyone running a command;
    the run is audited, so the review and `lfr audit check` can say when it last ran."""
    from lfr.services.retention import last_retention_run

    recognition = attach_recognition(web_context, run_camera_engine)

    def ran() -> bool:
        with transaction(web_context.db) as session:
            return last_retention_run(session) is not None

    async def scenario() -> None:
        await recognition.start()
        try:
            await until(ran, "a retention run recorded")
        finally:
            await recognition.stop()

    assert not ran()
    asyncio.run(scenario())


def test_camera_workers_share_the_machine_s_cores(
    web_context: WebContext, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> None:
    """REC-5: a deployment's workers get their share of the cores beside those already
    running here (ONNX Runtime and OpenCV threads), not one thread per core each."""
    from lfr.runtime.engine import EngineJob
    from lfr.runtime.reconciler import Planner
    from lfr.services import deployments
    from lfr.vision.pipeline import threads_per_worker

    world = running_world(web_context, personas, enroler, faces_dir)
    with transaction(web_context.db) as session:
        row = deployments.get_deployment(session, world.deployment_id)
        plan = Planner(policy=POLICY).plan(session, row, workers_here=2)
    assert isinstance(plan.job, EngineJob)
    assert plan.job.config.threads == threads_per_worker(2 + len(CAMERAS))


def test_the_service_signs_an_audit_checkpoint_by_itself(web_context: WebContext) -> None:
    """AUD-1: `lfr serve` makes a signed checkpoint when none is recent, without anyone
    running `lfr audit checkpoint`."""
    from lfr.db.audit_log import AuditCheckpoint

    recognition = attach_recognition(web_context, run_camera_engine)

    def checkpoints() -> int:
        with transaction(web_context.db) as session:
            return len(session.scalars(select(AuditCheckpoint)).all())

    async def scenario() -> None:
        await recognition.start()
        try:
            await until(lambda: checkpoints() > 0, "a checkpoint signed")
        finally:
            await recognition.stop()

    assert checkpoints() == 0
    asyncio.run(scenario())
