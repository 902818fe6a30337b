"""Hear about commits that change what should run: deployments, authorities, applications.

The reconciler is woken by them (`lfr.runtime.reconciler`): a halt, a veto or a start is
acted on as soon as it is committed, by whichever door it came through (page, API,
command), without the door having to tell anybody.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from lfr.db.fleet import ControlOutboxRow
from lfr.db.governance import ApplicationRow, AuthorityRow, DeploymentRow
from lfr.db.session import SessionFactory

WATCHED = (DeploymentRow, AuthorityRow, ApplicationRow, ControlOutboxRow)
_FLAG = "lfr.changes.watched"


def on_watched_commit(factory: SessionFactory, listener: Callable[[], None]) -> None:
    """Call `listener` after every commit of a session of `factory` that wrote a row of
    the watched tables (after the commit: the listener reads what was committed)."""

    def after_flush(session: Session, _context: Any) -> None:
        written = (*session.new, *session.dirty, *session.deleted)
        if any(isinstance(row, WATCHED) for row in written):
            session.info[_FLAG] = True

    def after_commit(session: Session) -> None:
        if session.info.pop(_FLAG, False):
            listener()

    def after_rollback(session: Session) -> None:
        session.info.pop(_FLAG, None)

    event.listen(factory, "after_flush", after_flush)
    event.listen(factory, "after_commit", after_commit)
    event.listen(factory, "after_soft_rollback", lambda s, _t: after_rollback(s))
