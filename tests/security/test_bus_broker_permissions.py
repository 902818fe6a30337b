"""NATS's own security (DEP-2, AUTH-6; docs/bus.md): against a real nats-server configured
by what `lfr fleet nats-config` prints, an anonymous or unknown client is not let in, TLS
is in force, a node publishes only on its own cameras' and its own report subjects, reads
no alert, and still follows halts; a revoked node is shut out once the server reloads."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import nats
import pytest
from typer.testing import CliRunner

from lfr.bus.identity import NodeIdentity, NodeSigner, service_signer
from lfr.bus.messages import HaltDeployment, NodeReport
from lfr.bus.nats_auth import ServerTls, user_seed
from lfr.bus.nats_bus import BusUnavailableError, NatsBus, NatsSettings
from lfr.bus.streams import stream_name
from lfr.bus.subjects import Topic
from lfr.cli import app
from lfr.cli.node import node_access
from lfr.db.session import transaction
from lfr.services import cameras, fleet
from lfr.services.people import console_actor
from lfr.settings import get_settings
from lfr.web.context import WebContext
from tests.db_fixtures import ON_SQLITE_ONLY, Personas
from tests.integration.bus.collect import Collector
from tests.integration.bus.messages import match_event
from tests.security.broker import Broker, make_tls, secured_broker

PREFIX = "lfrsec"
DEPLOYMENT = "dep-1"
REFUSED_WITHIN_S = 3.0
"""How long a refused client may keep trying before the refusal is an error."""


def config_of(tls: ServerTls) -> str:
    """What `lfr fleet nats-config` prints for the record (and the environment's prefix)."""
    arguments = ["fleet", "nats-config"]
    arguments += ["--tls-cert", str(tls.cert_file), "--tls-key", str(tls.key_file)]
    printed = CliRunner().invoke(app, arguments)
    assert printed.exit_code == 0, printed.output
    return printed.output


def settings(broker: Broker, **access: Any) -> NatsSettings:
    return NatsSettings(
        url=broker.url,
        prefix=PREFIX,
        tls_ca_file=broker.ca_file,
        first_connect_s=REFUSED_WITHIN_S,
        request_timeout_s=2.0,
        **access,
    )


async def refused(attempt: Awaitable[object]) -> bool:
    try:
        await attempt
    except (BusUnavailableError, TimeoutError, nats.errors.Error):
        return True
    return False


async def refusal_of(attempt: Awaitable[object]) -> str:
    """Why the first connection was refused, as `NatsBus.connect` says it."""
    try:
        await attempt
    except BusUnavailableError as error:
        return str(error)
    raise AssertionError("connected where it should have been refused")


@ON_SQLITE_ONLY  # the broker's permissions, whatever database records the fleet
def test_only_enrolled_nodes_get_in_and_each_publishes_only_on_its_own_subjects(
    web_context: WebContext,
    personas: Personas,
    tmp_path: Path,
    faces_dir: Path,
    migrated_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LFR_DATABASE_URL", migrated_url)  # the command reads this record
    monkeypatch.setenv("LFR_NATS_PREFIX", PREFIX)
    get_settings.cache_clear()
    van3, van4, stranger = (NodeIdentity.generate() for _ in range(3))
    with transaction(web_context.db) as session:
        cameras.configure_camera(session, personas.engineer, "north", "node:van-3")
        cameras.configure_camera(session, personas.engineer, "south", "node:van-4")
        fleet.enrol_node(session, console_actor(), "van-3", van3.public().text())
        fleet.enrol_node(session, console_actor(), "van-4", van4.public().text())
    service = service_signer(web_context.settings.audit_signing_key_bytes())
    tls, ca_file = make_tls(tmp_path)
    with secured_broker(tmp_path, config_of(tls), tls, ca_file) as broker:
        asyncio.run(_scenario(broker, service, van3, stranger, faces_dir))
        with transaction(web_context.db) as session:
            fleet.revoke_node(session, personas.administrator, "van-3", "Van stolen")
        broker.reload(config_of(tls))
        asyncio.run(_shut_out(broker, van3))
    get_settings.cache_clear()


def test_nats_config_wants_both_tls_files(tmp_path: Path) -> None:
    printed = CliRunner().invoke(app, ["fleet", "nats-config", "--tls-cert", str(tmp_path)])
    assert printed.exit_code != 0
    assert "--tls-key" in printed.output


async def _scenario(
    broker: Broker,
    service_key: NodeSigner,
    van3: NodeIdentity,
    stranger: NodeIdentity,
    faces_dir: Path,
) -> None:
    service = await NatsBus.connect(
        settings(broker, nkey_seed=user_seed(service_key.bus_seed())), signer=service_key
    )
    node = await NatsBus.connect(
        settings(broker, **node_access(van3, "van-3")), signer=van3.signer("van-3")
    )
    try:
        # Nobody else gets in: anonymous, an unknown NKey, a client not checking the
        # server's certificate against the force's authority.
        assert await refused(NatsBus.connect(settings(broker)))
        stranger_said = await refusal_of(
            NatsBus.connect(settings(broker, **node_access(stranger, "van-3")))
        )
        assert "(errors: " in stranger_said
        assert "authorization" in stranger_said.lower()  # said why, not only "cannot reach"
        no_ca = settings(broker, nkey_seed=user_seed(service_key.bus_seed()))
        unchecked = no_ca.model_copy(update={"tls_ca_file": None})
        assert "certificate" in (await refusal_of(NatsBus.connect(unchecked))).lower()
        # The node publishes on its own camera and its own report subject, and nowhere else.
        own = match_event(faces_dir, deployment_id=DEPLOYMENT, camera="north")
        await node.publish(own)
        await node.publish(
            NodeReport(node="van-3", deployment_id=DEPLOYMENT, state="running", version="1")
        )
        assert await refused(
            node.publish(match_event(faces_dir, deployment_id=DEPLOYMENT, camera="south"))
        )
        report = NodeReport(node="van-4", deployment_id=DEPLOYMENT, state="halted", version="1")
        assert await refused(node.publish(report))
        assert await refused(node.publish(HaltDeployment(deployment_id=DEPLOYMENT, reason="x")))
        # The service receives the node's alert (the stream held it) ...
        alerts = Collector()
        await service.subscribe(Topic.MATCH, alerts.handler, durable="web-alerts")
        ((envelope, _),) = await alerts.take(1)
        assert envelope.payload == own
        # ... and the node follows the service's halt, but reads no alert.
        halts = Collector()
        await node.subscribe(
            Topic.CONTROL,
            halts.handler,
            durable=f"node-{DEPLOYMENT}-van-3",
            deployment_id=DEPLOYMENT,
        )
        halt = HaltDeployment(deployment_id=DEPLOYMENT, reason="Crowd surge")
        await service.publish(halt)
        ((envelope, _),) = await halts.take(1)
        assert envelope.payload == halt
        latest = await node.latest(Topic.CONTROL, DEPLOYMENT)
        assert latest is not None
        assert latest.payload == halt
        assert await _cannot_read_alerts(broker, van3)
    finally:
        await node.close()
        await service.close()


async def _cannot_read_alerts(broker: Broker, van3: NodeIdentity) -> bool:
    """With the node's own credentials: reading the alert stream, or listening on the
    service's replies (where its fetched alerts arrive), is refused by the server."""
    violations: list[str] = []

    def listening_refused() -> bool:  # nats-py reports the server's error in lower case
        return any('subscription to "_inbox.>"' in v.lower() for v in violations)

    async def on_error(error: Exception) -> None:
        violations.append(str(error))

    access = node_access(van3, "van-3")
    client = await nats.connect(
        broker.url,
        nkeys_seed_str=access["nkey_seed"],
        inbox_prefix=access["inbox_prefix"],
        tls=ssl.create_default_context(cafile=str(broker.ca_file)),
        error_cb=on_error,
    )
    try:
        js = client.jetstream(timeout=2.0)
        read = js.get_last_msg(
            stream_name(PREFIX, Topic.MATCH), f"{PREFIX}.match.{DEPLOYMENT}.north"
        )
        denied_read = await refused(read)
        await client.subscribe("_INBOX.>")
        for _ in range(200):  # the server answers the subscription asynchronously
            if listening_refused():
                break
            await asyncio.sleep(0.05)
        return denied_read and listening_refused()
    finally:
        await client.close()


async def _shut_out(broker: Broker, van3: NodeIdentity) -> None:
    access = node_access(van3, "van-3")
    for _ in range(60):  # the reload is asynchronous: wait until it has taken effect
        if await refused(NatsBus.connect(settings(broker, **access))):
            return
        await asyncio.sleep(0.5)
    pytest.fail("a revoked node still connects after the server reloaded its configuration")
