"""A handler that records what it was given, for tests to await."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from uuid import UUID

from lfr.bus.base import AnyEnvelope, Delivery, RefusedMessage

WAIT_S = 60.0  # generous: a loaded machine starts a worker slowly; only a failure waits this long
"""Upper bound on waiting for a delivery: a test fails (never passes) when it runs out."""


@dataclass
class Collector:
    received: asyncio.Queue[tuple[AnyEnvelope, Delivery]] = field(default_factory=asyncio.Queue)
    refusals: list[RefusedMessage] = field(default_factory=list)
    fail_first: int = 0
    """How many times each message's handling fails before it succeeds."""
    poisoned: set[UUID] = field(default_factory=set)
    """Messages (by envelope message_id) whose handling always fails."""
    attempts: list[tuple[UUID, int]] = field(default_factory=list)

    async def handler(self, envelope: AnyEnvelope, delivery: Delivery) -> None:
        self.attempts.append((envelope.message_id, delivery.attempt))
        if envelope.message_id in self.poisoned or delivery.attempt <= self.fail_first:
            raise RuntimeError("the services' database is away (on purpose)")
        await self.received.put((envelope, delivery))

    def refused(self, refusal: RefusedMessage) -> None:
        self.refusals.append(refusal)

    async def take(self, count: int) -> list[tuple[AnyEnvelope, Delivery]]:
        return [await asyncio.wait_for(self.received.get(), WAIT_S) for _ in range(count)]

    async def nothing_more(self, settle_s: float = 0.5) -> bool:
        """True when no further delivery arrives within ``settle_s``."""
        try:
            await asyncio.wait_for(self.received.get(), settle_s)
        except TimeoutError:
            return True
        return False
