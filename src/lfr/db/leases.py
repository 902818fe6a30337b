"""Leases: which instance of `lfr serve` holds what, until when (REC-1, DEP-2).

Several instances may serve one PostgreSQL database. A camera of a running deployment is
run by the instance holding its lease, and one instance holds the leader's lease (the
jobs that must run once: ending deployments out of force, messages to nodes, retention,
checkpoints). A lease is a row that its holder renews; one not renewed by `expires_at`
has lapsed and any instance may take it (`lfr.runtime.leases`). Mechanics, not record:
nothing here is audited, and a row says nothing about a person. The lease names and the
query of who holds what live here, below the services that read them (a halt owed to
every instance running a deployment, `lfr.services.fleet`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from lfr.db.base import Base, UTCDateTime, utcnow

INSTANCE_PREFIX = "instance:"
"""How an instance is named among those that must acknowledge a halt (beside nodes)."""


def camera_lease(deployment_id: str, camera: str) -> str:
    return f"camera:{deployment_id}:{camera}"


class LeaseRow(Base):
    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    """`leader`, or `camera:<deployment id>:<camera>`."""
    holder: Mapped[str] = mapped_column(String(64), index=True)
    """The holding instance (`lfr.runtime.leases.instance_name`)."""
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """By the database's clock: lapsed once past, unless renewed."""


def database_now(session: Session) -> datetime:
    """The database's clock (PostgreSQL), or this machine's (SQLite: one instance)."""
    if session.get_bind().dialect.name == "postgresql":
        now: datetime = session.execute(select(func.now())).scalar_one()
        return now
    return utcnow()


def live_holders(session: Session, prefix: str) -> set[str]:
    """The instances holding unlapsed leases whose names start with `prefix`."""
    now = database_now(session)
    rows = session.scalars(
        select(LeaseRow.holder).where(LeaseRow.name.startswith(prefix), LeaseRow.expires_at > now)
    )
    return set(rows)
