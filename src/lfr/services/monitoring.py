"""Outcome monitoring's one record (EQ-2): the group the engaging officer perceived,
written once and audited (AUD-1). `lfr.reports.monitoring` computes the monitoring from
the reviews' figures, which count these records per group."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from lfr.db.governance import AlertRow
from lfr.db.reports import AlertPerceivedGroupRow
from lfr.domain.alerts import AlertState
from lfr.domain.people import Actor, Role
from lfr.domain.refusal import Refusal
from lfr.reports.monitoring import PerceivedGroup
from lfr.services._rows import audited, locked, moment


def record_perceived_group(
    session: Session,
    actor: Actor,
    alert_id: str,
    group: PerceivedGroup,
    *,
    now: datetime | None = None,
) -> AlertPerceivedGroupRow:
    """The engaging officer records the group they perceived (EQ-2), once; audited."""
    alert = locked(session, AlertRow, alert_id, "alert")
    if not actor.has(Role.ENGAGEMENT_OFFICER) or alert.decided_by != actor.user_id:
        raise Refusal("EQ-2", "the officer who engaged records it", "actor")
    if alert.state not in (AlertState.ENGAGED, AlertState.CONCLUDED):
        raise Refusal("EQ-2", f"the alert is {alert.state.value}, not engaged", "state")
    if session.get(AlertPerceivedGroupRow, alert_id) is not None:
        raise Refusal("EQ-2", "already recorded", "perceived_group")
    row = AlertPerceivedGroupRow(
        alert_id=alert_id,
        perceived_group=group.value,
        recorded_by=actor.user_id,
        recorded_at=moment(now),
    )
    session.add(row)
    session.flush()
    audited(
        session,
        actor,
        alert,
        "alert.perceived_group",
        "perceived group recorded for outcome monitoring",
        after={"perceived_group": group.value},
    )
    return row
