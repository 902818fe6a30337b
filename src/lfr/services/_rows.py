"""What every governance change does with its rows: load them (locked, or a `NotFound`
that names what was missing: `lfr.db.rows`), take the time, and audit the change (AUD-1)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Executable
from sqlalchemy.orm import Session

from lfr.audit import record
from lfr.db.governance import AlertRow, ApplicationRow, AuthorityRow, DeploymentRow, WatchlistRow
from lfr.db.rows import found, locked, moment
from lfr.domain.people import Actor

__all__ = ["AuditedRow", "audited", "changed_rows", "found", "locked", "moment"]
AuditedRow = ApplicationRow | AuthorityRow | WatchlistRow | DeploymentRow | AlertRow
"""The objects the governance log speaks of; each entry names the row's table as its type."""


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
