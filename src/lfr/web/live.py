"""Live updates to open pages: server-sent events fed by an in-process broker (REC-5, ADJ-1).

The services run in worker threads (alerts from the camera workers, decisions from other
pages); the event streams run on the server's event loop. `LiveFeed.publish` may be called
from any thread and hands each message to every matching stream without blocking. A
message names a fragment URL, never data: the browser fetches the fragment, which passes
the route's role gate and the resource's permission check like any page.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from lfr import metrics

QUEUE_LIMIT = 256
"""Messages a slow browser may have waiting; beyond it the oldest are dropped (the page
still shows them on reload). Larger costs memory per open console."""

KEEPALIVE_SECONDS = 15.0
"""An idle stream sends a comment this often so proxies and browsers keep it open."""


ALERTS_TOPIC = "alerts"
"""Live-feed topic of new and changed alerts (consoles, handhelds)."""


def health_topic(deployment_id: str) -> str:
    return f"health:{deployment_id}"


@dataclass(frozen=True, slots=True)
class LiveMessage:
    topic: str
    fragment_url: str
    dom_id: str | None = None
    published_at: float = 0.0
    """`time.monotonic()` when an alert was stored or changed (0: not timed)."""

    def as_sse(self) -> str:
        data = json.dumps({"url": self.fragment_url, "id": self.dom_id})
        return f"event: fragment\ndata: {data}\n\n"


@dataclass(eq=False)
class Subscription:
    topics: frozenset[str]
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[LiveMessage] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_LIMIT)
    )

    def offer(self, message: LiveMessage) -> None:
        """Runs on the event loop: drop-oldest when the browser is not keeping up."""
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(message)


class LiveFeed:
    """A thread-safe fan-out from the services to the open event streams."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()

    def publish(self, message: LiveMessage) -> None:
        with self._lock:
            targets = [s for s in self._subscriptions if message.topic in s.topics]
        for subscription in targets:
            try:
                subscription.loop.call_soon_threadsafe(subscription.offer, message)
            except RuntimeError:  # the stream's loop closed: the stream is gone
                self._drop(subscription)

    @asynccontextmanager
    async def subscribe(self, topics: set[str]) -> AsyncIterator[Subscription]:
        subscription = Subscription(frozenset(topics), asyncio.get_running_loop())
        with self._lock:
            self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._drop(subscription)

    def _drop(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)


Visible = Callable[[LiveMessage], Awaitable[bool]]
"""Whether this stream's reader may learn of a message (e.g. an alert of a deployment
they may read); messages it refuses are never sent."""


async def event_stream(
    feed: LiveFeed,
    topics: set[str],
    is_disconnected: Callable[[], Any],
    visible: Visible | None = None,
) -> AsyncIterator[str]:
    """The body of a `text/event-stream` response for `topics`."""
    async with feed.subscribe(topics) as subscription:
        yield ": connected\n\n"
        while True:
            try:
                message = await asyncio.wait_for(
                    subscription.queue.get(), timeout=KEEPALIVE_SECONDS
                )
            except TimeoutError:
                if await is_disconnected():
                    return
                yield ": keepalive\n\n"
                continue
            if visible is None or await visible(message):
                if message.published_at:  # handed to this screen's response now
                    waited = time.monotonic() - message.published_at
                    metrics.ALERT_TO_SCREEN.observe(max(0.0, waited))
                yield message.as_sse()


def event_response(
    feed: LiveFeed, topics: set[str], request: Request, visible: Visible | None = None
) -> StreamingResponse:
    """A server-sent events response for `topics`, never cached nor buffered by a proxy."""
    return StreamingResponse(
        event_stream(feed, topics, request.is_disconnected, visible),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def alert_message(alert_id: str) -> LiveMessage:
    return LiveMessage(
        ALERTS_TOPIC,
        f"/console/alerts/{alert_id}/card",
        f"alert-{alert_id}",
        published_at=time.monotonic(),
    )


def health_message(deployment_id: str) -> LiveMessage:
    return LiveMessage(
        health_topic(deployment_id),
        f"/deployments/{deployment_id}/health",
        f"health-{deployment_id}-table",
    )
