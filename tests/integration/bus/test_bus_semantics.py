"""The bus's contract, run against the memory bus and real NATS JetStream alike.

REC-2 (alerts reach the services), REC-4 (only typed messages cross), REC-5 (health),
DEP-2 (a halt reaches the nodes of its deployment).
"""

from __future__ import annotations

import asyncio
import io
import itertools
from pathlib import Path

import pytest
from PIL import Image

from lfr.bus.base import ConsumerSettings
from lfr.bus.messages import HaltDeployment, WatchlistRelease, encode, wrap
from lfr.bus.streams import StreamLimits
from lfr.bus.subjects import Topic, subject_for
from lfr.vision.types import HealthFigures, MatchEvent

from .collect import Collector
from .conftest import Backend
from .messages import health, match_event


def health_of(envelope: object) -> HealthFigures:
    payload = getattr(envelope, "payload", None)
    assert isinstance(payload, HealthFigures)
    return payload


def test_match_event_round_trips_with_its_jpeg_bytes(backend: Backend, faces_dir: Path) -> None:
    sent = match_event(faces_dir)

    async def scenario() -> None:
        central, node = await backend.connect(), await backend.connect()
        collector = Collector()
        await central.subscribe(Topic.MATCH, collector.handler, durable="central")
        await node.publish(sent)
        [(envelope, delivery)] = await collector.take(1)
        await backend.close_all()

        assert envelope.payload == sent
        assert isinstance(envelope.payload, MatchEvent)
        assert envelope.payload.probe_jpeg == sent.probe_jpeg
        with Image.open(io.BytesIO(envelope.payload.probe_jpeg)) as probe:
            assert (probe.format, probe.size) == ("JPEG", (160, 180))
        assert delivery.subject == f"{node.prefix}.match.dep-1.cam-1"
        assert delivery.attempt == 1

    asyncio.run(scenario())


def test_messages_published_while_the_central_service_is_away_arrive_when_it_returns(
    backend: Backend, faces_dir: Path
) -> None:
    """The van on a flaky link: what the node publishes meanwhile waits in the stream."""
    early, *late = (match_event(faces_dir) for _ in range(3))

    async def scenario() -> None:
        node = await backend.connect()
        first_central, first = await backend.connect(), Collector()
        await first_central.subscribe(Topic.MATCH, first.handler, durable="central")
        await node.publish(early)
        await first.take(1)
        await first_central.close()  # the central service goes away

        for event in late:
            await node.publish(event)

        second_central, second = await backend.connect(), Collector()
        await second_central.subscribe(Topic.MATCH, second.handler, durable="central")
        delivered = [envelope.payload for envelope, _ in await second.take(2)]
        assert delivered == late  # in order, and the acknowledged one is not repeated
        assert await second.nothing_more()
        await backend.close_all()

    asyncio.run(scenario())


def test_messages_published_before_anyone_subscribed_are_kept(backend: Backend) -> None:
    async def scenario() -> None:
        node = await backend.connect()
        figures = [health(frames=n) for n in (1, 2)]
        for item in figures:
            await node.publish(item)
        central, collector = await backend.connect(), Collector()
        await central.subscribe(Topic.HEALTH, collector.handler, durable="central")
        assert [envelope.payload for envelope, _ in await collector.take(2)] == figures
        await backend.close_all()

    asyncio.run(scenario())


def test_malformed_messages_are_refused_naming_the_field_and_the_consumer_carries_on(
    backend: Backend, faces_dir: Path
) -> None:
    good = match_event(faces_dir)
    subject = "{prefix}.match.dep-1.cam-1"
    wrong_score = encode(good).replace(b'"score":0.71', b'"score":"high"')
    extra_field = encode(good).replace(b'"track_id":7', b'"track_id":7,"face_descriptor":[0.1]')

    async def scenario() -> None:
        node, central, collector = await backend.connect(), await backend.connect(), Collector()
        await central.subscribe(
            Topic.MATCH, collector.handler, durable="central", on_refused=collector.refused
        )
        for data in (b"\x00not json", wrong_score, extra_field, encode(health())):
            await node.publish_raw(subject.format(prefix=node.prefix), data)
        await node.publish(good)

        [(envelope, _)] = await collector.take(1)
        assert envelope.payload == good
        assert [refusal.field for refusal in collector.refusals] == [
            "(message)",
            "payload.score",
            "payload.face_descriptor",
            "kind",
        ]
        assert "JSON" in collector.refusals[0].reason
        assert all("high" not in refusal.reason for refusal in collector.refusals)
        assert await collector.nothing_more()  # refused messages are not redelivered
        await backend.close_all()

    asyncio.run(scenario())


def test_a_message_whose_handler_failed_is_delivered_again_with_the_same_event_id(
    backend: Backend, faces_dir: Path
) -> None:
    """At-least-once: the handler must be idempotent by event_id."""
    sent = match_event(faces_dir)

    async def scenario() -> None:
        node, central = await backend.connect(), await backend.connect()
        collector = Collector(fail_first=1)
        await central.subscribe(Topic.MATCH, collector.handler, durable="central")
        await node.publish(sent)
        [(envelope, delivery)] = await collector.take(1)
        assert isinstance(envelope.payload, MatchEvent)
        assert envelope.payload.event_id == sent.event_id
        assert delivery.attempt == 2
        await backend.close_all()

    asyncio.run(scenario())


def test_a_message_that_keeps_failing_is_given_up_after_max_deliver(
    backend: Backend, faces_dir: Path
) -> None:
    poisoned_event, second = match_event(faces_dir), match_event(faces_dir)
    poison = wrap(poisoned_event)

    async def scenario() -> None:
        node = await backend.connect()
        settings = ConsumerSettings(max_deliver=2, redeliver_delay_s=0.1, ack_wait_s=5)
        central = await backend.connect(settings)
        collector = Collector(poisoned={poison.message_id})
        await central.subscribe(Topic.MATCH, collector.handler, durable="central")
        await node.publish_raw(
            subject_for(node.prefix, poisoned_event), poison.model_dump_json().encode()
        )
        await node.publish(second)

        [(envelope, _)] = await collector.take(1)
        assert envelope.payload == second
        assert await collector.nothing_more(settle_s=1.0)
        tries = [
            attempt for message_id, attempt in collector.attempts if message_id == poison.message_id
        ]
        assert tries == [1, 2]  # two attempts, then given up rather than retried for ever
        await backend.close_all()

    asyncio.run(scenario())


def test_a_failing_handler_is_offered_the_message_again_after_doubling_waits(
    backend: Backend, faces_dir: Path
) -> None:
    """An alert whose handler fails (the services' database not answering) comes back
    after 0.1, 0.2 and 0.4 s, not every 0.1 s: a few attempts span an outage, and the alert
    is stored once the handler succeeds. Each wait is checked from below only (a loaded
    machine may deliver later, never sooner)."""
    event = match_event(faces_dir)
    seen: list[float] = []

    async def fails_three_times(_envelope: object, _delivery: object) -> None:
        seen.append(asyncio.get_running_loop().time())
        if len(seen) <= 3:
            raise RuntimeError("the database does not answer")

    async def scenario() -> None:
        node = await backend.connect()
        settings = ConsumerSettings(max_deliver=5, redeliver_delay_s=0.1, ack_wait_s=5)
        central = await backend.connect(settings)
        await central.subscribe(Topic.MATCH, fails_three_times, durable="central")
        await node.publish(event)
        for _ in range(600):
            if len(seen) >= 4:
                break
            await asyncio.sleep(0.05)
        await backend.close_all()

    asyncio.run(scenario())
    assert len(seen) == 4, seen  # handled at the fourth attempt
    gaps = [later - earlier for earlier, later in itertools.pairwise(seen)]
    for gap, least in zip(gaps, (0.1, 0.2, 0.4), strict=True):
        assert gap >= least * 0.9, gaps


def test_redelivery_waits_double_up_to_their_cap() -> None:
    settings = ConsumerSettings()
    waits = [settings.redelivery_delay_s(attempt) for attempt in range(1, 10)]
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]
    assert sum(waits) > 150  # the defaults ride out 2.5 minutes of a database not answering
    assert ConsumerSettings(redeliver_delay_s=5, redeliver_delay_max_s=5).redelivery_delay_s(9) == 5
    with pytest.raises(ValueError, match="redeliver_delay_max_s"):
        ConsumerSettings(redeliver_delay_s=10, redeliver_delay_max_s=5)


def test_a_halt_reaches_every_node_of_its_deployment_and_no_other(backend: Backend) -> None:
    """DEP-2: each node has its own durable consumer of its deployment's control subject."""

    async def scenario() -> None:
        central = await backend.connect()
        nodes = [(await backend.connect(), Collector()) for _ in range(2)]
        for index, (bus, collector) in enumerate(nodes):
            await bus.subscribe(
                Topic.CONTROL, collector.handler, durable=f"node-{index}", deployment_id="dep-1"
            )
        other = HaltDeployment(deployment_id="dep-2", reason="another deployment")
        halt = HaltDeployment(deployment_id="dep-1", reason="crowd safety, Silver's decision")
        await central.publish(other)
        await central.publish(halt)
        for _, collector in nodes:
            [(envelope, delivery)] = await collector.take(1)
            assert envelope.payload == halt
            assert delivery.subject == f"{central.prefix}.control.dep-1"
            assert await collector.nothing_more()
        await backend.close_all()

    asyncio.run(scenario())


def test_a_backlog_of_health_keeps_only_the_latest_figures_per_camera(backend: Backend) -> None:
    """While the services are away, old counts are dropped; alerts never are (streams.py)."""
    limit = StreamLimits().health.max_per_subject

    async def scenario() -> None:
        node = await backend.connect()
        for frames in range(limit + 5):
            await node.publish(health("cam-1", frames=frames))
        await node.publish(health("cam-2", frames=0))
        central, collector = await backend.connect(), Collector()
        await central.subscribe(Topic.HEALTH, collector.handler, durable="central")
        delivered = [health_of(envelope) for envelope, _ in await collector.take(limit + 1)]
        assert [f.frames for f in delivered if f.camera == "cam-1"] == list(range(5, limit + 5))
        assert [f.camera for f in delivered].count("cam-2") == 1
        assert await collector.nothing_more()
        await backend.close_all()

    asyncio.run(scenario())


def test_one_durable_name_serves_each_topic_separately(backend: Backend, faces_dir: Path) -> None:
    """The services may call every consumer "central": a durable belongs to one stream."""
    alert, figures = match_event(faces_dir), health()

    async def scenario() -> None:
        node, central = await backend.connect(), await backend.connect()
        alerts, healths = Collector(), Collector()
        await central.subscribe(Topic.MATCH, alerts.handler, durable="central")
        await central.subscribe(Topic.HEALTH, healths.handler, durable="central")
        await node.publish(alert)
        await node.publish(figures)
        assert [envelope.payload for envelope, _ in await alerts.take(1)] == [alert]
        assert [envelope.payload for envelope, _ in await healths.take(1)] == [figures]
        await backend.close_all()

    asyncio.run(scenario())


def test_the_latest_watchlist_release_is_read_per_deployment_and_a_withdrawal_replaces_it(
    backend: Backend,
) -> None:
    """WL-1/WL-6: a node reads its deployment's newest release without consuming it; the
    withdrawal published when the deployment stops replaces the release (one kept per
    deployment), so the sealed templates are gone from the bus."""

    async def scenario() -> None:
        central, node = await backend.connect(), await backend.connect()
        assert await node.latest(Topic.WATCHLIST, "dep-1") is None
        first = WatchlistRelease(deployment_id="dep-1", alert_threshold=0.95, sealed=b"one")
        second = WatchlistRelease(deployment_id="dep-1", alert_threshold=0.95, sealed=b"two")
        other = WatchlistRelease(deployment_id="dep-2", alert_threshold=0.9, sealed=b"other")
        for release in (first, second, other):
            await central.publish(release)
        latest = await node.latest(Topic.WATCHLIST, "dep-1")
        assert latest is not None
        assert latest.payload == second
        assert (await node.latest(Topic.WATCHLIST, "dep-1")) == latest  # read, not consumed
        await central.publish(WatchlistRelease(deployment_id="dep-1", withdrawn=True))
        withdrawn = await node.latest(Topic.WATCHLIST, "dep-1")
        assert withdrawn is not None
        assert isinstance(withdrawn.payload, WatchlistRelease)
        assert (withdrawn.payload.withdrawn, withdrawn.payload.sealed) == (True, b"")
        collector = Collector()  # a subscriber sees only what the stream still keeps
        await node.subscribe(Topic.WATCHLIST, collector.handler, durable="node-x")
        kept = [envelope.payload for envelope, _ in await collector.take(2)]
        assert {r.sealed for r in kept if isinstance(r, WatchlistRelease)} == {b"", b"other"}
        assert await collector.nothing_more()
        await backend.close_all()

    asyncio.run(scenario())
