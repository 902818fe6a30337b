"""The decision form's forecast multiplied out for one deployment (AUTH-2, EQ-1)."""

from __future__ import annotations

import pytest

from lfr.reports.forecast import forecast_alerts
from lfr.reports.thresholds import DecisionForecast
from lfr.web.forecast_view import DeploymentOutlook, about, alerts_phrase


def outlook(watchlisted: int | None) -> DeploymentOutlook:
    rates = forecast_alerts(fmr=1e-5, fnmr=0.1, watchlist_size=100, threshold=0.95)
    return DeploymentOutlook(DecisionForecast(0.95, 100, None, rates, 0.95), 1000, 8.0, watchlisted)


def test_false_alerts_are_faces_times_the_false_positive_identification_rate() -> None:
    shown = outlook(3)
    assert shown.faces == 8000
    assert shown.false_alerts == pytest.approx(8000 * (1 - (1 - 1e-5) ** 100))
    assert shown.true_alerts == pytest.approx(2.7)


def test_without_watchlisted_passers_no_true_alert_count_is_invented() -> None:
    assert outlook(None).true_alerts is None


def test_without_rates_there_is_no_count() -> None:
    empty = DeploymentOutlook(DecisionForecast(0.95, 100, None, None, None), 1000, 8.0, 3)
    assert empty.false_alerts is None
    assert empty.true_alerts is None


@pytest.mark.parametrize(
    ("count", "words"),
    [(0.2, "fewer than 1"), (3.4, "about 3"), (47, "about 47"), (1234, "about 1,200")],
)
def test_counts_are_said_as_an_officer_weighs_them(count: float, words: str) -> None:
    assert about(count) == words


def test_alert_counts_agree_in_number() -> None:
    assert alerts_phrase(0.2, "false") == "fewer than 1 false alert"
    assert alerts_phrase(1.2, "expected true") == "about 1 expected true alert"
    assert alerts_phrase(31, "false") == "about 31 false alerts"
