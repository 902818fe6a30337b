"""Retention status (DP-1, DP-3, WL-6): the published periods, and what is due now."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from lfr.db.base import utcnow
from lfr.db.governance import AlertRow
from lfr.db.session import reading
from lfr.domain.people import Role
from lfr.services import retention
from lfr.web.access import Admit
from lfr.web.deps import Context
from lfr.web.rendering import render

READERS = Admit(Role.REVIEWER, Role.OVERSIGHT, Role.ADMINISTRATOR)
pages = APIRouter(include_in_schema=False, dependencies=[Depends(READERS)])


@pages.get("/retention")
def retention_page(request: Request, context: Context) -> Response:
    policy = context.policy
    now = utcnow()
    with reading(context.db) as db:
        alerts_kept = db.scalar(select(func.count(AlertRow.id))) or 0
        held = db.scalar(select(func.count(AlertRow.id)).where(AlertRow.hold_by.is_not(None))) or 0
        due_alerts = len(retention.due_alerts(db, now, policy))
        due_watchlists = len(retention.due_watchlists(db, now, policy))
    return render(
        request,
        "retention/index.html",
        {
            "rules": policy.retention.table(),
            "alerts_kept": alerts_kept,
            "held": held,
            "due_alerts": due_alerts,
            "due_watchlists": due_watchlists,
            "title": "Retention",
        },
    )
