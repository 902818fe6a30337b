"""Bus backends for the shared test cases: the in-process bus and real NATS JetStream.

Every case in test_bus_semantics.py runs against both, so the two implementations cannot
drift apart. The NATS cases use a fresh subject prefix (hence fresh streams) per test and
delete those streams afterwards; they need the server on 127.0.0.1:4222 (``LFR_TEST_NATS``
overrides the URL) and are marked ``nats``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import pytest

from lfr.bus.base import Bus, ConsumerSettings
from lfr.bus.memory import MemoryBroker, MemoryBus
from lfr.bus.nats_bus import NatsBus, NatsSettings

NATS_URL = os.environ.get("LFR_TEST_NATS", "nats://127.0.0.1:4222")

# Quick redelivery so at-least-once cases finish promptly; the bound is for failure only.
FAST = ConsumerSettings(max_deliver=3, redeliver_delay_s=0.1, ack_wait_s=5)


@dataclass
class Backend:
    """Opens connections to one bus backend; every connection shares its streams."""

    name: str
    open: Callable[[ConsumerSettings], Awaitable[Bus]]
    opened: list[Bus] = field(default_factory=list)

    async def connect(self, consumer: ConsumerSettings = FAST) -> Bus:
        bus = await self.open(consumer)
        self.opened.append(bus)
        return bus

    async def close_all(self) -> None:
        for bus in self.opened:
            await bus.close()


def _nats_reachable() -> bool:
    async def probe() -> None:
        bus = await NatsBus.connect(NatsSettings(url=NATS_URL, prefix="probe", first_connect_s=3))
        await bus.close()

    try:
        asyncio.run(probe())
    except Exception:
        return False
    return True


@pytest.fixture
def nats_settings() -> Iterator[NatsSettings]:
    """Settings for a fresh prefix on the test NATS server; its streams are removed after."""
    if not _nats_reachable():
        message = f"NATS JetStream not reachable at {NATS_URL}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    settings = NatsSettings(url=NATS_URL, prefix=f"t{uuid.uuid4().hex[:12]}")
    yield settings

    async def cleanup() -> None:
        bus = await NatsBus.connect(settings)
        await bus.delete_streams()
        await bus.close()

    asyncio.run(cleanup())


@pytest.fixture(params=["memory", pytest.param("nats", marks=pytest.mark.nats)])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        broker = MemoryBroker()

        async def open_memory(consumer: ConsumerSettings) -> Bus:
            return MemoryBus(broker, consumer_settings=consumer)

        return Backend("memory", open_memory)
    settings: NatsSettings = request.getfixturevalue("nats_settings")

    async def open_nats(consumer: ConsumerSettings) -> Bus:
        return await NatsBus.connect(settings.model_copy(update={"consumer": consumer}))

    return Backend("nats", open_nats)
