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
from lfr.reports.recognition import resolved_threshold
from lfr.reports.thresholds import ThresholdFloor, threshold_floor
from lfr.services._rows import moment
from lfr.services.evaluations import store_evaluation


def _below_floor(floor: ThresholdFloor, chosen: float) -> Refusal:
    equitable = floor.equitable_threshold
    below = (
        f"below the equitable threshold {equitable:g}"
        if equitable is not None
        else "in a range where a differential remains at every evaluated threshold"
    )
    source = " (the figures shipped with the model)" if floor.shipped is not None else ""
    return Refusal(
        "EQ-1",
        f"alert threshold {chosen:g} is {below} of {floor.model_version}{source}: "
        "record a justification to go lower",
        "alert_threshold",
    )


def _evaluation_id(session: Session, actor: Actor, floor: ThresholdFloor) -> str:
    """The stored evaluation behind the floor. Shipped figures are stored first (audited,
    same transaction), so that the justification names what required it even after an
    upgrade ships other figures."""
    if floor.evaluation_id is not None:
        return floor.evaluation_id
    shipped = floor.shipped
    assert shipped is not None  # a floor has one or the other
    stored = store_evaluation(
        session,
        actor,
        model_version=shipped.model_version,
        dataset=shipped.dataset,
        labels_sha256=shipped.labels_sha256,
        report=shipped.report,
        charts={},
    )
    return stored.id


def enforce_threshold_floor(
    session: Session,
    actor: Actor,
    application_id: str,
    threshold: float | None,
    justification: str | None,
    *,
    model_version: str,
    engine_threshold: float,
    now: datetime | None = None,
) -> ThresholdJustificationRow | None:
    """Refuse a threshold below the equitable floor without a justification; with one,
    record it (row and audit entry) and return it. None when no justification was needed.
    No threshold condition: the engine's configured one (`engine_threshold`) is checked,
    the threshold a deployment of the authority would run at."""
    floor = threshold_floor(session, model_version)
    chosen = resolved_threshold(threshold, engine_threshold)
    if floor is None or floor.allows(chosen):
        return None
    if blank(justification):
        raise _below_floor(floor, chosen)
    equitable = floor.equitable_threshold
    evaluation_id = _evaluation_id(session, actor, floor)
    row = ThresholdJustificationRow(
        application_id=application_id,
        evaluation_id=evaluation_id,
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
            "evaluation_id": evaluation_id,
            "model_version": floor.model_version,
        },
        reason=row.justification,
    )
    return row
