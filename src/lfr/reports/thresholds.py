"""Threshold governance and the forecast shown while deciding (EQ-1, AUTH-2).

The lock: an authority's alert threshold may not go below the lowest threshold at which
the model's stored equitability evaluation found no significant false-match differential
between groups, unless the authorising officer records a justification. The decision
service (`services.authorisations.decide_application`) calls `enforce_threshold_floor`
before it writes anything, so a refusal leaves no trace and an accepted justification is
stored and audited in the decision's own transaction.

- An authority that sets no threshold runs at the shipped default
  (`vision.thresholds.DEFAULT_ALERT_THRESHOLD`); that is the threshold checked.
- No stored evaluation of the model: nothing to enforce (and the forecast says so). The
  lock cannot be stricter than the evidence; the equitability page shows the gap.
- An evaluation with a differential at every threshold it scanned: every threshold needs
  a justification.

Trade-off of the floor: a lower threshold finds more listed people (fewer misses) but
raises more false alerts, and below the floor the false alerts fall unevenly on groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from lfr.audit import record
from lfr.db.reports import ThresholdJustificationRow
from lfr.db.rows import moment
from lfr.domain.people import Actor
from lfr.domain.refusal import Refusal
from lfr.domain.rules import blank
from lfr.reports.evaluations import latest_evaluation, overall_rates_at
from lfr.reports.forecast import AlertForecast, forecast_alerts
from lfr.settings import get_settings
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD


@dataclass(frozen=True, slots=True)
class ThresholdFloor:
    evaluation_id: str
    model_version: str
    equitable_threshold: float | None
    """None: a differential remained at every evaluated threshold."""

    def allows(self, threshold: float) -> bool:
        return self.equitable_threshold is not None and threshold >= self.equitable_threshold


def effective_threshold(threshold: float | None) -> float:
    """The threshold a deployment runs at: the authority's, else the shipped default."""
    return DEFAULT_ALERT_THRESHOLD if threshold is None else threshold


def current_model_version() -> str:
    return get_settings().evaluated_model_version


def threshold_floor(session: Session, model_version: str | None = None) -> ThresholdFloor | None:
    version = model_version or current_model_version()
    evaluation = latest_evaluation(session, version)
    if evaluation is None:
        return None
    return ThresholdFloor(evaluation.id, version, evaluation.lowest_equitable_threshold)


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
    equitable = floor.equitable_threshold
    if blank(justification):
        below = (
            f"below the equitable threshold {equitable:.2f}"
            if equitable is not None
            else "in a range where a differential remains at every evaluated threshold"
        )
        raise Refusal(
            "EQ-1",
            f"alert threshold {chosen:.2f} is {below} of {floor.model_version}: "
            "record a justification to go lower",
            "alert_threshold",
        )
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


@dataclass(frozen=True, slots=True)
class DecisionForecast:
    """What the authorising officer sees while deciding (AUTH-2, EQ-1)."""

    threshold: float
    watchlist_size: int
    floor: ThresholdFloor | None
    forecast: AlertForecast | None
    """None without an evaluation, or when the threshold is below the evaluated range."""
    rates_threshold: float | None
    """The evaluated threshold whose rates were used (at or just below `threshold`)."""

    @property
    def below_floor(self) -> bool:
        return self.floor is not None and not self.floor.allows(self.threshold)


def decision_forecast(
    session: Session,
    threshold: float | None,
    watchlist_size: int,
    model_version: str | None = None,
) -> DecisionForecast:
    """False alerts per 10,000 faces and the expected true identification rate for this
    watchlist size and threshold, from the stored evaluation's FMR and FNMR."""
    if watchlist_size < 1:
        raise Refusal("EQ-1", "the watchlist holds at least one person", "watchlist_size")
    chosen = effective_threshold(threshold)
    floor = threshold_floor(session, model_version)
    evaluation = latest_evaluation(session, floor.model_version) if floor else None
    rates = overall_rates_at(evaluation, chosen) if evaluation is not None else None
    forecast = (
        forecast_alerts(
            fmr=rates.fmr, fnmr=rates.fnmr, watchlist_size=watchlist_size, threshold=chosen
        )
        if rates is not None
        else None
    )
    return DecisionForecast(
        chosen, watchlist_size, floor, forecast, rates.threshold if rates else None
    )
