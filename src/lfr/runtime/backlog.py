"""What a halted node still owes the service: the alerts its cameras captured before the
halt, kept in its outbox (`lfr.runtime.spool`), sent until the bus has each one (DEP-2).

A halt stops the camera workers at once, and a worker flushes for only a moment: with the
link down (a van without signal when Silver halts), alerts captured before the halt would
stay on the node's disk. So once its workers are stopped (and also when a node restarted
after the halt finds it on the bus) the node itself sends what the outbox holds,
retrying until the stream acknowledges each alert, however long the link takes to return;
it logs how many are left, and its reports carry the outbox's depth.

An alert captured after the halt (the node had not heard of it yet) is never sent: it is
destroyed on the node, and the count is reported to the service, which audits it. Every
alert older than the outbox retention is destroyed the same way, counted and reported.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path

from lfr.bus.messages import MalformedMessageError, decode
from lfr.runtime.spool import Spool
from lfr.runtime.worker import until_done
from lfr.vision.types import MatchEvent

log = logging.getLogger("lfr.node")

Publish = Callable[[str, bytes], Awaitable[None]]


@dataclass(frozen=True)
class Backlog:
    """A node's outbox, every deployment and camera: `spool.folder` is its root."""

    spool: Spool

    def cameras(self, deployment_id: str | None = None) -> Iterator[Spool]:
        """One spool per camera folder (``<root>/<deployment>/<camera>``)."""
        pattern = f"{deployment_id}/*" if deployment_id is not None else "*/*"
        for folder in sorted(self.spool.folder.glob(pattern)):
            if folder.is_dir():
                yield replace(self.spool, folder=folder)

    def waiting(self, deployment_id: str) -> int:
        """The deployment's alerts still to send."""
        return sum(len(camera.pending()) for camera in self.cameras(deployment_id))

    def expire(self) -> int:
        """Destroy every alert past the retention period, on every camera; how many."""
        return sum(camera.expire() for camera in self.cameras())

    def destroy_after(self, deployment_id: str, halted_at: datetime) -> int:
        """Destroy the deployment's alerts captured after `halted_at`; how many there were.
        (The node's clock says when an alert was captured, the service's when it halted.)"""
        destroyed = 0
        for camera in self.cameras(deployment_id):
            for path in camera.pending():
                event = _event_in(camera, path)
                if event is None or event.captured_at > halted_at:
                    camera.remove(path)
                    destroyed += event is not None
        return destroyed

    async def send(self, deployment_id: str, publish: Publish) -> int:
        """Send every alert the deployment's outbox holds, oldest first, each until the bus
        acknowledges it, then delete it from the disk; how many were sent."""
        sent = 0
        for camera in self.cameras(deployment_id):
            for path in camera.pending():
                kept = camera.read(path)
                if kept is None:
                    continue  # torn or altered: `read` removed it
                await until_done(partial(publish, *kept), "sending the outbox")
                camera.remove(path)
                sent += 1
        return sent


def _event_in(spool: Spool, path: Path) -> MatchEvent | None:
    kept = spool.read(path)
    if kept is None:
        return None
    try:
        payload = decode(kept[1]).payload
    except MalformedMessageError:
        return None
    return payload if isinstance(payload, MatchEvent) else None
