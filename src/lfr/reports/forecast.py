"""What an authorising officer should expect before approving (new; feeds AUTH-2 decisions).

A watchlist of N people is searched for every face that passes. If the evaluated false
match rate of one comparison at the threshold is FMR, a stranger raises a false alert when
any of the N comparisons matches: FPIR = 1 − (1 − FMR)^N (assuming independent
comparisons, which slightly overstates the rate for real galleries — a cautious forecast).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FACES_PER_FORECAST = 10_000


@dataclass(frozen=True, slots=True)
class AlertForecast:
    watchlist_size: int
    threshold: float
    false_positive_identification_rate: float
    false_alerts_per_10k_faces: float
    true_identification_rate: float


def false_positive_identification_rate(fmr: float, watchlist_size: int) -> float:
    """Chance that a person not on the watchlist raises an alert: 1 − (1 − FMR)^N."""
    _check_rate("fmr", fmr)
    if watchlist_size < 0:
        raise ValueError(f"watchlist_size must be ≥ 0, got {watchlist_size}")
    # log1p keeps precision for the tiny FMRs of a good model (1e-6 and below).
    if fmr == 1.0:
        return 1.0 if watchlist_size > 0 else 0.0
    return -math.expm1(watchlist_size * math.log1p(-fmr))


def forecast_alerts(
    *, fmr: float, fnmr: float, watchlist_size: int, threshold: float
) -> AlertForecast:
    """Forecast from an evaluation's FMR and FNMR at `threshold` for a watchlist of N.

    The expected true identification rate of a listed person who passes is 1 − FNMR: the
    chance their face scores at or above the threshold against their own template.
    """
    _check_rate("fnmr", fnmr)
    fpir = false_positive_identification_rate(fmr, watchlist_size)
    return AlertForecast(
        watchlist_size=watchlist_size,
        threshold=threshold,
        false_positive_identification_rate=fpir,
        false_alerts_per_10k_faces=FACES_PER_FORECAST * fpir,
        true_identification_rate=1.0 - fnmr,
    )


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")
