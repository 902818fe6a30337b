"""Loading one row by id, and the time an action happens: shared by the services (which
change and audit rows) and the reports (which compute from them)."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.db.base import Base, utcnow
from lfr.domain.refusal import NotFound

RowT = TypeVar("RowT", bound=Base)


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
