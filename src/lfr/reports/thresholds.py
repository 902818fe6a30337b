"""Threshold governance and the forecast shown while deciding (EQ-1, AUTH-2).

The lock: an authority's alert threshold may not go below the lowest threshold at which
the model's stored equitability evaluation found no significant false-match differential
between groups, unless the authorising officer records a justification. This module
computes the floor; the decision service (`services.authorisations.decide_application`)
applies it through `services.thresholds.enforce_threshold_floor` before it writes
anything, so a refusal leaves no trace and an accepted justification is stored and
audited in the decision's own transaction.

- An authority that sets no threshold runs at the engine's configured threshold, by
  default its describer's evaluated default (`vision.thresholds`: dlib's
  `DEFAULT_ALERT_THRESHOLD`, or the fused model's); that is the threshold checked.
- No stored evaluation of the model: the equitability figures shipped with it (measured
  on lfw-dev with LFW's sex labels, `ShippedEquitability`) set the floor and show the
  differential at the typed threshold, so a fresh install is locked too. A justification
  recorded against them stores them as an evaluation in the same transaction, so that
  the record says which figures required it. No figures at all (a model without
  shipped ones): nothing to enforce, and the forecast says so.
- An evaluation with a differential at every threshold it scanned: every threshold needs
  a justification.

Units: thresholds are calibrated scores (`lfr.vision.calibration`): the raw cosine
similarity of the model with the same evaluated false-match rate, whichever decision rule
the cameras run. A threshold stored before calibration (a raw cosine) therefore keeps its
meaning unchanged, and the equitability grid, the floor and the forecast read the same
unit. Each threshold is also shown as the false-match rate of one comparison ("1 in N").

Without a stored evaluation (a fresh install) the forecast reads the calibration the
engine uses: the one shipped with the model (figures measured on lfw-dev: the FMR of a
comparison at the threshold and the FNMR of the engine's default rule, raw cosine, there),
or the force's own file when `engine.calibration_path` names one; a force's stored
evaluation replaces either.

Trade-off of the floor: a lower threshold finds more listed people (fewer misses) but
raises more false alerts, and below the floor the false alerts fall unevenly on groups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from lfr.domain.refusal import Refusal
from lfr.reports.evaluations import (
    ShippedEquitability,
    latest_evaluation,
    overall_rates_at,
    rates_at,
    shipped_equitability,
)
from lfr.reports.forecast import AlertForecast, forecast_alerts
from lfr.reports.recognition import (
    CalibrationInUse,
    calibration_for,
    resolved_threshold,
)
from lfr.vision.calibration import ModelCalibration
from lfr.vision.decision import rule_in_effect
from lfr.vision.engine_config import EngineConfig
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD


@dataclass(frozen=True, slots=True)
class ThresholdFloor:
    evaluation_id: str | None
    """The stored evaluation behind the floor; None for the shipped figures."""
    model_version: str
    equitable_threshold: float | None
    """None: a differential remained at every evaluated threshold."""
    shipped: ShippedEquitability | None = None
    """The shipped figures behind the floor, when no evaluation is stored."""

    def allows(self, threshold: float) -> bool:
        return self.equitable_threshold is not None and threshold >= self.equitable_threshold


@dataclass(frozen=True, slots=True)
class EvaluatedModel:
    """The model the cameras run, as the settings given to `lfr.system.build` name it
    (`evaluated_model_version`, `engine.calibration_path`): the version whose stored or
    shipped equitability evaluation sets the floor, and the force's own calibration file
    when it has one. Passed in by the caller (`WebContext.evaluated_model`), never read
    here from the process's settings, so every page speaks of the model it was built for."""

    version: str
    calibration_path: Path | None = None
    engine_threshold: float = DEFAULT_ALERT_THRESHOLD
    """The engine's configured threshold (`engine.alert_threshold`): what an authority
    that sets none runs at (`lfr.reports.recognition.resolved_threshold`)."""


def calibration_in_use(model: EvaluatedModel) -> CalibrationInUse | None:
    """The calibration the engine maps its scores with, so pages and engine agree: the
    force's own file (`engine.calibration_path`, from `lfr evaluate identification
    --calibration-out`) when it calibrates this model, else the one shipped with it
    (`lfr.reports.recognition.calibration_for`)."""
    return calibration_for(model.calibration_path, model.version)


def score_false_match_rate(score: float, model: EvaluatedModel) -> float | None:
    """How rarely a stranger's face scores this high against one watchlist subject: the
    evaluated FMR of a calibrated score (`calibration_in_use`, as the forecast); None
    without a calibration. Every decision rule's scores are on this scale
    (lfr.vision.calibration), so the figure means the same whichever rule runs."""
    in_use = calibration_in_use(model)
    return in_use.calibration.false_match_rate(score) if in_use is not None else None


def threshold_floor(session: Session, version: str) -> ThresholdFloor | None:
    evaluation = latest_evaluation(session, version)
    if evaluation is not None:
        return ThresholdFloor(evaluation.id, version, evaluation.lowest_equitable_threshold)
    shipped = shipped_equitability(version)
    if shipped is None:
        return None
    return ThresholdFloor(None, version, shipped.lowest_equitable_threshold, shipped)


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
    false_match_rate: float | None = None
    """The calibrated false-match rate of one comparison at `threshold`."""
    source: str | None = None
    """Where the rates come from: "evaluation" (stored), `SHIPPED_CALIBRATION` or
    `FORCE_CALIBRATION`."""
    groups: Mapping[str, Any] | None = None
    """Each group's rates at `groups_threshold`: the stored evaluation's, else the shipped
    figures' (None without either)."""
    groups_threshold: float | None = None
    """The evaluated threshold of `groups` (at or just below `threshold`)."""

    @property
    def below_floor(self) -> bool:
        return self.floor is not None and not self.floor.allows(self.threshold)


def decision_forecast(
    session: Session,
    threshold: float | None,
    watchlist_size: int,
    model: EvaluatedModel,
) -> DecisionForecast:
    """False alerts per 10,000 faces and the expected true identification rate for this
    watchlist size and threshold, from the stored evaluation's FMR and FNMR."""
    if watchlist_size < 1:
        raise Refusal("EQ-1", "the watchlist holds at least one person", "watchlist_size")
    chosen = resolved_threshold(threshold, model.engine_threshold)
    floor = threshold_floor(session, model.version)
    calibration = calibration_in_use(model)
    shown_fmr = score_false_match_rate(chosen, model)
    evaluation = latest_evaluation(session, floor.model_version) if floor else None
    if evaluation is None:
        return _calibrated_forecast(chosen, watchlist_size, calibration, floor)
    rates = overall_rates_at(evaluation, chosen)
    forecast = (
        forecast_alerts(
            fmr=rates.fmr, fnmr=rates.fnmr, watchlist_size=watchlist_size, threshold=chosen
        )
        if rates is not None
        else None
    )
    return DecisionForecast(
        chosen,
        watchlist_size,
        floor,
        forecast,
        rates.threshold if rates else None,
        shown_fmr,
        "evaluation",
        rates.groups if rates else None,
        rates.threshold if rates else None,
    )


def default_rule(watchlist_size: int, calibration: ModelCalibration) -> str:
    """The calibration rule the engine runs by default on a watchlist of this size with
    this calibration (`lfr.vision.decision.rule_in_effect`): its FNMR is the forecast's."""
    return rule_in_effect(EngineConfig().decision_rule(), watchlist_size, calibration)


def _calibrated_forecast(
    threshold: float,
    watchlist_size: int,
    in_use: CalibrationInUse | None,
    floor: ThresholdFloor | None,
) -> DecisionForecast:
    """The forecast from the calibration in use, with the shipped equitability figures'
    differential at the threshold (no stored evaluation)."""
    shipped = floor.shipped if floor is not None else None
    at = rates_at(shipped.report, threshold) if shipped is not None else None
    groups, groups_threshold = (at.groups, at.threshold) if at is not None else (None, None)
    if in_use is None:
        return DecisionForecast(
            threshold, watchlist_size, floor, None, None, None, None, groups, groups_threshold
        )
    calibration = in_use.calibration
    fmr = calibration.false_match_rate(threshold)
    fnmr = calibration.false_non_match_rate(default_rule(watchlist_size, calibration), threshold)
    forecast = (
        forecast_alerts(fmr=fmr, fnmr=fnmr, watchlist_size=watchlist_size, threshold=threshold)
        if fnmr is not None
        else None
    )
    return DecisionForecast(
        threshold,
        watchlist_size,
        floor,
        forecast,
        threshold,
        fmr,
        in_use.source,
        groups,
        groups_threshold,
    )
