"""Engine, transactions and column types on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from lfr.audit import AuditEntry, AuditHead
from lfr.db.session import SessionFactory, reading, transaction

pytestmark = pytest.mark.db


def _entry(sequence: int, time: datetime) -> AuditEntry:
    return AuditEntry(
        sequence=sequence,
        time=time,
        actor_id="a",
        actor_name="n",
        actor_rank="STAFF",
        actor_roles="",
        action="test",
        object_type="t",
        object_id="1",
        summary="s",
        prev_hash="0" * 64,
        hash=f"{sequence:064d}",
    )


def test_times_come_back_aware_in_utc_to_the_microsecond(session_factory: SessionFactory) -> None:
    paris = timezone(timedelta(hours=1))
    written = datetime(2026, 1, 23, 11, 30, 5, 123456, tzinfo=paris)
    with transaction(session_factory) as session:
        session.add(_entry(900, written))
    with reading(session_factory) as session:
        read = session.scalars(select(AuditEntry.time).where(AuditEntry.sequence == 900)).one()
    assert read == written
    assert read.tzinfo == UTC


def test_a_naive_time_is_refused(session_factory: SessionFactory) -> None:
    with (
        pytest.raises(StatementError, match="naive datetime"),
        transaction(session_factory) as session,
    ):
        session.add(_entry(901, datetime(2026, 1, 23, 12, 0)))


def test_a_reader_is_not_blocked_by_an_open_writer(session_factory: SessionFactory) -> None:
    """SQLite WAL + BEGIN IMMEDIATE: writers serialise, readers carry on."""
    with transaction(session_factory) as writer:
        head = writer.get(AuditHead, 1)
        assert head is not None
        head.sequence = 0  # unchanged value, but the write lock is held from BEGIN
        writer.flush()
        with reading(session_factory) as reader:
            assert reader.get(AuditHead, 1) is not None
