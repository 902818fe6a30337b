"""Equitability maths on hand-made score sets with known answers (EQ-1)."""

import numpy as np
import pytest

from lfr.evaluation.rates import make_rate, max_min_ratio, rate_ratio, wilson_interval
from lfr.reports.equitability import (
    MATERIAL_RATIO,
    GroupScores,
    differential_test,
    equitability_report,
    group_rates_at,
    holm_adjust,
    two_proportion_p_value,
)


def test_wilson_interval_matches_published_values() -> None:
    # 0 errors in 10: the textbook upper bound is 0.2775; 5 in 10: 0.2366–0.7634.
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.23659, 0.76341), abs=1e-4)


def test_two_proportion_test_matches_hand_computation() -> None:
    # pooled 0.15, se = sqrt(.15*.85*(2/100)) = 0.050498, z = 1.9803, p = 0.04767
    assert two_proportion_p_value(10, 100, 20, 100) == pytest.approx(0.04767, abs=1e-4)
    assert two_proportion_p_value(0, 100, 0, 100) == 1.0
    assert two_proportion_p_value(1, 0, 1, 10) == 1.0


def test_holm_adjustment_is_step_down_and_monotone() -> None:
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([0.5]) == [0.5]


def test_equal_rates_are_not_a_differential_and_unequal_ones_are() -> None:
    equal = {"a": make_rate(10, 1000), "b": make_rate(11, 1000)}
    unequal = {"a": make_rate(10, 1000), "b": make_rate(60, 1000)}
    assert not differential_test(equal).significant
    assert differential_test(unequal).significant


def _scores(mated: list[float], non_mated: list[float]) -> GroupScores:
    return GroupScores(mated=np.array(mated), non_mated=np.array(non_mated))


def test_group_rates_count_errors_at_the_threshold() -> None:
    rates = group_rates_at(0.5, {"g": _scores([0.9, 0.5, 0.4], [0.1, 0.5, 0.6, 0.2])})
    assert (rates["g"].fnmr.errors, rates["g"].fnmr.trials) == (1, 3)  # 0.4 < 0.5
    assert (rates["g"].fmr.errors, rates["g"].fmr.trials) == (2, 4)  # 0.5 and 0.6 ≥ 0.5


def test_lowest_equitable_threshold_is_where_the_fmr_differential_ends() -> None:
    # Group b's impostors score higher: between 0.5 and 0.7 b falsely matches far more
    # often than a; from 0.7 on neither group has a false match.
    rng = np.random.default_rng(7)
    a = _scores(list(rng.uniform(0.7, 1.0, 500)), list(rng.uniform(0.0, 0.5, 2000)))
    b = _scores(list(rng.uniform(0.7, 1.0, 500)), list(rng.uniform(0.0, 0.7, 2000)))
    report = equitability_report({"a": a, "b": b}, thresholds=[0.3, 0.5, 0.6, 0.7, 0.8])
    significant = {row.threshold: row.fmr_test.significant for row in report.rows}
    assert significant == {0.3: True, 0.5: True, 0.6: True, 0.7: False, 0.8: False}
    assert report.lowest_equitable_threshold == 0.7


def test_no_equitable_threshold_when_the_differential_never_ends() -> None:
    a = _scores([0.9] * 100, [0.0] * 1000)
    b = _scores([0.9] * 100, [1.0] * 1000)
    assert (
        equitability_report({"a": a, "b": b}, thresholds=[0.5, 0.9]).lowest_equitable_threshold
        is None
    )


def test_rate_ratio_has_the_katz_interval_worked_by_hand() -> None:
    """EQ-1: the effect size beside the test. 20/1000 against 10/1000: ratio 2,
    se = √(1/20 − 1/1000 + 1/10 − 1/1000) = 0.384708, interval 2·e^(∓1.95996·se)."""
    ratio = rate_ratio(make_rate(20, 1000), make_rate(10, 1000))
    assert ratio.value == pytest.approx(2.0)
    assert ratio.low == pytest.approx(0.94095, abs=1e-4)
    assert ratio.high == pytest.approx(4.25103, abs=1e-4)
    # NIST FRTE's max/min: the highest group over the lowest, whatever the order given.
    groups = {"a": make_rate(10, 1000), "b": make_rate(20, 1000), "c": make_rate(15, 1000)}
    assert max_min_ratio(groups).value == pytest.approx(2.0)
    # No error in a group: the ratio is unbounded, so none is given.
    assert rate_ratio(make_rate(5, 100), make_rate(0, 100)).value is None


def test_wilson_bounds_hold_the_rate_even_at_zero_errors() -> None:
    """A bound never lies past the rate it brackets (rounding once gave 3e-17 > 0)."""
    for errors, trials in ((0, 7), (0, 884), (7, 7), (1, 3)):
        low, high = wilson_interval(errors, trials)
        assert low <= errors / trials <= high
    assert wilson_interval(0, 884)[0] == 0.0


def test_a_significant_but_small_difference_is_not_a_differential() -> None:
    """EQ-1: with millions of impostor pairs a 10% difference is significant, but its
    ratio's interval (1.07–1.13) lies below 1.25: no differential, the threshold is
    equitable. A 50% difference (interval 1.46–1.54) is one."""
    n = 4_000_000

    def groups(b_false: int) -> dict[str, GroupScores]:
        a = _scores([0.9] * 10, [0.0] * (n - 20_000) + [0.8] * 20_000)
        b = _scores([0.9] * 10, [0.0] * (n - b_false) + [0.8] * b_false)
        return {"a": a, "b": b}

    small = equitability_report(groups(22_000), thresholds=[0.5]).rows[0]
    large = equitability_report(groups(30_000), thresholds=[0.5]).rows[0]
    assert small.fmr_test.significant
    assert large.fmr_test.significant
    assert small.fmr_ratio.value == pytest.approx(1.1)
    assert small.fmr_ratio.low is not None
    assert 1.0 < small.fmr_ratio.low < MATERIAL_RATIO
    assert not small.fmr_differential
    assert large.fmr_ratio.low is not None
    assert large.fmr_ratio.low > MATERIAL_RATIO
    assert large.fmr_differential
    assert equitability_report(groups(22_000), [0.5]).lowest_equitable_threshold == 0.5
    assert equitability_report(groups(30_000), [0.5]).lowest_equitable_threshold is None
