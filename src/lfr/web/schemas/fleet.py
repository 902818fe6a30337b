"""Recognition nodes (the fleet)."""

from __future__ import annotations

from datetime import datetime

from lfr.web.schemas.base import Schema


class NodeOut(Schema):
    """A node enrolled or heard from: enrolment, revocation, link, last report."""

    name: str
    enrolled: bool
    enrolled_at: datetime | None
    revoked_at: datetime | None
    awaiting_approval: bool
    """Enrolled by one administrator, not yet approved by a second: trusted with nothing."""
    link_up: bool
    last_seen_s: float | None
    state: str | None
    version: str | None
    deployment_id: str | None
    cameras: list[str]
    outbox_depth: int | None


class FleetOut(Schema):
    nodes: list[NodeOut]


class NodeChange(Schema):
    """A node after its enrolment, approval or revocation."""

    name: str
    enrolled_at: datetime | None = None
    approved_at: datetime | None = None
    """None until a second administrator approves the enrolment (the console's: at once)."""
    revoked_at: datetime | None = None
