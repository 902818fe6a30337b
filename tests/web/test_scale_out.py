"""`lfr serve` on NATS JetStream (scale-out): a node's alert reaches the alerts service, and
a halt decided in the service reaches every node (DEP-2), through the real server."""

from __future__ import annotations

import asyncio
from dataclasses import replace
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
from lfr.bus.messages import HaltDeployment, WatchlistRelease
from lfr.bus.nats_bus import NatsBus, NatsSettings
from lfr.bus.subjects import Topic
from lfr.db.governance import AlertRow
from lfr.db.session import transaction
from lfr.domain.refusal import Refusal
from lfr.runtime.engine import EngineJob, run_camera_engine
from lfr.runtime.node import ReleasedSource
from lfr.runtime.release import ReleaseError, open_release
from lfr.services import cameras, fleet
from lfr.services.people import console_actor
from lfr.system import attach_recognition
from lfr.system import nats_settings as nats_settings_of
from lfr.vision.pipeline import EngineConfig
from lfr.vision.source_types import runs_on_node
from lfr.web.context import WebContext
from tests.db_fixtures import Personas
from tests.integration.bus import targets
from tests.integration.bus.collect import Collector
from tests.integration.bus.conftest import nats_settings
from tests.integration.governance.conftest import enroler
from tests.integration.governance.world import (
    CAMERAS,
    CachingEnroler,
    build_world,
    match_event,
)

pytestmark = pytest.mark.nats

__all__ = ["enroler", "nats_settings"]  # fixtures used here

WAIT_S = 15.0


def on_nats(web_context: WebContext, nats: NatsSettings) -> WebContext:
    update: dict[str, object] = {"nats_url": nats.url, "nats_prefix": nats.prefix}
    return replace(web_context, settings=web_context.settings.model_copy(update=update))


def test_an_alert_a_node_publishes_is_recorded_and_a_halt_reaches_the_node(
    web_context: WebContext,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    nats_settings: NatsSettings,
) -> None:
    context = on_nats(web_context, nats_settings)
    world = build_world(context.db, personas, enroler, faces_dir)
    # The service's own workers idle: the alert is the one this test publishes.
    runtime = attach_recognition(context, targets.idle_until_stopped)
    event = match_event(world, faces_dir, score=0.97)

    async def scenario() -> HaltDeployment:
        await runtime.start()
        # The service's own camera worker on another machine: it signs with the service's key
        # (anything unsigned is refused).
        own = service_signer(context.settings.audit_signing_key_bytes())
        node = await NatsBus.connect(nats_settings, signer=own)
        halts = Collector()
        try:
            # It listens for halts, then publishes an alert as a camera worker would.
            await node.subscribe(
                Topic.CONTROL,
                halts.handler,
                durable="node-test",
                deployment_id=world.deployment_id,
            )
            await node.publish(event)
            await until_recorded(context, str(event.event_id))
            await asyncio.to_thread(
                context.control.halt, personas.silver, world.deployment_id, "Crowd surge"
            )
            ((envelope, _),) = await halts.take(1)
            assert isinstance(envelope.payload, HaltDeployment)
            return envelope.payload
        finally:
            await node.close()
            await runtime.stop()

    halt = asyncio.run(scenario())
    assert (halt.deployment_id, halt.reason) == (world.deployment_id, "Crowd surge")
    with transaction(context.db) as session:
        (alert,) = session.scalars(select(AlertRow)).all()
        assert (alert.subject_id, alert.camera) == (event.subject_id, event.camera)


async def until_recorded(context: WebContext, event_id: str) -> None:
    for _ in range(int(WAIT_S / 0.05)):
        with transaction(context.db) as session:
            if session.scalars(select(AlertRow).where(AlertRow.event_id == event_id)).first():
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the node's alert {event_id} was not recorded within {WAIT_S} s")


def test_without_a_nats_url_the_bus_stays_in_memory(web_context: WebContext) -> None:
    assert nats_settings_of(web_context.settings) is None
    settings = nats_settings_of(on_nats(web_context, NatsSettings(prefix="p1")).settings)
    assert settings is not None
    assert (settings.url, settings.prefix) == ("nats://127.0.0.1:4222", "p1")


def test_a_running_deployment_s_sealed_watchlist_reaches_its_nodes_until_it_stops(
    web_context: WebContext,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    nats_settings: NatsSettings,
) -> None:
    """WL-1/DP-2/WL-6: the service releases the sealed watchlist (audited) to the enrolled
    node; it opens into a gallery of the entry ids with the authorised threshold; the halt
    withdraws it from the bus."""
    identity = NodeIdentity.generate()
    context = on_nats(web_context, nats_settings)
    clip = faces_dir.parent / "video" / "face-demographics-walking-and-pause.gif"
    local, on_node = CAMERAS
    sources: dict[str, str | None] = {local: str(clip), on_node: "node:van-3"}
    world = build_world(context.db, personas, enroler, faces_dir, sources=sources)
    with transaction(context.db) as session:  # one camera in the service, one on a van
        fleet.enrol_node(session, console_actor(), "van-3", identity.public().text())
    runtime = attach_recognition(context, run_camera_engine)
    service = service_signer(context.settings.audit_signing_key_bytes())
    service_key = parse_service_key(service_public_key(service))
    source = ReleasedSource(identity, EngineConfig(), WAIT_S, service_key)

    async def scenario() -> tuple[EngineJob, WatchlistRelease]:
        await runtime.start()
        node = await NatsBus.connect(nats_settings)
        try:
            # The reconciler brings up what the record says runs, as at `lfr serve`'s start.
            await asyncio.to_thread(runtime.reconciler.converge)
            workers = runtime.supervisor.states(world.deployment_id)
            assert [w.camera for w in workers] == [local]  # the van runs the other
            job, _ = await source.job(node, world.deployment_id, "van-3")
            await asyncio.to_thread(
                context.control.halt, personas.silver, world.deployment_id, "Crowd surge"
            )
            after = await until_withdrawn(node, world.deployment_id, "van-3")
            return job, after
        finally:
            await node.close()
            await runtime.stop()

    job, after = asyncio.run(scenario())
    assert set(job.gallery.subject_ids) == {*world.entry_ids, world.blue_id}
    assert job.config.alert_threshold == EngineConfig().alert_threshold
    assert (after.withdrawn, after.sealed) == (True, b"")
    with pytest.raises(ReleaseError, match="withdrawn"):
        open_release(after, identity, "van-3", model_id="any")
    with transaction(context.db) as session:
        (entry,) = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "watchlist.release")
        )
        assert entry.object_id == world.deployment_id


async def until_withdrawn(bus: NatsBus, deployment_id: str, node: str) -> WatchlistRelease:
    for _ in range(int(WAIT_S / 0.1)):
        latest = await bus.latest(Topic.WATCHLIST, deployment_id, node)
        release = latest.payload if latest is not None else None
        if isinstance(release, WatchlistRelease) and release.withdrawn:
            return release
        await asyncio.sleep(0.1)
    raise AssertionError(f"the release to {node} was not withdrawn within {WAIT_S} s")


@pytest.mark.parametrize(
    ("source", "accepted"),
    [("node:van-3", True), ("node:", False), ("node:van 3", False), ("node:a.b", False)],
)
def test_a_camera_run_by_a_node_is_configured_by_the_node_s_name(
    web_context: WebContext, personas: Personas, source: str, accepted: bool
) -> None:
    """REC-1: `node:<node name>` says an `lfr node` runs the camera; a malformed one is
    refused naming the source."""
    with transaction(web_context.db) as session:
        if accepted:
            row = cameras.configure_camera(session, personas.engineer, "cam-van", source)
            assert runs_on_node(row.source)
            return
        with pytest.raises(Refusal) as refused:
            cameras.configure_camera(session, personas.engineer, "cam-van", source)
        assert (refused.value.rule, refused.value.field) == ("REC-1", "source")
