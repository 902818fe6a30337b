"""Leases: which instance of `lfr serve` holds what, until when (REC-1, DEP-2).

Several instances may serve one PostgreSQL database. A camera of a running deployment is
run by the instance holding its lease, and one instance holds the leader's lease (the
jobs that must run once: ending deployments out of force, messages to nodes, retention,
checkpoints). A lease is a row that its holder renews; one not renewed by `expires_at`
has lapsed and any instance may take it (`lfr.runtime.leases`). Mechanics, not record:
nothing here is audited, and a row says nothing about a person.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from lfr.db.base import Base, UTCDateTime


class LeaseRow(Base):
    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    """`leader`, or `camera:<deployment id>:<camera>`."""
    holder: Mapped[str] = mapped_column(String(64), index=True)
    """The holding instance (`lfr.runtime.leases.instance_name`)."""
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """By the database's clock: lapsed once past, unless renewed."""
