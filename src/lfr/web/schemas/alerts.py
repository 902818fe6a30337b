"""Alerts and their adjudication (ADJ-*)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from pydantic import Field

from lfr.db.governance import (
    AlertRow,
)
from lfr.domain.alerts import Action, AlertState, Identity
from lfr.services.alerts import outcome_of
from lfr.vision.types import ListKind
from lfr.web.schemas.base import Schema


class AlertOut(Schema):
    """An alert without any image (fetch the probe separately, by role: DP-2)."""

    id: str
    deployment_id: str
    camera: str
    state: AlertState
    list_kind: ListKind
    is_test: bool
    score: float = Field(description="calibrated similarity (the same scale whichever rule ran)")
    threshold: float
    score_false_match_rate: float | None = Field(
        description=(
            "how rarely a stranger's face scores this high against one subject: the "
            "evaluated false-match rate of `score`, read when the alert was stored with the "
            "deployment's calibration (None: no calibration recorded)"
        )
    )
    calibration_sha256: str | None = Field(
        description="SHA-256 of the calibration file that gave `score_false_match_rate`."
    )
    observations: int
    captured_at: datetime
    created_at: datetime
    subject_id: str
    factors: dict[str, Any]
    claimed_by: str | None
    referred_by: str | None
    decided_by: str | None
    decision_reason: str | None
    outcome_identity: Identity | None
    outcome_actions: list[Action]
    outcome_notes: str | None
    hold_review_on: date | None
    hold_reason: str | None


class OutcomeIn(Schema):
    identity: Identity
    actions: list[Action] = Field(default_factory=list)
    notes: str = Field("", max_length=4000)


class HoldIn(Schema):
    reason: str = Field(max_length=4000)
    review_on: date = Field(description="When the hold is reviewed (DP-3).")


def alert_out(row: AlertRow) -> AlertOut:
    outcome = outcome_of(row)
    return AlertOut(
        id=row.id,
        deployment_id=row.deployment_id,
        camera=row.camera,
        state=row.state,
        list_kind=row.list_kind,
        is_test=row.is_test,
        score=row.score,
        threshold=row.threshold,
        score_false_match_rate=row.false_match_rate,
        calibration_sha256=row.calibration_sha256,
        observations=row.observations,
        captured_at=row.captured_at,
        created_at=row.created_at,
        subject_id=row.subject_id,
        factors=json.loads(row.factors),
        claimed_by=row.claimed_by,
        referred_by=row.referred_by,
        decided_by=row.decided_by,
        decision_reason=row.decision_reason,
        outcome_identity=outcome.identity if outcome else None,
        outcome_actions=sorted(outcome.actions) if outcome else [],
        outcome_notes=outcome.notes or None if outcome else None,
        hold_review_on=row.hold_review_on,
        hold_reason=row.hold_reason,
    )
