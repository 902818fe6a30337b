"""The bus over NATS JetStream: recognition nodes on other machines, services that restart.

Each topic has a file-backed stream (policies in `lfr.bus.streams`) and each subscriber a
durable pull consumer with explicit acknowledgement, so what a node publishes while the
services are away waits in the stream and is delivered when they return. Publication waits
for the stream's acknowledgement and carries ``Nats-Msg-Id`` (the alert's ``event_id``), so
a publisher that retries after a lost acknowledgement does not store the alert twice;
every other message carries its envelope's id the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from pydantic import Field, SecretStr

from lfr.bus.base import (
    Delivery,
    DeliveryTarget,
    Handler,
    RefusedMessageHook,
    Settlement,
)
from lfr.bus.messages import (
    AnyEnvelope,
    Message,
    Signer,
    decode,
    deduplication_id,
    envelope_for,
)
from lfr.bus.nats_auth import SERVICE_INBOX
from lfr.bus.nats_tuning import NatsTuning
from lfr.bus.streams import stream_name
from lfr.bus.subjects import (
    Topic,
    check_durable,
    check_token,
    latest_subject,
    subject_filter,
    subject_for,
)
from lfr.domain.redaction import redacted
from lfr.vision.types import MatchEvent

log = logging.getLogger(__name__)

DUPLICATE_WINDOW_S = 120.0
"""How long the stream remembers a ``Nats-Msg-Id``: a retry later than this is stored twice
(and the services' idempotency by event_id absorbs it)."""


CLOSE_WAIT_S = 5.0
"""Longest a close waits for the server (unsubscribing, flushing): a link that died or hangs
must not hang the shutdown of a node or the service."""


class NatsSettings(NatsTuning):
    """Where the NATS server is, and how to reach it (`NatsTuning`)."""

    url: str = Field(
        default="nats://127.0.0.1:4222",
        description="NATS server URL (nats:// or tls://); a list separated by commas.",
    )
    prefix: str = Field(
        default="lfr",
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="First token of every subject and of the stream names.",
    )
    credentials_file: Path | None = Field(
        default=None, description="NATS user credentials (.creds) for an authenticated server."
    )
    nkey_seed: SecretStr | None = Field(
        default=None,
        description=(
            "The NKey seed (SU…) this client signs in with: a node's or the service's, derived "
            "from its own key (`lfr.bus.nats_auth`); ignored beside credentials_file."
        ),
    )
    inbox_prefix: str = Field(
        default=SERVICE_INBOX,
        pattern=r"^_INBOX[A-Za-z0-9_-]*$",
        description="Where replies come back: a node's own (`nats_auth.inbox_of`).",
    )
    create_streams: bool = Field(
        default=True,
        description=(
            "Create or update the streams on connecting: the service does; a node, which may "
            "not touch the streams, uses them as the service made them."
        ),
    )

    @classmethod
    def at(cls, url: str, tuning: NatsTuning, **where: Any) -> NatsSettings:
        """The server at `url` reached as `tuning` says; `where`: its other fields (prefix,
        credentials_file) or a tuning value the caller names itself."""
        return cls(**{**dict(tuning), "url": url, **where})


def _authentication(settings: NatsSettings) -> dict[str, Any]:
    """How the client proves who it is (credentials file or NKey), where replies come back,
    and which authorities a TLS server's certificate must chain to."""
    options: dict[str, Any] = {"inbox_prefix": settings.inbox_prefix}
    if settings.credentials_file is not None:
        options["user_credentials"] = str(settings.credentials_file)
    elif settings.nkey_seed is not None:
        options["nkeys_seed_str"] = settings.nkey_seed.get_secret_value()
    if settings.tls_ca_file is not None:
        options["tls"] = ssl.create_default_context(cafile=str(settings.tls_ca_file))
    return options


class BusUnavailableError(ConnectionError):
    """The NATS server could not be reached, or offers no JetStream."""


class _LinkLog:
    """One log line per change of the link's state, not one per reconnection attempt (a van
    without signal retries every second for hours), and none for a close we asked for."""

    def __init__(self) -> None:
        self.closing = False
        self.connected = False
        """Before the first connection the caller reports the failure once, itself."""
        self._down = False
        self._last_error: str | None = None
        self.before_connected: dict[str, str] = {}
        """Each kind of error met while the first connection was tried (an authorization
        refusal, a TLS handshake, the broken pipe after it), with its first message: the
        caller's one report of why it could not connect."""

    def why_not_connected(self) -> str:
        return "; ".join(
            f"{kind}: {message}".rstrip(": ") for kind, message in self.before_connected.items()
        )

    async def error(self, error: Exception) -> None:
        kind = type(error).__name__
        if not self.connected and not self.closing:
            self.before_connected.setdefault(kind, redacted(str(error)))
            return
        if self.closing or kind == self._last_error:
            return
        self._last_error = kind
        log.warning("NATS link: %s: %s", kind, redacted(str(error)))  # one line, no traceback

    async def disconnected(self) -> None:
        if self.closing or self._down:
            return
        self._down = True
        log.warning("NATS link lost; reconnecting (publications wait meanwhile)")

    async def reconnected(self) -> None:
        if self._down:
            log.info("NATS link re-established")
        self._down, self._last_error = False, None


class NatsSubscription:
    def __init__(self, task: asyncio.Task[None], pull: Any, handling: asyncio.Lock) -> None:
        self._task = task
        self._pull = pull
        self._handling = handling

    async def close(self) -> None:
        if self._task.done():
            return
        # Cancel only between messages: a message whose handler finished is acknowledged
        # before the consumer stops, so a clean close never causes a redelivery.
        async with self._handling:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        # If the connection is already gone (or hangs) there is nothing left to release.
        with contextlib.suppress(nats.errors.Error, TimeoutError, OSError):
            await asyncio.wait_for(self._pull.unsubscribe(), CLOSE_WAIT_S)


ANNOUNCE_TOKEN = "announce"
"""Subjects ``<prefix>.announce.<kind>``: outside every stream (no topic has this name)."""


def announce_subject(prefix: str, kind: str) -> str:
    return f"{prefix}.{ANNOUNCE_TOKEN}.{check_token(kind, 'announcement kind')}"


class Heard:
    """A core NATS subscription to announcements; `close` stops it."""

    def __init__(self, subscription: Any) -> None:
        self._subscription = subscription

    async def close(self) -> None:
        with contextlib.suppress(nats.errors.Error, TimeoutError, OSError):
            await asyncio.wait_for(self._subscription.unsubscribe(), CLOSE_WAIT_S)


class NatsBus:
    """A connection to NATS JetStream; `NatsBus.connect` makes one and ensures the streams."""

    def __init__(
        self, client: Client, settings: NatsSettings, signer: Signer | None = None
    ) -> None:
        self._nc = client
        self._signer = signer
        self._js = client.jetstream(timeout=settings.request_timeout_s)
        self._settings = settings
        self.prefix = settings.prefix
        self._subscriptions: list[NatsSubscription] = []
        self._link = _LinkLog()

    @property
    def connected(self) -> bool:
        """Whether the link to the server is up now (False while it reconnects)."""
        return bool(self._nc.is_connected)

    @classmethod
    async def connect(
        cls, settings: NatsSettings | None = None, *, signer: Signer | None = None
    ) -> NatsBus:
        """Connect (or raise `BusUnavailableError` naming the URL) and ensure the streams;
        with a node's `signer`, everything this connection publishes is signed.

        Once connected, a lost link is re-established for ever (a van may be offline for
        hours); the first connection is bounded, so a wrong URL is an error, not a hang.
        """
        settings = settings or NatsSettings()
        link = _LinkLog()
        options: dict[str, Any] = {
            "servers": settings.url.split(","),
            "name": f"lfr-{settings.prefix}",
            "connect_timeout": settings.connect_timeout_s,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": 1,
            "error_cb": link.error,
            "disconnected_cb": link.disconnected,
            "reconnected_cb": link.reconnected,
        }
        options.update(_authentication(settings))
        try:
            client = await asyncio.wait_for(nats.connect(**options), settings.first_connect_s)
        except TimeoutError:
            why = f" (errors: {link.why_not_connected()})" if link.before_connected else ""
            raise BusUnavailableError(
                f"cannot reach NATS at {redacted(settings.url)} "
                f"within {settings.first_connect_s:g} s{why}"
            ) from None
        bus = cls(client, settings, signer)
        link.connected = True
        bus._link = link
        try:
            if settings.create_streams:
                await bus.ensure_streams()
        except nats.errors.Error as error:
            await client.close()
            raise BusUnavailableError(
                f"NATS at {redacted(settings.url)} has no usable JetStream: {type(error).__name__}"
            ) from None
        return bus

    async def ensure_streams(self) -> None:
        """Create each topic's stream, or bring an existing one to the configured policy."""
        for topic in Topic:
            config = self._stream_config(topic)
            try:
                await self._js.add_stream(config)
            except nats.js.errors.BadRequestError:
                await self._js.update_stream(config)

    async def delete_streams(self) -> None:
        """Remove this prefix's streams and their consumers (tests, decommissioning)."""
        for topic in Topic:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await self._js.delete_stream(stream_name(self.prefix, topic))

    async def publish(self, message: Message) -> None:
        # Every publication carries Nats-Msg-Id: an alert's event id (a retried alert is
        # stored once), else the envelope's id, so a retry after a lost acknowledgement
        # is stored once too.
        envelope = envelope_for(message, self._signer)
        message_id = (
            str(message.event_id) if isinstance(message, MatchEvent) else str(envelope.message_id)
        )
        data = envelope.model_dump_json().encode()
        await self._publish(subject_for(self.prefix, message), data, message_id)

    async def publish_raw(self, subject: str, data: bytes) -> None:
        await self._publish(subject, data, deduplication_id(data))

    async def _publish(self, subject: str, data: bytes, message_id: str | None) -> None:
        headers = {"Nats-Msg-Id": message_id} if message_id else None
        # Bounded here as well as by the acknowledgement's timeout: while the client is
        # reconnecting a publication can wait on the link itself, and a caller that
        # retries (a halt owed to a node, a node's alert) must get control back to retry.
        bound = 2 * self._settings.request_timeout_s
        await asyncio.wait_for(self._js.publish(subject, data, headers=headers), bound)

    async def latest(
        self, topic: Topic, deployment_id: str, node: str | None = None
    ) -> AnyEnvelope | None:
        subject = latest_subject(self.prefix, topic, deployment_id, node)
        try:
            stored = await self._js.get_last_msg(stream_name(self.prefix, topic), subject)
        except nats.js.errors.NotFoundError:
            return None
        return decode(stored.data or b"")

    async def subscribe(
        self,
        topic: Topic,
        handler: Handler,
        *,
        durable: str,
        deployment_id: str | None = None,
        on_refused: RefusedMessageHook | None = None,
    ) -> NatsSubscription:
        settings = self._settings.consumer
        config = ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=settings.ack_wait_s,
            max_deliver=settings.max_deliver,
        )
        stream = stream_name(self.prefix, topic)
        try:
            pull = await self._js.pull_subscribe(
                subject_filter(self.prefix, topic, deployment_id),
                durable=check_durable(durable),
                stream=stream,
                config=config,
            )
        except nats.js.errors.NotFoundError:
            # A node does not create streams (`create_streams`): the service does.
            raise BusUnavailableError(
                f"NATS has no stream {stream}: the service creates it (start lfr serve on "
                "this server and prefix first)"
            ) from None
        loop = _PullLoop(pull, DeliveryTarget(topic, handler, on_refused, settings))
        subscription = NatsSubscription(asyncio.create_task(loop.run()), pull, loop.handling)
        self._subscriptions.append(subscription)
        return subscription

    async def announce(self, kind: str, data: bytes) -> None:
        """Core NATS, kept by no stream: every instance listening hears it now, none later
        (what every console must see, once stored: `lfr.runtime.central`)."""
        await self._nc.publish(announce_subject(self.prefix, kind), data)

    async def hear(self, kind: str, handler: Callable[[bytes], Awaitable[None]]) -> Heard:
        """Every announcement of `kind` from now on, to `handler` (each instance its own)."""

        async def on_message(message: Msg) -> None:
            try:
                await handler(message.data)
            except Exception as error:  # one bad announcement must not stop the others
                log.warning(
                    "announcement on %s not handled: %s", message.subject, type(error).__name__
                )

        subject = announce_subject(self.prefix, kind)
        return Heard(await self._nc.subscribe(subject, cb=on_message))

    async def close(self) -> None:
        self._link.closing = True
        for subscription in self._subscriptions:
            await subscription.close()
        self._subscriptions.clear()
        if not self._nc.is_closed:
            # A link that is down cannot be flushed: what it held is the stream's (or, for a
            # worker, its outbox's) to keep; closing must not end in a traceback.
            with contextlib.suppress(TimeoutError, OSError, nats.errors.Error):
                await asyncio.wait_for(self._nc.close(), CLOSE_WAIT_S)

    def _stream_config(self, topic: Topic) -> StreamConfig:
        policy = self._settings.streams.of(topic)
        return StreamConfig(
            name=stream_name(self.prefix, topic),
            subjects=[f"{self.prefix}.{topic.value}.>"],
            retention=RetentionPolicy.WORK_QUEUE if policy.work_queue else RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=policy.max_age_s,
            max_msgs_per_subject=policy.max_per_subject,
            duplicate_window=DUPLICATE_WINDOW_S,
        )


class _PullLoop:
    """Fetches a durable consumer's messages and acknowledges each as `dispatch` decides."""

    FETCH_WAIT_S = 1.0
    BATCH = 8

    def __init__(self, pull: Any, target: DeliveryTarget) -> None:
        self.pull, self.target = pull, target
        self.handling = asyncio.Lock()
        """Held from a message's dispatch until it is settled."""

    async def run(self) -> None:
        while True:
            try:
                messages = await self.pull.fetch(self.BATCH, timeout=self.FETCH_WAIT_S)
            except TimeoutError:  # nothing to fetch (nats-py raises both kinds of timeout)
                continue
            except nats.errors.ConnectionClosedError:
                return
            except Exception as error:
                # A flaky link: the client reconnects by itself; try again shortly. Any
                # other failure is retried too: the consumer must outlive a bad moment.
                log.warning("fetching from %s failed: %s", self.target.topic, type(error).__name__)
                await asyncio.sleep(self.FETCH_WAIT_S)
                continue
            for message in messages:
                async with self.handling:
                    await self._handle(message)

    async def _handle(self, message: Msg) -> None:
        delivery = Delivery(message.subject, message.metadata.num_delivered or 1)
        try:
            settlement = await self.target.handle(message.data, delivery)
        except asyncio.CancelledError:
            await _quietly(message.nak())  # closed mid-way: offer it again now
            raise
        await _quietly(self._settle(message, settlement, delivery.attempt))

    async def _settle(self, message: Msg, settlement: Settlement, attempt: int) -> None:
        if settlement is Settlement.DONE:
            await message.ack()
        elif settlement is Settlement.DROP:
            await message.term()
        else:
            await message.nak(delay=self.target.settings.redelivery_delay_s(attempt))


async def _quietly(settle: Any) -> None:
    """Acknowledge if the link allows; if not, the server redelivers (at-least-once)."""
    try:
        await settle
    except nats.errors.Error as error:
        log.warning("could not settle a message: %s", type(error).__name__)
