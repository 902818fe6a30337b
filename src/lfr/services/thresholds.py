"""The threshold lock (EQ-1), as the decision service applies it: a threshold below the
equitable floor is refused without a justification; with one, the justification is stored
and audited in the decision's own transaction (AUD-1).

The floor and the forecast themselves are computed by `lfr.reports.thresholds`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from lfr.audit import record
from lfr.db.reports import ThresholdJustificationRow
from lfr.domain.people import Actor
from lfr.domain.refusal import Refusal
from lfr.domain.rules import blank
from lfr.reports.thresholds import ThresholdFloor, effective_threshold, threshold_floor
from lfr.services._rows import moment


def _below_floor(floor: ThresholdFloor, chosen: float) -> Refusal:
    equitable = floor.equitable_threshold
    below = (
        f"below the equitable threshold {equitable:.2f}"
        if equitable is not None
        else "in a range where a differential remains at every evaluated threshold"
    )
    return Refusal(
        "EQ-1",
        f"alert threshold {chosen:.2f} is {below} of {floor.model_version}: "
        "record a justification to go lower",
        "alert_threshold",
    )


def enforce_threshold_floor(
    session: Session,
    actor: Actor,
    application_id: str,
    threshold: float | None,
    justification: str | None,
    *,
    model_version: str | None = None,
    now: datetime | None = None,
) -> ThresholdJustificationRow | None:
    """Refuse a threshold below the equitable floor without a justification; with one,
    record it (row and audit entry) and return it. None when no justification was needed."""
    floor = threshold_floor(session, model_version)
    chosen = effective_threshold(threshold)
    if floor is None or floor.allows(chosen):
        return None
    if blank(justification):
        raise _below_floor(floor, chosen)
    equitable = floor.equitable_threshold
    row = ThresholdJustificationRow(
        application_id=application_id,
        evaluation_id=floor.evaluation_id,
        threshold=chosen,
        equitable_threshold=equitable if equitable is not None else 1.0,
        justification=(justification or "").strip(),
        decided_by=actor.user_id,
        decided_at=moment(now),
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor=actor,
        action="application.threshold_below_equitable",
        object_type="application",
        object_id=application_id,
        summary=f"alert threshold {chosen:.2f} below the equitable threshold",
        after={
            "threshold": chosen,
            "equitable_threshold": equitable,
            "evaluation_id": floor.evaluation_id,
            "model_version": floor.model_version,
        },
        reason=row.justification,
    )
    return row
