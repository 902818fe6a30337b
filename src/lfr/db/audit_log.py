"""Audit tables: the entries, the chain head and signed checkpoints (AUD-1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lfr.canonical import format_time
from lfr.db.base import Base, UTCDateTime


class AuditEntry(Base):
    """One recorded decision or action: who, what, when, why — standing alone.

    The actor's name, rank and roles and the object's description are copied as text, so the
    entry reads the same after the account or the object is renamed or deleted. ``before``
    and ``after`` are canonical JSON text: what is hashed is exactly what is stored.
    """

    __tablename__ = "audit_entry"

    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[str] = mapped_column(String(64), index=True)
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_rank: Mapped[str] = mapped_column(String(40))
    actor_roles: Mapped[str] = mapped_column(String(400))
    action: Mapped[str] = mapped_column(String(80), index=True)
    object_type: Mapped[str] = mapped_column(String(80))
    object_id: Mapped[str] = mapped_column(String(80))
    summary: Mapped[str] = mapped_column(Text)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(80))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    mac: Mapped[str | None] = mapped_column(String(64))
    """HMAC-SHA256(chain key, hash): only the key's holder can seal a recomputed entry."""

    def hashed_fields(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "time": format_time(self.time),
            "actor_id": self.actor_id,
            "actor_name": self.actor_name,
            "actor_rank": self.actor_rank,
            "actor_roles": self.actor_roles,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "summary": self.summary,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "request_id": self.request_id,
            "prev_hash": self.prev_hash,
        }


class AuditHead(Base):
    """The single row that holds the chain's last sequence and hash.

    Writers lock this row (``SELECT ... FOR UPDATE``) before appending, so entries are
    numbered one at a time even with many writers on PostgreSQL; on SQLite the
    ``BEGIN IMMEDIATE`` write lock does the same. Comparing it with the last entry also
    reveals entries deleted from the end of the log.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sequence: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed statement "the log had ``sequence`` entries ending in ``head_hash`` at ``time``"."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger, index=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
