"""The in-process bus of the embedded default (`lfr serve` without NATS).

`MemoryBroker` plays the NATS server: it holds one stream per topic and the durable
consumers' places, so a `MemoryBus` connection that closes and a later one that subscribes
under the same durable name behave as they do over NATS (messages published in between
are delivered). Messages are stored encoded and validated on delivery, exactly like the
NATS bus, so a malformed one is refused the same way. Everything lives as long as the
broker, i.e. the process: durability across a restart of `lfr serve` needs NATS.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from lfr.bus.base import (
    ConsumerSettings,
    Delivery,
    DeliveryTarget,
    Handler,
    RefusedMessageHook,
    Settlement,
)
from lfr.bus.messages import AnyEnvelope, Message, Signer, decode, encode
from lfr.bus.streams import StreamLimits, StreamPolicy
from lfr.bus.subjects import (
    Topic,
    check_durable,
    check_token,
    latest_subject,
    subject_filter,
    subject_for,
    subject_matches,
)


@dataclass(slots=True)
class _Stored:
    subject: str
    data: bytes
    stored_at: float


@dataclass
class _Stream:
    policy: StreamPolicy
    messages: OrderedDict[int, _Stored] = field(default_factory=OrderedDict)
    by_subject: dict[str, deque[int]] = field(default_factory=dict)
    last_seq: int = 0
    wakers: set[asyncio.Event] = field(default_factory=set)

    def append(self, subject: str, data: bytes) -> None:
        self.last_seq += 1
        self.messages[self.last_seq] = _Stored(subject, data, time.monotonic())
        self.by_subject.setdefault(subject, deque()).append(self.last_seq)
        self._enforce_limits(subject)
        for waker in self.wakers:
            waker.set()

    def _enforce_limits(self, subject: str) -> None:
        # Messages are in arrival order, so the old ones are at the front.
        oldest_kept = time.monotonic() - self.policy.max_age_s
        while self.messages and next(iter(self.messages.values())).stored_at < oldest_kept:
            self.messages.popitem(last=False)
        if self.policy.max_per_subject < 0:
            return
        kept = self.by_subject[subject]
        if len(kept) <= self.policy.max_per_subject:
            return
        # Acknowledged (deleted) messages linger in `kept`: count only those still held.
        kept = self.by_subject[subject] = deque(s for s in kept if s in self.messages)
        while len(kept) > self.policy.max_per_subject:
            del self.messages[kept.popleft()]


@dataclass
class _Consumer:
    """A durable consumer's place: what it was last handed, what is due again and when."""

    topic: Topic
    filter: str
    cursor: int = 0
    attempts: dict[int, int] = field(default_factory=dict)
    due: dict[int, float] = field(default_factory=dict)
    in_flight: int | None = None


class MemoryBroker:
    """The shared state of in-process buses: streams and durable consumers."""

    def __init__(self, limits: StreamLimits | None = None) -> None:
        limits = limits or StreamLimits()
        self.streams = {topic: _Stream(limits.of(topic)) for topic in Topic}
        # Keyed by topic too: as in JetStream, a durable name belongs to one stream.
        self.consumers: dict[tuple[Topic, str], _Consumer] = {}

    def consumer(self, durable: str, topic: Topic, filter_: str) -> _Consumer:
        state = self.consumers.get((topic, durable))
        if state is None or state.filter != filter_:
            state = self.consumers[(topic, durable)] = _Consumer(topic, filter_)
        return state


class MemorySubscription:
    def __init__(self, task: asyncio.Task[None], on_close: _Consumer) -> None:
        self._task = task
        self._state = on_close

    async def close(self) -> None:
        if self._task.done():
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        # A message interrupted mid-handling was not acknowledged: offer it again.
        if self._state.in_flight is not None:
            self._state.due[self._state.in_flight] = 0.0
            self._state.in_flight = None


class MemoryBus:
    """A connection to a `MemoryBroker` (its own private one unless given)."""

    def __init__(
        self,
        broker: MemoryBroker | None = None,
        *,
        prefix: str = "lfr",
        consumer_settings: ConsumerSettings | None = None,
        signer: Signer | None = None,
    ) -> None:
        """`signer`: what this connection publishes is signed with it (as on NATS)."""
        self.broker = broker or MemoryBroker()
        self._signer = signer
        self.prefix = check_token(prefix, "subject prefix")
        self._settings = consumer_settings or ConsumerSettings()
        self._subscriptions: list[MemorySubscription] = []

    async def publish(self, message: Message) -> None:
        await self.publish_raw(subject_for(self.prefix, message), encode(message, self._signer))

    async def publish_raw(self, subject: str, data: bytes) -> None:
        self.broker.streams[self._topic_of_subject(subject)].append(subject, data)

    async def subscribe(
        self,
        topic: Topic,
        handler: Handler,
        *,
        durable: str,
        deployment_id: str | None = None,
        on_refused: RefusedMessageHook | None = None,
    ) -> MemorySubscription:
        filter_ = subject_filter(self.prefix, topic, deployment_id)
        state = self.broker.consumer(check_durable(durable), topic, filter_)
        target = DeliveryTarget(topic, handler, on_refused, self._settings)
        loop = _DeliveryLoop(self.broker.streams[topic], state, target)
        subscription = MemorySubscription(asyncio.create_task(loop.run()), state)
        self._subscriptions.append(subscription)
        return subscription

    async def latest(
        self, topic: Topic, deployment_id: str, node: str | None = None
    ) -> AnyEnvelope | None:
        stream = self.broker.streams[topic]
        subject = latest_subject(self.prefix, topic, deployment_id, node)
        for sequence in reversed(stream.by_subject.get(subject, deque())):
            stored = stream.messages.get(sequence)
            if stored is not None:
                return decode(stored.data)
        return None

    async def close(self) -> None:
        for subscription in self._subscriptions:
            await subscription.close()
        self._subscriptions.clear()

    def _topic_of_subject(self, subject: str) -> Topic:
        tokens = subject.split(".")
        if len(tokens) < 3 or tokens[0] != self.prefix or tokens[1] not in set(Topic):
            raise ValueError(f"subject {subject!r} is not one of this bus's ({self.prefix}.*)")
        return Topic(tokens[1])


class _DeliveryLoop:
    """Hands a consumer its messages one at a time, acknowledging as `dispatch` decides."""

    def __init__(self, stream: _Stream, state: _Consumer, target: DeliveryTarget) -> None:
        self.stream, self.state, self.target = stream, state, target
        self.wake = asyncio.Event()

    async def run(self) -> None:
        self.stream.wakers.add(self.wake)
        try:
            while True:
                seq = self._next()
                if seq is None:
                    await self._sleep()
                    continue
                await self._deliver(seq)
        finally:
            self.stream.wakers.discard(self.wake)

    def _next(self) -> int | None:
        now = time.monotonic()
        for seq, due_at in sorted(self.state.due.items()):
            if seq not in self.stream.messages:
                del self.state.due[seq]
            elif due_at <= now:
                del self.state.due[seq]
                return seq
        for seq, stored in self.stream.messages.items():
            if seq > self.state.cursor and subject_matches(self.state.filter, stored.subject):
                self.state.cursor = seq
                return seq
        return None

    async def _sleep(self) -> None:
        self.wake.clear()
        timeout = None
        if self.state.due:
            timeout = max(0.0, min(self.state.due.values()) - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout)

    async def _deliver(self, seq: int) -> None:
        stored = self.stream.messages[seq]
        attempt = self.state.attempts.get(seq, 0) + 1
        delivery = Delivery(stored.subject, attempt)
        self.state.in_flight = seq
        settlement = await self.target.handle(stored.data, delivery)
        self.state.in_flight = None
        if settlement is Settlement.REDELIVER:
            self.state.attempts[seq] = attempt
            delay_s = self.target.settings.redelivery_delay_s(attempt)
            self.state.due[seq] = time.monotonic() + delay_s
            return
        self.state.attempts.pop(seq, None)
        if self.stream.policy.work_queue:
            self.stream.messages.pop(seq, None)
