"""Demographic differentials of the algorithm, in the style of NIST FRVT Part 3 (EQ-1).

Input: 1:1 comparison scores labelled by the demographic group of the people compared —
mated pairs (same person) and non-mated pairs (two people of the same group, as Part 3
does, so a group's false match rate is about confusing its own members). Output, at each
threshold of a range: each group's false match rate (FMR) and false non-match rate (FNMR)
with a Wilson confidence interval, whether the groups differ significantly, the ratio of
the highest group's FMR to the lowest's with its interval, and the lowest threshold from
which on no *material* FMR differential remains.

The criterion (docs/evaluation.md, shown on the authorisation form): with millions of
comparisons any difference is significant, however small, so significance alone means
little. A threshold has an FMR differential when the groups differ significantly (Holm-
adjusted) **and** the max/min ratio's 95% interval lies wholly above `MATERIAL_RATIO`
(1.25: one group falsely matched more than a quarter as often again as another), or a
group has false matches where another has none.

Only the standard library is used for the statistics (the normal distribution of
`statistics`), so the results can be reproduced by hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

from lfr.evaluation.rates import Rate, RateRatio, make_rate, max_min_ratio

Scores = NDArray[np.float64]

MATERIAL_RATIO = 1.25
"""The max/min ratio of groups' error rates above which (its whole 95% interval) a
significant difference counts as a differential: NIST FRTE reports this ratio, and 1.25
is the project's target for FPIR between women and men (docs/evaluation.md)."""


@dataclass(frozen=True, slots=True)
class GroupScores:
    """One group's comparison scores (similarities: higher means more alike)."""

    mated: Scores
    non_mated: Scores


@dataclass(frozen=True, slots=True)
class GroupRates:
    fmr: Rate
    fnmr: Rate


@dataclass(frozen=True, slots=True)
class DifferentialTest:
    """Each group's rate against the rest of the population, Holm-adjusted p-values."""

    adjusted_p: Mapping[str, float]
    alpha: float

    @property
    def significant(self) -> bool:
        return any(p < self.alpha for p in self.adjusted_p.values())


def is_material(ratio: RateRatio) -> bool:
    """The ratio's interval lies above `MATERIAL_RATIO`, or is unbounded (a group without
    errors against one with some)."""
    return ratio.low is None or ratio.low > MATERIAL_RATIO


@dataclass(frozen=True, slots=True)
class ThresholdRow:
    threshold: float
    rates: Mapping[str, GroupRates]
    fmr_test: DifferentialTest
    fnmr_test: DifferentialTest
    fmr_ratio: RateRatio
    """The highest group's FMR over the lowest's, with its interval."""

    @property
    def fmr_differential(self) -> bool:
        """Significant and material (see the module's criterion)."""
        return self.fmr_test.significant and is_material(self.fmr_ratio)


@dataclass(frozen=True, slots=True)
class EquitabilityReport:
    rows: Sequence[ThresholdRow]
    lowest_equitable_threshold: float | None
    """The lowest scanned threshold at and above which no group's FMR differs materially
    from another's (`ThresholdRow.fmr_differential`); None when a differential remains
    even at the top."""


def two_proportion_p_value(errors_a: int, trials_a: int, errors_b: int, trials_b: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test (1.0 when it is undefined)."""
    if trials_a == 0 or trials_b == 0:
        return 1.0
    pooled = (errors_a + errors_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    if variance == 0:
        return 1.0
    z = (errors_a / trials_a - errors_b / trials_b) / math.sqrt(variance)
    return 2 * (1 - NormalDist().cdf(abs(z)))


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni step-down adjustment: controls the family-wise error rate when
    every group is tested, without Bonferroni's loss of power."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running_max = 0.0
    for rank, index in enumerate(order):
        running_max = max(running_max, (len(p_values) - rank) * p_values[index])
        adjusted[index] = min(1.0, running_max)
    return adjusted


def differential_test(rates: Mapping[str, Rate], alpha: float = 0.05) -> DifferentialTest:
    """Tests each group's rate against everyone else's; significant if any adjusted p < alpha."""
    total_errors = sum(rate.errors for rate in rates.values())
    total_trials = sum(rate.trials for rate in rates.values())
    groups = list(rates)
    raw = [
        two_proportion_p_value(
            rates[g].errors,
            rates[g].trials,
            total_errors - rates[g].errors,
            total_trials - rates[g].trials,
        )
        for g in groups
    ]
    return DifferentialTest(
        adjusted_p=dict(zip(groups, holm_adjust(raw), strict=True)), alpha=alpha
    )


def group_rates_at(
    threshold: float, scores: Mapping[str, GroupScores], confidence: float = 0.95
) -> dict[str, GroupRates]:
    """FMR: non-mated pairs scoring at or above the threshold (a false alert would fire).
    FNMR: mated pairs scoring below it (the person would be missed)."""
    return {
        group: GroupRates(
            fmr=make_rate(int(np.sum(s.non_mated >= threshold)), len(s.non_mated), confidence),
            fnmr=make_rate(int(np.sum(s.mated < threshold)), len(s.mated), confidence),
        )
        for group, s in scores.items()
    }


def equitability_report(
    scores: Mapping[str, GroupScores], thresholds: Sequence[float], alpha: float = 0.05
) -> EquitabilityReport:
    rows = [_row(t, scores, alpha) for t in sorted(thresholds)]
    return EquitabilityReport(rows=rows, lowest_equitable_threshold=_lowest_equitable(rows))


def _row(threshold: float, scores: Mapping[str, GroupScores], alpha: float) -> ThresholdRow:
    rates = group_rates_at(threshold, scores)
    return ThresholdRow(
        threshold=threshold,
        rates=rates,
        fmr_test=differential_test({g: r.fmr for g, r in rates.items()}, alpha),
        fnmr_test=differential_test({g: r.fnmr for g, r in rates.items()}, alpha),
        fmr_ratio=max_min_ratio({g: r.fmr for g, r in rates.items()}),
    )


def _lowest_equitable(rows: Sequence[ThresholdRow]) -> float | None:
    lowest: float | None = None
    for row in reversed(rows):
        if row.fmr_differential:
            break
        lowest = row.threshold
    return lowest
