"""The control outbox and the fleet: what the service must tell the nodes, who heard it,
and what each node last said of itself (DEP-2, WL-6, REC-5).

A halt or a watchlist withdrawal is written here in the same transaction as the status
change that causes it; the reconciler publishes it until the bus holds it and re-sends it
until every node serving the deployment has acknowledged it, so a halt issued while the
link is down, or before the service was killed, still arrives (`lfr.runtime.reconciler`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lfr.db.base import Base, UTCDateTime, new_id, utcnow


class ControlOutboxRow(Base):
    """One control message owed to a deployment's nodes: a halt (which also withdraws the
    released watchlist). Never deleted: it is the record of what was sent and when."""

    __tablename__ = "control_outbox"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployment.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    nodes: Mapped[str] = mapped_column(Text, default="[]")
    """JSON list of the node names that must acknowledge it (the deployment's node cameras)."""
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the bus last confirmed it holds the message (NATS: the stream's ack)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    """When the last node acknowledged it (or at once, for a deployment with no node)."""


class ControlAckRow(Base):
    """One node's acknowledgement of one control message."""

    __tablename__ = "control_ack"
    __table_args__ = (UniqueConstraint("outbox_id", "node"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[str] = mapped_column(ForeignKey("control_outbox.id"), index=True)
    node: Mapped[str] = mapped_column(String(64))
    acked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NodeStatusRow(Base):
    """What a node last reported of itself (counts and names only, never a face)."""

    __tablename__ = "node_status"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    deployment_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))
    version: Mapped[str] = mapped_column(String(40))
    cameras: Mapped[str] = mapped_column(Text, default="[]")
    outbox_depth: Mapped[int | None] = mapped_column(Integer)
    """Alerts waiting on the node's disk (None: the node keeps none on disk)."""
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """The node's own clock when it sent the report."""
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    """The service's clock when the report arrived: what "unreachable since" counts from."""


class EnrolledNodeRow(Base):
    """A node an administrator enrolled: its name and public keys (`lfr.bus.identity`).
    A revoked node keeps its row (the record of what it was), and gets nothing more; one
    not yet approved by a second administrator gets nothing yet."""

    __tablename__ = "enrolled_node"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(200))
    enrolled_by: Mapped[str] = mapped_column(String(200))
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[str | None] = mapped_column(String(64))
    """Who asked for the enrolment (their account id): never its approver."""
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """None while a second administrator has not approved it: until then the node is
    trusted with nothing (two-person rule; the console's enrolments are approved at once)."""
