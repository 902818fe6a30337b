"""Forecast of false alerts for a watchlist size and threshold (AUTH-2 decision support)."""

import pytest

from lfr.reports.forecast import false_positive_identification_rate, forecast_alerts


@pytest.mark.parametrize(
    ("fmr", "size", "expected"),
    [
        (0.0, 1000, 0.0),
        (1.0, 1, 1.0),
        (0.1, 1, 0.1),
        (0.1, 2, 0.19),  # 1 - 0.9^2
        (0.5, 3, 0.875),  # 1 - 0.5^3
        (1e-4, 0, 0.0),
        (1e-6, 1000, 1 - (1 - 1e-6) ** 1000),
    ],
)
def test_fpir_follows_one_minus_one_minus_fmr_to_the_n(
    fmr: float, size: int, expected: float
) -> None:
    assert false_positive_identification_rate(fmr, size) == pytest.approx(expected, rel=1e-9)


def test_forecast_scales_to_ten_thousand_faces_and_reads_tir_from_fnmr() -> None:
    forecast = forecast_alerts(fmr=0.001, fnmr=0.2, watchlist_size=10, threshold=0.8)
    assert forecast.false_positive_identification_rate == pytest.approx(1 - 0.999**10)
    assert forecast.false_alerts_per_10k_faces == pytest.approx(10_000 * (1 - 0.999**10))
    assert forecast.true_identification_rate == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("fmr", "fnmr", "size", "named"),
    [
        (-0.1, 0.1, 5, "fmr must"),
        (1.5, 0.1, 5, "fmr must"),
        (0.1, 2.0, 5, "fnmr must"),
        (0.1, 0.1, -1, "watchlist_size must"),
    ],
)
def test_forecast_refuses_impossible_inputs_naming_them(
    fmr: float, fnmr: float, size: int, named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        forecast_alerts(fmr=fmr, fnmr=fnmr, watchlist_size=size, threshold=0.5)
