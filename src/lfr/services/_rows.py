"""What every governance change does with its rows: load them (locked, or a `NotFound`
that names what was missing), take the time, and audit the change (AUD-1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Executable, select
from sqlalchemy.orm import Session

from lfr.audit import record
from lfr.db.base import Base, utcnow
from lfr.db.governance import AlertRow, ApplicationRow, AuthorityRow, DeploymentRow, WatchlistRow
from lfr.domain.people import Actor
from lfr.domain.refusal import NotFound

RowT = TypeVar("RowT", bound=Base)
AuditedRow = ApplicationRow | AuthorityRow | WatchlistRow | DeploymentRow | AlertRow
"""The objects the governance log speaks of; each entry names the row's table as its type."""


def locked(session: Session, model: type[RowT], row_id: str, name: str) -> RowT:
    """The row, locked for this transaction (``FOR UPDATE`` on PostgreSQL; SQLite's
    ``BEGIN IMMEDIATE`` already serialises writers), so a status read here cannot change
    before this transaction writes it."""
    key = model.__mapper__.primary_key[0]
    statement = (
        select(model)
        .where(key == row_id)
        .with_for_update(of=model)
        .execution_options(populate_existing=True)
    )
    row = session.scalars(statement).one_or_none()
    if row is None:
        raise NotFound(name, row_id)
    return row


def found(session: Session, model: type[RowT], row_id: str, name: str) -> RowT:
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(name, row_id)
    return row


def moment(now: datetime | None) -> datetime:
    """The time an action happens: now, unless scheduled work or a test says otherwise."""
    return now if now is not None else utcnow()


def changed_rows(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE and return how many rows it changed."""
    result = cast(CursorResult[Any], session.execute(statement))
    return result.rowcount


def audited(
    session: Session,
    actor: Actor,
    row: AuditedRow,
    action: str,
    summary: str,
    *,
    before: object = None,
    after: object = None,
    reason: str | None = None,
) -> None:
    """Write the audit entry for a change to `row` in the caller's transaction (AUD-1), so
    the entry and the change commit or roll back together."""
    record(
        session,
        actor=actor,
        action=action,
        object_type=row.__tablename__,
        object_id=row.id,
        summary=summary,
        before=before,
        after=after,
        reason=reason,
    )
