"""Nothing unsigned on the bus (DEP-2, AUTH-6, REC-5): a forged alert or forged health
figures published by anyone who can reach NATS are refused, counted and never stored; the
service's own camera workers sign like nodes; a revoked or unknown node is refused; one
node key answers to one name only."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from lfr import metrics
from lfr.bus.identity import SERVICE_NAME, NodeIdentity, NodeSigner, service_signer
from lfr.bus.messages import Message, encode, signed, signed_content, wrap
from lfr.bus.nats_bus import NatsBus, NatsSettings
from lfr.bus.subjects import subject_for
from lfr.db.governance import AlertRow
from lfr.db.session import transaction
from lfr.domain.refusal import Refusal
from lfr.reports import review
from lfr.services import fleet
from lfr.services.people import console_actor
from lfr.system import attach_recognition
from lfr.vision.types import CameraStatus
from lfr.web.context import WebContext
from tests.db_fixtures import Personas
from tests.integration.bus import targets
from tests.integration.bus.conftest import nats_settings
from tests.integration.governance.world import (
    CAMERAS,
    CachingEnroler,
    build_world,
    match_event,
)
from tests.integration.reports.recorded import health

__all__ = ["nats_settings"]  # fixture used here

WAIT_S = 20.0


def refused(topic: str, why: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "lfr_bus_messages_refused_total", {"topic": topic, "why": why}
    )
    return value or 0.0


def on_nats(web_context: WebContext, nats: NatsSettings) -> WebContext:
    update: dict[str, object] = {"nats_url": nats.url, "nats_prefix": nats.prefix}
    return replace(web_context, settings=web_context.settings.model_copy(update=update))


async def until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(WAIT_S / 0.05)):
        if await asyncio.to_thread(condition):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} within {WAIT_S} s")


@pytest.mark.nats
def test_an_anonymous_client_s_unsigned_alert_and_health_are_refused_and_counted(
    web_context: WebContext,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    nats_settings: NatsSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The attack of issue 23: an unsigned MatchEvent (score 0.99, a planted crop) and
    unsigned health (faces 99,999) on the service's own camera's subjects. Neither is
    stored; each is counted; the log names the camera and why, never the message's
    content. What the service's own worker signs is still recorded (sent after the
    forgeries on the same subjects, so once it is in, the forgeries were decided)."""
    context = on_nats(web_context, nats_settings)
    world = build_world(context.db, personas, enroler, faces_dir)
    # The service's own workers idle: what arrives is what this test publishes.
    runtime = attach_recognition(context, targets.idle_until_stopped)
    own_worker = service_signer(context.settings.audit_signing_key_bytes())
    forged = match_event(world, faces_dir, score=0.99)
    genuine = match_event(world, faces_dir, score=0.97)
    forged_health = health(world, CAMERAS[0], CameraStatus.UP, 0, 99_999)
    genuine_health = health(world, CAMERAS[0], CameraStatus.UP, 10, 12)
    before = refused("match", "unsigned"), refused("health", "unsigned")

    def stored() -> list[str]:
        with transaction(context.db) as session:
            return list(session.scalars(select(AlertRow.event_id)))

    def faces_seen() -> int:
        with transaction(context.db) as session:
            seen = review.compute_figures(session, world.deployment_id)["faces_seen"]
            return int(seen or 0)  # None until the first figures are recorded

    async def scenario() -> None:
        await runtime.start()
        anonymous = await NatsBus.connect(nats_settings)  # no signer: anyone on the broker
        try:
            prefix = nats_settings.prefix
            for message in (forged, forged_health):
                await anonymous.publish_raw(subject_for(prefix, message), encode(message))
            for message in (genuine, genuine_health):
                await anonymous.publish_raw(
                    subject_for(prefix, message), encode(message, own_worker)
                )
            await until(lambda: str(genuine.event_id) in stored(), "the genuine alert stored")
            await until(lambda: faces_seen() == 12, "the genuine health counted")
        finally:
            await anonymous.close()
            await runtime.stop()

    with caplog.at_level(logging.WARNING, logger="lfr.serve"):
        asyncio.run(scenario())
    assert stored() == [str(genuine.event_id)]
    assert faces_seen() == 12
    assert refused("match", "unsigned") == before[0] + 1
    assert refused("health", "unsigned") == before[1] + 1
    lines = [r.getMessage() for r in caplog.records if "bus message refused" in r.getMessage()]
    assert len(lines) == 2
    assert all(CAMERAS[0] in line for line in lines)
    for line in lines:  # nothing of the message itself: no subject, score or image
        assert forged.subject_id not in line
        assert "0.99" not in line
        assert "99999" not in line


def test_the_service_s_own_camera_worker_signs_what_it_sends(
    web_context: WebContext,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    tmp_path: Path,
) -> None:
    """A real worker process of the service (its alert relayed through the in-memory bus)
    signs with the service's key, so its alert is stored while unsigned ones are not."""
    for camera in CAMERAS:  # each camera reads a folder of alerts
        (tmp_path / camera).mkdir()
    folders: dict[str, str | None] = {camera: str(tmp_path / camera) for camera in CAMERAS}
    world = build_world(web_context.db, personas, enroler, faces_dir, sources=folders)
    runtime = attach_recognition(web_context, targets.emit_dropped_alerts)
    event = match_event(world, faces_dir, score=0.97)

    def stored() -> list[str]:
        with transaction(web_context.db) as session:
            return list(session.scalars(select(AlertRow.event_id)))

    async def scenario() -> None:
        await runtime.start()
        try:
            (tmp_path / CAMERAS[0] / "1.json").write_text(event.model_dump_json())
            await until(lambda: stored() == [str(event.event_id)], "the worker's alert stored")
        finally:
            await runtime.stop()

    asyncio.run(scenario())


def signed_by(signer: NodeSigner, message: Message) -> fleet.Origin:
    """The origin the runtime reads off an envelope `signer` signed."""
    envelope = signed(wrap(message), signer)
    return fleet.Origin(envelope.node, signed_content(envelope), envelope.signature)


def test_a_revoked_or_never_enrolled_node_is_refused_and_counted(
    web_context: WebContext, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> None:
    """A node's signature counts only while it is enrolled: never enrolled, or revoked,
    its alerts are refused as from an unknown signer, and counted so."""
    world = build_world(
        web_context.db, personas, enroler, faces_dir, sources={CAMERAS[0]: "node:van-3"}
    )
    van, stranger = NodeIdentity.generate(), NodeIdentity.generate()
    with transaction(web_context.db) as session:
        fleet.enrol_node(session, console_actor(), "van-3", van.public().text())
    control = web_context.control
    before = refused("match", "unknown_signer")
    unknown = match_event(world, faces_dir, score=0.97)
    assert control.record_alert(unknown, signed_by(stranger.signer("van-7"), unknown)) is None
    with transaction(web_context.db) as session:
        fleet.revoke_node(session, personas.administrator, "van-3", "Van stolen")
    late = match_event(world, faces_dir, score=0.97)
    assert control.record_alert(late, signed_by(van.signer("van-3"), late)) is None
    assert refused("match", "unknown_signer") == before + 2
    with transaction(web_context.db) as session:
        assert session.scalars(select(AlertRow)).all() == []


def test_only_the_service_s_key_speaks_for_its_own_cameras(
    web_context: WebContext, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> None:
    """Claiming to be the service's own worker needs its key: a message named for the
    service but signed with another key is refused; one it signed is stored."""
    world = build_world(web_context.db, personas, enroler, faces_dir)
    before = refused("match", "bad_signature")
    forged = match_event(world, faces_dir, score=0.97)
    impostor = NodeIdentity.generate().signer(SERVICE_NAME)
    assert web_context.control.record_alert(forged, signed_by(impostor, forged)) is None
    assert refused("match", "bad_signature") == before + 1
    own = service_signer(web_context.settings.audit_signing_key_bytes())
    genuine = match_event(world, faces_dir, score=0.97)
    assert web_context.control.record_alert(genuine, signed_by(own, genuine)) is not None


def test_one_node_key_is_not_enrolled_under_two_names(
    web_context: WebContext, personas: Personas
) -> None:
    """DEP-2: a key enrolled as van-3 is refused as van-4 (else a node could speak, and
    receive released watchlists, under a second name); also once van-3 is revoked."""
    key = NodeIdentity.generate().public().text()
    with transaction(web_context.db) as session:
        fleet.enrol_node(session, console_actor(), "van-3", key)
    with transaction(web_context.db) as session, pytest.raises(Refusal, match="van-3"):
        fleet.enrol_node(session, console_actor(), "van-4", key)
    with transaction(web_context.db) as session:
        fleet.revoke_node(session, personas.administrator, "van-3", "Replaced")
    with transaction(web_context.db) as session, pytest.raises(Refusal, match="van-3"):
        fleet.enrol_node(session, console_actor(), "van-4", key)
    with transaction(web_context.db) as session:
        assert [n.name for n in fleet.enrolled_nodes(session)] == ["van-3"]
