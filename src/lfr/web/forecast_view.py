"""The forecast as the authorising officer weighs it (AUTH-2, EQ-1): not rates per 10,000
faces but "about N false alerts and M true alerts for this deployment", from the expected
footfall, the deployment's length and the typed threshold and watchlist size.

The rates come from one call, `lfr.reports.thresholds.decision_forecast` (the force's stored
evaluation of the model, or the figures that ship with it where the force has none): this
module only multiplies them out for the deployment in front of the officer."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from lfr.reports import thresholds
from lfr.reports.recognition import stranger_phrase as stranger_phrase


@dataclass(frozen=True, slots=True)
class DeploymentOutlook:
    """What one deployment may expect at a threshold and watchlist size."""

    forecast: thresholds.DecisionForecast
    footfall_per_hour: int
    hours: float
    watchlisted_passing: int | None

    @property
    def faces(self) -> int:
        return round(self.footfall_per_hour * self.hours)

    @property
    def false_alerts(self) -> float | None:
        """Expected false alerts over the deployment: each face not on the watchlist
        raises one with the false-positive identification rate."""
        result = self.forecast.forecast
        if result is None:
            return None
        return self.faces * result.false_positive_identification_rate

    @property
    def true_alerts(self) -> float | None:
        """Expected true alerts: each watchlisted person who passes is found with the true
        identification rate (None when the officer gave no such number)."""
        result = self.forecast.forecast
        if result is None or self.watchlisted_passing is None:
            return None
        return self.watchlisted_passing * result.true_identification_rate


def deployment_outlook(
    session: Session,
    threshold: float | None,
    watchlist_size: int,
    model: thresholds.EvaluatedModel,
    *,
    footfall_per_hour: int,
    hours: float,
    watchlisted_passing: int | None,
) -> DeploymentOutlook:
    forecast = thresholds.decision_forecast(session, threshold, watchlist_size, model)
    return DeploymentOutlook(forecast, footfall_per_hour, hours, watchlisted_passing)


def about(count: float) -> str:
    """A count in words an officer can weigh: "fewer than 1", "about 3", "about 1,200"."""
    if count < 0.5:
        return "fewer than 1"
    if count < 10:
        return f"about {count:.0f}"
    digits = len(str(int(count))) - 2
    rounded = round(count, -digits) if digits > 0 else round(count)
    return f"about {int(rounded):,}"


def alerts_phrase(count: float, kind: str) -> str:
    """``about 31 false alerts``, ``about 1 false alert``, ``fewer than 1 false alert``."""
    words = about(count)
    one = words in ("fewer than 1", "about 1")
    return f"{words} {kind} alert{'' if one else 's'}"
