"""The `Bus` protocol and the delivery rules both implementations share.

Delivery is at-least-once: a message is acknowledged only after its handler returned, so a
handler that fails (or a consumer that dies mid-way) sees the message again. Handlers must
therefore be idempotent by ``MatchEvent.event_id`` (the services store an alert under a
unique event id and treat a second insert as already done). A message that does not
validate is refused — logged with the field that was wrong, reported to ``on_refused`` —
and never redelivered; the consumer carries on with the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lfr.bus.messages import AnyEnvelope as AnyEnvelope  # handlers are typed with it
from lfr.bus.messages import (
    MalformedMessageError,
    Message,
    decode,
)
from lfr.bus.subjects import Topic, topic_of

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """How a message reached the handler: its subject and which attempt this is (1 = first)."""

    subject: str
    attempt: int


@dataclass(frozen=True, slots=True)
class RefusedMessage:
    """A message that was refused, and why. Never carries the message's content."""

    subject: str
    field: str
    reason: str


Handler = Callable[[AnyEnvelope, Delivery], Awaitable[None]]
RefusedMessageHook = Callable[[RefusedMessage], None]


class ConsumerSettings(BaseModel):
    """How a consumer treats a handler that fails."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_deliver: int = Field(
        default=10,
        ge=1,
        le=1000,
        description=(
            "Attempts before a message whose handler keeps failing is given up (and logged). "
            "With the delays doubling from redeliver_delay_s to redeliver_delay_max_s, the "
            "defaults ride out about 2.5 minutes of the services' database not answering. "
            "Raising it rides out longer outages at the cost of a poisoned message being "
            "retried longer; lowering it can drop a real alert after a brief failure."
        ),
    )
    redeliver_delay_s: float = Field(
        default=1.0,
        gt=0,
        le=300,
        description=(
            "Wait before a failed message is offered again the first time; each further "
            "wait doubles, up to redeliver_delay_max_s. Shorter retries sooner (more load on "
            "a struggling service); longer delays the alert reaching the operator."
        ),
    )
    redeliver_delay_max_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description=(
            "The longest wait between two attempts. Longer stretches max_deliver over a "
            "longer outage; shorter brings an alert to the operator sooner once the service "
            "is back."
        ),
    )
    ack_wait_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description=(
            "NATS only: how long an unacknowledged delivery waits before the server offers it "
            "again (the consumer died mid-way). Longer means a slower recovery; shorter "
            "risks a second delivery of a message whose handler is merely slow."
        ),
    )

    @model_validator(mode="after")
    def _longest_wait_not_below_the_first(self) -> ConsumerSettings:
        if self.redeliver_delay_max_s < self.redeliver_delay_s:
            raise ValueError("redeliver_delay_max_s must not be below redeliver_delay_s")
        return self

    def redelivery_delay_s(self, attempt: int) -> float:
        """The wait after failed attempt `attempt` (1, 2, …): doubling from the first
        delay, capped, so that a few attempts span an outage, not a few seconds."""
        doubled = self.redeliver_delay_s * 2.0 ** min(max(attempt - 1, 0), 30)
        return min(doubled, self.redeliver_delay_max_s)


class Outcome(Enum):
    ACK = "ack"
    RETRY = "retry"
    REFUSED = "refused"


class Subscription(Protocol):
    async def close(self) -> None:
        """Stop delivering. A durable consumer keeps its place for the next subscriber."""


class Bus(Protocol):
    """Publish messages; subscribe durable consumers that acknowledge what they handled."""

    prefix: str

    async def publish(self, message: Message) -> None:
        """Publish one message; returns once the bus holds it (NATS: the stream acknowledged)."""

    async def publish_raw(self, subject: str, data: bytes) -> None:
        """Publish bytes already encoded (a worker process's message relayed as it came)."""

    async def subscribe(
        self,
        topic: Topic,
        handler: Handler,
        *,
        durable: str,
        deployment_id: str | None = None,
        on_refused: RefusedMessageHook | None = None,
    ) -> Subscription:
        """Deliver ``topic``'s messages (one deployment's, or all) to ``handler``.

        ``durable`` names the consumer: a later subscriber with the same name continues
        where the last one stopped, including messages published in between.
        """

    async def latest(
        self, topic: Topic, deployment_id: str, node: str | None = None
    ) -> AnyEnvelope | None:
        """The newest message held for one deployment on a kept topic (control, or one
        node's watchlist release), read without consuming it; None when the bus holds none.
        A malformed message raises `MalformedMessageError`."""

    async def close(self) -> None:
        """Stop every subscription of this connection and release it."""


async def dispatch(
    data: bytes,
    delivery: Delivery,
    topic: Topic,
    handler: Handler,
    on_refused: RefusedMessageHook | None,
) -> Outcome:
    """Decode, validate and hand one message over; say whether to ack, retry or refuse it."""
    try:
        envelope = decode(data)
    except MalformedMessageError as error:
        refuse_message(RefusedMessage(delivery.subject, error.field, error.reason), on_refused)
        return Outcome.REFUSED
    if topic_of(envelope.payload) is not topic:
        reason = f"a {envelope.kind} does not belong on the {topic} topic"
        refuse_message(RefusedMessage(delivery.subject, "kind", reason), on_refused)
        return Outcome.REFUSED
    try:
        await handler(envelope, delivery)
    except Exception as error:
        # The type only: an exception's text can quote its arguments (an alert's bytes).
        log.warning(
            "handler failed on %s (attempt %d): %s",
            delivery.subject,
            delivery.attempt,
            type(error).__name__,
        )
        return Outcome.RETRY
    return Outcome.ACK


def refuse_message(refusal: RefusedMessage, on_refused: RefusedMessageHook | None) -> None:
    log.warning("refused message on %s: %s: %s", refusal.subject, refusal.field, refusal.reason)
    if on_refused is None:
        return
    try:
        on_refused(refusal)
    except Exception as error:  # a failing hook must not stop the consumer either
        log.error("refusal hook failed: %s", type(error).__name__)


def give_up(delivery: Delivery) -> None:
    log.error(
        "giving up on a message on %s after %d failed attempts", delivery.subject, delivery.attempt
    )


class Settlement(Enum):
    """What becomes of a delivered message, whichever bus carried it."""

    DONE = "done"
    """Handled: acknowledged."""
    REDELIVER = "redeliver"
    """The handler failed and attempts are left: offered again after the delay."""
    DROP = "drop"
    """Refused, or out of attempts: never delivered again."""


@dataclass(frozen=True, slots=True)
class DeliveryTarget:
    """A subscription's handler with its topic, refusal hook and retry rules; both buses
    hand each delivered message to `handle` and carry out the `Settlement` it returns."""

    topic: Topic
    handler: Handler
    on_refused: RefusedMessageHook | None
    settings: ConsumerSettings

    async def handle(self, data: bytes, delivery: Delivery) -> Settlement:
        outcome = await dispatch(data, delivery, self.topic, self.handler, self.on_refused)
        if outcome is Outcome.ACK:
            return Settlement.DONE
        if outcome is Outcome.REFUSED:
            return Settlement.DROP
        if delivery.attempt < self.settings.max_deliver:
            return Settlement.REDELIVER
        give_up(delivery)
        return Settlement.DROP
